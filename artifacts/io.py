"""Careful file I/O for the protocol files: atomic writes and reads that refuse bad input.

Reads refuse, with an :class:`ArtifactError` naming the file, the place and the reason:
symlinks that resolve outside the project, directories and other non-regular files,
files over ``max_bytes`` (checked with ``stat`` before reading), empty files (unless
allowed), non-UTF-8 bytes (with the byte offset) and a UTF-8 byte-order mark.

The BOM is *refused*, not stripped: JSON (RFC 8259) forbids it, and stripping it on read
would make the next write silently change bytes the user did not ask to change.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from pathlib import Path

from harness.errors import ArtifactError
from harness.leftovers import sweep_temps, temp_file

BOM = b"\xef\xbb\xbf"
SWEPT_KEPT = 10_000  # (folder, name) pairs a writer remembers as swept (atomic_write)
DEFAULT_MAX_BYTES = 10_000_000


def display(path: Path, root: Path) -> str:
    """The path as shown in messages: relative to the project root when inside it."""
    try:
        return str(path.absolute().relative_to(root.absolute()))
    except ValueError:
        return str(path)


def _inside(path: Path, root: Path) -> bool:
    return path.is_relative_to(root)


def resolves_outside(path: Path, root: Path) -> Path | None:
    """Where ``path`` really is when a symlink (of it or of a folder above it) takes it
    out of ``root``; None when it stays inside. The one rule for links out of the
    project: protocol-file reads refuse them, the agent's listing and search skip them."""
    target = path.resolve()
    return None if _inside(target, root.resolve()) else target


def refuse_link(path: Path, root: Path) -> None:
    """Refuse a protocol file that is itself a symlink: harness reads and writes its own
    files (progress.md, feature_list.json, init.sh) only as regular files, never through a
    link someone planted (it could point into .git/ or .harness/)."""
    if path.is_symlink():
        name = display(path, root)
        raise ArtifactError(
            name,
            "",
            f"it is a symlink (to {os.readlink(path)}); harness reads and writes its own "
            "files only as regular files, never through a link",
            f"Remove the link and restore the file: `rm {name} && git checkout HEAD -- {name}`.",
        )


