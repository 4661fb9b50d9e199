"""State that travels: `.harness/` packed into one file and unpacked in another clone.

`save_state` writes a tar.gz: a manifest (harness version, git HEAD, time, file digests)
and the state files, each SQLite database copied through SQLite's backup API after a WAL
checkpoint (a consistent copy even while a writer is live). Lock files, WAL side files,
temporary files and caches are machine-specific and stay behind.

`load_state` refuses what it cannot trust: a member that is not a plain file or folder,
an absolute name or `..` (path traversal), a digest that does not match, a state whose git
HEAD is not in this clone's history, and an existing `.harness/` that is newer than or
unrelated to the incoming one (unless forced). It unpacks beside `.harness/` and swaps
the folder in with one rename, so a failed load changes nothing.

The key that signs the journal's HMAC chain lives outside the project and travels only
when asked (`--with-key` on both ends): a state file that holds it lets its holder forge
the journal, so both commands warn.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatch
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path, PurePosixPath
from typing import Any

from artifacts.git_safety import run_git
from artifacts.models import digest
from harness.config import journal_location
from harness.errors import ArtifactError, ExitCode, HarnessError, RunLocked
from harness.journal import keys
from harness.journal.lock import RunLock
from harness.journal.protocol import journal_exists, open_reader
from harness.leftovers import sweep_temps, temp_file

STATE_DIR = ".harness"
MANIFEST = "harness-state.json"
WORKTREE = "worktree.patch"
KEY_MEMBER = "key/journal.key"
KEY_WARNING = (
    "the state file holds the journal's signing key: whoever has the file can forge rows "
    "that replay as harness's own. Keep it private (not in the repository, not where the "
    "agent can read it) and delete it once loaded"
)
PREFIX = "state"
FORMAT = 1
# Machine-specific: locks, SQLite side files, temporaries, caches, crash-test markers.
EXCLUDED = (
    "locks",
    "*.lock",
    "lock",
    "*-wal",
    "*-shm",
    "*-journal",
    "*.tmp",
    "tmp",
    "cache",
    "*.pid",
    "journal.checked",  # the open-time check's stamp: true only of this machine's files
)
SQLITE_MAGIC = b"SQLite format 3\x00"


class StateRefused(HarnessError):
    """A state file that cannot be loaded here (its reason says why and what to do)."""

    exit_code = ExitCode.INVALID


@dataclass(frozen=True)
class Manifest:
    """What `harness state save` recorded about the state it packed."""

    harness_version: str
    git_head: str | None
    created_at: str
    files: dict[str, str]  # relative path under .harness/ -> "sha256:<hex>"
    runs: dict[str, int]  # run id -> recorded steps, to tell newer from older states
    worktree: str | None = None  # digest of the uncommitted changes at save time, if any
    key: str | None = None  # the journal id whose key the file carries (--with-key), if any
    format: int = FORMAT

    def to_json(self) -> bytes:
        return (json.dumps(self.__dict__, indent=2, sort_keys=True) + "\n").encode()


def harness_version() -> str:

    try:
        return version("harness")
    except PackageNotFoundError:
        return "0+unknown"


def git_head(root: Path) -> str | None:
    """The commit checked out in `root`, or None in a repository without commits."""
    done = run_git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    return done.stdout.decode("utf-8", "replace").strip() or None


def _excluded(relative: PurePosixPath) -> bool:
    return any(fnmatch(part, pattern) for part in relative.parts for pattern in EXCLUDED)


def _sqlite_copy(path: Path) -> bytes:
    """A consistent copy of a SQLite database: checkpoint its WAL, then back it up."""
    source = sqlite3.connect(path, timeout=10)
    try:
        # Busy (a live writer) or read-only: the backup below still copies a consistent
        # snapshot, WAL included.
        with contextlib.suppress(sqlite3.OperationalError):
            source.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        with tempfile.TemporaryDirectory() as tmp:
            copy_path = Path(tmp) / "copy.db"
            target = sqlite3.connect(copy_path)
            try:
                source.backup(target)
            finally:
                target.close()
            return copy_path.read_bytes()
    finally:
        source.close()


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC


def collect(state_dir: Path) -> dict[str, bytes]:
    """The files of a state folder worth carrying, by relative POSIX path."""
    files: dict[str, bytes] = {}
    for path in sorted(state_dir.rglob("*")):
        relative = PurePosixPath(path.relative_to(state_dir).as_posix())
        if _excluded(relative) or path.is_symlink() or not path.is_file():
            continue
        files[str(relative)] = _sqlite_copy(path) if _is_sqlite(path) else path.read_bytes()
    return files


def journal_runs(state_dir: Path) -> dict[str, int]:
    """Run id -> completed (ended or failed) steps in the journal of `state_dir`."""

    if not journal_exists(state_dir):
        return {}
    counts: dict[str, int] = {}
    with open_reader(state_dir) as journal:
        for run in journal.runs():
            counts[run.id] = 0
        for step in journal.steps():
            if step.status in ("ended", "failed"):
                counts[step.run_id] = counts.get(step.run_id, 0) + 1
    return counts


def journal_key(state_dir: Path) -> tuple[str, bytes] | None:
    """(journal id, key) of the journal in `state_dir`, from this machine's key store."""

    if not journal_exists(state_dir):
        return None
    with open_reader(state_dir) as journal:
        journal_id, where = journal.journal_id, journal.where
    if journal_id is None:
        return None
    return journal_id, keys.load_key(journal_id, where)


