"""The feature list's sentinel: only the guarded tools may change feature_list.json.

The agent's shell commands run in the project and could rewrite the file (reword,
delete, forge evidence). The sentinel keeps the bytes the harness last knew to be
legitimate and puts them back whenever anything else changed the file, telling the
model so; at writeback it checks once more before the commit.
"""

from __future__ import annotations

from pathlib import Path

from artifacts.feature_list import FEATURE_LIST

# Tools whose own writes to the feature list are legitimate (they go through the guards).
WRITERS = frozenset({"mark_passing", "write_feature_list"})
NOTICE = (
    "POLICY: feature_list.json was changed outside verify_feature/mark_passing; the harness "
    "restored it. Features change only through those tools; do not edit the file."
)


class Sentinel:
    def __init__(self, root: Path) -> None:
        self.path = root / FEATURE_LIST
        self.root = root
        self.known = self._read()

    def _read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None

    def accept(self) -> None:
        """The current content is legitimate (after a guarded write, or on replay)."""
        self.known = self._read()

    def restore(self) -> bool:
        """Put the known content back if anything else changed the file; True if it did."""
        if self._read() == self.known:
            return False
        from artifacts.io import atomic_write

        if self.known is None:
            self.path.unlink(missing_ok=True)
        else:
            atomic_write(self.path, self.known, root=self.root)
        return True
