"""The ``/etc`` a bubblewrap sandbox sees: what programs need of it, and nothing else.

The host's ``/etc`` holds ``shadow``, Docker's TLS key, ssh host keys, credentials in
``environment`` or ``sudoers.d``: a command (as root it could read every root-owned file)
read ``/etc/shadow`` and ``/etc/docker/key.json`` and the writeback committed them. The
sandbox gets a folder built from the host's ``/etc`` by an allow-list (:data:`ALLOWED`:
the dynamic linker's config, certificates, alternatives, time zone, name-service and
protocol tables, the interpreters' and tools' own folders), copying only what any local
user may read (world-readable files and searchable folders; links as links), plus a
``passwd`` and ``group`` that name only root, the workload's user and nobody, a ``hosts``
that names only localhost, and an empty ``resolv.conf`` (the host's ``resolv.conf`` and
``hosts`` are bound over them only for a command with network).

The folder is content-addressed (a digest of what it copies and writes), built once and
reused while the host's files are unchanged: one read-only bind per command, as the whole
``/etc`` was. It lives in the user's cache (``~/.cache/harness/sandbox``), or in the
project's ``.harness/sandbox`` when the workload's user cannot reach the cache; a copy
unused for a week is removed.
"""

from __future__ import annotations

import contextlib
import fnmatch
import grp
import hashlib
import os
import pwd
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HOST_ETC = Path("/etc")
PREFIX = "etc-"
UNUSED_S = 7 * 24 * 3600  # a built folder not used for this long is removed
MAX_FILE = 8 * 1024 * 1024
_VERSION = b"sandbox-etc 1"

ALLOWED: tuple[str, ...] = (
    # the dynamic linker, libraries, locales, time
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "ld.so.preload", "locale.alias",
    "locale.conf", "localtime", "timezone", "default/locale",
    # names, numbers and certificates (resolv.conf and hosts: see the module docstring)
    "nsswitch.conf", "host.conf", "gai.conf", "protocols", "services", "rpc", "networks",
    "ethertypes", "netconfig", "ssl", "ca-certificates", "ca-certificates.conf", "pki",
    "crypto-policies", "gnutls", "mime.types", "mailcap", "magic", "magic.mime",
    # what the system is, and the commands' links and settings
    "os-release", "lsb-release", "debian_version", "redhat-release", "alpine-release",
    "alternatives", "shells", "profile", "profile.d", "bash.bashrc", "inputrc", "terminfo",
    "gitconfig", "pip.conf", "npmrc", "wgetrc", "xdg", "fonts", "xattr.conf", "iproute2",
    "mtab", "python3", "python3.*", "perl", "java-*", "maven", "gdb", "vim", "sgml", "xml",
    "ImageMagick-*", "R",
)  # fmt: skip
GENERATED = ("passwd", "group", "hosts", "resolv.conf")
NETWORK_FILES = ("resolv.conf", "hosts")
"""Host files bound over the generated ones for a command with network."""


def allowed_names(extra: tuple[str, ...] = ()) -> list[str]:
    """The top-level names of the host's ``/etc`` the sandbox gets (``default/locale``
    style paths are kept as they are)."""
    try:
        present = sorted(os.listdir(HOST_ETC))
    except OSError:
        present = []
    names: list[str] = []
    for pattern in (*ALLOWED, *extra):
        if "/" in pattern:
            if _folders_open(pattern) and pattern not in names:
                names.append(pattern)  # a file in a folder others cannot enter is theirs
            continue
        names += [n for n in present if fnmatch.fnmatchcase(n, pattern) and n not in names]
    return [n for n in names if n not in GENERATED]


def _folders_open(relative: str) -> bool:
    """Whether every folder above ``relative`` (in the host's /etc) is one any local user
    may enter: a world-readable key in a 0700 folder (``ssl/private``) is not theirs."""
    parts = relative.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        try:
            info = os.lstat(HOST_ETC / "/".join(parts[:depth]))
        except OSError:
            return False
        if not stat.S_ISDIR(info.st_mode) or not _readable(info.st_mode):
            return False
    return True


def _readable(mode: int) -> bool:
    """What any local user may read: a world-readable file, a world-searchable folder."""
    if stat.S_ISDIR(mode):
        return mode & 0o005 == 0o005
    return bool(mode & 0o004) and stat.S_ISREG(mode)


def _entries(names: list[str]) -> Iterator[tuple[str, os.stat_result]]:
    """(path relative to /etc, lstat) of everything copied, parents before children."""
    pending = [n for n in names]
    while pending:
        relative = pending.pop(0)
        try:
            info = os.lstat(HOST_ETC / relative)
        except OSError:
            continue
        if stat.S_ISLNK(info.st_mode) or _readable(info.st_mode):
            yield relative, info
        if stat.S_ISDIR(info.st_mode) and _readable(info.st_mode):
            with contextlib.suppress(OSError):
                pending += [f"{relative}/{n}" for n in sorted(os.listdir(HOST_ETC / relative))]


