"""``harness.toml``: one pydantic model per component, and the file loader.

Every model forbids unknown keys, so a typo is an error that names the key instead of a
setting silently ignored. :func:`load_config_file` turns TOML syntax errors, unknown keys,
wrong types and out-of-range values into a :class:`ConfigError` naming the file, the place
(``[section].key``), the reason and what to do. The precedence chain (defaults < file <
environment < flags) lives in :mod:`harness.config`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from artifacts.io import display, read_text
from harness.errors import ConfigError

HARNESS_TOML = "harness.toml"
MAX_BYTES = 1_000_000

DEFAULT_GATE_PATTERNS: list[str] = [
    r"\bgit\s+push\b",
    r"\brm\s+-[a-zA-Z]*[rR][a-zA-Z]*\s+(/|~|\$HOME)",
    r"\bnpm\s+publish\b",
    r"\btwine\s+upload\b",
    r"\b(poetry|uv)\s+publish\b",
    r"\bdocker\s+push\b",
    r"\b(curl|wget)\b",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(_Section):
    """The model the agent talks to."""

    name: str | None = Field(default=None, min_length=1)
    """A litellm model string ("openai/gpt-4o-mini", "ollama_chat/qwen2.5-coder"), or
    "scripted/<file.json>" for the offline model; unset: commands that call a model stop
    and say how to choose one."""
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    """Sampling temperature; None leaves the provider's default."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Most tokens the model may write per call; None leaves the provider's default."""
    timeout_s: float | None = Field(default=120.0, gt=0)
    """Seconds one call may take before it counts as a (retried) timeout."""
    retry_deadline_s: float = Field(default=300.0, ge=0)
    """Seconds of retrying (rate limits, 5xx, timeouts) before the gateway gives up."""
    context_window: int = Field(default=128_000, ge=1_000)
    """The model's context window in tokens."""
    compact_at: float = Field(default=0.8, gt=0.0, le=1.0)
    """Fraction of the context window at which the session compacts its history."""
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Environment variable holding the API key; None lets litellm use its usual one."""
    api_base: str | None = Field(default=None, pattern=r"^https?://\S+$")
    """Base URL of the API (litellm's api_base), e.g. "http://localhost:8080/v1" for a local
    OpenAI-compatible server (llama.cpp, vLLM) with name = "openai/<model>"."""
    api_version: str | None = Field(default=None, min_length=1)
    """API version where the provider wants one (Azure OpenAI), passed to litellm."""
    extra_headers: dict[str, str] = Field(default_factory=dict)
    """HTTP headers added to every model request (a proxy's or gateway's own headers);
    values are sent as written, so keep secrets in api_key_env."""
    input_usd_per_mtok: float | None = Field(default=None, ge=0)
    """Dollars per million input tokens, for a model litellm's price table does not list
    (a local server: 0); None: the table's price. A dollar budget needs one or the other."""
    output_usd_per_mtok: float | None = Field(default=None, ge=0)
    """Dollars per million output tokens (see input_usd_per_mtok)."""


class BudgetsConfig(_Section):
    """Limits per session and per run; None means unlimited."""

    session_steps: int | None = Field(default=60, ge=1)
    """Journaled steps per session: model calls and tool calls together."""
    session_tokens: int | None = Field(default=None, ge=1)
    """Tokens per session."""
    session_dollars: float | None = Field(default=None, gt=0)
    """Dollars per session."""
    session_wall_s: float | None = Field(default=None, gt=0)
    """Wall-clock seconds per session."""
    run_sessions: int | None = Field(default=20, ge=1)
    """Sessions per `harness run`."""
    run_tokens: int | None = Field(default=None, ge=1)
    """Tokens per run."""
    run_dollars: float | None = Field(default=None, gt=0)
    """Dollars per run."""
    run_wall_s: float | None = Field(default=None, gt=0)
    """Wall-clock seconds per run."""
    tool_s: float = Field(default=30.0, gt=0)
    """Seconds one list_files or grep call may take: they run inside the harness, in a
    worker process that is killed past it (a regex can backtrack for hours)."""


class RunnerConfig(_Section):
    """Where and with which resources the agent's commands run."""

    kind: Literal["auto", "docker", "bwrap", "local"] = "auto"
    """"docker", "bwrap" (bubblewrap sandbox), "local" (NOT a sandbox), or "auto": Docker
    when an engine answers and the image exists, else bubblewrap; never the local runner."""
    image: str = Field(default="harness-default:latest", min_length=1)
    """The Docker image commands run in."""
    memory_mb: int = Field(default=2048, ge=16)
    """Memory limit per command, in MiB."""
    cpus: float = Field(default=1.0, gt=0)
    """CPU limit per command."""
    pids: int = Field(default=256, ge=1)
    """Most processes a command may have at once."""
    gpus: int = Field(default=0, ge=0)
    """GPUs given to a command."""
    timeout_s: float = Field(default=600.0, gt=0)
    """Time limit per command, in seconds."""
    network: bool = False
    """Whether the agent's commands have network access."""
    setup_network: bool = True
    """Whether init.sh (the setup phase) has network access."""
    max_memory_mb: int = Field(default=8192, ge=16)
    """The most memory the agent may ask for."""
    max_cpus: float = Field(default=4.0, gt=0)
    """The most CPUs the agent may ask for."""
    max_timeout_s: float = Field(default=3600.0, gt=0)
    """The longest time limit the agent may ask for."""
    disk_mb: int = Field(default=10240, ge=0)
    """Disk budget of the workspace in MiB, checked after each command (0: no check)."""
    max_file_mb: int = Field(default=1024, ge=0)
    """Largest file a command may write, in MiB (sparse files too; 0: no limit)."""
    user: str = Field(default="1000:1000", pattern=r"^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$")
    """The user (uid:gid) commands run as in the container."""
    etc: list[str] = Field(default_factory=list)
    """Names under the host's /etc a bubblewrap sandbox gets beyond its curated set
    (fnmatch patterns for top-level names, or paths such as "ldap/ldap.conf"), e.g.
    ["ldap", "krb5.conf"]: copied only where every local user may read them (a declared
    "shadow" copies nothing). passwd, group, hosts and resolv.conf are harness's own."""
    package_cache: bool = False
    """Keep init.sh's package downloads ($HOME/.cache: pip, uv, npm, yarn, go...) between
    wakes, outside the project (bubblewrap only). Only init.sh run with the setup network
    on a clean checkout of a commit a person made writes or reads it; the agent's commands
    never see it. Emptied when it holds more than disk_mb after a setup; removed after a
    week unused. Docker: put dependencies in the image."""

    @model_validator(mode="before")
    @classmethod
    def _no_allow_local(cls, data: Any) -> Any:
        if isinstance(data, dict) and "allow_local" in data:
            raise ValueError(
                'allow_local was removed: "auto" never falls back to the unsandboxed local '
                'runner; remove the key, and set kind = "local" to use it explicitly'
            )
        return data

    @field_validator("etc")
    @classmethod
    def _etc_names(cls, names: list[str]) -> list[str]:
        generated = ("passwd", "group", "hosts", "resolv.conf")
        for index, name in enumerate(names):
            parts = name.split("/")
            if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
                raise ValueError(
                    f"etc[{index}] ({name!r}) must name something inside /etc, relative to "
                    'it (no leading /, no "..", no empty part), e.g. "krb5.conf"'
                )
            if parts[0] in generated:
                raise ValueError(
                    f"etc[{index}] ({name!r}) is made by harness for the sandbox (only root, "
                    "the command's user and nobody; the host's resolv.conf and hosts come "
                    "with network): leave it out"
                )
        return names

    @model_validator(mode="after")
    def _within_maxima(self) -> RunnerConfig:
        for value, maximum in (
            ("memory_mb", "max_memory_mb"),
            ("cpus", "max_cpus"),
            ("timeout_s", "max_timeout_s"),
        ):
            low, high = getattr(self, value), getattr(self, maximum)
            if low > high:
                raise ValueError(f"{value} = {low} is above {maximum} = {high}")
        return self


class JournalConfig(_Section):
    """The durable journal: SQLite under .harness/ by default, or a PostgreSQL database."""

    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    """SQLite synchronous mode: NORMAL (fast, safe against crashes) or FULL (power loss too)."""
    url: str | None = None
    """A PostgreSQL database for the journal, its blobs and the questions, e.g.
    ``postgresql://harness@db.example/myproject`` or, on a local socket,
    ``postgresql:///myproject?host=/run/postgresql``; one database (or schema, with
    ``options=-csearch_path=NAME``) per project. Keep its password out of harness.toml
    (``PGPASSWORD`` or ``~/.pgpass``, or the whole URL in ``HARNESS_JOURNAL_URL``). Unset:
    SQLite under .harness/. The chain's key stays in the key file either way."""

    @field_validator("url")
    @classmethod
    def _postgres(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "a journal URL names a PostgreSQL database (postgresql://...); leave it unset "
                "for the SQLite journal under .harness/"
            )
        return url or None


class GatesConfig(_Section):
    """Actions that always need a human's approval."""

    command_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_GATE_PATTERNS))
    """Regular expressions; a command matching any of them needs approval."""
    mark_passing_without_check: bool = True
    """Marking a feature passing when it has no automated check needs approval."""
    network: bool = True
    """Asking for network access needs approval."""
    resources_above_max: bool = True
    """Asking for resources above the runner's maxima needs approval."""

    @field_validator("command_patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for index, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"pattern {index} ({pattern!r}) is not a regex: {error}") from None
        return patterns


class EscalationConfig(_Section):
    """When the agent asks a human: score = weights · (uncertainty, novelty, benefit).

    The weights and threshold here are where a project starts (equal weights by default);
    with ``learn`` on, they are refitted from the project's record of outcomes (with the
    user's other projects as the prior) once ``min_outcomes`` exist, toward the target
    below. ``harness escalation`` shows the ones in force and what they rest on.
    """

    w_uncertainty: float = Field(default=1 / 3, ge=0.0, le=1.0)
    """Starting weight of the model's own uncertainty."""
    w_novelty: float = Field(default=1 / 3, ge=0.0, le=1.0)
    """Starting weight of the situation's distance to past ones."""
    w_benefit: float = Field(default=1 / 3, ge=0.0, le=1.0)
    """Starting weight of how often past human answers of this kind mattered."""
    threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    """Starting threshold: escalate when the weighted score is above it."""
    max_questions_per_session: int = Field(default=3, ge=0)
    """Most questions the agent may ask a human per session (a hard cap, learned or not)."""
    learn: bool = True
    """Refit the weights and threshold from the project's record of outcomes."""
    target_recall: float = Field(default=0.8, gt=0.0, le=1.0)
    """The share of should-ask cases the fitted threshold must catch on the record."""
    target_questions_per_session: float | None = Field(default=None, gt=0)
    """A budget of questions per session on the record: the fitted threshold is raised until
    it asks no more than this (recall may then fall short of target_recall)."""
    min_outcomes: int = Field(default=30, ge=1)
    """Outcomes the record must hold (this project's plus the prior's) before a fit."""
    samples: int = Field(default=1, ge=1, le=10)
    """Completions of every scored model turn: N >= 2 asks the model N - 1 more times for
    the same turn and counts their disagreement as uncertainty. Costs N - 1 extra model
    calls (tokens and dollars, counted against the budgets) per turn with text."""
    embedding_model: str | None = Field(default=None, min_length=1)
    """A litellm embedding model for novelty (e.g. "openai/text-embedding-3-small"); unset:
    the local hashed embedder (no network, no cost)."""
    embedding_api_base: str | None = Field(default=None, pattern=r"^https?://\S+$")
    """Base URL of the embedding API (litellm's api_base)."""
    embedding_api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Environment variable holding the embedding API key."""
    gates: GatesConfig = Field(default_factory=lambda: GatesConfig())
    """Policy gates (always ask, never learned)."""


class GitConfig(_Section):
    """What the writeback may commit."""

    max_file_mb: float = Field(default=10.0, gt=0)
    """Largest file (MiB, from its size on disk) a harness commit takes; larger ones are
    reported and left out."""
    max_commit_mb: float = Field(default=50.0, gt=0)
    """Most MiB of files one harness commit takes; what would exceed it is reported and
    left out."""
    max_commit_files: int = Field(default=10_000, gt=0)
    """Most paths (added, changed or deleted) one harness commit takes, in path order;
    the rest are reported as one note and left out (200,000 empty files pass every size
    limit, and would take minutes of git at every writeback)."""


def _relative_paths(paths: list[str], *, globs: bool = False) -> list[str]:
    """Paths relative to the project root, inside it, as clean POSIX text."""
    cleaned = []
    for index, path in enumerate(paths):
        parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
        if not parts or path.startswith("/") or ".." in parts:
            raise ValueError(
                f"path {index} ({path!r}) must be relative to the project root, "
                "inside it, without '..'"
            )
        if not globs and any(ch in path for ch in "*?["):
            raise ValueError(f"path {index} ({path!r}) is a glob; name a file or a directory")
        cleaned.append("/".join(parts))
    return cleaned


class ProtectConfig(_Section):
    """Paths the agent may not change (beyond .git/, .harness/ and feature_list.json),
    and files it may not see."""

    paths: list[str] = Field(default_factory=list)
    """Files or directories relative to the project root (no globs), e.g.
    ["tests/acceptance", "SPEC.md"]: refused by the file tools, read-only in the sandbox,
    restored from HEAD and never committed when the agent changed them anyway."""
    hide: list[str] = Field(default_factory=list)
    """Files or folders declared secret, beyond `.env` and `.env.*` (always hidden, their
    `.example`/`.sample`/`.template`/`.dist` templates not): patterns (fnmatch `*`, `?`,
    `[...]`); one without `/` names a file or folder at any depth, one with `/` a path
    from the project root, e.g. ["*.pem", "config/credentials.yml"]. An empty stand-in in
    every sandbox and refused by the file tools; the local runner cannot hide them."""

    @field_validator("paths")
    @classmethod
    def _relative(cls, paths: list[str]) -> list[str]:
        return _relative_paths(paths)

    @field_validator("hide")
    @classmethod
    def _hide_inside(cls, patterns: list[str]) -> list[str]:
        cleaned = _relative_paths(patterns, globs=True)
        for index, pattern in enumerate(cleaned):
            if pattern.split("/")[0] in (".git", ".harness"):
                raise ValueError(f"path {index} ({pattern!r}) names harness state, never shown")
        return cleaned


# Test files in the layouts of the common ecosystems (pytest, Go, Jest/Vitest, RSpec,
# Maven/Gradle): a session's changes to them are what "the check" may be made of.
DEFAULT_TEST_PATHS: list[str] = [
    "test/**",
    "tests/**",
    "spec/**",
    "**/__tests__/**",
    "**/src/test/**",
    "**/test_*.py",
    "**/*_test.py",
    "**/conftest.py",
    "**/*_test.go",
    "**/*.test.*",
    "**/*.spec.*",
    "**/*_spec.rb",
]


class VerifyConfig(_Section):
    """How a feature's check proves it done (README, "Verified done")."""

    before: bool = True
    """The check must also fail on the tree the session started from (with the session's
    own changes to test files laid over it): a check that passes there does not tell done
    from not done, and marking the feature passing is refused."""
    setup: bool = True
    """Run the checkout's own init.sh in a fresh sandbox before each check on a clean
    checkout (with the setup network when init.sh is trusted, as at wake)."""
    carry: list[str] = Field(default_factory=list)
    """Work-tree paths a clean checkout takes read-only as they are (git-ignored
    dependencies such as "node_modules" or ".venv"): faster than installing them in the
    setup, but they are the agent's, so a check can be influenced through them."""
    hidden: list[str] = Field(default_factory=list)
    """Files or folders (e.g. "tests/acceptance") the working agent does not see: covered
    in its sandbox, refused by its file tools, never committed to git (its `.git` would
    show them); every check's clean checkout holds them. The local runner cannot hide them."""
    test_paths: list[str] = Field(default_factory=lambda: list(DEFAULT_TEST_PATHS))
    """Globs of test files (`**` any folders, `*` within a name): the session's changes to
    them are laid over the start tree for the "before" run, and they make the evaluator
    run in mode "auto"."""
    recheck: bool = True
    """At writeback, the check of every passing feature runs again on a clean checkout of
    the tree the session commits; a feature whose check fails there turns failing. False
    skips them on commits that leave a feature failing; the commit that makes every
    feature pass (a run is complete on it) and the features a session proved itself are
    rechecked on it whatever this says."""

    @field_validator("carry", "hidden")
    @classmethod
    def _plain(cls, paths: list[str]) -> list[str]:
        return _relative_paths(paths)

    @field_validator("test_paths")
    @classmethod
    def _globs(cls, paths: list[str]) -> list[str]:
        return _relative_paths(paths, globs=True)


class EvaluatorConfig(_Section):
    """The independent evaluator: a fresh model session that reviews a feature before it
    turns passing (README, "Verified done")."""

    mode: Literal["off", "on", "auto"] = "auto"
    """"on": every feature with a check; "auto": a feature whose check the session's own
    diff touched (it changed a test file, `[verify] test_paths`), i.e. no human-written
    check; "off": never."""
    model: str | None = Field(default=None, min_length=1)
    """The evaluator's model (a litellm model string); unset: `[model]`'s, with its
    connection settings."""
    api_base: str | None = Field(default=None, pattern=r"^https?://\S+$")
    """Base URL for `model` (only read when `model` is set)."""
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Environment variable holding `model`'s key (only read when `model` is set)."""
    max_steps: int = Field(default=12, ge=2)
    """Most model calls and commands of one evaluation; without a verdict by then the
    feature stays failing."""
    max_tokens: int | None = Field(default=200_000, ge=1)
    """Most tokens one evaluation may use."""
    max_dollars: float | None = Field(default=None, gt=0)
    """Most dollars one evaluation may cost."""
    command_timeout_s: float = Field(default=120.0, gt=0)
    """Time limit of each command the evaluator runs."""


class HarnessConfig(_Section):
    """The whole of harness.toml."""

    model: ModelConfig = Field(default_factory=lambda: ModelConfig())
    """The model."""
    budgets: BudgetsConfig = Field(default_factory=lambda: BudgetsConfig())
    """Budgets."""
    runner: RunnerConfig = Field(default_factory=lambda: RunnerConfig())
    """The runner."""
    journal: JournalConfig = Field(default_factory=lambda: JournalConfig())
    """The journal."""
    escalation: EscalationConfig = Field(default_factory=lambda: EscalationConfig())
    """Escalation to a human."""
    git: GitConfig = Field(default_factory=lambda: GitConfig())
    """The writeback's commits."""
    protect: ProtectConfig = Field(default_factory=lambda: ProtectConfig())
    """Protected paths."""
    verify: VerifyConfig = Field(default_factory=lambda: VerifyConfig())
    """How checks prove a feature done."""
    evaluator: EvaluatorConfig = Field(default_factory=lambda: EvaluatorConfig())
    """The independent evaluator."""


# The harness's own state, and the configuration that says how the agent is confined (an
# agent that could edit harness.toml would choose the next run's runner, network and
# protected paths): never writable by the agent, whatever harness.toml says.
HARNESS_PROTECTED: tuple[str, ...] = (".git", ".harness", "feature_list.json", "harness.toml")


def protected_paths(config: HarnessConfig) -> list[str]:
    """Every protected path, relative to the project root: the harness's own state, then
    ``[protect] paths`` (what a runner makes read-only and the file tools refuse). The
    ``[verify] hidden`` paths are not among them: the agent does not even see those."""
    extra = [p for p in config.protect.paths if p not in HARNESS_PROTECTED]
    return [*HARNESS_PROTECTED, *extra]


SECTIONS: dict[str, type[BaseModel]] = {
    name: info.annotation
    for name, info in HarnessConfig.model_fields.items()
    if isinstance(info.annotation, type)
}


def where(loc: Sequence[str | int]) -> str:
    """``("escalation", "gates", "network")`` -> ``[escalation.gates].network``."""
    parts = [str(p) for p in loc]
    if not parts:
        return ""
    if len(parts) == 1:
        return f"[{parts[0]}]"
    return f"[{'.'.join(parts[:-1])}].{parts[-1]}"


def _why(item: Any) -> tuple[str, str]:
    """A pydantic error item in plain words, and what to do."""
    kind = item["type"]
    value = item.get("input")
    if kind == "extra_forbidden":
        return (
            f'unknown key "{item["loc"][-1]}"',
            "Remove it or fix its spelling; `harness config` lists every key.",
        )
    if kind == "model_type" or kind == "dict_type":
        return f"expected a table, found {value!r}", "Write it as a [section] table."
    message = str(item["msg"]).removeprefix("Value error, ")
    if kind != "value_error" and value is not None and not isinstance(value, dict):
        message += f" (found {value!r})"
    return message, "Fix the value; `harness config` shows every key with its default."


def validation_error(error: ValidationError, file: str, prefix: Sequence[str] = ()) -> ConfigError:
    """The first error of a pydantic ValidationError as a ConfigError."""
    item = error.errors()[0]
    loc = [*prefix, *item["loc"]]
    why, fix = _why(item)
    others = len(error.errors()) - 1
    if others:
        why += f" ({others} more error{'s' if others > 1 else ''} after this one)"
    return ConfigError(file, where(loc), why, fix)


def parse_config(data: dict[str, Any], file: str) -> HarnessConfig:
    """Validate parsed TOML; ConfigError on the first problem."""
    try:
        return HarnessConfig.model_validate(data)
    except ValidationError as error:
        raise validation_error(error, file) from None


def load_config_file(path: Path, *, root: Path | None = None) -> HarnessConfig:
    """Read and validate ``harness.toml``; ConfigError naming file, key and reason."""

    root = path.parent if root is None else root
    name = display(path, root)
    text = read_text(path, root=root, max_bytes=MAX_BYTES, allow_empty=True)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        found = re.search(r"\(at line (\d+), column (\d+)\)", message)
        place = f"line {found.group(1)}, column {found.group(2)}" if found else ""
        reason = re.sub(r" \(at line .*\)$", "", message)
        why = f"the file is not valid TOML ({reason})"
        raise ConfigError(name, place, why, "Fix the syntax (see https://toml.io).") from None
    return parse_config(data, name)
