"""The failure policy: which provider error is retried, fatal, compacted or parks the run.

The table `POLICY` is read top to bottom; the first rule whose litellm exception class
matches (and whose `when` test holds) decides. Subclasses come before their bases:
``ContextWindowExceededError`` is a ``BadRequestError``, so it is listed first. litellm is
not imported here at module load: rules name classes, resolved on the first failure.

Retries use exponential back-off with full jitter (``uniform(0, min(cap, base * 2**n))``),
or exactly the provider's Retry-After when it sends one, within a deadline for the whole
turn. What each outcome raises:

- retry, deadline passed    -> ``RetriesExhausted`` (a ``ProviderUnavailable``: the run parks,
                                exit 4, and the next ``harness run`` sends the request again)
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

from harness import signals
from harness.errors import (
    ContextWindowExceeded,
    ModelError,
    ModelFatal,
    ProviderUnavailable,
    QuotaExhausted,
)
from harness.events import Events
from harness.model.base import Attempt
from harness.model.names import import_litellm

T = TypeVar("T")

DEFAULT_DEADLINE_S = 300.0
FIRST_CONTACT_S = 5.0
"""How long a refused connection is retried before any request of the model was answered."""
_DETAIL_CHARS = 400


class Action(StrEnum):
    RETRY = "retry"
    FATAL = "fatal"
    COMPACT = "compact"
    PARK = "park"


class RetriesExhausted(ProviderUnavailable):
    """Retryable failures went on past the deadline: the run parks (exit 4)."""

    def __init__(
        self,
        message: str,
        *,
        attempts: int,
        kind: str,
        since: str = "",
        what: str = "",
        attempt_log: list[dict[str, Any]] | None = None,
    ) -> None:
        self.attempts = attempts
        self.kind = kind
        self.attempt_log = list(attempt_log or [])
        super().__init__(message, since=since, what=what)


class MalformedResponse(Exception):
    """A 200 that is not a usable chat completion (no choices, no message, a nameless tool
    call): retried like a server error, then reported as such."""


@dataclass(frozen=True)
class CallContext:
    """What an error message may name: the model, its provider, the key's variable, and
    the URL requests go to with what set it (``[model] api_base``, ``OPENAI_BASE_URL``...)."""

    model: str
    provider: str
    key_env: str
    url: str = ""
    url_source: str = ""

    def endpoint(self) -> str:
        """``http://host/v1 (from [model] api_base in harness.toml)``, or the provider."""
        if not self.url:
            return f"{self.provider}'s API"
        return f"{self.url} (set by {self.url_source})" if self.url_source else self.url


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
    "'anthropic/claude-sonnet-4-5', 'ollama_chat/qwen2.5-coder' (a local Ollama), or "
    "'openai/<model>' with `[model] api_base` for a local OpenAI-compatible server."
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
    Rule("MalformedResponse", Action.RETRY),
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
    litellm = _litellm()

    for rule in POLICY:
        cls = rule_class(rule.exception, litellm)
        matches = isinstance(cls, type) and isinstance(exc, cls)
        if matches and (rule.when is None or rule.when(exc)):
            return rule
    return None


_LOCAL: dict[str, type[BaseException]] = {"MalformedResponse": MalformedResponse}


def rule_class(name: str, litellm: Any) -> Any:
    """The exception class a rule names: one of ours (`MalformedResponse`) or litellm's."""
    return _LOCAL.get(name) or getattr(litellm, name, None)


def retry_after_s(exc: BaseException, *, now: datetime | None = None) -> float | None:
    """The provider's Retry-After (seconds), from the response headers of `exc`, if any."""
    found = retry_hint(exc, now=now)
    return None if found is None else found[0]


def _headers(exc: BaseException) -> Any:
    headers: Any = None
    response = getattr(exc, "response", None)
    if response is not None:
        headers = getattr(response, "headers", None)
    if not headers:
        headers = getattr(exc, "litellm_response_headers", None) or getattr(exc, "headers", None)
    return headers or None


def retry_hint(exc: BaseException, *, now: datetime | None = None) -> tuple[float, str] | None:
    """(seconds, the header that said so: ``retry-after-ms`` or ``retry-after``), if any."""
    headers = _headers(exc)
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000.0), "retry-after-ms"
        value = headers.get("retry-after")
    except (AttributeError, TypeError, ValueError):
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value)), "retry-after"
    except (TypeError, ValueError):
        pass
    try:
        when = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds()), "retry-after"


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of a provider error (None: no response, e.g. a refused connection)."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


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


def _what(exc: BaseException, ctx: CallContext, timeout_s: float | None) -> str:
    """A retryable failure in words that say what is wrong (never "throttling" for a
    server that cannot be reached)."""
    litellm: Any = _litellm()
    status = status_of(exc)
    if isinstance(exc, MalformedResponse):
        return f"{ctx.endpoint()} answered 200 with a malformed completion ({_detail(exc)})"
    if isinstance(exc, litellm.Timeout):
        limit = f" within {timeout_s:g} s (`[model] timeout_s`)" if timeout_s else ""
        return f"{ctx.endpoint()} did not answer{limit}"
    if is_refused(exc):
        return f"connection refused by {ctx.endpoint()}: nothing listens there"
    if is_connection_error(exc):
        return f"cannot connect to {ctx.endpoint()}: {_detail(exc)}"
    if isinstance(exc, litellm.RateLimitError):
        return f"{ctx.provider} keeps rate-limiting {ctx.model!r} (429): {_detail(exc)}"
    code = f" (HTTP {status})" if status else ""
    return f"{ctx.endpoint()} keeps failing{code}: {_detail(exc)}"


