"""File tools: read, write, exact edit, glob and grep, confined to the project."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, Field

from artifacts.io import atomic_write, resolves_outside
from harness.tools import Tool, ToolResult
from session.context import WorkContext
from session.effects import FileWritten, Result
from session.paths import PROTECTED, PathRefused, confine

MAX_READ_CHARS = 60_000
MAX_LISTED = 500
MAX_GREP_HITS = 200
MAX_FILE_BYTES = 16 * 1024 * 1024
"""Largest file read_file, edit_file and grep read (a 1 GB sparse file, free to make, took
the harness 2.3 GB of memory to read whole); at most this much plus one byte is read."""


class TooLarge(Exception):
    """A file above MAX_FILE_BYTES: the file tools do not read it."""

    def __init__(self, shown: str) -> None:
        super().__init__(
            f"{shown} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, more than the file "
            "tools read; look at parts of it with `run` (head, tail, sed -n, grep)"
        )


def _read_bounded(path: Path, shown: str, errors: str = "strict") -> str:
    """The file's text, read at most MAX_FILE_BYTES + 1 bytes (TooLarge past that)."""
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise TooLarge(shown)
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
        path = confine(ctx.root, args.path, hidden=ctx.hidden)
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
        path = confine(ctx.root, args.path, write=True, protected=ctx.protected, hidden=ctx.hidden)
    except PathRefused as exc:
        return _refused(exc)
    if path.is_dir():
        return ToolResult.error(f"{args.path} is a directory")
    from escalation.trace import content_digest, file_digest

    before = file_digest(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = args.content.encode("utf-8")
    atomic_write(path, data, root=ctx.root)
    written = FileWritten(path=_shown(ctx, path), before=before, after=content_digest(data))
    return ToolResult(output=f"wrote {args.path} ({len(args.content)} chars)", effects=[written])


def edit_file(ctx: WorkContext, args: EditArgs) -> Result:
    try:
        path = confine(ctx.root, args.path, write=True, protected=ctx.protected, hidden=ctx.hidden)
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
            # The edit was already applied (a replayed or repeated call): say so, change nothing.
            return ToolResult(output=f"{args.path} already contains the new text; unchanged")
        return ToolResult.error(f"the old text does not occur in {args.path}; read it first")
    if count > 1:
        return ToolResult.error(
            f"the old text occurs {count} times in {args.path}; include more context"
        )
    from escalation.trace import content_digest

    before = content_digest(text.encode("utf-8"))
    data = text.replace(args.old, args.new, 1).encode("utf-8")
    atomic_write(path, data, root=ctx.root)
    written = FileWritten(path=_shown(ctx, path), before=before, after=content_digest(data))
    return ToolResult(output=f"edited {args.path}", effects=[written])


def _shown(ctx: WorkContext, path: Path) -> str:
    """The project-relative path of a file the tools wrote (how the record names it)."""
    root = ctx.root.resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _project_files(
    root: Path, pattern: str, hidden: list[str] | None = None
) -> tuple[list[str], int]:
    """Regular files matching `pattern`, and how many matches were skipped because a
    symlink (the file's or a folder's above it) leads out of the project or into its
    state: the rule read_file keeps (`artifacts.io.resolves_outside`). Hidden paths
    (``[verify] hidden``) are not listed."""
    found, skipped = [], 0
    for path in sorted(root.glob(pattern)):
        relative = path.relative_to(root)
        if relative.parts and relative.parts[0] in PROTECTED:
            continue
        if _hidden(relative.as_posix(), hidden or []):
            continue
        if resolves_outside(path, root) is not None:
            skipped += 1
            continue
        real = path.resolve().relative_to(root).parts
        if (real and real[0] in PROTECTED) or _hidden("/".join(real), hidden or []):
            skipped += 1
            continue
        if path.is_file() and not path.is_symlink():
            found.append(relative.as_posix())
    return found, skipped


def _hidden(path: str, hidden: list[str]) -> bool:
    return any(path == h or path.startswith(h.rstrip("/") + "/") for h in hidden)


def _skipped(count: int) -> str:
    if not count:
        return ""
    links = "link" if count == 1 else "links"
    return f"\n[skipped {count} {links} out of the project or into its state]"


def list_files(ctx: WorkContext, args: ListArgs) -> Result:
    if args.pattern.startswith("/") or ".." in Path(args.pattern).parts:
        return ToolResult.error("the pattern must stay inside the project")
    files, skipped = _project_files(ctx.root.resolve(), args.pattern, ctx.hidden)
    more = f"\n[... {len(files) - MAX_LISTED} more]" if len(files) > MAX_LISTED else ""
    listed = "\n".join(files[:MAX_LISTED]) + more or "(no files match)"
    return ToolResult(output=listed + _skipped(skipped))


def grep(ctx: WorkContext, args: GrepArgs) -> Result:
    if args.glob.startswith("/") or ".." in Path(args.glob).parts:
        return ToolResult.error("the glob must stay inside the project")
    try:
        regex = re.compile(args.regex)
    except re.error as exc:
        return ToolResult.error(f"bad regular expression: {exc}")
    root = ctx.root.resolve()
    hits: list[str] = []
    names, skipped = _project_files(root, args.glob, ctx.hidden)
    large = 0
    for name in names:
        try:
            text = _read_bounded(root / name, name)
        except TooLarge:
            large += 1
            continue
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if regex.search(line):
                hits.append(f"{name}:{number}: {line[:300]}")
                if len(hits) >= MAX_GREP_HITS:
                    break
    mib = MAX_FILE_BYTES // (1024 * 1024)
    over = f"\n[skipped {large} file(s) over {mib} MiB: search them with `run`]" if large else ""
    return ToolResult(output=("\n".join(hits) or "(no matches)") + _skipped(skipped) + over)


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
