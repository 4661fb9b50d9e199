"""The `Model` interface and the values it returns (plain pydantic, journal-friendly)."""

from __future__ import annotations

import json
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field


class ToolCall(BaseModel):
    """One tool call the model asked for; `arguments` is the model's raw JSON text."""

    id: str
    name: str
    arguments: str


class Usage(BaseModel):
    """Tokens and dollars of one call (or a sum of calls)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
        )


class Attempt(BaseModel):
    """One failed HTTP attempt of a model call, as the journal keeps it."""

    n: int
    """1 for the first attempt."""
    status: int | None = None
    """The HTTP status (None: no response, e.g. a refused connection or a timeout)."""
    error: str = ""
    """The error class (``RateLimitError``, ``Timeout``, ``MalformedResponse``...)."""
    delay_s: float | None = None
    """The wait before the next attempt (None: no next attempt)."""
    delay_from: str | None = None
    """What set the wait: ``retry-after``, ``retry-after-ms`` (headers) or ``backoff``."""


class ModelResponse(BaseModel):
    """One assistant turn: text and/or tool calls, with its usage and how many attempts it took."""

    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    finish_reason: str | None = None
    attempts: int = 1
    """Calls made for this turn, counting the retried failures (1 = no retry)."""
    retry_delays_s: list[float] = Field(default_factory=list)
    """The back-off sleeps between attempts, in order."""
    attempt_log: list[Attempt] = Field(default_factory=list)
    """The failed attempts before this answer, each with its status and delay."""
    estimated_usage: Usage | None = None
    """Usage of a request for this turn that was in flight at a crash: possibly billed,
    never answered; estimated from the request's size (prompt tokens = bytes / 4)."""

    def journal_usage(self) -> tuple[int | None, float | None]:
        """(tokens, dollars) of its ``usage``, as the journal reads them from its recorded
        text (``harness.journal.door``): told, not parsed again at every model step."""
        tokens, cost = self.usage.total_tokens, self.usage.cost_usd
        return (
            tokens if isinstance(tokens, int) else None,
            float(cost) if isinstance(cost, int | float) else None,
        )

    def message(self) -> dict[str, Any]:
        """The assistant message in OpenAI format, to append to the transcript."""
        msg: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in self.tool_calls
            ]
        return msg


@runtime_checkable
class Model(Protocol):
    """A chat model that answers a transcript, possibly with tool calls. The agent loop uses
    every member: `name` labels its steps, `prepare()` runs before the first step's clock
    starts, `estimate` prices a request whose answer a crash lost."""

    @property
    def name(self) -> str:
        """The model's name, as the journal's steps and the reports carry it."""
        ...

    def prepare(self) -> None:
        """Do the slow set-up (imports) now, before the first call is timed."""
        ...

    def estimate(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Usage:
        """What a request of this transcript may have cost when its answer was lost (a crash
        mid-request): the provider may have billed it."""
        ...

    def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> ModelResponse:
        """Answer the transcript.

        Args:
            messages: the whole transcript in OpenAI chat format.
            tools: tool definitions in OpenAI format (``{"type": "function", ...}``).

        Returns:
            The assistant turn. Raises ``ModelError`` (or a subclass) or ``BudgetExhausted``.
        """
        ...


class ModelSettings(Protocol):
    """The fields of ``[model]`` in harness.toml that the gateway reads (``ModelConfig``)."""

    @property
    def name(self) -> str | None: ...
    @property
    def temperature(self) -> float | None: ...
    @property
    def max_tokens(self) -> int | None: ...
    @property
    def timeout_s(self) -> float | None: ...
    @property
    def retry_deadline_s(self) -> float | None: ...
    @property
    def api_key_env(self) -> str | None: ...
    @property
    def api_base(self) -> str | None: ...
    @property
    def api_version(self) -> str | None: ...
    @property
    def extra_headers(self) -> dict[str, str]: ...


class BudgetSettings(Protocol):
    """The token and dollar fields of ``[budgets]`` (``BudgetsConfig``); None means no limit."""

    @property
    def session_tokens(self) -> int | None: ...
    @property
    def session_dollars(self) -> float | None: ...
    @property
    def run_tokens(self) -> int | None: ...
    @property
    def run_dollars(self) -> float | None: ...


def size_estimate(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
    """Prompt tokens of a request from its size (4 bytes a token): for a lost request."""
    size = len(json.dumps({"messages": messages, "tools": tools}, default=str))
    return max(1, size // 4)
