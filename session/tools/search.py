"""What ``list_files`` and ``grep`` do: a glob matched during one walk of the project, and
a regular expression over the files it finds.

Both run in the tool worker (:mod:`harness.worker`, see ``session.tools.files``), a
process the harness kills at the call's time limit: the agent writes the regex (which
may backtrack for hours) and shapes the tree (which may be 100,000 folders deep or hold
millions of files). Here they are bounded by what they read: the walk is
:class:`harness.walk.Walk` (iterative, fd-relative, at most :data:`MAX_WALKED` entries),
a file is read through its folder's descriptor without following a link or blocking on
a FIFO, and at most :data:`MAX_FILE_BYTES` of it.

Links are never followed: a symlink the pattern reaches (one it names, or a folder it
would walk into) is counted and said, whether it leads out of the project, into its
state or to a file inside (its real path is the one to search). This module imports only
the standard library, the walk and ``harness.secret_files``, so the worker starts fast.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import time
from fnmatch import fnmatchcase
from typing import Any

from harness import walk
from harness.secret_files import matches

MAX_LISTED = 500
MAX_GREP_HITS = 200
MAX_WALKED = 200_000
"""Entries one list_files or grep looks at (a tree of millions of files ends there)."""
MAX_FILE_BYTES = 16 * 1024 * 1024
"""Largest file read_file, edit_file and grep read (a 1 GB sparse file, free to make, took
the harness 2.3 GB of memory to read whole); at most this much plus one byte is read."""
_MAGIC = re.compile(r"[*?\[]")
FUNCTIONS = ("session.tools.search:list_files", "session.tools.search:grep")
"""What the session's tool worker may run (``WorkContext.tool_worker``)."""


class Glob:
    """A pathlib-style glob (``src/**/*.py``) matched segment by segment, so a walk knows
    which folders can hold a match before it opens them. ``**`` is any number of folders
    (a trailing ``**`` any file below); ``*``, ``?`` and ``[...]`` stay inside a name."""

    def __init__(self, pattern: str) -> None:
        segments = [part for part in pattern.split("/") if part not in ("", ".")]
        if not segments or segments[-1] == "**":
            segments.append("*")
        self.segments = segments
        self.end = len(segments)

    def start(self) -> frozenset[int]:
        return self._closure({0})

    def step(self, states: frozenset[int], name: str) -> tuple[frozenset[int], frozenset[int]]:
        """The states after one more name: all of them, and those reached by matching the
        name itself (not by a ``**`` passing over it: ``**`` never walks through a link)."""
        named = {
            i + 1
            for i in states
            if i < self.end and self.segments[i] != "**" and _match(name, self.segments[i])
        }
        stayed = {i for i in states if i < self.end and self.segments[i] == "**"}
        named_closed = self._closure(named)
        return self._closure(stayed) | named_closed, named_closed

    def matches(self, states: frozenset[int]) -> bool:
        return self.end in states

    def deeper(self, states: frozenset[int]) -> bool:
        """Whether a name below could still match."""
        return any(i < self.end for i in states)

    def _closure(self, states: set[int]) -> frozenset[int]:
        out = set(states)
        for i in sorted(states):
            while i < self.end and self.segments[i] == "**":
                i += 1
                out.add(i)
        return frozenset(out)


def _match(name: str, segment: str) -> bool:
    return fnmatchcase(name, segment) if _MAGIC.search(segment) else name == segment


