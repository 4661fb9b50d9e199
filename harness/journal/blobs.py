"""Content-addressed store for large payloads: ``.harness/blobs/ab/cdef...`` (sha256).

A blob is written to a temp file of :mod:`harness.leftovers` in ``blobs/`` itself and renamed
into its folder; the first write of a process removes the temp files killed writers left
there."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from harness.errors import JournalDamaged
from harness.leftovers import sweep_temps, temp_file

INLINE_LIMIT = 16 * 1024  # payloads above this many bytes go to a blob file


class BlobStore:
    """Blob files under ``<state_dir>/blobs``; the journal records their digests."""

    def __init__(self, root: Path, *, fsync: bool = False) -> None:
        self.root = root
        self.fsync = fsync
        self._swept = False

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:]

    def put(self, data: bytes) -> str:
        """Store ``data`` (idempotent) and return its sha256 hex digest."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.path(digest)
        if path.exists() and path.stat().st_size == len(data):
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self._swept:  # what a killed writer left, once a process
            sweep_temps(self.root)
            self._swept = True
        fd, tmp = temp_file(self.root, digest)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if self.fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return digest

    def get(self, digest: str) -> bytes:
        """The bytes of a blob; JournalDamaged if missing or not matching its digest."""
        path = self.path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError as error:
            raise JournalDamaged(
                f"blob {path} is missing: the journal refers to it. Run `harness journal verify`."
            ) from error
        if hashlib.sha256(data).hexdigest() != digest:
            raise JournalDamaged(
                f"blob {path} does not match its digest. Run `harness journal verify`."
            )
        return data

    def check(self, digest: str) -> str | None:
        """None if the blob is present and intact, else what is wrong."""
        path = self.path(digest)
        if not path.exists():
            return f"blob {digest} is missing ({path})"
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            return f"blob {digest} does not match its digest ({path})"
        return None
