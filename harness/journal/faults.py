"""Storage faults told apart from damage: a full disk, a read-only one, a malformed file.

Damage is decided by SQLite's own check (``PRAGMA quick_check``, on a read-only connection
that sees the WAL), never by reading the header: after a full disk the main file can be
shorter than its header says while the WAL holds the rest, and that journal is healthy.
A full or read-only disk is found by trying: 4 KiB written beside the journal.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import os
import sqlite3
from pathlib import Path

from harness.errors import HarnessError, JournalDamaged, JournalError, StorageError
from harness.leftovers import sweep_temps, temp_file

SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26
PROBE_BYTES = 4096
PROBE_NAME = "probe.tmp"  # only where the file system has no O_TMPFILE
# The check maps the file instead of reading it page by page: 3x faster here.
CHECK_MMAP = 1 << 30
FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
READONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)

ADVICE = (
    "harness left it unchanged. Restore it from a backup or from a saved state "
    "(`harness state load FILE`); only if there is none, move it aside "
    "(`mv {path} {path}.damaged`) and `harness run` starts a new journal: the old run's "
    "record is then lost and its passing features are verified again."
)


def damaged(path: Path, what: str) -> JournalDamaged:
    """A JournalDamaged naming the file, what SQLite found and what to do (in that order)."""
    return JournalDamaged(
        f"journal {path} is damaged: {what}{describe(path)}. " + ADVICE.format(path=path)
    )


def describe(path: Path) -> str:
    """What the header shows, said once SQLite itself has found the file damaged."""
    try:
        with path.open("rb") as handle:
            head = handle.read(100)
        size = path.stat().st_size
        wal = Path(f"{path}-wal")
        wal_size = wal.stat().st_size if wal.exists() else 0
    except OSError:
        return ""
    if len(head) < 100:
        return f" (the file is truncated: {size} bytes, not even a header)"
    if head[:16] != b"SQLite format 3\x00":
        return " (it is not an SQLite database: the header is garbage)"
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    if wal_size == 0 and pages * page_size > size:
        return f" (the file is truncated: {size} bytes, its header says {pages * page_size})"
    return ""


def from_oserror(path: Path | str, error: OSError) -> StorageError | None:
    """The storage fault an OSError stands for, if it is one."""
    if error.errno in FULL_ERRNOS:
        return StorageError(path, "full")
    if error.errno == errno.EROFS:
        return StorageError(path, "read-only")
    if error.errno in (errno.EACCES, errno.EPERM):
        return StorageError(path, "read-only", "permission denied")
    return None


def probe(folder: Path) -> StorageError | None:
    """Try to write 4 KiB in ``folder``: None when that works.

    The write goes to an unnamed file (``O_TMPFILE``) that vanishes when closed, even if
    the process is killed meanwhile, so no probe is ever left in a user's folder. Where the
    file system has no unnamed files, the same small file (``probe.tmp``) is emptied and
    written again each time, removed after outside ``.harness/`` (the project folder
    itself, or before ``.harness/`` exists). Either way the write needs a fresh block (a
    full disk says ENOSPC); no fsync (it cost 30 ms on a busy disk here).
    """
    target = folder if folder.exists() else folder.parent
    name: Path | None = None
    try:
        fd = os.open(target, os.O_WRONLY | getattr(os, "O_TMPFILE", 0) | os.O_DIRECTORY, 0o600)
    except OSError as error:
        if error.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return from_oserror(target, error)
        name = target / PROBE_NAME
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError as error:
            return from_oserror(target, error)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, b"\0" * PROBE_BYTES)
    except OSError as error:
        return from_oserror(target, error)
    finally:
        if name is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # leaves an empty file: nothing held on a full disk
        os.close(fd)
        if name is not None and target.name != ".harness":  # the user's folder: leave none
            with contextlib.suppress(OSError):
                name.unlink()
    return None


def _primary(error: sqlite3.Error) -> int:
    return int(getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF


def connect_readonly(path: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """A read-only connection that sees the WAL; ``immutable`` only where there is no WAL
    and the folder cannot hold the ``-shm`` file SQLite needs (a read-only file system)."""
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(
        f"{uri}?mode=ro", uri=True, isolation_level=None, check_same_thread=check_same_thread
    )
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return conn
    except sqlite3.OperationalError as error:
        conn.close()
        wal = Path(f"{path}-wal")
        has_wal = wal.exists() and wal.stat().st_size > 0
        if _primary(error) not in (SQLITE_CANTOPEN, SQLITE_READONLY) or has_wal:
            if has_wal and probe(path.parent) is not None:
                raise StorageError(
                    path.parent,
                    "read-only",
                    f"SQLite must create {path.name}-shm to read the WAL of {path}",
                ) from error
            raise
    return sqlite3.connect(
        f"{uri}?mode=ro&immutable=1",
        uri=True,
        isolation_level=None,
        check_same_thread=check_same_thread,
    )


def check(path: Path, *, full: bool = False) -> list[str]:
    """SQLite's own verdict on ``path``: [] when sound, else its findings (at most 20).

    Raises StorageError when the file cannot even be read for a storage reason.
    """
    try:
        conn = connect_readonly(path)
    except sqlite3.DatabaseError as error:
        if _primary(error) in (SQLITE_CORRUPT, SQLITE_NOTADB):
            return [f"SQLite cannot read it ({error})"]
        raise JournalError(f"cannot read journal {path}: {error}") from error
    try:
        conn.execute(f"PRAGMA mmap_size={CHECK_MMAP}")
        pragma = "integrity_check" if full else "quick_check"
        result = [str(row[0]) for row in conn.execute(f"PRAGMA {pragma}(20)")]
    except sqlite3.DatabaseError as error:
        return [f"SQLite cannot read it ({error})"]
    finally:
        conn.close()
    return [] if result == ["ok"] else result


def classify(path: Path, error: sqlite3.Error) -> HarnessError:
    """What an SQLite error on the journal means: storage, damage (checked), or neither."""
    code = _primary(error)
    if code == SQLITE_FULL:
        return StorageError(path.parent, "full")
    if code == SQLITE_READONLY:
        return StorageError(path.parent, "read-only")
    if code in (SQLITE_IOERR, SQLITE_CANTOPEN):
        found = probe(path.parent)
        if found is not None:
            return found
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        try:
            problems = check(path)
        except StorageError as storage:
            return storage
        except JournalError:
            problems = [str(error)]
        if problems:
            return damaged(path, f"SQLite reports {error}; its check finds: {problems[0]}")
        return JournalError(
            f"journal {path}: SQLite reported {error!s}, but its own check finds the file "
            "sound (nothing is damaged); run the command again"
        )
    return JournalError(f"journal {path}: {error}")


# -- the open-time check's shortcut ---------------------------------------------------------
# quick_check reads every page (about 110 ms for 100,000 steps on a loaded 2-core machine).
# When the journal's files are exactly as this harness left them at its last close (same
# inode, size, mtime and ctime: ctime cannot be set back without changing the clock), and
# that is vouched for by an HMAC under the journal's key (so a process that can write
# .harness/ cannot vouch for its own edit), nothing has written them since, and the check
# made then holds. Any other state (a crash left a WAL, anything wrote the file) gets the
# full quick_check.
STAMP = "journal.checked"


def identity(path: Path) -> str:
    """What would change if anything wrote ``path`` or its WAL (an empty WAL, which a
    read-only connection leaves behind, holds nothing and counts as none)."""
    parts = []
    for name in (path, Path(f"{path}-wal")):
        try:
            st = os.stat(name)
        except FileNotFoundError:
            parts.append("-")
            continue
        if st.st_size == 0 and name != path:
            parts.append("-")
            continue
        parts.append(f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}")
    return "|".join(parts)


def _stamp(key: bytes, ident: str) -> str:

    return hmac.digest(key, f"checked|{ident}".encode(), "sha256").hex()


def stamp_matches(path: Path, ident: str, key: bytes) -> bool:
    """True when ``ident`` is the state vouched for at the last clean close."""

    try:
        recorded = (path.parent / STAMP).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return False
    return hmac.compare_digest(recorded, _stamp(key, ident))


def write_stamp(path: Path, key: bytes) -> None:
    """Vouch for the journal's files as they are now (after this process closed them)."""
    target = path.parent / STAMP
    with contextlib.suppress(OSError):
        sweep_temps(target.parent, STAMP)  # what a killed writer left
        fd, tmp = temp_file(target.parent, STAMP)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(_stamp(key, identity(path)) + "\n")
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
