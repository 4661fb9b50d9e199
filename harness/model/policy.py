"""The failure policy: which provider error is retried, fatal, compacted or parks the run.

The table `POLICY` is read top to bottom; the first rule whose litellm exception class
matches (and whose `when` test holds) decides. Subclasses come before their bases:
``ContextWindowExceededError`` is a ``BadRequestError``, so it is listed first. litellm is
not imported here at module load: rules name classes, resolved on the first failure.

Retries use exponential back-off with full jitter (``uniform(0, min(cap, base * 2**n))``),
or exactly the provider's Retry-After when it sends one, within a deadline for the whole
turn. What each outcome raises:

- retry, deadline passed    -> ``RetriesExhausted`` (a ``ModelError``; attempts, last error)
- fatal                      -> ``ModelFatal`` saying what to fix
- compact                    -> ``ContextWindowExceeded`` (the session compacts, goes on)
- park                       -> ``QuotaExhausted`` (the run parks until a human tops up)
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from harness.errors import ContextWindowExceeded, ModelError, ModelFatal, QuotaExhausted

T = TypeVar("T")

DEFAULT_DEADLINE_S = 300.0
_DETAIL_CHARS = 400


class Action(StrEnum):
    RETRY = "retry"
    FATAL = "fatal"
    COMPACT = "compact"
    PARK = "park"


class RetriesExhausted(ModelError):
    """Retryable failures went on past the deadline."""

    def __init__(self, message: str, *, attempts: int, kind: str) -> None:
        self.attempts = attempts
        self.kind = kind
        super().__init__(message)


@dataclass(frozen=True)
class CallContext:
    """What an error message may name: the model, its provider, the key's variable."""

    model: str
    provider: str
    key_env: str


def _is_quota(exc: BaseException) -> bool:
    """A 429 that is a spent quota or billing problem, not a per-minute rate limit."""
    text = str(exc).lower()
    if "insufficient_quota" in text or "billing" in text:
        return True
    per_period = ("per minute", "per_minute", "perminute", "per second", "requests per")
    return "quota" in text and not any(p in text for p in per_period)


def _is_missing_key(exc: BaseException) -> bool:
    """No key at all: some providers report it as a 500 or a connection error."""
    text = str(exc).lower()
    return (
        "missing credentials" in text
        or "api key not found" in text
        or ("api_key" in text and "environment variable" in text)
    )


def _is_server_side(exc: BaseException) -> bool:
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and status >= 500


def _is_unknown_provider(exc: BaseException) -> bool:
    return "llm provider not provided" in str(exc).lower()


@dataclass(frozen=True)
class Rule:
    exception: str
    """A class name in the ``litellm`` namespace."""
    action: Action
    message: str = "{detail}"
    """What the error says; fields: model, provider, key_env, detail."""
    when: Callable[[BaseException], bool] | None = None


_FIX_NAME = (
    "Fix `[model] name` in harness.toml: 'provider/model', e.g. 'openai/gpt-4o-mini', "
    "'anthropic/claude-3-5-sonnet-20240620', or 'scripted/builtin:echo' for the offline model."
)

POLICY: tuple[Rule, ...] = (
    Rule(
        "ContextWindowExceededError",
        Action.COMPACT,
        "the transcript no longer fits the context window of {model}: compact and retry ({detail})",
    ),
    Rule(
        "ContentPolicyViolationError",
        Action.FATAL,
        "{provider} refused the request under its content policy ({detail}). "
        "Change the task or the prompt; retrying will not help.",
    ),
    Rule(
        "RateLimitError",
        Action.PARK,
        "the quota of {provider} is spent for {model} ({detail}). Top up the account or "
        "billing behind {key_env}, then run `harness run` again: the run is parked, not lost.",
        when=_is_quota,
    ),
    Rule("RateLimitError", Action.RETRY),
    Rule(
        "InternalServerError",
        Action.FATAL,
        "no API key for {model}: set the environment variable {key_env} (or name another "
        "variable with `[model] api_key_env` in harness.toml). Provider said: {detail}",
        when=_is_missing_key,
    ),
    Rule(
        "APIConnectionError",
        Action.FATAL,
        "no API key for {model}: set the environment variable {key_env} (or name another "
        "variable with `[model] api_key_env` in harness.toml). Provider said: {detail}",
        when=_is_missing_key,
    ),
    Rule("Timeout", Action.RETRY),
    Rule("APIConnectionError", Action.RETRY),
    Rule("InternalServerError", Action.RETRY),
    Rule("ServiceUnavailableError", Action.RETRY),
    Rule("BadGatewayError", Action.RETRY),
    Rule("APIError", Action.RETRY, when=_is_server_side),
    Rule(
        "AuthenticationError",
        Action.FATAL,
        "{provider} rejected the API key for {model} (401): set the environment variable "
        "{key_env} to a valid key (or name another variable with `[model] api_key_env` in "
        "harness.toml). Provider said: {detail}",
    ),
    Rule(
        "PermissionDeniedError",
        Action.FATAL,
        "the key in {key_env} may not use {model} (403): use a key with access to it, or "
        "change `[model] name` in harness.toml. Provider said: {detail}",
    ),
    Rule(
        "NotFoundError",
        Action.FATAL,
        "{provider} does not know the model {model} (404). " + _FIX_NAME + " ({detail})",
    ),
    Rule(
        "UnprocessableEntityError",
        Action.FATAL,
        "{provider} could not process the request for {model} (422): {detail}. Check the "
        "`[model]` options in harness.toml (temperature, max_tokens).",
    ),
    Rule(
        "BadRequestError",
        Action.FATAL,
        "unknown model {model}: litellm cannot tell its provider. " + _FIX_NAME,
        when=_is_unknown_provider,
    ),
    Rule(
        "BadRequestError",
        Action.FATAL,
        "{provider} rejected the request for {model} as invalid (400): {detail}. Check the "
        "`[model]` options in harness.toml (temperature, max_tokens) and the model name.",
    ),
)


