"""Policy gates: actions that always need a human's approval, whatever the matrix says.

``Gates(config).check(action)`` returns a ``GateDecision``: "allow", "ask" (file an
approval question) or "deny". Built-in structural gates (always on) read the command's
words rather than its text: ``git push``, package publishing, ``rm`` of anything outside the
workspace (absolute paths, ``..``, ``~``, ``$VAR``, after ``cd``), and network enabling.
The config's ``command_patterns`` add regular expressions searched in the raw command; a
pattern written ``deny:<regex>`` denies outright instead of asking.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from collections.abc import Iterator, Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

Verdict = Literal["allow", "deny", "ask"]

COMMAND_ARG_KEYS = ("command", "cmd", "script")
MARK_PASSING_TOOLS = frozenset({"mark_passing", "mark_feature_passing", "set_passing"})
DELETE_COMMANDS = frozenset({"rm", "rmdir", "unlink", "shred"})
WRAPPERS = frozenset({"sudo", "command", "exec", "nohup", "time", "nice", "env", "doas"})
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ash", "busybox"})
OPERATORS = frozenset({";", "&&", "||", "|", "&", "\n", "(", ")", ";;", "|&"})
PUBLISH: dict[str, frozenset[str]] = {
    "npm": frozenset({"publish"}),
    "yarn": frozenset({"publish"}),
    "pnpm": frozenset({"publish"}),
    "twine": frozenset({"upload"}),
    "poetry": frozenset({"publish"}),
    "uv": frozenset({"publish"}),
    "flit": frozenset({"publish"}),
    "hatch": frozenset({"publish"}),
    "cargo": frozenset({"publish"}),
    "gem": frozenset({"push"}),
    "docker": frozenset({"push"}),
}
NETWORK_PATTERNS = (
    re.compile(r"--net(work)?[= ]+host\b"),
    re.compile(r"\bdocker\s+network\s+connect\b"),
    re.compile(r"\b(ip\s+link\s+set\b.*\bup|ifconfig\s+\S+\s+up|nmcli\b)"),
)
GIT_OPTIONS_WITH_VALUE = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace"})


class GatesSettings(Protocol):
    """What the gates read of ``artifacts.config.GatesConfig``."""

    @property
    def command_patterns(self) -> list[str]: ...
    @property
    def mark_passing_without_check(self) -> bool: ...
    @property
    def network(self) -> bool: ...
    @property
    def resources_above_max(self) -> bool: ...


class Action(BaseModel):
    """A tool call about to run, with the facts the session knows about it."""

    tool: str
    """The tool's name, e.g. "run_command" or "mark_passing"."""
    args: dict[str, Any] = Field(default_factory=dict)
    """The tool's arguments as the model gave them."""
    workspace_root: str | None = None
    """The project folder (absolute); paths outside it are outside the workspace."""
    cwd: str = "."
    """Where the command runs, relative to the workspace root."""
    feature_has_check: bool | None = None
    """For mark_passing: whether the feature has an automated check command."""
    resources: dict[str, float] = Field(default_factory=dict)
    """Requested resources, e.g. {"memory_mb": 8192, "cpus": 2}."""
    maxima: dict[str, float] = Field(default_factory=dict)
    """The configured maxima under the same keys, e.g. {"memory_mb": 4096}."""
    network_requested: bool = False
    """Whether the action asks for network access."""

    def command(self) -> str | None:
        """The shell command this action runs, if it runs one."""
        for key in COMMAND_ARG_KEYS:
            value = self.args.get(key)
            if isinstance(value, str):
                return value
        return None

    def describe(self) -> str:
        """A one-line description for questions and denials."""
        command = self.command()
        if command is not None:
            return f"{self.tool}: `{command}`"
        return f"{self.tool}({', '.join(f'{k}={v!r}' for k, v in sorted(self.args.items()))})"


class GateDecision(BaseModel):
    """The verdict of the policy gates on one action."""

    verdict: Verdict
    reason: str = ""
    gate: str | None = None
    """Which gate decided, e.g. "command:git push" or "mark_passing_without_check"."""


ALLOW = GateDecision(verdict="allow", reason="no gate applies")


class Gates:
    """The policy gates of one project, built from ``[escalation.gates]``."""

    def __init__(self, config: GatesSettings) -> None:
        self.config = config
        self._patterns: list[tuple[re.Pattern[str], Verdict, str]] = []
        for raw in config.command_patterns:
            verdict: Verdict = "ask"
            text = raw
            if raw.startswith("deny:"):
                verdict, text = "deny", raw[len("deny:") :]
            self._patterns.append((re.compile(text), verdict, raw))

    def check(self, action: Action) -> GateDecision:
        """Allow, ask or deny ``action``; a denial beats an ask, an ask beats an allow."""
        decisions = list(self._decisions(action))
        for verdict in ("deny", "ask"):
            for decision in decisions:
                if decision.verdict == verdict:
                    return decision
        return ALLOW

    def _decisions(self, action: Action) -> Iterator[GateDecision]:
        command = action.command()
        if command is not None:
            yield from self._check_command(command, action)
        cfg = self.config
        if (
            action.tool in MARK_PASSING_TOOLS
            and cfg.mark_passing_without_check
            and action.feature_has_check is not True
        ):
            yield GateDecision(
                verdict="ask",
                reason="marking a feature passing that has no automated check needs a "
                "human's approval",
                gate="mark_passing_without_check",
            )
        if cfg.resources_above_max:
            over = [
                f"{key} {value:g} > max {action.maxima[key]:g}"
                for key, value in sorted(action.resources.items())
                if key in action.maxima and value > action.maxima[key]
            ]
            if over:
                yield GateDecision(
                    verdict="ask",
                    reason="resources above the configured maxima: " + ", ".join(over),
                    gate="resources_above_max",
                )
        if cfg.network and (action.network_requested or _truthy(action.args.get("network"))):
            yield GateDecision(
                verdict="ask", reason="enabling network access needs approval", gate="network"
            )

    def _check_command(self, command: str, action: Action) -> Iterator[GateDecision]:
        for reason, gate in command_hazards(command, action.workspace_root, action.cwd):
            if gate == "network" and not self.config.network:
                continue
            yield GateDecision(verdict="ask", reason=reason, gate=gate)
        for pattern, verdict, raw in self._patterns:
            if pattern.search(command):
                yield GateDecision(
                    verdict=verdict,
                    reason=f"the command matches the gated pattern {raw!r}",
                    gate=f"pattern:{raw}",
                )


