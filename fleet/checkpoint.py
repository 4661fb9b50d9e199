"""A run's work tree as one archive: its commits since the run's base and its uncommitted
files, so another machine rebuilds the tree a lost one had at its last step.

:func:`pack` makes the archive (a gzip tar): ``checkpoint.json`` (the format, the commit
HEAD names, the tracked files deleted since it), ``commits.bundle`` (``git bundle`` of the
commits from the run's base to HEAD, when there are any) and ``tree/<path>`` for every file
changed against HEAD or untracked and not ignored. ``.git`` and ``.harness`` are never in
it; files git ignores (build outputs, dependencies) are not either: they are remade, not
carried; nor files over :data:`FILE_LIMIT`, or past :data:`TOTAL_LIMIT` together
(``left_out`` in ``checkpoint.json``: the worker says them). :func:`restore` puts a
clone (at the base) in that state. :func:`fingerprint` is cheap (one ``git status``): a
checkpoint is taken only when it changed.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fleet.hostgit import git

if TYPE_CHECKING:
    from artifacts.git_safety import ConfigChecks
    from artifacts.git_sweep import Sweep

FORMAT = 1
SKIP = (".git", ".harness")
FILE_LIMIT = 64 * 2**20  # a file larger than this is not carried (said in the worker's log)
TOTAL_LIMIT = 256 * 2**20  # nor files past this many bytes together


class CheckpointError(Exception):
    """An archive that is not a checkpoint this code wrote (said, never half-applied)."""


def _skipped(path: str) -> bool:
    return path.split("/", 1)[0] in SKIP


@dataclass(frozen=True)
class TreeStatus:
    """One ``git status`` of a clone: its fingerprint, HEAD's commit and the paths a
    checkpoint carries, so a checkpoint taken when the fingerprint changed asks git no
    more (before, ``pack`` ran ``rev-parse``, ``diff`` and ``ls-files`` after it)."""

    mark: str
    """What changes when the tree or HEAD changes (:func:`fingerprint`)."""
    head: str
    """HEAD's commit ("" in a repository without one)."""
    paths: tuple[str, ...]
    """Changed against HEAD (both names of a rename) or untracked and not ignored; never
    under ``.git`` or ``.harness``; sorted."""


def tree_status(
    root: Path, sweep: Sweep | None = None, checks: ConfigChecks | None = None
) -> TreeStatus:
    """The clone's status, read by one ``git status`` (``sweep``, ``checks``: see git):
    the fingerprint is its output with the size, mode and time of each path it names."""
    out = git(root, "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all",
              sweep=sweep, checks=checks)  # fmt: skip
    digest = hashlib.sha256(out.encode())
    head, paths = "", set()
    tokens = iter(out.split("\0"))
    for token in tokens:
        if token.startswith("# branch.oid ") and token != "# branch.oid (initial)":
            head = token[len("# branch.oid ") :]
        named = [_status_path(token)]
        if token.startswith("2 "):
            named.append(next(tokens, None))  # a rename's original path
        for path in named:
            if path is None or _skipped(path):
                continue
            paths.add(path)
            try:
                st = os.lstat(root / path)
            except OSError:
                digest.update(f"{path}\0gone\0".encode())
                continue
            digest.update(f"{path}\0{st.st_size}\0{st.st_mode}\0{st.st_mtime_ns}\0".encode())
    return TreeStatus(digest.hexdigest(), head, tuple(sorted(paths)))


def fingerprint(root: Path, sweep: Sweep | None = None, checks: ConfigChecks | None = None) -> str:
    """What changes when the tree or HEAD changes: git's status (with HEAD's commit) and
    the size, mode and time of each path it names (``sweep``, ``checks``: the clone's,
    see git)."""
    return tree_status(root, sweep, checks).mark


def _status_path(token: str) -> str | None:
    """The path of one entry of ``git status --porcelain=v2 -z`` (None for a header)."""
    fields = {"1": 8, "2": 9, "u": 10}.get(token[:1])
    if fields is not None:
        parts = token.split(" ", fields)
        return parts[fields] if len(parts) > fields else None
    if token[:2] in ("? ", "! "):
        return token[2:]
    return None


@dataclass(frozen=True)
class Packed:
    data: bytes
    head: str
    left_out: list[tuple[str, int]]
    """Files not carried for their size (path, bytes): over FILE_LIMIT each, or past
    TOTAL_LIMIT together (the agent's work tree cannot make a worker hold gigabytes)."""


