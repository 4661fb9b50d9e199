"""The bytes of the files git reads a repository's own config from.

:func:`artifacts.git_safety.check_config` reads them once (:func:`config_files`), has git
parse exactly those bytes, and keeps a clean verdict under their digest: a verdict belongs
to one content, never to a file's timestamps, so a rewrite in place within one timestamp
tick and of the same size is read like any other change, and the same bytes again (A, B,
A) are the same verdict. The files: ``config``, the worktree's and the common
``config.worktree`` (read whether or not ``extensions.worktreeConfig`` is on), found
through the ``.git`` file of a worktree and its ``commondir`` as git finds them; each read
through links, once, without blocking (a FIFO or device is not read).

:func:`config_files` is None, so the check asks git for the whole config as before
(``git config --list --includes``, every time), when:

- ``root/.git`` is one git would not take for a repository (no valid HEAD, no ``objects``
  or ``refs`` it can enter, no config): git would search the parent folders and read their
  config;
- anything unexpected: a file that is not a regular file, unreadable, over
  :data:`MAX_BYTES`, a malformed ``.git`` file.

Includes are not followed: a config that includes another file is refused by the check,
so a clean verdict never depends on a file outside these.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 1 << 20
"""A config file larger than this is not read here (the check asks git each time)."""

_HEAD = re.compile(rb"(ref: refs/\S+|[0-9a-f]{40}|[0-9a-f]{64})\s*")


class _Unexpected(Exception):
    """A file that cannot be read as git would read it."""


@dataclass(frozen=True)
class ConfigFiles:
    """The config files git reads for a repository, with their bytes (None: absent)."""

    files: tuple[tuple[Path, bytes | None], ...]
    digest: bytes  # of the layout (.git file, commondir) and of every path and its bytes


def _read(path: Path, most: int = MAX_BYTES) -> bytes | None:
    """The bytes of the regular file at ``path`` (links followed), at most ``most``; None
    if there is none.

    Raises:
        _Unexpected: not a regular file, too large, or unreadable.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None  # git reads no file there (a dangling link too)
    except OSError as error:
        raise _Unexpected(str(error)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > most:
            raise _Unexpected(f"{path}: not a regular file of at most {most} bytes")
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
            size += len(chunk)
            if size > most:  # grew while read
                raise _Unexpected(f"{path}: over {most} bytes")
        return b"".join(chunks)
    except OSError as error:
        raise _Unexpected(str(error)) from None
    finally:
        os.close(fd)


def _is_repository(gitdir: Path, common: Path) -> bool:
    """What git checks before it takes a folder for a repository (setup.c's
    ``is_git_directory``), or stricter: never True where git would say no."""
    try:
        head = _read(gitdir / "HEAD")
    except _Unexpected:
        return False
    if head is None or not _HEAD.fullmatch(head[:200]):
        return False
    return all(
        (common / name).is_dir() and os.access(common / name, os.X_OK)
        for name in ("objects", "refs")
    )


def _layout(root: Path) -> tuple[list[bytes], Path, Path] | None:
    """The ``.git`` file's and ``commondir``'s bytes, the git dir and the common dir of the
    repository at ``root``, as git finds them; None where git would not take it.

    Raises:
        OSError, _Unexpected: a file that cannot be read as git would read it.
    """
    dot = root / ".git"
    layout: list[bytes] = []
    if dot.is_dir():
        gitdir = dot
    else:  # a worktree or submodule: "gitdir: <path>" (setup.c's read_gitfile_gently)
        text = _read(dot)
        if text is None or not text.startswith(b"gitdir: "):
            return None
        layout.append(text)
        gitdir = root / os.fsdecode(text.removeprefix(b"gitdir: ").rstrip(b"\r\n"))
    common = gitdir
    pointer = _read(gitdir / "commondir")
    if pointer is not None:  # setup.c's get_common_dir_noenv: trailing space trimmed
        layout.append(pointer)
        common = gitdir / os.fsdecode(pointer.rstrip(b" \t\n\r\v\f"))
    if not _is_repository(gitdir, common):
        return None
    return layout, gitdir, common


def _digest(layout: list[bytes], files: Sequence[tuple[Path, bytes | None]]) -> bytes:
    """The sha256 of the layout's bytes (.git file, commondir) and of each file's path and
    bytes (an absent one marked as such), each length-prefixed."""
    digest = hashlib.sha256()
    for part in layout:
        digest.update(b"L%d:" % len(part) + part)
    for path, data in files:
        where = os.fsencode(path)
        digest.update(b"P%d:" % len(where) + where)
        digest.update(b"-" if data is None else b"B%d:" % len(data) + data)
    return digest.digest()


def config_files(root: Path) -> ConfigFiles | None:
    """The repository's own config files at ``root`` and their bytes, or None (see above)."""
    try:
        found = _layout(root)
        if found is None:
            return None
        layout, gitdir, common = found
        paths = dict.fromkeys(
            (common / "config", gitdir / "config.worktree", common / "config.worktree")
        )  # once each (the main work tree's gitdir is the common one)
        files = tuple((path, _read(path)) for path in paths)
    except (OSError, _Unexpected):
        return None
    if files[0][1] is None:
        return None  # no config at all: git's full answer, as before
    return ConfigFiles(files, _digest(layout, files))


MAX_INDEX_BYTES = 64 << 20
"""An index larger than this is not read here (the question goes to git each time)."""


def index_digest(root: Path) -> bytes | None:
    """A digest of the bytes of the index git reads at ``root`` (the git dir's ``index``;
    harness drops ``GIT_INDEX_FILE``) and of the layout that finds it: a question about the
    index alone (``git ls-files --unmerged``) has the same answer while it holds. None
    (ask git) when the index may be split (a ``sharedindex.*`` file in the git dir: its
    entries are in another file), is larger than :data:`MAX_INDEX_BYTES`, or is anything
    but a regular file; an absent index is a digest too (git reads no entries)."""
    try:
        found = _layout(root)
        if found is None:
            return None
        layout, gitdir, _common = found
        with os.scandir(gitdir) as names:
            if any(entry.name.startswith("sharedindex.") for entry in names):
                return None
        data = _read(gitdir / "index", MAX_INDEX_BYTES)
    except (OSError, _Unexpected):
        return None
    return _digest(layout, [(gitdir / "index", data)])


@dataclass(frozen=True)
class HeadFiles:
    """The files git resolves HEAD from, by their bytes, and the commit they name."""

    digest: bytes  # of the layout and of every path and its bytes (absent ones too)
    named: str | None  # the object id they name for HEAD; None: an unborn branch


_SYMREF = re.compile(rb"ref: (refs/heads/[^\s]+)\n?")
_OBJECT_ID = re.compile(rb"([0-9a-f]{40}|[0-9a-f]{64})\n?")


def _read_ref(path: Path) -> bytes | None:
    """A loose ref or HEAD as the files backend reads it (refs.c's ``files_read_raw_ref``):
    a link there is read as a link, so one is not read here at all."""
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise _Unexpected(f"{path}: a symbolic link")
    except FileNotFoundError:
        return None
    return _read(path)


def _replaced(common: Path, packed: bytes | None) -> bool:
    """Whether git may read another object for an id here: a replace ref (loose, packed,
    or under a base the environment names) or a graft (``git replace``, ``info/grafts``)."""
    if os.environ.get("GIT_REPLACE_REF_BASE") is not None:
        return True
    if os.path.lexists(common / "refs" / "replace") or os.path.lexists(common / "info" / "grafts"):
        return True
    return packed is not None and b" refs/replace/" in packed


def plain_objects(root: Path) -> bool:
    """Whether the repository at ``root`` reads every object id as its own object (no
    replace ref, no graft): then what an id holds, and so any answer about it, never
    changes."""
    try:
        found = _layout(root)
        if found is None:
            return False
        return not _replaced(found[2], _read(found[2] / "packed-refs"))
    except (OSError, _Unexpected):
        return False


def head_files(root: Path) -> HeadFiles | None:
    """What HEAD names by the bytes of ``HEAD``, its branch's loose ref and
    ``packed-refs`` (a loose ref wins, as in git), or None when these files are anything
    but the plain forms: HEAD a branch under ``refs/heads/`` (or a detached object id),
    the branch an object id in a regular file, or only in ``packed-refs``, or nowhere;
    and no object replaced (:func:`plain_objects`).

    The digest covers every file git could resolve HEAD from here; the same bytes again
    name the same object, so an answer git gave that equals :attr:`HeadFiles.named` holds
    while the digest does."""
    try:
        found = _layout(root)
        if found is None:
            return None
        layout, gitdir, common = found
        head = _read_ref(gitdir / "HEAD")
        packed = _read(common / "packed-refs")
        if head is None or _replaced(common, packed):
            return None
        files: list[tuple[Path, bytes | None]] = [(gitdir / "HEAD", head)]
        named: str | None
        symref = _SYMREF.fullmatch(head)
        if symref is not None:
            name = symref.group(1)
            loose = _read_ref(common / os.fsdecode(name))
            files += [(common / os.fsdecode(name), loose), (common / "packed-refs", packed)]
            if loose is not None:
                plain = _OBJECT_ID.fullmatch(loose)
                if plain is None:
                    return None  # a symref, a broken ref: git's answer each time
                named = plain.group(1).decode()
            else:
                named = _packed(packed or b"", name)
        else:
            plain = _OBJECT_ID.fullmatch(head)
            if plain is None:
                return None
            named = plain.group(1).decode()
    except (OSError, _Unexpected):
        return None
    return HeadFiles(_digest(layout, files), named)


def _packed(packed: bytes, name: bytes) -> str | None:
    """The object id ``packed-refs`` gives ref ``name``; None when it has none."""
    for line in packed.split(b"\n"):
        sha, _, ref = line.partition(b" ")
        if ref == name and _OBJECT_ID.fullmatch(sha):
            return sha.decode()
    return None


_USER_ENV = (
    "HOME",
    "XDG_CONFIG_HOME",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_NOSYSTEM",
)
"""The environment that decides which global and system config files git reads."""


def user_config_files(root: Path, git: str) -> bytes | None:
    """A digest of everything ``git config`` at ``root`` reads the user's settings from
    (``user.name``, ``user.email``): the program, the variables that place the global and
    system files, those files' bytes and the repository's own (:func:`config_files`);
    None where that set is not known here, so git is asked each time:

    - a ``git`` that is not ``/usr/bin/git`` (whose system file is ``/etc/gitconfig``
      unless ``GIT_CONFIG_SYSTEM`` names another; elsewhere the file is the build's
      choice), or macOS (whose ``/usr/bin/git`` hands over to a git with a system file
      of its own);
    - no ``HOME``, a relative path, a file that is not a regular file, or one with an ``include``
      (``include.path``, ``includeIf``: a file the digest would not cover, or a
      condition on the branch);
    - the repository's config not readable as git reads it (:func:`config_files`)."""
    if sys.platform == "darwin" or os.path.realpath(git) != "/usr/bin/git":
        return None
    env = [os.environ.get(name) for name in _USER_ENV]
    home, xdg, global_file, system_file = env[:4]
    if not home:
        return None
    if global_file is not None:
        paths = [Path(global_file)]
    else:
        paths = [Path(xdg or os.path.join(home, ".config")) / "git" / "config"]
        paths.append(Path(home) / ".gitconfig")
    paths.append(Path(system_file if system_file is not None else "/etc/gitconfig"))
    if not all(path.is_absolute() for path in paths):
        return None  # git would read them from the repository's folder
    local = config_files(root)
    if local is None:
        return None
    try:
        files = [(path, _read(path)) for path in paths]
    except (OSError, _Unexpected):
        return None
    if any(b"include" in data.lower() for _, data in [*files, *local.files] if data):
        return None
    digest = hashlib.sha256(local.digest + os.fsencode(git))
    for value in env:
        digest.update(b"-" if value is None else b"V%d:" % len(value) + os.fsencode(value))
    digest.update(_digest([], files))
    return digest.digest()