def identity_files(uid: int, gid: int) -> dict[str, bytes]:
    """``passwd``, ``group``, ``hosts`` and an empty ``resolv.conf`` for a workload run as
    ``uid``:``gid`` (named as on the host when the host knows it, else ``harness``)."""
    user = _name(lambda: pwd.getpwuid(uid).pw_name) if uid else "root"
    group = _name(lambda: grp.getgrgid(gid).gr_name) if gid else "root"
    passwd = ["root:x:0:0:root:/root:/bin/sh"]
    groups = ["root:x:0:"]
    if uid:
        passwd.append(f"{user}:x:{uid}:{gid}:{user}:/home/harness:/bin/sh")
    if gid:
        groups.append(f"{group}:x:{gid}:")
    passwd.append("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin")
    groups.append("nogroup:x:65534:")
    hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    return {
        "passwd": ("\n".join(passwd) + "\n").encode(),
        "group": ("\n".join(groups) + "\n").encode(),
        "hosts": hosts.encode(),
        "resolv.conf": b"",
    }


def _name(lookup: object) -> str:
    try:
        name = lookup()  # type: ignore[operator]
    except (KeyError, OverflowError):
        return "harness"
    return str(name) if str(name).replace("-", "").replace("_", "").isalnum() else "harness"


REUSE_S = 60.0
"""How long this process reuses a built ``/etc`` without looking at the host's again:
the runner of each check is new, and the look (a stat of every copied entry, ~900 here)
was most of what building one cost. A session's runner keeps its ``/etc`` all run."""
_built: dict[tuple[str, ...], tuple[float, Path]] = {}


def build(state: Path, uid: int, gid: int, extra: tuple[str, ...] = ()) -> Path:
    """The sandbox's ``/etc`` for a workload run as ``uid``:``gid``, under ``state``
    (the project's ``.harness``): reused when the host's files are as they were (looked
    at again after :data:`REUSE_S`)."""
    key = (str(HOST_ETC), str(state), str(uid), str(gid), *extra)
    now = time.monotonic()
    known = _built.get(key)
    if known is not None and now - known[0] < REUSE_S and known[1].is_dir():
        return known[1]
    target = _build(state, uid, gid, extra)
    _built[key] = (now, target)
    return target


def _build(state: Path, uid: int, gid: int, extra: tuple[str, ...]) -> Path:
    names = allowed_names(extra)
    entries = list(_entries(names))
    generated = identity_files(uid, gid)
    digest = hashlib.sha256(_VERSION)
    for relative, info in entries:
        digest.update(f"{relative}\0{info.st_mode}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
        digest.update(f"{info.st_ino}\0".encode())
    for name, data in sorted(generated.items()):
        digest.update(name.encode() + b"\0" + data)
    parent = state
    target = parent / f"{PREFIX}{digest.hexdigest()[:24]}"
    if target.is_dir():
        with contextlib.suppress(OSError):
            os.utime(target)  # in use: not pruned
        return target
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=parent))
    try:
        _copy(building, names, entries, generated)
        os.chmod(building, 0o755)
        try:
            building.rename(target)
        except OSError:  # another runner built the same one meanwhile
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    _prune(parent, keep=target)
    return target


def _copy(
    folder: Path,
    names: list[str],
    entries: list[tuple[str, os.stat_result]],
    files: dict[str, bytes],
) -> None:
    for name in names:  # the folders of allowed paths such as default/locale
        if "/" in name:
            (folder / name).parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    for relative, info in entries:
        source, destination = HOST_ETC / relative, folder / relative
        if not destination.parent.is_dir():
            continue  # its folder was not copied (not readable by everyone)
        try:
            if stat.S_ISLNK(info.st_mode):
                os.symlink(os.readlink(source), destination)
            elif stat.S_ISDIR(info.st_mode):
                destination.mkdir(mode=0o755)
            elif info.st_size <= MAX_FILE:
                shutil.copyfile(source, destination, follow_symlinks=False)
                os.chmod(destination, 0o755 if info.st_mode & 0o111 else 0o644)
        except OSError:
            continue  # gone or changed meanwhile: left out (the digest changes next time)
    for name, data in files.items():
        (folder / name).write_bytes(data)
        os.chmod(folder / name, 0o644)


def _prune(parent: Path, keep: Path) -> None:
    """Remove the built folders unused for :data:`UNUSED_S` (another runner may be using a
    younger one), and what a killed build left an hour ago."""
    now = time.time()
    with contextlib.suppress(OSError):
        for path in parent.iterdir():
            if path == keep:
                continue
            age = now - path.stat().st_mtime
            if (path.name.startswith(".building-") and age > 3600) or (
                path.name.startswith(PREFIX) and age > UNUSED_S
            ):
                shutil.rmtree(path, ignore_errors=True)


def network_binds(etc: Path) -> list[str]:
    """``--ro-bind`` arguments of the host's ``resolv.conf`` and ``hosts`` (their real
    files: ``resolv.conf`` is often a link into ``/run``) over the generated ones."""
    args: list[str] = []
    for name in NETWORK_FILES:
        real = os.path.realpath(HOST_ETC / name)
        if os.path.isfile(real) and os.access(real, os.R_OK):
            args += ["--ro-bind", real, f"/etc/{name}"]
    return args
