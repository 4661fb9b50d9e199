"""The scripted model: a litellm custom provider that replays a script file offline.

Called as ``scripted/<file.json>`` (relative to the project root, passed as ``api_base``)
or ``scripted/builtin:<name>``. Imports litellm: load it only from where a model is called.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import litellm
from litellm.exceptions import ContextWindowExceededError, RateLimitError
from litellm.llms.custom_llm import CustomLLM, CustomLLMError

from harness import signals
from harness.model.script import (
    INPUT_COST_PER_TOKEN,
    OUTPUT_COST_PER_TOKEN,
    SCRIPT_ENDED,
    Scene,
    Script,
    Turn,
    load_script,
    pick_scene,
    resolve,
    turn_index,
)

PROVIDER = "scripted"
CONTEXT_WINDOW = 128_000

_lock = threading.Lock()
_registered_models: set[str] = set()


class ScriptedLLM(CustomLLM):
    """Replays turns of a script; counts attempts per turn so faults fire `times` times."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts: dict[tuple[str, str, int], int] = {}

    def reset(self) -> None:
        """Forget the attempt counters (every fault fires again)."""
        with _lock:
            self.attempts.clear()

    def completion(self, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
        latency, reply = self._prepare(*args, **kwargs)
        if latency > 0:
            signals.sleep(latency)  # a stop whose interrupt was lost ends the thinking too
        return reply()

    async def acompletion(self, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
        """The same turn, its latency awaited (litellm's ``acompletion``: a caller on an
        event loop, like a fleet worker's, holds no thread while it waits)."""
        latency, reply = self._prepare(*args, **kwargs)
        if latency > 0:
            await asyncio.sleep(latency)
        return reply()

    def _prepare(
        self, *args: Any, **kwargs: Any
    ) -> tuple[float, Callable[[], litellm.ModelResponse]]:
        """Pick the turn and count the attempt; return the latency and a reply thunk."""
        model: str = kwargs.get("model", args[0] if args else "")
        messages: list[dict[str, Any]] = kwargs.get("messages", args[1] if len(args) > 1 else [])
        api_base = kwargs.get("api_base", args[2] if len(args) > 2 else None)
        root = Path(api_base) if api_base else None
        path = resolve(model, root)
        script = load_script(path)
        scene = pick_scene(script, messages)
        if scene is None:
            names = ", ".join(f"{s.name} ({s.match!r})" for s in script.scenes)
            raise _error(
                400, f"script {path}: no scene matches the first user message (scenes: {names})"
            )
        index = turn_index(messages)
        turn = scene.turns[index] if index < len(scene.turns) else None
        faulty = False
        if turn is not None and turn.fault is not None:
            key = (str(path), scene.name, index)
            with _lock:
                done = self.attempts.get(key, 0)
                self.attempts[key] = done + 1
            faulty = done < turn.times
        latency = script.latency_s + (turn.latency_s if turn else 0.0)

        def reply() -> litellm.ModelResponse:
            if turn is not None and faulty and turn.fault != "bad_tool_args":
                raise _fault(turn, model)
            return _response(model, messages, script, scene, index, turn, spoil=faulty)

        return latency, reply


def _error(status: int, text: str) -> Exception:
    """litellm maps this to its exception for `status`, as for a real provider."""
    return CustomLLMError(status, text)  # type: ignore[no-untyped-call]


def _fault(turn: Turn, model: str) -> Exception:
    """The exception a fault raises, as the real provider's error would surface."""
    full = f"{PROVIDER}/{model}"
    kind = turn.fault
    if kind == "rate_limit":
        if turn.retry_after is None:
            return _error(429, "scripted fault: rate limit reached, slow down")
        request = httpx.Request("POST", "http://scripted.invalid/v1/chat/completions")
        response = httpx.Response(
            429, headers={"retry-after": f"{turn.retry_after:g}"}, request=request
        )
        return RateLimitError(
            "scripted fault: rate limit reached, slow down",
            llm_provider=PROVIDER,
            model=full,
            response=response,
        )
    if kind == "context_window":
        return ContextWindowExceededError(
            f"scripted fault: this model's maximum context length is {CONTEXT_WINDOW} tokens",
            model=full,
            llm_provider=PROVIDER,
        )
    status, text = {
        "server_error": (500, "scripted fault: internal server error"),
        "unavailable": (503, "scripted fault: service unavailable"),
        "bad_gateway": (502, "scripted fault: bad gateway"),
        "timeout": (408, "scripted fault: request timed out"),
        "auth": (401, "scripted fault: invalid API key"),
        "not_found": (404, f"scripted fault: the model {full} does not exist"),
        "quota": (429, "scripted fault: you exceeded your current quota (insufficient_quota)"),
    }[str(kind)]
    return _error(status, text)


def _response(
    model: str,
    messages: list[dict[str, Any]],
    script: Script,
    scene: Scene,
    index: int,
    turn: Turn | None,
    *,
    spoil: bool,
) -> litellm.ModelResponse:
    text = turn.text if turn is not None else SCRIPT_ENDED
    calls: list[dict[str, Any]] = []
    for i, call in enumerate(turn.tool_calls if turn is not None else []):
        arguments = json.dumps(call.arguments, sort_keys=True)
        if spoil:
            arguments = arguments[:-1] + ',"'  # cut JSON: what a confused model sends
        calls.append(
            {
                "id": f"call_{scene.name}_{index}_{i}",
                "type": "function",
                "function": {"name": call.name, "arguments": arguments},
            }
        )
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = calls
    prompt = len(json.dumps(messages, sort_keys=True, default=str)) // 4
    out = len(text or "") + sum(len(c["function"]["arguments"]) for c in calls)
    completion = max(1, out // 4)
    finish = "tool_calls" if calls else "stop"
    return litellm.ModelResponse(
        id=f"scripted-{scene.name}-{index}",
        model=f"{PROVIDER}/{model}",
        choices=[{"index": 0, "message": message, "finish_reason": finish}],
        usage=litellm.Usage(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        ),
    )


HANDLER = ScriptedLLM()


def register(model_name: str | None = None) -> None:
    """Register the provider with litellm (once) and a price for `model_name`."""
    with _lock:
        if not any(p.get("provider") == PROVIDER for p in litellm.custom_provider_map):
            litellm.custom_provider_map = [
                *litellm.custom_provider_map,
                {"provider": PROVIDER, "custom_handler": HANDLER},
            ]
            litellm.utils.custom_llm_setup()  # type: ignore[no-untyped-call]
        if model_name and model_name not in _registered_models:
            litellm.register_model(
                {
                    model_name: {
                        "input_cost_per_token": INPUT_COST_PER_TOKEN,
                        "output_cost_per_token": OUTPUT_COST_PER_TOKEN,
                        "cache_creation_input_token_cost": 0.0,
                        "cache_read_input_token_cost": 0.0,
                        "litellm_provider": PROVIDER,
                        "mode": "chat",
                        "max_input_tokens": CONTEXT_WINDOW,
                        "max_output_tokens": 8192,
                        "supports_function_calling": True,
                    }
                }
            )
            _registered_models.add(model_name)
