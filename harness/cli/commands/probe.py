"""`harness doctor --probe`: one tiny request to the configured model, through the gateway.

Reports what a run would meet: can the provider be reached (and at which URL), does it
accept the key, how long one answer takes, and whether it calls tools (a model that only
writes prose cannot work on a project). One attempt, no retries: the probe must not hang.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from harness.cli.checks import Check
from harness.errors import HarnessError, ModelFatal, ProviderUnavailable, QuotaExhausted

PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": "ping",
        "description": "Answer the probe.",
        "parameters": {
            "type": "object",
            "properties": {"ok": {"type": "boolean"}},
            "required": ["ok"],
        },
    },
}
PROBE_MESSAGES = [
    {"role": "system", "content": "You are being probed. Call the tool ping with ok=true."},
    {"role": "user", "content": "Call ping with ok=true now, and write nothing else."},
]
PROBE_TIMEOUT_S = 60.0


def probe_model(root: Path, model_config: Any) -> list[Check]:
    """Send the probe; one Check per thing learnt (reachability, auth, latency, tools)."""
    from harness.model import LitellmModel

    timeout = min(model_config.timeout_s or PROBE_TIMEOUT_S, PROBE_TIMEOUT_S)
    settings = model_config.model_copy(
        update={"retry_deadline_s": 0.0, "timeout_s": timeout, "max_tokens": 64}
    )
    model = LitellmModel(settings, project_root=root)
    name = settings.name
    started = time.monotonic()
    try:
        response = model.complete([dict(m) for m in PROBE_MESSAGES], [PROBE_TOOL])
    except ProviderUnavailable as error:
        return [Check("probe", False, f"{name}: not reachable: {error.what or error}", _FIX_URL)]
    except QuotaExhausted as error:
        return [Check("probe", False, f"{name}: reachable, but {error}", "top up the account")]
    except ModelFatal as error:
        return [Check("probe", False, f"{name}: reachable, but refused: {error}", "")]
    except HarnessError as error:
        return [Check("probe", False, f"{name}: {error}", "")]
    latency = time.monotonic() - started
    usage = response.usage
    checks = [
        Check(
            "probe",
            True,
            f"{name} answered in {latency:.2f} s (reachable, key accepted; "
            f"{usage.total_tokens} tokens, ${usage.cost_usd:.6f})",
        )
    ]
    if response.tool_calls:
        names = ", ".join(sorted({call.name for call in response.tool_calls}))
        checks.append(Check("probe tools", True, f"tool calls come back ({names})"))
    else:
        said = " ".join((response.content or "").split())[:120]
        checks.append(
            Check(
                "probe tools",
                False,
                f"no tool call came back (it wrote: {said!r})",
                "the agent works through tool calls: use a model (or server setting) that "
                "supports them, e.g. llama.cpp's server with --jinja, vLLM with "
                "--enable-auto-tool-choice",
                warning=True,
            )
        )
    return checks


_FIX_URL = (
    "check that the server runs and `[model] api_base` (or OPENAI_BASE_URL) names its URL; "
    "a hosted API needs network access"
)
