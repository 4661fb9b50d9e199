"""The project walk: every non-directory entry, not the harness's own state, no link followed."""

from __future__ import annotations

import os
from pathlib import Path

from harness import walk


def test_entries_skip_the_harness_state_and_follow_no_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("x")
    root = tmp_path / "p"
    for folder in (".git/objects", ".harness", "src/deep", "vendor/lib/.git"):
        (root / folder).mkdir(parents=True)
    for name in (".git/objects/a", ".harness/journal.db", "src/deep/m.py", "vendor/lib/.git/c"):
        (root / name).write_text("x")
    os.mkfifo(root / "src" / "pipe")
    (root / "src" / "out").symlink_to(outside, target_is_directory=True)
    found = sorted(os.path.relpath(e.path, root) for e in walk.entries(root))
    # A nested repository's .git is the workload's (only the root's are harness's); the
    # link is yielded as an entry, never walked into; the FIFO is an entry too.
    assert found == ["src/deep/m.py", "src/out", "src/pipe", "vendor/lib/.git/c"]
