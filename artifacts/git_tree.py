"""Git trees harness builds and checks out: what a commit would hold, byte for byte.

:func:`build_tree` writes the tree HEAD (or another base) would become with ``paths`` taken
from the work tree as their bytes on disk (no `.gitattributes` conversion, filter or
``ident``) and ``blobs`` taken as given, in a private index: nothing of the user's index,
refs or work tree changes (only git objects are written). The writeback commits such a
tree (:func:`artifacts.git_commit.commit_exact`); a check proves a feature on a checkout of
one (:func:`checkout_tree`), so the check sees exactly the bytes the commit would hold.

:func:`checkout_tree` writes a tree's files into an empty folder from the blobs themselves
(``git cat-file --batch``): no attribute, filter or ``eol`` conversion (``git
checkout-index`` would apply the tree's own `.gitattributes`, which the agent wrote), a
committed symlink as a symlink, git's modes (644, 755); a submodule (gitlink) is an empty
folder. It never writes outside the folder: a path with ``..``, an absolute one or one
through a symlink the tree itself holds is refused.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from artifacts.git_safety import check_config, git_argv, git_env, run_git
from artifacts.git_stamp import plain_objects
from harness.errors import GitError
from harness.walk import open_folder

if TYPE_CHECKING:
    from artifacts.git_safety import ConfigChecks

Git = Callable[..., subprocess.CompletedProcess[bytes]]  # run_git bound to one repository

ZERO = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_OBJECT_ID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")


def _git(root: Path, checks: ConfigChecks | None) -> Git:

    return partial(run_git, root, checks=checks)


def head_sha(root: Path, checks: ConfigChecks | None = None) -> str | None:
    """The commit HEAD names, or None in a repository without commits; ``checks`` (a
    run's) keeps git's answer while HEAD's files are unchanged (:meth:`ConfigChecks.head`)."""

    def ask() -> str | None:
        git = _git(root, checks)
        done = git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        return done.stdout.decode().strip() or None

    return ask() if checks is None else checks.head(root, ask)


def tree_of(root: Path, rev: str | None, checks: ConfigChecks | None = None) -> str:
    """The tree of commit ``rev`` (the empty tree for None)."""
    if rev is None:
        return EMPTY_TREE
    return _git(root, checks)("rev-parse", f"{rev}^{{tree}}").stdout.decode().strip()


def build_tree(
    root: Path,
    base: str | None,
    *,
    paths: list[str],
    blobs: dict[str, bytes],
    checks: ConfigChecks | None = None,
) -> tuple[str, dict[str, str]]:
    """The tree ``base`` (a commit or tree; None: empty) becomes with ``paths`` as on disk
    (a deleted one removed) and ``blobs`` as given: (tree sha, blob sha of each of
    ``blobs``). Only objects are written; GitError on any failure.

    Every file and blob is hashed by one ``git hash-object`` and the private index takes
    them all in one ``git update-index`` (a blob after the files: it wins over a path of
    the same name). A tree is a function of its base and its entries: ``checks`` (a run's)
    keeps the tree each (base, entries) gave, and the same ones again are not built twice
    (the files are still hashed anew each time), and the private index ``git read-tree``
    made of each base, as bytes: the next build on that base starts from a copy of them,
    written into its own private folder, instead of another ``read-tree``."""
    git = _git(root, checks)
    entries, shas = _entries(git, root, paths, blobs)
    kept = checks if checks is not None and (base is None or _OBJECT_ID.fullmatch(base)) else None
    if kept is not None and not plain_objects(root):
        kept = None  # looked at before git reads the base too (and after, when kept)
    known = kept.tree_built(root, base, entries) if kept is not None else None
    if known is not None:
        return known, shas
    with tempfile.TemporaryDirectory(prefix="harness-index-") as tmp:
        index = Path(tmp) / "index"
        env = {"GIT_INDEX_FILE": str(index)}
        read = kept.base_index(root, base) if kept is not None and base is not None else None
        if read is not None:  # the bytes `read-tree base` wrote before: git writes the same
            index.write_bytes(read)
        elif base is not None:
            git("read-tree", base, env=env)
            if kept is not None:
                kept.keep_base_index(root, base, index.read_bytes())
        if entries:
            git("update-index", "-z", "--index-info", input=entries, env=env)
        tree = git("write-tree", env=env).stdout.decode().strip()
    if kept is not None:  # a named base (a ref) can move: only an object id's tree is kept
        kept.keep_tree(root, base, entries, tree)
    return tree, shas


def index_entries(git: Git, root: Path, paths: list[str]) -> bytes:
    """``update-index --index-info`` records for ``paths``: each file's bytes on disk,
    hashed with no attribute or filter applied (a `.gitattributes` the agent wrote could
    otherwise re-encode what the secret scan read, or make every `git add` fail), a
    symlink as its target, a deleted path removed. Modes are git's two for a file (755
    when the owner may execute it, else 644: no setuid, setgid or sticky bit) and 120000.

    Each path is read once, through a descriptor opened one name at a time without
    following a link (:func:`_read_entry`), and git hashes that copy: a process the agent
    left running can rename, remove or swap a file between the listing and the hashing
    without failing the build or pointing it outside the project."""
    return _entries(git, root, paths, {})[0]


def _entries(
    git: Git, root: Path, paths: list[str], blobs: dict[str, bytes]
) -> tuple[bytes, dict[str, str]]:
    """:func:`index_entries` for ``paths``, then a 100644 record for each of ``blobs``
    (hashed in the same ``git hash-object``); and each blob's sha."""
    modes: dict[str, str] = {}
    shas: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="harness-blobs-") as tmp:
        copies: list[tuple[str, str]] = []
        for path in paths:
            copy = str(Path(tmp) / str(len(copies)))
            read = _read_entry(root, path, copy)
            if read is None:
                modes[path], shas[path] = "0", ZERO
            else:  # a link's blob is its target's bytes: its copy is hashed with the files
                modes[path] = read
                copies.append((path, copy))
        given: list[str] = []
        for data in blobs.values():
            copy = str(Path(tmp) / f"blob{len(given)}")
            Path(copy).write_bytes(data)
            given.append(copy)
        listed = [copy for _, copy in copies] + given
        hashed: list[str] = []
        if listed:
            listing = b"".join(os.fsencode(copy) + b"\n" for copy in listed)
            out = git("hash-object", "-w", "--no-filters", "--stdin-paths", input=listing)
            hashed = out.stdout.decode().split()
            if len(hashed) != len(listed):
                raise GitError(f"git hash-object gave {len(hashed)} ids for {len(listed)} files")
    shas.update(zip([p for p, _ in copies], hashed[: len(copies)], strict=True))
    kept = dict(zip(blobs, hashed[len(copies) :], strict=True))
    records = [f"{modes[p]} {shas[p]}\t".encode() + os.fsencode(p) + b"\0" for p in paths]
    records += [f"100644 {kept[p]}\t".encode() + os.fsencode(p) + b"\0" for p in blobs]
    return b"".join(records), kept


