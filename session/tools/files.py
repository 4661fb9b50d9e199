"""File tools: read, write, exact edit, glob and grep, confined to the project.

read_file, write_file and edit_file touch one file, bounded by its size (at most
MAX_FILE_BYTES read, without blocking on a FIFO). list_files and grep walk the project and
run the agent's regex: they run in the session's tool worker (``harness.worker``), killed
at ``[budgets] tool_s`` or when the session's wall-time budget ends, whichever comes first
(``session.tools.search`` is what runs there).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from artifacts.io import atomic_write, refuse_link
from escalation.trace import content_digest, file_digest
from harness.errors import ArtifactError
from harness.tools import Tool, ToolResult
from harness.worker import Overran, WorkerFailed
from session.context import WorkContext
from session.effects import FileWritten, Result
from session.paths import PathRefused, confine
from session.tools.search import MAX_FILE_BYTES, read_bounded
from session.tools.search import TooLarge as _TooLarge

MAX_READ_CHARS = 60_000
__all__ = ["FILE_TOOLS", "MAX_FILE_BYTES"]


class TooLarge(Exception):
    """A file above MAX_FILE_BYTES: the file tools do not read it."""

    def __init__(self, shown: str) -> None:
        super().__init__(
            f"{shown} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, more than the file "
            "tools read; look at parts of it with `run` (head, tail, sed -n, grep)"
        )


def _read_bounded(path: Path, shown: str, errors: str = "strict") -> str:
    """The file's text, read at most MAX_FILE_BYTES + 1 bytes (TooLarge past that)."""
    try:
        data = read_bounded(None, str(path))
    except _TooLarge:
        raise TooLarge(shown) from None
    return data.decode("utf-8", errors=errors)


class ReadArgs(BaseModel):
    path: str = Field(description="file path relative to the project root")
    offset: int = Field(0, ge=0, description="first line to return (0-based)")
    limit: int = Field(2000, ge=1, le=20000, description="how many lines at most")


class WriteArgs(BaseModel):
    path: str = Field(description="file path relative to the project root")
    content: str = Field(description="the whole new content of the file")


class EditArgs(BaseModel):
    path: str = Field(description="file path relative to the project root")
    old: str = Field(min_length=1, description="exact text to replace; must occur exactly once")
    new: str = Field(description="replacement text")


class ListArgs(BaseModel):
    pattern: str = Field("**/*", description="glob relative to the project root, e.g. src/**/*.py")


class GrepArgs(BaseModel):
    regex: str = Field(description="Python regular expression")
    glob: str = Field("**/*", description="which files to search")


def _refused(exc: PathRefused) -> Result:
    return ToolResult.error(str(exc))


def read_file(ctx: WorkContext, args: ReadArgs) -> Result:
    try:
        path = confine(
            ctx.root, args.path, hidden=ctx.hidden, secret=ctx.secret, real_root=ctx.real_root()
        )
    except PathRefused as exc:
        return _refused(exc)
    if not path.is_file():
        return ToolResult.error(f"{args.path} does not exist or is not a file")
    try:
        text = _read_bounded(path, args.path, errors="replace")
    except TooLarge as exc:
        return ToolResult.error(str(exc))
    lines = text.splitlines(keepends=True)
    chunk = "".join(lines[args.offset : args.offset + args.limit])
    if len(chunk) > MAX_READ_CHARS:
        chunk = chunk[:MAX_READ_CHARS] + "\n[... cut: read a smaller range ...]"
    shown = min(len(lines), args.offset + args.limit)
    header = f"{args.path} (lines {args.offset + 1}-{shown} of {len(lines)})\n"
    return ToolResult(output=header + chunk)


def write_file(ctx: WorkContext, args: WriteArgs) -> Result:
    try:
        path = confine(
            ctx.root,
            args.path,
            write=True,
            protected=ctx.protected,
            hidden=ctx.hidden,
            secret=ctx.secret,
            real_root=ctx.real_root(),
        )
    except PathRefused as exc:
        return _refused(exc)
    if path.is_dir():
        return ToolResult.error(f"{args.path} is a directory")
    data = args.content.encode("utf-8")
    said = f"wrote {args.path} ({len(args.content)} chars)"
    return _planned(ctx, path, file_digest(path), data, said)


def edit_file(ctx: WorkContext, args: EditArgs) -> Result:
    try:
        path = confine(
            ctx.root,
            args.path,
            write=True,
            protected=ctx.protected,
            hidden=ctx.hidden,
            secret=ctx.secret,
            real_root=ctx.real_root(),
        )
    except PathRefused as exc:
        return _refused(exc)
    if not path.is_file():
        return ToolResult.error(f"{args.path} does not exist; use write_file to create it")
    try:
        text = _read_bounded(path, args.path)
    except TooLarge as exc:
        return ToolResult.error(str(exc))
    count = text.count(args.old)
    if count == 0:
        if text.count(args.new) == 1 and args.new:
            # The edit is already there (the model repeated its call): say so, change nothing.
            return ToolResult(output=f"{args.path} already contains the new text; unchanged")
        return ToolResult.error(f"the old text does not occur in {args.path}; read it first")
    if count > 1:
        return ToolResult.error(
            f"the old text occurs {count} times in {args.path}; include more context"
        )
    before = content_digest(text.encode("utf-8"))
    data = text.replace(args.old, args.new, 1).encode("utf-8")
    return _planned(ctx, path, before, data, f"edited {args.path}")