def save_state(root: Path, target: Path, *, with_key: bool = False) -> Manifest:
    """Pack `<root>/.harness` into `target` (a .tar.gz); returns its manifest.

    ``with_key`` adds the journal's signing key (see KEY_WARNING).
    """

    where = journal_location(root)
    if where.backend != "sqlite":
        raise StateRefused(
            f"the journal of {root} lives in {where.describe()}, not in {STATE_DIR}/: a state "
            "file would carry no journal. Back the database up with its own tools (pg_dump), "
            "and the journal's key file with it"
        )
    state_dir = root / STATE_DIR
    if not state_dir.is_dir():
        raise StateRefused(
            f"{state_dir} does not exist: there is no harness state to save in {root}"
        )
    files = collect(state_dir)
    patch = worktree_patch(root)
    key = journal_key(state_dir) if with_key else None
    if with_key and key is None:
        raise StateRefused(f"{state_dir} has no signed journal: there is no key to carry")
    manifest = Manifest(
        harness_version=harness_version(),
        git_head=git_head(root),
        created_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
        files={name: digest(data) for name, data in files.items()},
        runs=journal_runs(state_dir),
        worktree=digest(patch) if patch else None,
        key=key[0] if key else None,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target under harness's temp name (a killed save's is swept by the
    # next save there, `harness.leftovers`), mode 0600 like the journal it carries.
    sweep_temps(target.parent, target.name)
    fd, partial = temp_file(target.parent, target.name)
    try:
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz") as archive:
                _add(archive, MANIFEST, manifest.to_json())
                if patch:
                    _add(archive, WORKTREE, patch)
                if key:
                    _add(archive, KEY_MEMBER, key[1].hex().encode() + b"\n")
                for name, data in files.items():
                    _add(archive, f"{PREFIX}/{name}", data)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    return manifest


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))


def read_archive(source: Path) -> tuple[Manifest, dict[str, bytes], bytes]:
    """The manifest, state files and work-tree patch of a state file, every member checked."""
    manifest, files, patch, _ = read_archive_with_key(source)
    return manifest, files, patch


