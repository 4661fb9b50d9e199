"""litellm's import, and what a model's name says without a request: its provider, whether
litellm knows it, whether it is the offline scripted model or a server the user runs.

The gateway (``litellm_model``), its policy, prices and the setup checks (``preflight``) all
read these; this module imports none of them.
"""

from __future__ import annotations

import difflib
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError
from harness.model.script import load_script, resolve

SCRIPTED_PREFIX = "scripted/"


LOCAL_PROVIDERS = frozenset(
    {"ollama", "ollama_chat", "hosted_vllm", "vllm", "lm_studio", "llamafile", "xinference"}
)
BASE_VARIABLES = ("OPENAI_BASE_URL", "OPENAI_API_BASE", "OLLAMA_API_BASE", "HOSTED_VLLM_API_BASE")


def is_local(settings: Any, provider: str, environ: Mapping[str, str] | None = None) -> bool:
    """A model on a server the user runs (or a proxy of theirs): no price list applies."""
    environ = os.environ if environ is None else environ
    custom = bool(settings.api_base) or any(environ.get(v) for v in BASE_VARIABLES)
    return custom or provider in LOCAL_PROVIDERS or provider == "scripted"


LOCAL_PRICES = "LITELLM_LOCAL_MODEL_COST_MAP"
_importing = threading.Lock()


def import_litellm() -> Any:
    """Import litellm the way harness needs it: local price table, no banner.

    While it is imported, litellm fetches its price table from GitHub (a 5 s timeout, then
    retries in a thread) unless ``LITELLM_LOCAL_MODEL_COST_MAP`` says "true" at that moment;
    the variable is the only switch litellm reads there. Unless the user set it, it is set
    for the import alone and removed after, so no command, git or child process of harness
    inherits it.
    """
    if "litellm" not in sys.modules and LOCAL_PRICES not in os.environ:
        with _importing:
            os.environ[LOCAL_PRICES] = "True"
            try:
                import litellm
            finally:
                os.environ.pop(LOCAL_PRICES, None)
    import litellm

    litellm.suppress_debug_info = True
    return litellm


CHOOSE_A_MODEL = (
    "Choose one with `harness init --model NAME` (or `[model] name` in harness.toml, or "
    "HARNESS_MODEL_NAME). Hosted APIs: 'anthropic/claude-sonnet-4-5' (key in "
    "ANTHROPIC_API_KEY), 'openai/gpt-4o-mini' (key in OPENAI_API_KEY). Local servers: Ollama "
    "'ollama_chat/qwen2.5-coder'; llama.cpp or vLLM 'openai/<model>' with `[model] api_base "
    '= "http://localhost:8080/v1"` (any key value). Offline, for tests: '
    "'scripted/<file.json>'."
)


def no_model_error() -> ConfigError:
    """The error when no model is configured (exit 2): says how to choose one."""
    return ConfigError("harness.toml", "[model].name", "no model is configured", CHOOSE_A_MODEL)


def known_providers(litellm: Any) -> set[str]:
    return {str(getattr(p, "value", p)) for p in litellm.provider_list} | {"scripted"}


def unknown_provider_message(
    name: str, litellm: Any | None = None, known: set[str] | None = None
) -> str:
    """`[model] name` names no provider litellm knows: say so, with the closest names
    (among ``known``, else litellm's list)."""

    if known is None:
        known = known_providers(litellm or import_litellm())
    head = name.split("/", 1)[0] if "/" in name else name
    close = difflib.get_close_matches(head, sorted(known), n=3)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return (
        f"unknown model provider {head!r} in [model] name = {name!r}: litellm knows no such "
        f"provider.{hint} Fix [model] name in harness.toml (or --model): 'provider/model', "
        "e.g. 'openai/gpt-4o-mini', "
        "'anthropic/claude-sonnet-4-5', 'ollama_chat/qwen2.5-coder', or 'openai/<model>' with "
        "`[model] api_base` for a local OpenAI-compatible server (llama.cpp, vLLM)."
    )


def check_model_name(name: str, project_root: Path) -> str | None:
    """Why `name` cannot work (unknown provider, missing script), or None; no request."""
    if name.startswith(SCRIPTED_PREFIX):
        try:
            load_script(resolve(name[len(SCRIPTED_PREFIX) :], project_root))
        except HarnessError as error:
            return str(error)
        return None
    litellm = import_litellm()
    provider = provider_of(litellm, name)
    if provider == "unknown" or provider not in known_providers(litellm):
        return unknown_provider_message(name, litellm)
    return None


def provider_of(litellm: Any, name: str) -> str:
    """The litellm provider of a model name ("scripted" for the offline model)."""
    if name.startswith(SCRIPTED_PREFIX):
        return "scripted"
    try:
        return str(litellm.get_llm_provider(name)[1])
    except Exception:
        return name.split("/", 1)[0] if "/" in name else "unknown"