# -- writes: decided in the step, written once it is recorded -------------------------------
# A file tool's answer depends on the file as it was: written inside its step, a step whose
# end was lost (a kill after the write) ran again on the written file and answered
# otherwise ("already contains the new text"), so the model saw another transcript. The
# tools decide the bytes and answer; the pipeline records the step (its end written at
# once), then writes them (apply_write), and on resume writes them if that was not done.
# Called outside a pipeline (no step records them), a tool writes at once.
WRITERS = frozenset({"write_file", "edit_file"})


def _planned(ctx: WorkContext, path: Path, before: str | None, data: bytes, said: str) -> Result:
    """The tool's answer and the bytes to write; what would refuse the write refuses the
    call now (the model reads it), not after the step is recorded."""
    refuse_link(path, ctx.root)  # ArtifactError: the tool's error, as atomic_write's was
    path.parent.mkdir(parents=True, exist_ok=True)
    shown = _shown(ctx, path)
    ctx.pending_writes[shown] = data
    written = FileWritten(path=shown, before=before, after=content_digest(data))
    if ctx.door is None:  # called outside a session's pipeline: nothing records it
        apply_write(ctx, written)
    return ToolResult(output=said, effects=[written])


def apply_write(
    ctx: WorkContext, written: FileWritten, redo: Callable[[], object] | None = None
) -> None:
    """Write what a recorded file tool step decided. Live, its bytes are in
    ``ctx.pending_writes``; on resume (the step recorded, the write maybe not made),
    ``redo`` decides them again, and they are written only while the file is still as the
    step found it. A file already holding them is left as it is."""
    data = ctx.pending_writes.pop(written.path, None)
    try:
        path = confine(
            ctx.root,
            written.path,
            write=True,
            protected=ctx.protected,
            hidden=ctx.hidden,
            real_root=ctx.real_root(),
        )
        refuse_link(path, ctx.root)
    except (PathRefused, ArtifactError) as why:
        # A link or folder planted there since the step (a command left running): the
        # write is not made through it, and the session's progress entry says so.
        ctx.notes.append(f"the write of {written.path} was not made: {why}")
        return
    current = _digest(str(path))
    if current is FOLDER:
        ctx.notes.append(f"the write of {written.path} was not made: it is now a folder")
        return
    if current == written.after:
        return
    if data is None:
        if redo is None or current != written.before:
            return  # changed since the step: later steps or commands own it now
        redo()
        data = ctx.pending_writes.pop(written.path, None)
        if data is None or content_digest(data) != written.after:
            return
    if not os.path.isdir(os.path.dirname(path)):  # one stat, not mkdir's two calls
        path.parent.mkdir(parents=True, exist_ok=True)
    # a full disk: the run waits
    atomic_write(path, data, root=ctx.root, swept=ctx.swept, real_root=ctx.real_root())


FOLDER = "folder"
"""What :func:`_digest` says of a folder at the path."""


def _digest(path: str) -> str | None:
    """``escalation.trace.file_digest`` of the file a write replaces (None: absent, a link,
    not a regular file, unreadable), or FOLDER, with one open: every agent write comes
    here, and the folder test, the link test and Python's file object cost it seven
    system calls more. The last name is never followed (O_NOFOLLOW) and a FIFO never
    waited on (O_NONBLOCK)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            return FOLDER
        if not stat.S_ISREG(mode):
            return None
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
        return "sha256:" + digest.hexdigest()
    except OSError:
        return None
    finally:
        os.close(fd)


def _shown(ctx: WorkContext, path: Path) -> str:
    """The project-relative path of a file the tools wrote (how the record names it)."""
    root = ctx.root.resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


SEARCH = "session.tools.search"


def _searched(ctx: WorkContext, name: str, **args: Any) -> Result:
    """``session.tools.search.<name>`` in the session's tool worker, within its time."""
    seconds, bound = ctx.time_for(ctx.tool_s)
    args.update(
        root=str(ctx.root.resolve()),
        hidden=list(ctx.hidden),
        secret=list(ctx.secret or []),
        deadline_s=seconds * 0.8,
    )
    try:
        answer = ctx.tool_worker().call(f"{SEARCH}:{name}", args, timeout=seconds)
    except Overran:
        return ToolResult.error(
            f"{name} was stopped after {seconds:.3g} s ({bound}): the pattern or the "
            "regular expression takes too long here; narrow the glob, or simplify the "
            "expression (nested repeats like (a+)+ backtrack without end)"
        )
    except WorkerFailed as error:
        return ToolResult.error(f"{name} failed: {error}")
    return ToolResult(status=answer["status"], output=answer["output"])


def list_files(ctx: WorkContext, args: ListArgs) -> Result:
    return _searched(ctx, "list_files", pattern=args.pattern)


def grep(ctx: WorkContext, args: GrepArgs) -> Result:
    return _searched(ctx, "grep", regex=args.regex, glob=args.glob)


FILE_TOOLS: list[Tool[WorkContext]] = [
    Tool("read_file", "Read a text file of the project.", ReadArgs, read_file),
    Tool("write_file", "Create or overwrite a file of the project.", WriteArgs, write_file),
    Tool(
        "edit_file",
        "Replace one exact occurrence of `old` with `new` in a file.",
        EditArgs,
        edit_file,
    ),
    Tool("list_files", "List project files matching a glob.", ListArgs, list_files),
    Tool("grep", "Search project files for a regular expression.", GrepArgs, grep),
]