def read_archive_with_key(source: Path) -> tuple[Manifest, dict[str, bytes], bytes, bytes]:
    """Like `read_archive`, plus the journal key it carries (b"" when none)."""

    raw_manifest: bytes | None = None
    files: dict[str, bytes] = {}
    patch = b""
    key = b""
    try:
        archive = tarfile.open(source, "r:gz")  # noqa: SIM115 - closed by the `with` below
    except (OSError, tarfile.TarError) as exc:
        raise StateRefused(f"{source} is not a harness state file (tar.gz): {exc}") from exc
    try:
        with archive:
            for member in archive:
                name = _safe_name(source, member)
                if member.isdir():
                    continue
                handle = archive.extractfile(member)
                data = handle.read() if handle is not None else b""
                if name == MANIFEST:
                    raw_manifest = data
                elif name == WORKTREE:
                    patch = data
                elif name == KEY_MEMBER:
                    key = data
                elif name.startswith(f"{PREFIX}/"):
                    files[name[len(PREFIX) + 1 :]] = data
                else:
                    raise StateRefused(f"{source}: unexpected member {name!r}; not loaded")
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
        raise StateRefused(f"{source} is truncated or damaged ({exc}); save it again") from exc
    manifest = _parse_manifest(source, raw_manifest)
    if set(files) != set(manifest.files):
        extra = sorted(set(files) ^ set(manifest.files))
        raise StateRefused(f"{source}: files and manifest disagree ({', '.join(extra)})")
    for name, data in files.items():
        if digest(data) != manifest.files[name]:
            raise StateRefused(f"{source}: {name} does not match its digest; the file is damaged")
    if (digest(patch) if patch else None) != manifest.worktree:
        raise StateRefused(f"{source}: {WORKTREE} does not match its digest; the file is damaged")
    if bool(key) != bool(manifest.key):
        raise StateRefused(f"{source}: its key and its manifest disagree; the file is damaged")
    return manifest, files, patch, key


def _safe_name(source: Path, member: tarfile.TarInfo) -> str:
    if not (member.isfile() or member.isdir()):
        kind = "a link" if member.issym() or member.islnk() else "a device or special file"
        raise StateRefused(f"{source}: member {member.name!r} is {kind}; refused")
    path = PurePosixPath(member.name)
    if path.is_absolute() or member.name.startswith(("/", "\\")) or ":" in member.name:
        raise StateRefused(f"{source}: member {member.name!r} has an absolute path; refused")
    if ".." in path.parts or "\\" in member.name:
        raise StateRefused(f"{source}: member {member.name!r} climbs out with '..'; refused")
    return str(path)


def _parse_manifest(source: Path, raw: bytes | None) -> Manifest:
    if raw is None:
        raise StateRefused(
            f"{source} has no {MANIFEST}: it was not written by `harness state save`"
        )
    try:
        data: dict[str, Any] = json.loads(raw)
        manifest = Manifest(**data)
    except (ValueError, TypeError) as exc:
        raise ArtifactError(source, MANIFEST, f"the manifest is unreadable ({exc})") from exc
    if manifest.format > FORMAT:
        raise StateRefused(
            f"{source} was saved by a newer harness ({manifest.harness_version}, format "
            f"{manifest.format}); upgrade harness to load it"
        )
    return manifest


def check_history(root: Path, manifest: Manifest, source: Path) -> None:
    """Refuse a state saved at a commit this clone does not have in its history."""
    if manifest.git_head is None:
        return
    known = run_git(root, "cat-file", "-e", f"{manifest.git_head}^{{commit}}", check=False)
    here = git_head(root)
    related = here is not None and (
        run_git(
            root, "merge-base", "--is-ancestor", manifest.git_head, here, check=False
        ).returncode
        == 0
    )
    if known.returncode != 0 or not related:
        raise StateRefused(
            f"{source} was saved at commit {manifest.git_head[:12]}, which is not in the "
            f"history of {root} (HEAD {here[:12] if here else 'none'}): fetch or pull the "
            "branch the state was saved on (with full history: `git fetch --unshallow`), "
            "then load it again"
        )


def compare(existing: dict[str, int], incoming: dict[str, int]) -> str:
    """'older' when the incoming state extends the existing one, else 'newer' or 'unrelated'."""
    if all(run in incoming and steps <= incoming[run] for run, steps in existing.items()):
        return "older"
    if any(run in incoming for run in existing):
        return "newer"
    return "unrelated"