def check_file(path: Path, *, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> os.stat_result:
    """Check that ``path`` is a regular file inside ``root`` and not too big; return its stat."""
    name = display(path, root)
    real_root = root.resolve()
    try:
        link = path.lstat()
    except FileNotFoundError:
        raise ArtifactError(
            name, "", "the file does not exist", "Create it (`harness init` writes every file)."
        ) from None
    except OSError as error:
        raise _read_error(name, error) from None
    target = path.resolve()
    is_link = stat.S_ISLNK(link.st_mode)
    if resolves_outside(path, real_root) is not None:
        what = f"it is a symlink to {target}" if is_link else f"it is at {target}"
        raise ArtifactError(
            name,
            "",
            f"{what}, outside the project {real_root}",
            "Replace the link by a regular file inside the project.",
        )
    if is_link and not target.exists():
        raise ArtifactError(
            name,
            "",
            f"it is a symlink to {target}, which does not exist",
            "Point the link at an existing file, or replace it by a file.",
        )
    try:
        info = target.stat()
    except OSError as error:
        raise _read_error(name, error) from None
    if stat.S_ISDIR(info.st_mode):
        raise ArtifactError(
            name,
            "",
            "it is a directory, where a file should be",
            "Move the directory away and put the file there.",
        )
    if not stat.S_ISREG(info.st_mode):
        raise ArtifactError(
            name, "", "it is not a regular file (a device, socket or FIFO)", "Replace it."
        )
    if info.st_size > max_bytes:
        raise ArtifactError(
            name,
            "",
            f"the file is {info.st_size:,} bytes, over the limit of {max_bytes:,} bytes "
            "(it was not read)",
            "A protocol file this big is almost surely not what it should be; check it.",
        )
    return info


def read_bytes(
    path: Path, *, root: Path, max_bytes: int = DEFAULT_MAX_BYTES, allow_empty: bool = False
) -> bytes:
    """Read a protocol file's bytes after the checks of :func:`check_file`."""
    check_file(path, root=root, max_bytes=max_bytes)
    name = display(path, root)
    try:
        with open(path.resolve(), "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise _read_error(name, error) from None
    if len(data) > max_bytes:
        raise ArtifactError(
            name,
            "",
            f"the file grew over the limit of {max_bytes:,} bytes while being read",
            "Check what writes to it.",
        )
    if not data and not allow_empty:
        raise ArtifactError(
            name, "", "the file is empty", "Restore its content (see `git log -p` for it)."
        )
    return data


def decode(data: bytes, name: str) -> str:
    """Decode UTF-8 strictly; a BOM or bad bytes give an error with the place."""
    if data.startswith(BOM):
        raise ArtifactError(
            name,
            "byte 0",
            "the file starts with a UTF-8 byte-order mark (EF BB BF), which harness refuses",
            "Save it as UTF-8 without BOM (e.g. `sed -i '1s/^\\xEF\\xBB\\xBF//' FILE`).",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ArtifactError(
            name,
            f"byte {error.start} (line {line})",
            f"the bytes are not valid UTF-8 ({error.reason}: "
            f"{data[error.start : error.start + 4]!r})",
            "Re-save the file as UTF-8.",
        ) from None


def read_text(
    path: Path, *, root: Path, max_bytes: int = DEFAULT_MAX_BYTES, allow_empty: bool = False
) -> str:
    """Read a protocol file as UTF-8 text, refusing bad input (see the module docstring).

    Line endings are kept exactly as they are in the file.
    """
    data = read_bytes(path, root=root, max_bytes=max_bytes, allow_empty=allow_empty)
    return decode(data, display(path, root))


def atomic_write(
    path: Path,
    data: bytes | str,
    *,
    root: Path,
    replace_link: bool = False,
    swept: set[tuple[str, str]] | None = None,
    real_root: str | None = None,
) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, rename.

    A reader sees the old content or the new, never a mix; after a crash the file is
    whole. The existing file's permission bits are kept (``init.sh`` stays executable).
    A symlink at ``path`` is never written through: refused (:func:`refuse_link`), or,
    with ``replace_link`` (the caller holds the file's authoritative content), replaced
    by a regular file.

    The temp files a killed writer left for this file are swept first (a scan of its
    folder); ``swept``, a writer's memory of the (folder, name) pairs it swept already
    (a session's, ``WorkContext.swept``), sweeps each once: the scan cost a write 1.2 ms
    in a folder of 2,000 files, and only a process that dies leaves such files.
    ``real_root``: ``root`` as the caller resolved it once (a session's
    ``WorkContext.real_root``); ``path`` is resolved here each time.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    # Strings, not pathlib (each agent write comes here): the same rules, half the CPU.
    if real_root is None:
        real_root = os.path.realpath(root)
    is_link = os.path.islink(path)
    replacing = replace_link and is_link
    if replacing:  # the link itself, not where it points
        target = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
    else:
        target = os.path.realpath(path)
    if target != real_root and not target.startswith(real_root.rstrip("/") + "/"):
        raise ArtifactError(
            display(path, root),
            "",
            f"it resolves to {target}, outside the project",
            "Refusing to write there.",
        )
    mode = 0o644
    if not replacing:
        if is_link:
            refuse_link(path, root)
        try:
            found = os.stat(target)
        except FileNotFoundError:
            pass
        else:
            if stat.S_ISDIR(found.st_mode):
                raise ArtifactError(
                    display(path, root),
                    "",
                    "it is a directory, where a file should be",
                    "Move the directory away.",
                )
            mode = stat.S_IMODE(found.st_mode)
    folder_name, target_name = os.path.split(target)
    folder = Path(folder_name)
    key = (folder_name, target_name)
    if swept is None or key not in swept:
        sweep_temps(folder, target_name)
        if swept is not None:
            if len(swept) >= SWEPT_KEPT:
                swept.clear()  # bounded: the next writes sweep again
            swept.add(key)
    try:
        fd, temp = temp_file(folder, target_name)
    except OSError as error:
        raise _write_error(display(path, root), error) from None
    try:
        try:  # the descriptor itself: a file object around it costs three system calls
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        if isinstance(error, OSError):
            raise _write_error(display(path, root), error) from None
        raise
    _fsync_dir(folder_name)


def _write_error(name: str, error: OSError) -> ArtifactError:
    return ArtifactError(
        name,
        "",
        f"cannot be written ({error.strerror or error})",
        "Check free space and permissions; the old content, if any, is intact.",
    )


def _fsync_dir(folder: Path | str) -> None:
    """Make the rename durable (the directory entry is data too)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _no_constants(name: str) -> object:
    raise ValueError(name)


def parse_json(text: str, name: str) -> object:
    """Parse JSON strictly: no duplicate keys, no NaN/Infinity; errors name line and column."""

    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except json.JSONDecodeError as error:
        raise ArtifactError(
            name,
            f"line {error.lineno}, column {error.colno} (character {error.pos})",
            f"the file is not valid JSON: {error.msg.replace(' starting at', ' starting here')}",
            "Fix the syntax (a truncated file may be restored from `git log -p`).",
        ) from None
    except _DuplicateKey as error:
        raise ArtifactError(
            name,
            f'key "{error.args[0]}"',
            f'an object has the key "{error.args[0]}" twice',
            "Keep one of them.",
        ) from None
    except ValueError as error:
        constant = str(error.args[0])
        found = re.search(rf"(?<![\w\"]){re.escape(constant)}(?![\w\"])", text)
        where = ""
        if found:
            line = text.count("\n", 0, found.start()) + 1
            where = f"line {line}, column {found.start() - text.rfind(chr(10), 0, found.start())}"
        raise ArtifactError(
            name,
            where,
            f"the file contains {constant}, which JSON does not allow",
            "Write a number, or null.",
        ) from None
    except RecursionError:
        raise ArtifactError(
            name,
            "",
            "the JSON is nested too deeply to read",
            "A feature list is at most a few levels deep; check the file.",
        ) from None


def _read_error(name: str, error: OSError) -> ArtifactError:
    return ArtifactError(
        name, "", f"cannot be read ({error.strerror or error})", "Check its permissions."
    )
