"""`LitellmModel`: the `Model` over litellm, with the failure policy and the accounting."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.model.accounting import Accounting
from harness.model.base import ModelResponse, ModelSettings, ToolCall, Usage
from harness.model.policy import DEFAULT_DEADLINE_S, CallContext, Retrier

log = logging.getLogger(__name__)

SCRIPTED_PREFIX = "scripted/"

# The variable each provider reads its key from, when litellm cannot tell us.
_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "azure": "AZURE_API_KEY",
    "cohere": "COHERE_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "xai": "XAI_API_KEY",
}


def import_litellm() -> Any:
    """Import litellm the way harness needs it: local price table, no banner."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


class LitellmModel:
    """A chat model reached through litellm (or the offline ``scripted/...`` model).

    Args:
        config: the ``[model]`` section (``ModelConfig``).
        project_root: where ``scripted/<file.json>`` scripts are looked up.
        accounting: if given, budgets are checked before each call and usage added after.
        sleep, clock, rng: injectable time and randomness (tests do not wait).
    """

    def __init__(
        self,
        config: ModelSettings,
        *,
        project_root: Path,
        accounting: Accounting | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.project_root = Path(project_root)
        self.accounting = accounting
        self._sleep = sleep or time.sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._ready = False
        self._ctx: CallContext | None = None
        self.last_attempts = 0
        """Attempts of the last call, also when it raised (for the journal)."""
        self.last_delays: list[float] = []

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def scripted(self) -> bool:
        return self.config.name.startswith(SCRIPTED_PREFIX)

    def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> ModelResponse:
        litellm, retrier, kwargs = self._begin(messages, tools)
        try:
            raw = retrier.call(lambda: litellm.completion(**kwargs))
        finally:
            self.last_attempts, self.last_delays = retrier.attempts, list(retrier.delays)
        return self._finish(litellm, raw, retrier)

    def _begin(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> tuple[Any, Retrier, dict[str, Any]]:
        if self.accounting is not None:
            self.accounting.check()
        litellm = self._setup()
        if self.scripted:
            from harness.model.script import load_script, resolve

            # A bad script is the user's input: report it here, never retry it.
            load_script(resolve(self.name[len(SCRIPTED_PREFIX) :], self.project_root))
        deadline = self.config.retry_deadline_s
        retrier = Retrier(
            ctx=self._context(litellm),
            deadline_s=DEFAULT_DEADLINE_S if deadline is None else float(deadline),
            sleep=self._sleep,
            clock=self._clock,
            rng=self._rng,
        )
        return litellm, retrier, self._kwargs(messages, tools)

    def _setup(self) -> Any:
        litellm = import_litellm()
        if not self._ready:
            if self.scripted:
                from harness.model import scripted

                scripted.register(self.name)
            self._ready = True
        return litellm

    def _context(self, litellm: Any) -> CallContext:
        if self._ctx is None:
            provider = _provider(litellm, self.name)
            self._ctx = CallContext(
                model=self.name, provider=provider, key_env=self._key_env(litellm, provider)
            )
        return self._ctx

    def _key_env(self, litellm: Any, provider: str) -> str:
        if self.config.api_key_env:
            return self.config.api_key_env
        try:
            missing = litellm.validate_environment(self.name).get("missing_keys") or []
        except Exception:  # litellm cannot tell: fall back to the table
            missing = []
        if missing:
            return str(missing[0])
        return _KEY_ENV.get(provider, f"{provider.upper()}_API_KEY")

    def _kwargs(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> dict[str, Any]:
        cfg = self.config
        kwargs: dict[str, Any] = {
            "model": cfg.name,
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
        if cfg.api_key_env and os.environ.get(cfg.api_key_env):
            kwargs["api_key"] = os.environ[cfg.api_key_env]
        if self.scripted:
            kwargs["api_base"] = str(self.project_root)
        return kwargs

    def _finish(self, litellm: Any, raw: Any, retrier: Retrier) -> ModelResponse:
        choice = raw.choices[0]
        message = choice.message
        calls = [
            ToolCall(
                id=str(call.id),
                name=str(call.function.name),
                arguments=str(call.function.arguments or ""),
            )
            for call in (getattr(message, "tool_calls", None) or [])
        ]
        usage = self._usage(litellm, raw)
        if self.accounting is not None:
            self.accounting.add(usage)
        return ModelResponse(
            content=message.content,
            tool_calls=calls,
            usage=usage,
            model=self.name,
            finish_reason=getattr(choice, "finish_reason", None),
            attempts=retrier.attempts,
            retry_delays_s=list(retrier.delays),
        )

    def _usage(self, litellm: Any, raw: Any) -> Usage:
        u = getattr(raw, "usage", None)
        prompt = int(getattr(u, "prompt_tokens", 0) or 0)
        completion = int(getattr(u, "completion_tokens", 0) or 0)
        total = int(getattr(u, "total_tokens", 0) or 0) or prompt + completion
        try:
            cost = float(litellm.completion_cost(completion_response=raw, model=self.name))
        except Exception as exc:  # a model without a price: count tokens, cost 0
            log.warning("no price known for model %r (%s): cost counted as 0", self.name, exc)
            cost = 0.0
        return Usage(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=total, cost_usd=cost
        )


def _provider(litellm: Any, name: str) -> str:
    if name.startswith(SCRIPTED_PREFIX):
        return "scripted"
    try:
        return str(litellm.get_llm_provider(name)[1])
    except Exception:
        return name.split("/", 1)[0] if "/" in name else "unknown"