LINK = "120000"
_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)
"""A part of the path missing, no longer a folder, or a link: the file is not in the tree."""


def _read_entry(root: Path, path: str, copy: str) -> str | None:
    """Copy what ``path`` holds now into the file ``copy``: its git mode (a link's target
    for :data:`LINK`), or None when it is not there. A path that is neither a file nor a
    link (a folder, a FIFO) is a GitError, as git would refuse it."""

    folder, _, name = path.rpartition("/")
    try:
        parent = open_folder(root, folder)
    except OSError as error:
        if error.errno in _GONE:
            return None
        raise GitError(f"cannot read {path!r} in {root}: {error.strerror}") from None
    try:
        return _copy_entry(parent, name, path, copy)
    finally:
        os.close(parent)


def _copy_entry(parent: int, name: str, path: str, copy: str) -> str | None:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    for _ in range(3):  # a file and a link swapped for each other between two calls
        try:
            fd = os.open(name, flags, dir_fd=parent)
        except FileNotFoundError:
            return None
        except OSError as error:
            if error.errno != errno.ELOOP:
                raise GitError(f"cannot read {path!r}: {error.strerror}") from None
            try:
                target = os.readlink(name, dir_fd=parent)
            except FileNotFoundError:
                return None
            except OSError as again:
                if again.errno == errno.EINVAL:  # a file again
                    continue
                raise GitError(f"cannot read {path!r}: {again.strerror}") from None
            Path(copy).write_bytes(os.fsencode(target))
            return LINK
        with os.fdopen(fd, "rb") as source:
            mode = os.fstat(source.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise GitError(f"cannot add {path!r}: not a regular file or a link")
            with open(copy, "wb") as out:
                shutil.copyfileobj(source, out)
        return "100755" if mode & stat.S_IXUSR else "100644"
    raise GitError(f"cannot read {path!r}: it keeps changing between a file and a link")


def tree_entries(
    root: Path, tree: str, checks: ConfigChecks | None = None
) -> Iterator[tuple[str, str, str]]:
    """(mode, blob sha, path) of every entry of ``tree``, recursively."""
    out = _git(root, checks)("ls-tree", "-r", "-z", "--full-tree", tree).stdout
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        mode, _kind, sha = meta.decode().split()
        yield mode, sha, os.fsdecode(name)


def checkout_tree(
    root: Path,
    tree: str,
    dest: Path,
    *,
    skip: tuple[str, ...] = (),
    checks: ConfigChecks | None = None,
) -> int:
    """Write every file of ``tree`` (of the repository at ``root``) into the empty folder
    ``dest`` as the blob's exact bytes, but those inside a folder named in ``skip``;
    returns how many entries were written."""
    entries = [
        entry
        for entry in tree_entries(root, tree, checks)
        if not skip or not set(entry[2].split("/")[:-1]) & set(skip)
    ]
    blobs = [(mode, sha, path) for mode, sha, path in entries if mode != "160000"]
    made: set[str] = set()
    for mode, _sha, path in entries:
        if mode == "160000":  # a submodule: its folder, empty (its commit is another repo's)
            _folder(dest, path, made).mkdir(exist_ok=True)
    contents = _read_blobs(root, [sha for _, sha, _ in blobs], checks)
    for (mode, _sha, path), data in zip(blobs, contents, strict=True):
        target = _folder(dest, path, made)
        if mode == "120000":
            os.symlink(os.fsdecode(data), target)
            continue
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(target, flags, 0o755 if mode == "100755" else 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    return len(entries)


def _folder(dest: Path, path: str, made: set[str]) -> Path:
    """``dest/path`` after making its parent folders, refusing any path that could leave
    ``dest`` (``..``, absolute, or through a symlink the tree holds)."""
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise GitError(f"refusing to check out {path!r}: not a plain path inside the tree")
    folder = dest
    for depth, part in enumerate(parts[:-1], start=1):
        folder = folder / part
        key = "/".join(parts[:depth])
        if key in made:
            continue
        try:
            folder.mkdir()
        except FileExistsError:
            if not stat.S_ISDIR(folder.lstat().st_mode):
                raise GitError(f"refusing to check out {path!r}: {key} is not a folder") from None
        made.add(key)
    return folder / parts[-1]


def keep_blob(root: Path, data: bytes, checks: ConfigChecks | None = None) -> str:
    """Keep ``data`` as a blob of the repository (only the object is written, no ref,
    index or file changes); its object id."""
    hashed = _git(root, checks)("hash-object", "-w", "--no-filters", "--stdin", input=data)
    return hashed.stdout.decode().strip()


def read_blob(root: Path, sha: str, checks: ConfigChecks | None = None) -> bytes | None:
    """The bytes of blob ``sha`` (git checks them against the id); None when this
    repository has no such blob (GitError when git cannot be used at all)."""
    done = _git(root, checks)("cat-file", "blob", sha, check=False)
    return done.stdout if done.returncode == 0 else None


def _read_blobs(root: Path, shas: list[str], checks: ConfigChecks | None) -> Iterator[bytes]:
    """The contents of ``shas``, in order, from one ``git cat-file --batch``."""

    if not shas:
        return
    check_config(root, checks)
    with tempfile.TemporaryFile() as listing:
        listing.write("".join(f"{sha}\n" for sha in shas).encode())
        listing.seek(0)
        process = subprocess.Popen(
            git_argv(root, "cat-file", "--batch"),
            stdin=listing,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=git_env(),
        )
        assert process.stdout is not None
        try:
            for sha in shas:
                header = process.stdout.readline().split()
                if len(header) != 3 or header[1] != b"blob":
                    raise GitError(f"git cat-file did not give blob {sha}: {header!r}")
                size = int(header[2])
                data = process.stdout.read(size)
                process.stdout.read(1)  # the newline after each object
                yield data
        finally:
            process.stdout.close()
            process.wait(timeout=60)
