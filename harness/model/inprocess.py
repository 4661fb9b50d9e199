"""`ScriptedModel`: the scripted model in process, a `Model` without litellm or a gateway.

It reads the same script files as the litellm provider (`harness.model.scripted`) and picks
scenes and turns the same way (`harness.model.script`), so a test of the session drives
the loop with the turns of a real script in microseconds. A fault fires as the gateway
would surface it once its policy has run:

- retried faults (rate_limit, server_error, unavailable, bad_gateway, timeout): the turn
  comes back after `times` failed attempts (`attempts`, `retry_delays_s` tell), or
  `RetriesExhausted` when they pass `max_attempts`; nobody sleeps;
- context_window: `ContextWindowExceeded` (the session compacts and asks again);
- quota: `QuotaExhausted` (the run parks); auth, not_found: `ModelFatal`;
- bad_tool_args: the turn's tool-call arguments come back as cut JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import ContextWindowExceeded, ModelError, ModelFatal, QuotaExhausted
from harness.model.base import ModelResponse, ToolCall, Usage, size_estimate
from harness.model.policy import RetriesExhausted
from harness.model.script import (
    INPUT_COST_PER_TOKEN,
    OUTPUT_COST_PER_TOKEN,
    SCRIPT_ENDED,
    Script,
    load_script,
    pick_scene,
    turn_index,
)

RETRIED = {
    "rate_limit": "RateLimitError",
    "server_error": "InternalServerError",
    "unavailable": "ServiceUnavailableError",
    "bad_gateway": "BadGatewayError",
    "timeout": "Timeout",
}


class ScriptedModel:
    """Answers a transcript with the next turn of its script.

    Args:
        script: a `Script`, or the path of a script file (read at each call, as the
            provider reads it: a file rewritten between calls is read again).
        name: the model name the responses carry.
        max_attempts: attempts of one turn before retried faults give up.
        sleep: given, each call first waits the script's latency (``latency_s`` of the
            script and of the turn) with it, as the provider does; None: no wait.
    """

    def __init__(
        self,
        script: Script | Path,
        *,
        name: str = "scripted/inprocess",
        max_attempts: int = 8,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._script = script
        self.name = name
        self.max_attempts = max_attempts
        self.calls = 0
        """Completions asked for (each retried attempt counts)."""
        self._failed: dict[tuple[str, int], int] = {}
        self._sleep = sleep

    @property
    def script(self) -> Script:
        """The script (its file read now when it is one: cached while it is the same)."""
        return load_script(self._script) if isinstance(self._script, Path) else self._script

    def prepare(self) -> None:
        """Nothing to set up: the script is loaded already."""

    def estimate(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Usage:
        """The request's prompt tokens from its size; a script costs no dollars."""
        prompt = size_estimate(messages, tools)
        return Usage(prompt_tokens=prompt, total_tokens=prompt)

    def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> ModelResponse:
        script = self.script
        scene = pick_scene(script, messages)
        if scene is None:
            names = ", ".join(f"{s.name} ({s.match!r})" for s in script.scenes)
            self.calls += 1
            raise ModelFatal(f"no scene of the script matches the first user message: {names}")
        index = turn_index(messages)
        turn = scene.turns[index] if index < len(scene.turns) else None
        latency = script.latency_s + (turn.latency_s if turn is not None else 0.0)
        if self._sleep is not None and latency > 0:
            self._sleep(latency)
        key = (scene.name, index)
        attempts, delays, spoil = 1, [], False
        if turn is not None and turn.fault is not None:
            failed = self._failed.get(key, 0)
            if turn.fault in RETRIED:
                pending = max(0, turn.times - failed)
                if pending >= self.max_attempts:
                    self._failed[key] = failed + self.max_attempts
                    self.calls += self.max_attempts
                    raise RetriesExhausted(
                        f"gave up on {self.name!r} after {self.max_attempts} attempts: "
                        f"last error {RETRIED[turn.fault]}: scripted fault {turn.fault}",
                        attempts=self.max_attempts,
                        kind=RETRIED[turn.fault],
                    )
                self._failed[key] = failed + pending
                self.calls += pending
                attempts += pending
                delays = [turn.retry_after or 0.0] * pending
            elif failed < turn.times:
                self._failed[key] = failed + 1
                if turn.fault == "bad_tool_args":
                    spoil = True
                else:
                    self.calls += 1
                    raise _fault(turn.fault, self.name)
        self.calls += 1
        return self._response(messages, scene.name, index, turn, attempts, delays, spoil)

    def _response(
        self,
        messages: list[dict[str, Any]],
        scene: str,
        index: int,
        turn: Any,
        attempts: int,
        delays: list[float],
        spoil: bool,
    ) -> ModelResponse:
        text = turn.text if turn is not None else SCRIPT_ENDED
        calls = []
        for i, call in enumerate(turn.tool_calls if turn is not None else []):
            arguments = json.dumps(call.arguments, sort_keys=True)
            if spoil:
                arguments = arguments[:-1] + ',"'  # cut JSON: what a confused model sends
            calls.append(
                ToolCall(id=f"call_{scene}_{index}_{i}", name=call.name, arguments=arguments)
            )
        prompt = len(json.dumps(messages, sort_keys=True, default=str)) // 4
        completion = max(1, (len(text or "") + sum(len(c.arguments) for c in calls)) // 4)
        cost = prompt * INPUT_COST_PER_TOKEN + completion * OUTPUT_COST_PER_TOKEN
        return ModelResponse(
            content=text,
            tool_calls=calls,
            usage=Usage(
                prompt_tokens=prompt,
                completion_tokens=completion,
                total_tokens=prompt + completion,
                cost_usd=cost,
            ),
            model=self.name,
            finish_reason="tool_calls" if calls else "stop",
            attempts=attempts,
            retry_delays_s=delays,
        )


def _fault(kind: str, name: str) -> ModelError:
    """The error the gateway raises for a fault its policy does not retry."""
    if kind == "context_window":
        return ContextWindowExceeded(
            f"the transcript no longer fits the context window of {name!r}: compact and retry"
        )
    if kind == "quota":
        return QuotaExhausted(
            f"the quota of scripted is spent for {name!r} (scripted fault). Top up the account, "
            "then run `harness run` again: the run is parked, not lost."
        )
    if kind == "auth":
        return ModelFatal(f"scripted rejected the API key for {name!r} (401, scripted fault)")
    return ModelFatal(f"scripted does not know the model {name!r} (404, scripted fault)")
