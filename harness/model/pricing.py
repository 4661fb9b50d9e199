"""What a model's tokens cost: the price configured in ``[model]``, else litellm's table.

A dollar budget needs a price: :func:`check_dollar_budget` refuses to start (exit 2) when
``[budgets] run_dollars``/``session_dollars`` is set and no price is known, instead of
counting every call as $0 and never stopping. litellm answers $0 for some names it does
not list (a misspelled Anthropic model), so a price is "known" only when its table lists
the model, or ``[model] input_usd_per_mtok``/``output_usd_per_mtok`` set one.
"""

from __future__ import annotations

from typing import Any

from harness.errors import ConfigError
from harness.model.names import import_litellm, provider_of

MTOK = 1_000_000


def configured_price(settings: Any) -> tuple[float, float] | None:
    """(dollars per input token, per output token) from ``[model]``, if set."""
    given = (
        getattr(settings, "input_usd_per_mtok", None),
        getattr(settings, "output_usd_per_mtok", None),
    )
    if given == (None, None):
        return None
    return (given[0] or 0.0) / MTOK, (given[1] or 0.0) / MTOK


def table_price(litellm: Any, name: str, provider: str) -> tuple[float, float] | None:
    """(dollars per input token, per output token) from litellm's table, if it lists ``name``."""
    model = name.split("/", 1)[1] if "/" in name else name
    for key in (name, model):
        info = litellm.model_cost.get(key)
        if not isinstance(info, dict) or "input_cost_per_token" not in info:
            continue
        if key == name or info.get("litellm_provider") == provider:
            return float(info["input_cost_per_token"]), float(
                info.get("output_cost_per_token") or 0
            )
    return None


def known_price(settings: Any) -> tuple[float, float] | None:
    """The price harness counts ``settings.name``'s tokens at, or None."""
    found = configured_price(settings)
    if found is not None:
        return found

    litellm = import_litellm()
    name = str(settings.name or "")
    return table_price(litellm, name, provider_of(litellm, name))


def check_dollar_budget(settings: Any, budgets: Any) -> None:
    """ConfigError (exit 2) when a dollar budget is set and no price is known."""
    limits = [
        (key, value)
        for key in ("run_dollars", "session_dollars")
        if (value := getattr(budgets, key, None)) is not None
    ]
    if not limits or not settings.name or known_price(settings) is not None:
        return
    key, value = limits[0]
    raise ConfigError(
        "harness.toml",
        f"[budgets].{key}",
        f"{key} = {value:g} cannot be enforced: no price is known for {settings.name!r} "
        "(litellm's price table does not list it), so every call would count as $0",
        "Set `[model] input_usd_per_mtok` and `output_usd_per_mtok` (dollars per million "
        "tokens; 0 for a model you run yourself), or remove the dollar budget.",
    )
