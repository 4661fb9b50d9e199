"""What a litellm call costs this process beyond the request: only what harness needs.

litellm's ``completion`` wrapper hands every successful call to its success logging (a
thread pool builds the standard logging payload and runs the callbacks), also when no
callback is configured, and prices the response while it builds the response's hidden
params. Harness configures no litellm callback and counts the call's dollars itself, so:

- :func:`quiet` runs a call as litellm's own internal sub-calls run (its
  ``is_internal_call`` context: no success-logging hand-off) when no callback of any
  kind is configured in litellm; with one configured (a user's own integration), the
  call is logged as litellm always does;
- :func:`response_cost` reads the price litellm already computed during the call, so the
  call is priced once, not twice (harness used to call ``completion_cost`` again).

Measured in ``bench/model_client.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from harness.model.names import import_litellm

_CALLBACK_LISTS = ("callbacks", "success_callback", "_async_success_callback", "input_callback")


def listened(litellm: Any) -> bool:
    """Whether litellm has a callback configured that a call's success logging feeds."""
    return any(getattr(litellm, name, None) for name in _CALLBACK_LISTS)


@contextlib.contextmanager
def quiet(litellm: Any) -> Iterator[None]:
    """A call in this block skips litellm's success logging unless someone listens."""
    try:
        from litellm._internal_context import is_internal_call
    except ImportError:  # another litellm: its logging runs as it always did
        yield
        return
    if listened(litellm):
        yield
        return
    token = is_internal_call.set(True)
    try:
        yield
    finally:
        is_internal_call.reset(token)


def response_cost(raw: Any) -> tuple[float | None, str | None]:
    """The dollars litellm computed for ``raw`` during the call; or None and why not when
    it tried and found no price; (None, None) when it did not try (ask it then)."""
    hidden = getattr(raw, "_hidden_params", None)
    if not isinstance(hidden, dict) or "response_cost" not in hidden:
        return None, None
    value = hidden["response_cost"]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value), None
    return None, "litellm's price table does not list it"


def warm_up() -> None:
    """One offline call through litellm's ``completion`` (its ``mock_response``: no request
    leaves the process) and one token count, so the modules and the tokenizer litellm
    loads at a process's first call are loaded now, not in the first run's model step."""
    litellm = import_litellm()
    with quiet(litellm):
        litellm.completion(
            model="openai/harness-warm-up",
            messages=[{"role": "user", "content": "warm up"}],
            mock_response="ok",
        )
    litellm.token_counter(text="warm up")  # its default tokenizer (custom providers count)