class _Found:
    """The files a glob names, found in one walk: each yielded while its folder is open."""

    def __init__(
        self, root: str, pattern: str, deadline: float, hidden: list[str], secret: list[str]
    ) -> None:
        self.glob = Glob(pattern)
        self.hidden = [h.rstrip("/") for h in hidden]
        self.secret = secret
        self.states: dict[str, frozenset[int]] = {"": self.glob.start()}
        self.links = 0
        self.walk = walk.Walk(
            root, descend=self._descend, limit=MAX_WALKED, deadline=deadline, ordered=True
        )

    def _after(self, path: str) -> tuple[frozenset[int], frozenset[int]]:
        parent, _, name = path.rpartition("/")
        return self.glob.step(self.states.get(parent, frozenset()), name)

    def _hides(self, path: str) -> bool:
        """A path of ``[verify] hidden``, or below one, or a file declared secret (a folder
        declared secret is never walked into): not the agent's to see."""
        if any(path == h or path.startswith(f"{h}/") for h in self.hidden):
            return True
        return matches(path, path.rpartition("/")[2], self.secret)

    def _descend(self, path: str) -> bool:
        if self._hides(path):
            return False
        states, _ = self._after(path)
        if not self.glob.deeper(states):
            return False
        self.states[path] = states
        return True

    def __iter__(self) -> Any:
        for entry in self.walk:
            if self._hides(entry.path):
                continue
            states, named = self._after(entry.path)
            if entry.is_link:
                if self.glob.matches(named) or self.glob.deeper(named):
                    self.links += 1
            elif entry.is_file and self.glob.matches(states):
                yield entry

    def notes(self) -> str:
        """What the answer must add: links not followed, folders not read, a cut walk."""
        parts = []
        if self.links:
            plural = "link" if self.links == 1 else "links"
            parts.append(
                f"[skipped {self.links} symbolic {plural}: the file tools follow no link "
                "(out of the project, into its state, or inside it: use the real path)]"
            )
        unread = self.walk.unreadable
        if unread:
            named = ", ".join(walk.shown(item.path, 80) for item in unread[:3])
            more = f" and {len(unread) - 3} more" if len(unread) > 3 else ""
            parts.append(f"[could not read {named}{more}: what is there is not in this answer]")
        if self.walk.stopped:
            parts.append(
                f"[the search {self.walk.stopped} (at most {MAX_WALKED:,} and a time limit): "
                "narrow the pattern]"
            )
        return "".join(f"\n{part}" for part in parts)


def _refuse_outside(pattern: str, what: str) -> None:
    if pattern.startswith("/") or ".." in pattern.split("/"):
        raise Refused(f"the {what} must stay inside the project")


class Refused(ValueError):
    """An argument the tool refuses: the message is what the model reads."""


def list_files(
    root: str,
    pattern: str,
    deadline_s: float,
    hidden: list[str] | None = None,
    secret: list[str] | None = None,
) -> dict[str, str]:
    """Regular files matching ``pattern`` (sorted), at most MAX_LISTED of them named;
    none of ``hidden`` (``[verify] hidden``) or below it, none declared secret (``.env``
    files, ``secret``: ``[protect] hide``)."""
    try:
        _refuse_outside(pattern, "pattern")
    except Refused as error:
        return {"status": "error", "output": f"error: {error}"}
    found = _Found(root, pattern, time.monotonic() + deadline_s, hidden or [], secret or [])
    files = sorted(entry.path for entry in found)
    more = f"\n[... {len(files) - MAX_LISTED} more]" if len(files) > MAX_LISTED else ""
    listed = "\n".join(files[:MAX_LISTED]) + more or "(no files match)"
    return {"status": "ok", "output": listed + found.notes()}


def grep(
    root: str,
    regex: str,
    glob: str,
    deadline_s: float,
    hidden: list[str] | None = None,
    secret: list[str] | None = None,
) -> dict[str, str]:
    """Lines matching ``regex`` in the files ``glob`` names (not ``hidden`` ones, not those
    declared secret), at most MAX_GREP_HITS."""
    try:
        _refuse_outside(glob, "glob")
        compiled = re.compile(regex)
    except Refused as error:
        return {"status": "error", "output": f"error: {error}"}
    except (re.error, OverflowError, RecursionError) as error:
        return {"status": "error", "output": f"error: bad regular expression: {error}"}
    found = _Found(root, glob, time.monotonic() + deadline_s, hidden or [], secret or [])
    hits: list[str] = []
    large = 0
    for entry in found:
        try:
            text = read_bounded(entry.dir_fd, entry.name).decode("utf-8")
        except TooLarge:
            large += 1
            continue
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if compiled.search(line):
                hits.append(f"{entry.path}:{number}: {line[:300]}")
                if len(hits) >= MAX_GREP_HITS:
                    break
        if len(hits) >= MAX_GREP_HITS:
            break
    mib = MAX_FILE_BYTES // (1024 * 1024)
    over = f"\n[skipped {large} file(s) over {mib} MiB: search them with `run`]" if large else ""
    return {"status": "ok", "output": ("\n".join(hits) or "(no matches)") + found.notes() + over}


class TooLarge(Exception):
    """A file above MAX_FILE_BYTES: the file tools do not read it."""


def read_bounded(dir_fd: int | None, name: str) -> bytes:
    """The bytes of the regular file ``name`` (in the folder ``dir_fd``, or a path), at
    most MAX_FILE_BYTES (TooLarge past that: at most one byte more is read).

    Opened without following a link in its last part and without blocking (a FIFO put in
    its place would wait for a writer forever): anything but a regular file is refused.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    fd = os.open(name, flags, dir_fd=dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", name)
        chunks: list[bytes] = []
        left = MAX_FILE_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_FILE_BYTES:
        raise TooLarge(name)
    return data
