"""`LitellmModel`: the `Model` over litellm, with the failure policy and the accounting."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness.errors import ModelFatal
from harness.events import Events
from harness.model.accounting import Accounting
from harness.model.base import ModelResponse, ModelSettings, ToolCall, Usage, size_estimate
from harness.model.credentials import KEY_ENV, credentials
from harness.model.lean import quiet, response_cost
from harness.model.names import (
    SCRIPTED_PREFIX,
    import_litellm,
    is_local,
    known_providers,
    no_model_error,
    provider_of,
    unknown_provider_message,
)
from harness.model.policy import DEFAULT_DEADLINE_S, CallContext, MalformedResponse, Retrier
from harness.model.pricing import configured_price, table_price
from harness.model.script import load_script, resolve
from harness.scope import Waits

log = logging.getLogger(__name__)


class LitellmModel:
    """A chat model reached through litellm (or the offline ``scripted/...`` model).

    Args:
        config: the ``[model]`` section (``ModelConfig``).
        project_root: where ``scripted/<file.json>`` scripts are looked up.
        accounting: if given, budgets are checked before each call and usage added after.
        environ: the run's environment, where the key (``[model] api_key_env``, or the
            provider's usual variable), the several credentials of AWS, Vertex AI and
            Azure AD (``credentials.py``) and a base URL variable are read (default:
            ``os.environ``); each is passed to litellm explicitly.
        events: the run's observers, told of each retry back-off.
        waits: how a request and a back-off wait (``RunScope.waits``): given, the request
            is litellm's ``acompletion`` on the driver's event loop and the run holds no
            thread while it waits (a fleet worker); None: litellm's blocking ``completion``.
        sleep, clock, rng: injectable time and randomness (tests do not wait).
    """

    def __init__(
        self,
        config: ModelSettings,
        *,
        project_root: Path,
        accounting: Accounting | None = None,
        environ: Mapping[str, str] | None = None,
        events: Events | None = None,
        waits: Waits | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not config.name:
            raise no_model_error()
        self.config = config
        self.project_root = Path(project_root)
        self.accounting = accounting
        self.environ = os.environ if environ is None else environ
        self.events = events or Events()
        self._waits = waits
        self._sleep = sleep or (waits.sleep if waits is not None else time.sleep)
        self._clock = clock
        self._rng = rng or random.Random()
        self._ready = False
        self._ctx: CallContext | None = None
        self.last_attempts = 0
        """Attempts of the last call, also when it raised (for the journal)."""
        self.last_delays: list[float] = []
        self._price_warned = False
        self._table: tuple[tuple[float, float] | None] | None = None
        self._answered = False
        """A request got an answer: a refused connection after that is a server gone down
        (retried to the deadline), before it a server that is not there (said at once)."""

    @property
    def name(self) -> str:
        return self.config.name or ""

    @property
    def scripted(self) -> bool:
        return self.name.startswith(SCRIPTED_PREFIX)

    def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> ModelResponse:
        litellm, retrier, kwargs = self._begin(messages, tools)
        try:
            raw, parsed = retrier.call(lambda: _checked(self._send(litellm, kwargs)))
        finally:
            self.last_attempts, self.last_delays = retrier.attempts, list(retrier.delays)
        self._answered = True
        return self._finish(litellm, raw, parsed, retrier)

    def _send(self, litellm: Any, kwargs: dict[str, Any]) -> Any:
        """One request, without litellm's success logging when no callback listens."""

        if self._waits is not None:
            return self._waits.run(lambda: _waited(litellm, kwargs))
        with quiet(litellm):
            return litellm.completion(**kwargs)

    def estimate(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Usage:
        """What a request of this transcript may have cost when its answer was lost (a crash
        mid-request): prompt tokens from its size (4 bytes a token), no completion."""

        prompt = size_estimate(messages, tools)

        price = configured_price(self.config)
        cost = 0.0 if price is None else prompt * price[0]
        try:
            litellm = self._setup()
            if price is None:
                cost = float(litellm.cost_per_token(model=self.name, prompt_tokens=prompt)[0])
        except Exception:  # no price known: tokens only
            pass
        return Usage(prompt_tokens=prompt, total_tokens=prompt, cost_usd=cost)

    def _begin(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> tuple[Any, Retrier, dict[str, Any]]:
        if self.accounting is not None:
            self.accounting.check()
        litellm = self._setup()
        if self.scripted:
            # A bad script is the user's input: report it here, never retry it.
            load_script(resolve(self.name[len(SCRIPTED_PREFIX) :], self.project_root))
        deadline = self.config.retry_deadline_s
        ctx = self._context(litellm)
        if ctx.provider == "unknown" or (
            not self.scripted and ctx.provider not in known_providers(litellm)
        ):
            raise ModelFatal(unknown_provider_message(self.name, litellm))
        retrier = Retrier(
            ctx=ctx,
            timeout_s=self.config.timeout_s,
            deadline_s=DEFAULT_DEADLINE_S if deadline is None else float(deadline),
            first_contact=not self._answered,
            sleep=self._sleep,
            clock=self._clock,
            rng=self._rng,
            events=self.events,
        )
        return litellm, retrier, self._kwargs(messages, tools)

    def prepare(self) -> None:
        """Import litellm now (2 to 3 s), so the first call's step times the request only."""
        self._setup()

    def _setup(self) -> Any:
        litellm = import_litellm()
        if not self._ready:
            if self.scripted:
                from harness.model.scripted import register

                register(self.name)
            self._ready = True
        return litellm

    def _context(self, litellm: Any) -> CallContext:
        if self._ctx is None:
            provider = provider_of(litellm, self.name)
            url, source = self._endpoint(litellm, provider)
            self._ctx = CallContext(
                model=self.name,
                provider=provider,
                key_env=self._key_env(litellm, provider),
                url=url,
                url_source=source,
            )
        return self._ctx

    def _endpoint(self, litellm: Any, provider: str) -> tuple[str, str]:
        """The URL requests go to, and what set it (for messages that say what to fix)."""
        if self.scripted:
            return "", ""
        if self.config.api_base:
            return self.config.api_base, API_BASE_SOURCE
        for variable in _BASE_ENV.get(provider, ()):
            if self.environ.get(variable):
                return self.environ[variable], f"{FROM_ENV}{variable}"
        try:
            found = litellm.get_llm_provider(self.name)[3]
        except Exception:
            found = None
        if found:
            return str(found), f"litellm's default for {provider}"
        default = _DEFAULT_BASE.get(provider, "")
        return default, (f"litellm's default for {provider}" if default else "")

    def _key_env(self, litellm: Any, provider: str) -> str:
        if self.config.api_key_env:
            return self.config.api_key_env
        try:
            missing = litellm.validate_environment(self.name).get("missing_keys") or []
        except Exception:  # litellm cannot tell: fall back to the table
            missing = []
        if missing:
            return str(missing[0])
        return KEY_ENV.get(provider, f"{provider.upper()}_API_KEY")

    def _kwargs(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> dict[str, Any]:
        cfg = self.config
        ctx = self._context(self._setup())
        kwargs: dict[str, Any] = {
            "model": self.name,
            "messages": messages,
            # litellm 1.106 imports the optional `mcp` package for any call with tools
            # unless told not to; harness has no MCP tools (DEPENDENCIES.md).
            "_skip_mcp_handler": True,
        }
        if tools:
            kwargs["tools"] = tools
        if cfg.temperature is not None:
            kwargs["temperature"] = cfg.temperature
        if cfg.max_tokens is not None:
            kwargs["max_tokens"] = cfg.max_tokens
        if cfg.timeout_s is not None:
            kwargs["timeout"] = cfg.timeout_s
        # The key and base URL from the run's environment, not litellm's look-up in the
        # process's: two runs in one process may use two keys.
        # AWS, Vertex AI and Azure AD credentials too (harness/model/credentials.py).
        kwargs.update(credentials(ctx.provider, self.environ, cfg.api_key_env))
        if self.scripted:
            kwargs["api_base"] = str(self.project_root)
            return kwargs
        # One retry policy: the harness's. The OpenAI SDK under litellm would otherwise
        # retry each attempt twice more by itself (DEPENDENCIES.md, "Over real HTTP").
        kwargs["max_retries"] = 0
        if cfg.api_base or ctx.url_source.startswith(FROM_ENV):
            kwargs["api_base"] = ctx.url
        if cfg.api_version:
            kwargs["api_version"] = cfg.api_version
        if cfg.extra_headers:
            kwargs["extra_headers"] = dict(cfg.extra_headers)
        return kwargs

    def _finish(self, litellm: Any, raw: Any, parsed: _Parsed, retrier: Retrier) -> ModelResponse:
        content, calls, finish_reason = parsed
        usage = self._usage(litellm, raw)
        if self.accounting is not None:
            self.accounting.add(usage)
        return ModelResponse(
            content=content,
            tool_calls=calls,
            usage=usage,
            model=self.name,
            finish_reason=finish_reason,
            attempts=retrier.attempts,
            retry_delays_s=list(retrier.delays),
            attempt_log=list(retrier.log),
        )

    def _usage(self, litellm: Any, raw: Any) -> Usage:
        u = getattr(raw, "usage", None)
        prompt = int(getattr(u, "prompt_tokens", 0) or 0)
        completion = int(getattr(u, "completion_tokens", 0) or 0)
        total = int(getattr(u, "total_tokens", 0) or 0) or prompt + completion
        cost = self._cost(litellm, raw, prompt, completion)
        return Usage(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=total, cost_usd=cost
        )

    def _cost(self, litellm: Any, raw: Any, prompt: int, completion: int) -> float:
        """The call's dollars: the configured price, else what litellm priced the response
        at during the call, else its table's price (looked up once); unknown: 0, said once
        for a hosted model (a model on your own server has no price list to miss)."""

        price = configured_price(self.config)
        if price is not None:
            return prompt * price[0] + completion * price[1]
        priced, why = response_cost(raw)
        if priced is not None:
            return priced
        if why is None:  # litellm did not price it during the call: ask it now
            try:
                return float(litellm.completion_cost(completion_response=raw, model=self.name))
            except Exception as exc:
                why = str(exc)
        price = self._table_price(litellm)
        if price is not None:
            return prompt * price[0] + completion * price[1]
        ctx = self._context(litellm)
        if not self._price_warned and not is_local(self.config, ctx.provider, self.environ):
            self._price_warned = True  # once per run (one model object per run)
            log.warning("no price known for model %r (%s): cost counted as 0", self.name, why)
        return 0.0

    def _table_price(self, litellm: Any) -> tuple[float, float] | None:
        """The model's price in litellm's table, looked up on the first call only."""
        if self._table is None:
            self._table = (table_price(litellm, self.name, self._context(litellm).provider),)
        return self._table[0]


_Parsed = tuple[str | None, list[ToolCall], str | None]

# Variables the OpenAI SDK (and litellm) read a base URL from, per provider.
_BASE_ENV: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_BASE_URL", "OPENAI_API_BASE"),
    "ollama": ("OLLAMA_API_BASE",),
    "ollama_chat": ("OLLAMA_API_BASE",),
    "hosted_vllm": ("HOSTED_VLLM_API_BASE",),
    "anthropic": ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_BASE"),
}
_DEFAULT_BASE = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "ollama": "http://localhost:11434",
    "ollama_chat": "http://localhost:11434",
}


async def _waited(litellm: Any, kwargs: dict[str, Any]) -> Any:
    """One request through litellm's async client (on the driver's loop), as quiet."""
    with quiet(litellm):
        return await litellm.acompletion(**kwargs)


def _checked(raw: Any) -> tuple[Any, _Parsed]:
    """The content, tool calls and finish reason of a completion; MalformedResponse (retried)
    for a 200 that is not one: no choices, no message, a tool call without a name."""
    choices = getattr(raw, "choices", None)
    if not choices:
        raise MalformedResponse("the response has no choices")
    choice = choices[0]
    message = getattr(choice, "message", None)
    if message is None:
        raise MalformedResponse("the first choice has no message")
    calls = []
    for index, call in enumerate(getattr(message, "tool_calls", None) or []):
        function = getattr(call, "function", None)
        name = getattr(function, "name", None)
        if not name:
            raise MalformedResponse(f"tool call {index} has no function name")
        calls.append(
            ToolCall(
                id=str(getattr(call, "id", None) or f"call_{index}"),
                name=str(name),
                arguments=str(getattr(function, "arguments", None) or ""),
            )
        )
    content = getattr(message, "content", None)
    return raw, (
        None if content is None else str(content),
        calls,
        getattr(choice, "finish_reason", None),
    )


# The model settings arrive merged; either layer may have set the URL.
API_BASE_SOURCE = "`[model] api_base` (harness.toml or HARNESS_MODEL_API_BASE)"
FROM_ENV = "the environment variable "  # a URL's source: the run's environment