def load_state(
    root: Path, source: Path, *, force: bool = False, with_key: bool = False
) -> Manifest:
    """Unpack the state file `source` into `<root>/.harness`; returns its manifest.

    ``with_key`` also installs the journal key the file carries in this machine's key
    store (refused if it carries none); without it a carried key is left unused.
    """

    manifest, files, patch, key = read_archive_with_key(source)
    if with_key and not key:
        raise StateRefused(
            f"{source} was saved without its journal key: save it again with "
            "`harness state save --with-key`, or copy the key file from the machine that "
            "wrote it"
        )
    check_history(root, manifest, source)

    try:
        parsed = keys.parse_key(key) if with_key else b""
    except ValueError as exc:
        raise StateRefused(f"{source}: the key it carries is not a journal key") from exc
    state_dir = root / STATE_DIR
    if state_dir.exists() and not force:
        current = collect(state_dir)
        if {n: digest(d) for n, d in current.items()} == manifest.files:
            if parsed and manifest.key:
                keys.store_key(manifest.key, parsed)
            return manifest  # already this state
        if current:
            relation = compare(journal_runs(state_dir), manifest.runs)
            if relation != "older":
                raise StateRefused(
                    f"{state_dir} holds a journal {relation} than the state in {source} "
                    "(its runs have steps the saved state lacks); loading would lose them. "
                    "Save it first (`harness state save`), then pass --force to replace it"
                )
    _ensure_unlocked(state_dir)
    apply_worktree_patch(root, patch, manifest, source)
    staging = Path(tempfile.mkdtemp(prefix=".harness-loading-", dir=root))
    try:
        for name, data in files.items():
            path = staging.joinpath(*PurePosixPath(name).parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if state_dir.exists():
            retired = Path(tempfile.mkdtemp(prefix=".harness-replaced-", dir=root))
            os.replace(state_dir, retired / STATE_DIR)
            os.replace(staging, state_dir)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, state_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if parsed and manifest.key:
        keys.store_key(manifest.key, parsed)
    return manifest


def _ensure_unlocked(state_dir: Path) -> None:
    """Refuse to replace a state folder while a live process drives a run in it."""

    for lock in sorted((state_dir / "locks").glob("*.lock")):
        pid = RunLock.holder(state_dir, lock.stem)
        if pid is not None:
            what = f"`harness {lock.stem}`" if lock.stem in ("run", "init") else f"run {lock.stem}"
            raise RunLocked(
                f"{what} in {state_dir} is being driven by a live process (pid {pid}); "
                "stop it before loading a state over it"
            )


def worktree_patch(root: Path) -> bytes:
    """The uncommitted changes of the work tree (untracked files included) as a git patch.

    A session that stopped part-way (parked, killed) has written files it has not committed
    yet; its journal will replay those writes, not redo them, so the files travel too.
    """
    if git_head(root) is None:
        return b""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        for args in (("read-tree", "HEAD"), ("add", "-A")):
            run_git(root, *args, env=env)
        tree = run_git(root, "write-tree", env=env).stdout.decode().strip()
    return run_git(root, "diff", "--binary", "--full-index", "HEAD", tree).stdout


def apply_worktree_patch(root: Path, patch: bytes, manifest: Manifest, source: Path) -> None:
    """Re-create the saved uncommitted changes; nothing if they are already there."""
    if not patch:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / WORKTREE
        path.write_bytes(patch)
        if run_git(root, "apply", "--reverse", "--check", str(path), check=False).returncode == 0:
            return  # already applied (loading into the project it came from)
        if run_git(root, "apply", "--check", str(path), check=False).returncode != 0:
            raise StateRefused(
                f"{source} carries uncommitted changes made on top of commit "
                f"{(manifest.git_head or '')[:12]} that do not apply to the work tree of "
                f"{root}: check out that commit with a clean work tree, then load again"
            )
        run_git(root, "apply", str(path))