def _truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in {"true", "1", "yes"})


def command_hazards(
    command: str, workspace_root: str | None, cwd: str = "."
) -> list[tuple[str, str]]:
    """The structural hazards in a shell command, as (reason, gate) pairs."""
    hazards: list[tuple[str, str]] = []
    for pattern in NETWORK_PATTERNS:
        if pattern.search(command):
            hazards.append(("the command enables network access", "network"))
            break
    root = posixpath.normpath(workspace_root) if workspace_root else None
    here = posixpath.normpath(posixpath.join(root or "/__workspace__", cwd))
    _walk(command, root, here, hazards, depth=0)
    return hazards


def _walk(
    command: str, root: str | None, here: str, hazards: list[tuple[str, str]], depth: int
) -> None:
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|()\n")
        lexer.whitespace_split = True
        lexer.commenters = ""
        tokens = list(lexer)
    except ValueError:
        hazards.append(("the command could not be parsed (unbalanced quotes)", "unparsable"))
        return
    for argv in _simple_commands(tokens):
        argv = _strip_wrappers(argv)
        if not argv:
            continue
        name = posixpath.basename(argv[0])
        if name == "cd":
            target = argv[1] if len(argv) > 1 else "~"
            here = _resolve(target, here) or "/__unknown__"
        elif name in SHELLS and "-c" in argv[1:] and depth < 3:
            index = argv.index("-c", 1)
            if index + 1 < len(argv):
                _walk(argv[index + 1], root, here, hazards, depth + 1)
        elif name == "git" and _subcommand(argv, GIT_OPTIONS_WITH_VALUE) == "push":
            hazards.append(
                ("`git push` publishes commits outside this machine", "command:git push")
            )
        elif name in PUBLISH and _subcommand(argv, frozenset()) in PUBLISH[name]:
            hazards.append(
                (
                    f"`{name} {_subcommand(argv, frozenset())}` publishes a package or image",
                    f"command:{name} publish",
                )
            )
        elif name in DELETE_COMMANDS:
            for target in _operands(argv[1:]):
                where = _resolve(target, here)
                if where is None or not _inside(where, root):
                    hazards.append(
                        (
                            f"`{name}` of {target!r}: outside the workspace, or all of it",
                            "command:rm outside workspace",
                        )
                    )
                    break


def _simple_commands(tokens: Sequence[str]) -> Iterator[list[str]]:
    current: list[str] = []
    for token in tokens:
        if token in OPERATORS or set(token) <= set(";&|()\n"):
            if current:
                yield current
            current = []
        else:
            current.append(token)
    if current:
        yield current


def _strip_wrappers(argv: list[str]) -> list[str]:
    index = 0
    while index < len(argv):
        word = argv[index]
        if (
            re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", word)
            or (word.startswith("-") and index > 0 and posixpath.basename(argv[0]) in WRAPPERS)
            or posixpath.basename(word) in WRAPPERS
        ):
            index += 1
        else:
            break
    return argv[index:]


def _subcommand(argv: Sequence[str], options_with_value: frozenset[str]) -> str | None:
    index = 1
    while index < len(argv):
        word = argv[index]
        if word in options_with_value:
            index += 2
        elif word.startswith("-"):
            index += 1
        else:
            return word
    return None


def _operands(args: Sequence[str]) -> Iterator[str]:
    options_done = False
    for arg in args:
        if not options_done and arg == "--":
            options_done = True
        elif options_done or not arg.startswith("-") or arg == "-":
            yield arg


def _resolve(target: str, here: str) -> str | None:
    """The normalized absolute path of ``target``; None when it cannot be known."""
    if target.startswith("~") or "$" in target or "`" in target:
        return None
    return posixpath.normpath(posixpath.join(here, target))


def _inside(path: str, root: str | None) -> bool:
    """Strictly inside the workspace: deleting the workspace itself is not."""
    base = root or "/__workspace__"
    return path != base and path.startswith(base.rstrip(os.sep) + "/")


def approval_text(action: Action, decision: GateDecision) -> str:
    """The text of the approval question a gated action becomes."""
    return f"Approve {action.describe()}? Gate {decision.gate}: {decision.reason}."


def render_denial(action: Action, reason: str, *, by: Literal["policy", "human"]) -> str:
    """The text the model reads when an action is denied: a decision, not a failure."""
    who = "the project's policy gates" if by == "policy" else "a human reviewer"
    return (
        f"POLICY DENIAL (this is not an error or a failure): {action.describe()} was denied "
        f"by {who}. Reason: {reason or 'none given'}. The action did not run. Do not retry "
        "it or a variant of it; choose another way to reach the goal, or record in your "
        "notes that it needs a human."
    )