def pack(
    root: Path, base: str, sweep: Sweep | None = None, checks: ConfigChecks | None = None,
    status: TreeStatus | None = None,
) -> Packed:  # fmt: skip
    """The checkpoint of ``root`` (a clone whose run started at ``base``), as ``status``
    found it (the clone's :func:`tree_status`, read now when not given)."""
    found = status if status is not None else tree_status(root, sweep, checks)
    head = found.head or git(root, "rev-parse", "HEAD")  # none: rev-parse says why
    paths = list(found.paths)
    sizes: dict[str, int] = {}
    for path in paths:
        try:
            sizes[path] = os.lstat(root / path).st_size
        except FileNotFoundError:
            continue  # deleted (or gone since git listed it)
    deleted = [p for p in paths if p not in sizes]
    carried, left_out, total = [], [], 0
    for path in paths:
        if path in sizes:
            size = sizes[path]
            if size > FILE_LIMIT or total + size > TOTAL_LIMIT:
                left_out.append((path, size))
            else:
                carried.append(path)
                total += size
    buffer = io.BytesIO()
    # gzip's header holds no time (tarfile's "w:gz" writes the clock's second): the same
    # tree packs to the same bytes, whenever it is packed
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=1, mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w") as tar,
    ):
        meta = {"format": FORMAT, "head": head, "deleted": deleted, "left_out": left_out}
        _add_bytes(tar, "checkpoint.json", json.dumps(meta).encode())
        if head != base:
            _add_bytes(tar, "commits.bundle", _bundle(root, base))
        for path in carried:
            with contextlib.suppress(FileNotFoundError):  # removed since: not carried
                tar.add(root / path, arcname=f"tree/{path}", recursive=False)
    return Packed(buffer.getvalue(), head, left_out)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _bundle(root: Path, base: str) -> bytes:
    """The commits from ``base`` to HEAD (all of HEAD's history if base is not in it)."""
    ahead = git(root, "rev-list", "--count", f"{base}..HEAD", check=False)
    spec = [f"{base}..HEAD"] if ahead not in ("", "0") else ["HEAD"]
    folder = Path(tempfile.mkdtemp(prefix="harness-checkpoint-"))
    try:
        git(root, "bundle", "create", "--quiet", str(folder / "b"), *spec)
        return (folder / "b").read_bytes()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def restore(root: Path, data: bytes, branch: str) -> str:
    """Put the clone ``root`` in the checkpoint's state, on ``branch``; the HEAD commit."""
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")  # noqa: SIM115 (with below)
    except tarfile.TarError as error:
        raise CheckpointError(f"not a work-tree checkpoint: {error}") from None
    with tar:
        meta = _meta(tar)
        head = str(meta["head"])
        bundle = _member(tar, "commits.bundle")
        if bundle is not None:
            folder = Path(tempfile.mkdtemp(prefix="harness-checkpoint-"))
            try:
                (folder / "b").write_bytes(bundle)
                git(root, "bundle", "unbundle", str(folder / "b"))
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        git(root, "checkout", "--quiet", "-B", branch, head)
        deleted = meta.get("deleted")
        for path in deleted if isinstance(deleted, list) else []:
            target = _inside(root, str(path))
            if target.is_symlink() or target.is_file():
                target.unlink()
        members = [m for m in tar.getmembers() if m.name.startswith("tree/")]
        # Regular files first, links last: no file is ever written through a restored link.
        for member in sorted(members, key=lambda m: m.issym()):
            _extract(tar, member, root)
    return head


def _meta(tar: tarfile.TarFile) -> dict[str, object]:
    raw = _member(tar, "checkpoint.json")
    try:
        meta = json.loads(raw or b"")
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "head" not in meta:
        raise CheckpointError("a work-tree checkpoint without its checkpoint.json")
    return meta


def _member(tar: tarfile.TarFile, name: str) -> bytes | None:
    try:
        handle = tar.extractfile(name)
    except KeyError:
        return None
    return None if handle is None else handle.read()


def _inside(root: Path, path: str) -> Path:
    """``root / path`` for a relative path that stays inside root, never through a link."""
    parts = Path(path).parts
    if not parts or Path(path).is_absolute() or ".." in parts or _skipped(path):
        raise CheckpointError(f"a checkpoint names {path!r}, outside the work tree")
    parent = root.joinpath(*parts[:-1])
    if os.path.realpath(parent) != os.path.join(os.path.realpath(root), *parts[:-1]):
        raise CheckpointError(f"a checkpoint names {path!r}, through a link")
    return root / path


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, root: Path) -> None:
    target = _inside(root, member.name[len("tree/") :])
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)
    if member.issym():
        os.symlink(member.linkname, target)
        return
    if not member.isfile():
        return  # a fifo or device git would not track either
    handle = tar.extractfile(member)
    assert handle is not None
    target.write_bytes(handle.read())
    mode = stat.S_IMODE(member.mode) & 0o777
    os.chmod(target, 0o755 if mode & 0o100 else 0o644)
