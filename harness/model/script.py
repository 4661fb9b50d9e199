"""The script file of the scripted model: its pydantic format, loading, and turn selection.

The format is documented in ``harness/model/README.md``. Nothing here imports litellm.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import ArtifactError

BUILTIN_PREFIX = "builtin:"
SCRIPTS_DIR = Path(__file__).resolve().parents[2] / "templates" / "scripts"
COMPACTION_MARKER = re.compile(r"\[harness: compacted (\d+) assistant turns?\]")
SCRIPT_ENDED = "(script ended)"
# The price of the scripted model's tokens, so budgets in dollars can be exercised offline.
INPUT_COST_PER_TOKEN = 1e-6
OUTPUT_COST_PER_TOKEN = 2e-6

FaultKind = Literal[
    "rate_limit",
    "server_error",
    "unavailable",
    "bad_gateway",
    "timeout",
    "bad_tool_args",
    "context_window",
    "auth",
    "not_found",
    "quota",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScriptToolCall(_Strict):
    """A tool call the scripted assistant makes; `arguments` is JSON-encoded when sent."""

    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


class Turn(_Strict):
    """One assistant turn, optionally failing its first `times` attempts with `fault`."""

    text: str | None = None
    tool_calls: list[ScriptToolCall] = Field(default_factory=list)
    fault: FaultKind | None = None
    times: int = Field(default=1, ge=1)
    retry_after: float | None = Field(default=None, ge=0)
    latency_s: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _coherent(self) -> Turn:
        if self.fault == "bad_tool_args" and not self.tool_calls:
            raise ValueError("fault 'bad_tool_args' needs at least one tool call to spoil")
        if self.retry_after is not None and self.fault != "rate_limit":
            raise ValueError("retry_after only applies to fault 'rate_limit'")
        return self


class Scene(_Strict):
    """A sequence of turns, chosen when `match` is found in the first user message."""

    name: str = ""
    match: str | None = None
    turns: list[Turn] = Field(default_factory=list)

    @field_validator("match")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class Script(_Strict):
    """A whole script: scenes (or a bare `turns` list, one scene matching everything)."""

    version: Literal[1] = 1
    description: str = ""
    latency_s: float = Field(default=0.0, ge=0)
    scenes: list[Scene] = Field(default_factory=list)
    turns: list[Turn] | None = None

    @model_validator(mode="after")
    def _normalise(self) -> Script:
        if self.turns is not None:
            if self.scenes:
                raise ValueError("give either 'turns' or 'scenes', not both")
            self.scenes = [Scene(name="main", turns=self.turns)]
            self.turns = None
        if not self.scenes:
            raise ValueError("a script needs 'scenes' or 'turns'")
        for i, scene in enumerate(self.scenes):
            scene.name = _safe_name(scene.name or f"s{i}")
        return self


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _json_path(loc: tuple[int | str, ...]) -> str:
    out = "$"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def resolve(model: str, project_root: Path | None) -> Path:
    """The script file for the model name after ``scripted/`` (builtin or project path)."""
    if model.startswith(BUILTIN_PREFIX):
        name = model[len(BUILTIN_PREFIX) :]
        path = SCRIPTS_DIR / f"{name}.json"
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name) or not path.is_file():
            known = sorted(p.stem for p in SCRIPTS_DIR.glob("*.json"))
            raise ArtifactError(
                path,
                "[model] name",
                f"there is no built-in script {name!r} (built-in: {', '.join(known)})",
                "Use 'scripted/builtin:<name>' with one of those, or 'scripted/<file.json>'.",
            )
        return path
    path = Path(model)
    if not path.is_absolute():
        path = (project_root or Path.cwd()) / path
    return path


# path -> (the file's identity and times, its script): a file replaced or rewritten (a new
# inode, or a new ctime, which no write can keep) is read again.
_cache: dict[Path, tuple[tuple[int, ...], Script]] = {}


def load_script(path: Path) -> Script:
    """Parse and validate a script file (cached while the file is the same)."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise ArtifactError(
            path,
            "(whole file)",
            f"the script cannot be read: {exc.strerror or exc}",
            "Check `[model] name` in harness.toml: scripted/<path relative to the project>.",
        ) from exc
    seen = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    cached = _cache.get(path)
    if cached and cached[0] == seen:
        return cached[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise ArtifactError(path, where, f"not valid JSON: {exc.msg}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(path, "(whole file)", f"the script cannot be read: {exc}") from exc
    try:
        script = Script.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = first["msg"]
        more = exc.error_count() - 1
        if more:
            reason += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise ArtifactError(path, _json_path(tuple(first["loc"])), reason) from exc
    _cache[path] = (seen, script)
    return script


def message_text(message: dict[str, Any]) -> str:
    """The text of a chat message (a string, or the text parts of a list)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return "\n".join(p for p in parts if isinstance(p, str))
    return ""


def pick_scene(script: Script, messages: list[dict[str, Any]]) -> Scene | None:
    """The first scene whose `match` is found in the first user message (None: no match)."""
    first_user = next((m for m in messages if m.get("role") == "user"), None)
    text = message_text(first_user) if first_user else ""
    for scene in script.scenes:
        if scene.match is None or re.search(scene.match, text):
            return scene
    return None


def turn_index(messages: list[dict[str, Any]]) -> int:
    """Assistant messages in the transcript, plus N for each compaction marker seen."""
    count = sum(1 for m in messages if m.get("role") == "assistant")
    for m in messages:
        for found in COMPACTION_MARKER.finditer(message_text(m)):
            count += int(found.group(1))
    return count
