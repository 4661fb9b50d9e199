"""`harness state save|load FILE`: carry a run's state to another clone or machine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "state",
        help="save or load the harness state (.harness/) to move a run between machines",
        description="Pack .harness/ (journal, blobs, questions) into one file, or unpack one "
        "into this clone, so that a run started elsewhere resumes here with nothing re-run.",
    )
    sub = parser.add_subparsers(dest="state_command", metavar="ACTION", required=True)
    save = sub.add_parser("save", help="write .harness/ to FILE (tar.gz with a manifest)")
    save.add_argument("file", metavar="FILE")
    save.add_argument(
        "--with-key",
        action="store_true",
        help="also pack the journal's signing key (from the user's state directory): needed "
        "to resume on another machine; whoever holds the file can then forge the journal",
    )
    save.set_defaults(func=run_save)
    load = sub.add_parser(
        "load",
        help="restore .harness/ from FILE",
        description="Restore .harness/ from FILE. Refused: a state saved at a commit not in "
        "this clone's history, a damaged or unsafe file, and (without --force) an existing "
        ".harness/ whose journal is newer than or unrelated to the saved one.",
    )
    load.add_argument("file", metavar="FILE")
    load.add_argument("--force", action="store_true", help="replace a newer or unrelated .harness/")
    load.add_argument(
        "--with-key",
        action="store_true",
        help="install the journal key the file carries into the user's state directory",
    )
    load.set_defaults(func=run_load)


def run_save(args: argparse.Namespace) -> int:
    from harness.state_file import KEY_WARNING, save_state

    root = Path(args.project).resolve()
    target = Path(args.file).resolve()
    manifest = save_state(root, target, with_key=args.with_key)
    if manifest.key:
        print(f"harness: warning: {KEY_WARNING}", file=sys.stderr)
    steps = sum(manifest.runs.values())
    head = (manifest.git_head or "no commit")[:12]
    print(
        f"harness state save: wrote {args.file} ({len(manifest.files)} files, "
        f"{len(manifest.runs)} run(s), {steps} steps; saved at {head})"
    )
    return 0


def run_load(args: argparse.Namespace) -> int:
    from harness.state_file import KEY_WARNING, load_state

    root = Path(args.project).resolve()
    manifest = load_state(root, Path(args.file).resolve(), force=args.force, with_key=args.with_key)
    if args.with_key:
        print(f"harness: warning: installed the journal key; {KEY_WARNING}", file=sys.stderr)
    else:
        _say_if_keyless(root)
    print(
        f"harness state load: restored .harness/ from {args.file} (saved "
        f"{manifest.created_at} at {(manifest.git_head or 'no commit')[:12]}, "
        f"{len(manifest.runs)} run(s)); `harness run` resumes it"
    )
    return 0


def _say_if_keyless(root: Path) -> None:
    """After a load without --with-key: tell when this machine cannot check the journal."""
    from harness.errors import JournalKeyMissing
    from harness.state_file import STATE_DIR, journal_key

    try:
        journal_key(root / STATE_DIR)
    except JournalKeyMissing as error:
        print(f"harness: warning: {error}", file=sys.stderr)