def classify(exc: BaseException) -> Rule | None:
    """The first rule of `POLICY` matching `exc`, or None (not a provider error)."""
    import litellm

    for rule in POLICY:
        cls = getattr(litellm, rule.exception, None)
        matches = isinstance(cls, type) and isinstance(exc, cls)
        if matches and (rule.when is None or rule.when(exc)):
            return rule
    return None


def retry_after_s(exc: BaseException, *, now: datetime | None = None) -> float | None:
    """The provider's Retry-After (seconds), from the response headers of `exc`, if any."""
    headers: Any = None
    response = getattr(exc, "response", None)
    if response is not None:
        headers = getattr(response, "headers", None)
    if not headers:
        headers = getattr(exc, "litellm_response_headers", None) or getattr(exc, "headers", None)
    if not headers:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000.0)
        value = headers.get("retry-after")
    except (AttributeError, TypeError, ValueError):
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    try:
        when = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _detail(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 3] + "..."


def to_error(rule: Rule | None, exc: BaseException, ctx: CallContext, attempts: int) -> ModelError:
    """The harness error for a failure that is not (or no longer) retried."""
    fields = {
        "model": repr(ctx.model),
        "provider": ctx.provider,
        "key_env": ctx.key_env,
        "detail": _detail(exc),
    }
    text = (rule.message if rule else "{detail}").format(**fields)
    if attempts > 1:
        text += f" (after {attempts} attempts)"
    if rule is None:
        return ModelError(f"the call to {ctx.model!r} failed: {text}")
    if rule.action is Action.COMPACT:
        return ContextWindowExceeded(text)
    if rule.action is Action.PARK:
        return QuotaExhausted(text)
    return ModelFatal(text)


@dataclass
class Retrier:
    """Runs one model call under the policy; counts attempts and records the sleeps."""

    ctx: CallContext
    deadline_s: float = DEFAULT_DEADLINE_S
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    base_s: float = 1.0
    cap_s: float = 60.0
    attempts: int = 0
    delays: list[float] = field(default_factory=list)

    def call(self, fn: Callable[[], T]) -> T:
        start = self._begin()
        while True:
            self.attempts += 1
            try:
                return fn()
            except Exception as exc:
                delay = self._after_failure(exc, start)
            self.sleep(delay)

    def _begin(self) -> float:
        self.attempts = 0
        self.delays = []
        return self.clock()

    def _after_failure(self, exc: Exception, start: float) -> float:
        """The delay before the next attempt, or raise the harness error."""
        rule = classify(exc)
        if rule is None:
            if _is_provider_error(exc):
                raise to_error(None, exc, self.ctx, self.attempts) from exc
            raise exc
        if rule.action is not Action.RETRY:
            raise to_error(rule, exc, self.ctx, self.attempts) from exc
        hinted = retry_after_s(exc)
        if hinted is not None:
            delay = hinted
        else:
            ceiling = min(self.cap_s, self.base_s * 2 ** (self.attempts - 1))
            delay = self.rng.uniform(0.0, ceiling)
        elapsed = self.clock() - start
        if elapsed + delay > self.deadline_s:
            kind = type(exc).__name__
            hint = f", the provider asked to wait {hinted:g} s" if hinted is not None else ""
            raise RetriesExhausted(
                f"gave up on {self.ctx.model!r} after {self.attempts} attempts in "
                f"{elapsed:.1f} s (retry_deadline_s = {self.deadline_s:g}{hint}): "
                f"last error {kind}: {_detail(exc)}. The provider is failing or "
                "throttling; try again later or raise `[model] retry_deadline_s`.",
                attempts=self.attempts,
                kind=kind,
            ) from exc
        self.delays.append(delay)
        from harness.events import announce_wait  # who watches the run hears of the wait

        announce_wait(
            f"retry {self.attempts + 1} of {self.ctx.model!r} after {type(exc).__name__}", delay
        )
        return delay


def _is_provider_error(exc: BaseException) -> bool:
    """An error from litellm or the OpenAI SDK (as opposed to a bug of ours)."""
    module = type(exc).__module__
    return module.startswith(("litellm", "openai", "httpx"))
