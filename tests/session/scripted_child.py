"""`harness` whose runs answer ``scripted/`` models in process, for the tests' children.

Usage: python -P tests/session/scripted_child.py harness|harness.cli.chaos ARGS...
(from any folder: ``ENTRY`` is that argv's start).

The same command as `python -m harness ARGS` (or `python -m harness.cli.chaos ARGS`), its
runs' models built by ``harness.model.make.scripted_in_process``: the in-process
`ScriptedModel` (the same scripts, turns and latency) instead of the litellm provider,
so the child does not import litellm (~4 of its ~5 CPU-s). For a new interpreter whose
test is about the process (its start, its environment, its streams, a signal), not the
gateway; the gateway's own tests keep `python -m harness`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from harness.cli import main as harness
from harness.cli.chaos import main as chaos
from harness.model.make import scripted_in_process

ENTRY = [sys.executable, "-P", str(Path(__file__).resolve())]
"""The argv prefix of such a child (``-P``: this file's folder is not put on sys.path)."""
SCRIPTED = [*ENTRY, "harness"]
"""`harness` so: ``[*SCRIPTED, "-C", root, "run"]``."""
HARNESS = [sys.executable, "-m", "harness"]
"""Plain `harness`, its models through the gateway (litellm)."""


def main(argv: Sequence[str]) -> int:
    entry, *rest = argv
    entries = {"harness": harness, "harness.cli.chaos": chaos}
    if entry not in entries:
        raise SystemExit(f"scripted_child: unknown entry {entry!r} (harness, harness.cli.chaos)")
    return entries[entry](rest, models=scripted_in_process)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
