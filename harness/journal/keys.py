"""The keys that sign journals' HMAC chains: one per journal, outside the project.

A key lives in the user's state directory, ``$HARNESS_STATE_HOME/keys/<journal-id>.key``
(default ``$XDG_STATE_HOME/harness``, else ``~/.local/state/harness``), mode 0600, so
that nothing with access to the project alone (a sandboxed agent, a clone, a state
file saved without ``--with-key``) can forge a row that replays as the harness's own.

Where the key comes from is a :class:`KeySource` on the journal's ``Location``: the key
files (:data:`KEY_FILES`, the default), or :class:`DerivedKeys`, one secret shared by the
processes of several machines (a fleet's, kept in its database) from which each journal's
key is derived, so a journal written on one machine is checked and continued on another.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from harness.errors import JournalError, JournalKeyMissing, StorageError
from harness.journal.faults import from_oserror
from harness.leftovers import sweep_temps, temp_file

KEY_BYTES = 32
JOURNAL_ID = re.compile(r"^[0-9a-f]{16}$")


def state_home(environ: Mapping[str, str] | None = None) -> Path:
    """The user's harness state directory (never inside a project), as ``environ`` (a
    run's; default: the process's) names it."""
    env = os.environ if environ is None else environ
    explicit = env.get("HARNESS_STATE_HOME")
    if explicit:
        return Path(explicit)
    xdg = env.get("XDG_STATE_HOME")
    home = env.get("HOME")
    base = Path(xdg) if xdg else (Path(home) if home else Path.home()) / ".local" / "state"
    return base / "harness"


def key_path(journal_id: str, home: Path | None = None) -> Path:
    """The key file of ``journal_id`` under ``home`` (default: the process's state home)."""
    if not JOURNAL_ID.match(journal_id):
        raise JournalError(f"{journal_id!r} is not a journal id (16 hex digits)")
    return (state_home() if home is None else home) / "keys" / f"{journal_id}.key"


def new_journal_id() -> str:
    return secrets.token_hex(8)


def create_key(journal_id: str, home: Path | None = None) -> bytes:
    """Make and store a fresh key for a new journal (mode 0600, folder 0700)."""
    key = secrets.token_bytes(KEY_BYTES)
    store_key(journal_id, key, home)
    return key


def store_key(journal_id: str, key: bytes, home: Path | None = None) -> Path:
    """Write ``key`` for ``journal_id``; an existing different key is never replaced."""
    path = key_path(journal_id, home)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path.parent, 0o700)
        if path.exists():
            if read_key_file(path) != key:
                raise JournalError(
                    f"{path} already holds a different key for journal {journal_id}; "
                    "refusing to replace it"
                )
            return path
        sweep_temps(path.parent)  # what a killed writer left
        fd, tmp = temp_file(path.parent, path.name)
        try:
            try:
                os.write(fd, key.hex().encode() + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as error:
        found = from_oserror(path.parent, error)
        if found is not None:
            raise found from error
        raise JournalError(f"cannot write the journal key {path}: {error.strerror}") from error
    return path


def parse_key(data: bytes) -> bytes:
    """The key in a key file's bytes (hex, one line); ValueError if it is not one."""
    key = bytes.fromhex(data.decode("ascii", errors="replace").strip())
    if len(key) != KEY_BYTES:
        raise ValueError(f"a journal key is {KEY_BYTES} bytes")
    return key


def read_key_file(path: Path) -> bytes:
    try:
        return parse_key(path.read_bytes())
    except ValueError:
        raise JournalError(f"{path} is not a journal key ({KEY_BYTES} bytes as hex)") from None


def load_key(journal_id: str, journal_path: Path | str, home: Path | None = None) -> bytes:
    """The key of ``journal_id``; JournalKeyMissing (saying what to do) if it is not here."""
    path = key_path(journal_id, home)
    try:
        return read_key_file(path)
    except FileNotFoundError:
        raise JournalKeyMissing(
            f"journal {journal_path} (id {journal_id}) is signed with a key that is not on "
            f"this machine ({path}): its rows cannot be checked, so none is trusted. Load "
            "the state with its key (`harness state save --with-key FILE` where it was "
            "written, then `harness state load --with-key FILE` here), or copy that key file "
            "from the machine that wrote the journal",
            journal_id=journal_id,
            key_path=str(path),
        ) from None
    except StorageError:
        raise
    except OSError as error:
        raise JournalError(f"cannot read the journal key {path}: {error.strerror}") from error


class KeySource(Protocol):
    """Where a journal's key comes from: made once with the journal, then loaded."""

    def create(self, journal_id: str) -> bytes:
        """The key of a journal being created now (kept where ``load`` finds it)."""

    def load(self, journal_id: str, journal_path: Path | str) -> bytes:
        """The key of an existing journal (JournalKeyMissing saying what to do if absent)."""

    def discard(self, journal_id: str) -> None:
        """Forget a key ``create`` made for a journal that was not made after all."""


class KeyFiles:
    """Keys as files in a user's state directory (``home``: a run's, from its scope's
    environment; None: the process's, read at each use): a fresh random key per journal."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = home

    def create(self, journal_id: str) -> bytes:
        return create_key(journal_id, self.home)

    def load(self, journal_id: str, journal_path: Path | str) -> bytes:
        return load_key(journal_id, journal_path, self.home)

    def discard(self, journal_id: str) -> None:
        key_path(journal_id, self.home).unlink(missing_ok=True)


KEY_FILES = KeyFiles()
DERIVE_LABEL = b"harness-journal-key:"


class DerivedKeys:
    """Each journal's key is HMAC-SHA256(secret, label + journal id): every process that
    holds the secret (a fleet's workers, on any machine) has every journal's key, and none
    is sent anywhere. The key is also written to this machine's key file (never replacing a
    different one), so `harness journal verify` here checks the journal like any other."""

    def __init__(self, secret: bytes, home: Path | None = None) -> None:
        if len(secret) < KEY_BYTES:
            raise ValueError(f"a key-deriving secret is at least {KEY_BYTES} bytes")
        self._secret = secret
        self.home = home

    def __repr__(self) -> str:
        return "DerivedKeys(***)"

    def key(self, journal_id: str) -> bytes:
        if not JOURNAL_ID.match(journal_id):
            raise JournalError(f"{journal_id!r} is not a journal id (16 hex digits)")
        return hmac.new(self._secret, DERIVE_LABEL + journal_id.encode(), hashlib.sha256).digest()

    def create(self, journal_id: str) -> bytes:
        key = self.key(journal_id)
        store_key(journal_id, key, self.home)
        return key

    def load(self, journal_id: str, journal_path: Path | str) -> bytes:
        return self.create(journal_id)

    def discard(self, journal_id: str) -> None:
        pass  # derived again whenever asked: nothing to forget