def _litellm() -> Any:

    return import_litellm()


def _attempt_status(exc: BaseException) -> int | None:
    """The HTTP status an attempt got: None where no response came (refused, timed out)."""
    litellm: Any = _litellm()
    if isinstance(exc, MalformedResponse):
        return 200
    if isinstance(exc, litellm.Timeout) or is_connection_error(exc):
        return None
    return status_of(exc)


def is_refused(exc: BaseException) -> bool:
    """The connection was refused (nothing listens there) or the host is unknown: somewhere
    in the exception's chain, or in its text (litellm rewraps the socket error)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        text = str(current).lower()
        if (
            "connection refused" in text
            or "errno 111" in text
            or "name or service not known" in text
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def is_connection_error(exc: BaseException) -> bool:
    """No HTTP exchange happened (refused, reset, dropped): litellm reports some of these as
    a 500 "Connection error." from the OpenAI SDK."""
    litellm: Any = _litellm()
    if isinstance(exc, litellm.APIConnectionError):
        return True
    cause = exc.__cause__ or exc.__context__
    names = {type(exc).__name__, type(cause).__name__ if cause else ""}
    return "connection error" in str(exc).lower() or "APIConnectionError" in names


@dataclass
class Retrier:
    """Runs one model call under the policy; counts attempts and records each one.

    The deadline bounds the whole call: a retry is not started when its delay would end
    past ``deadline_s``, so a call takes at most the deadline plus one attempt's timeout.
    """

    ctx: CallContext
    deadline_s: float = DEFAULT_DEADLINE_S
    sleep: Callable[[float], None] = signals.sleep  # a lost stop ends a back-off too
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    base_s: float = 1.0
    cap_s: float = 60.0
    timeout_s: float | None = None
    events: Events = field(default_factory=Events)
    """The run's observers: told of each back-off before it starts."""
    first_contact: bool = False
    """No request of this model has been answered yet: a refused connection is a server
    that is not there, said within ``FIRST_CONTACT_S`` instead of the whole deadline."""
    attempts: int = 0
    delays: list[float] = field(default_factory=list)
    log: list[Attempt] = field(default_factory=list)
    """One record per failed attempt: status, error, the delay after it and its source."""
    _since: str = ""

    def call(self, fn: Callable[[], T]) -> T:
        start = self._begin()
        while True:
            self.attempts += 1
            try:
                return fn()
            except Exception as exc:
                # A stop asked for during the call is no provider's fault: never retried.
                signals.stop_if_asked(exc)
                delay = self._after_failure(exc, start)
            self.sleep(delay)

    def _begin(self) -> float:
        self.attempts = 0
        self.delays = []
        self.log = []
        self._since = ""
        return self.clock()

    def _after_failure(self, exc: Exception, start: float) -> float:
        """The delay before the next attempt, or raise the harness error."""
        rule = classify(exc)
        if rule is None:
            if _is_provider_error(exc):
                self._record(exc, None, None)
                raise to_error(None, exc, self.ctx, self.attempts) from exc
            raise exc
        if not self._since:
            self._since = datetime.now(UTC).replace(microsecond=0).isoformat()
        if rule.action is not Action.RETRY:
            self._record(exc, None, None)
            raise to_error(rule, exc, self.ctx, self.attempts) from exc
        hint = retry_hint(exc)
        if hint is not None:
            delay, source = hint
        else:
            ceiling = min(self.cap_s, self.base_s * 2 ** (self.attempts - 1))
            delay, source = self.rng.uniform(0.0, ceiling), "backoff"
        elapsed = self.clock() - start
        deadline = self.deadline_s
        if self.first_contact and is_refused(exc):
            deadline = min(deadline, FIRST_CONTACT_S)
        if elapsed + delay > deadline:
            self._record(exc, None, None)
            what = _what(exc, self.ctx, self.timeout_s)
            asked = f"; the provider asked to wait {delay:g} s ({source})" if hint else ""
            raise RetriesExhausted(
                f"waiting for the provider since {self._since}: {what} (last error "
                f"{type(exc).__name__}, after {self.attempts} "
                f"attempt{'s' if self.attempts != 1 else ''} in {elapsed:.1f} s, "
                + (
                    f"nothing has answered there yet: {FIRST_CONTACT_S:g} s of retries"
                    if deadline < self.deadline_s
                    else f"[model] retry_deadline_s = {self.deadline_s:g}"
                )
                + f"{asked}). The run is parked: "
                + ("start the server or fix `[model] api_base`; " if is_refused(exc) else "")
                + "`harness run` sends the request again.",
                attempts=self.attempts,
                kind=type(exc).__name__,
                since=self._since,
                what=what,
                attempt_log=[a.model_dump() for a in self.log],
            ) from exc
        self._record(exc, delay, source)
        self.delays.append(delay)
        self.events.announce_wait(  # who watches the run hears of the wait
            f"retry {self.attempts + 1} of {self.ctx.model!r} after {type(exc).__name__}", delay
        )
        return delay

    def _record(self, exc: BaseException, delay: float | None, source: str | None) -> None:
        self.log.append(
            Attempt(
                n=self.attempts,
                status=_attempt_status(exc),
                error=type(exc).__name__,
                delay_s=None if delay is None else round(delay, 3),
                delay_from=source,
            )
        )


def _is_provider_error(exc: BaseException) -> bool:
    """An error from litellm or the OpenAI SDK (as opposed to a bug of ours)."""
    module = type(exc).__module__
    return module.startswith(("litellm", "openai", "httpx"))
