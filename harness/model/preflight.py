"""A model's setup, checked in seconds before anything is written or paid for.

`harness init` runs :func:`check_model` first (and `doctor` shows the same verdict):

- the provider: litellm must know it (``[model] name = "provider/model"``), with the
  closest names when it does not;
- a hosted model (no ``api_base``): its key variable must be set; a name litellm's model
  table lists passes, one it does not is tried with one tiny request (a 404 is refused
  with the closest listed names; an answer means the table is older than the model);
- a server (``api_base``, or Ollama's default address): one GET of its model list with a
  short timeout. Nothing listening (connection refused, no such host, no answer) is named
  as such at once, never after a retry budget; a list without the model is confirmed with
  one tiny request (llama.cpp answers whatever the name) and refused on a 404 with the
  names the server has.

Raises ConfigError (exit 2) saying what to fix; returns what it checked, one line each.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import json
import os
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError, ModelFatal, ProviderUnavailable
from harness.model.litellm_model import LitellmModel
from harness.model.names import (
    CHOOSE_A_MODEL,
    SCRIPTED_PREFIX,
    check_model_name,
    import_litellm,
    is_local,
    provider_of,
    unknown_provider_message,
)

CONNECT_TIMEOUT_S = 5.0
PROBE_TIMEOUT_S = 30.0
OPENAI_COMPATIBLE = frozenset({"openai", "hosted_vllm", "openai_like", "lm_studio", "llamafile"})
"""Providers whose server at ``api_base`` speaks OpenAI's API: checked over plain HTTP."""
OLLAMA_BASE = "http://localhost:11434"
WHERE = "[model] name"
FIX_NAME = "Fix `[model] name` in harness.toml (or `harness init --model NAME`)."


@dataclass
class ModelCheck:
    """What :func:`check_model` found: lines to show, and whether the model is hosted."""

    lines: list[str] = field(default_factory=list)
    hosted: bool = True


def check_model(settings: Any, root: Path) -> ModelCheck:
    """Check ``settings`` (``[model]``); ConfigError (exit 2) naming what to fix."""
    name = settings.name
    if not name:
        raise ConfigError("harness.toml", "[model].name", "no model is configured", CHOOSE_A_MODEL)
    # What needs no litellm first (its import takes 2-3 s): a provider it cannot know, a
    # server that is not there, a model an OpenAI-compatible server does not have.
    _check_provider_statically(name)
    found = ModelCheck()
    prefix = name.split("/", 1)[0] if "/" in name else ""
    if settings.api_base and prefix in OPENAI_COMPATIBLE:
        found.hosted = False
        _check_server(settings, root, prefix, found)
        return found
    if settings.api_base:
        _get(settings.api_base.rstrip("/") + "/models", settings, settings.api_base)
    problem = check_model_name(name, root)
    if problem is not None:
        raise ConfigError("harness.toml", WHERE, problem.rstrip("."), "")
    if name.startswith(SCRIPTED_PREFIX):
        found.lines.append(f"{name}: the scripted model (offline)")
        found.hosted = False
        return found
    litellm = import_litellm()
    provider = provider_of(litellm, name)
    if is_local(settings, provider):
        found.hosted = False
        _check_server(settings, root, provider, found)
    else:
        _check_hosted(settings, root, litellm, provider, found)
    return found


def _check_provider_statically(name: str) -> None:
    """ConfigError for ``provider/model`` whose provider is not among litellm's, read from
    its source without importing it; nothing when the list cannot be read (litellm says)."""
    if "/" not in name or name.startswith(SCRIPTED_PREFIX):
        return
    known = static_providers()
    if known and name.split("/", 1)[0] not in known:
        said = unknown_provider_message(name, known=known | {"scripted"})
        raise ConfigError("harness.toml", WHERE, said.rstrip("."), "")


def static_providers() -> set[str]:
    """litellm's provider names (its ``LlmProviders`` enum), parsed from its source file
    without importing litellm; empty when it cannot be read."""

    try:
        spec = importlib.util.find_spec("litellm")
        folder = Path(next(iter(spec.submodule_search_locations or []))) if spec else None
        tree = ast.parse((folder / "types" / "utils.py").read_text("utf-8")) if folder else None
    except (OSError, SyntaxError, StopIteration, ValueError):
        return set()
    names: set[str] = set()
    for node in tree.body if tree else []:
        if isinstance(node, ast.ClassDef) and node.name == "LlmProviders":
            for item in node.body:
                value = getattr(item, "value", None)
                if isinstance(item, ast.Assign) and isinstance(value, ast.Constant):
                    names.add(str(value.value))
    return names


def _check_hosted(
    settings: Any, root: Path, litellm: Any, provider: str, found: ModelCheck
) -> None:
    name = settings.name
    key_env = settings.api_key_env
    if key_env and not os.environ.get(key_env):
        raise ConfigError(
            "harness.toml",
            "[model].api_key_env",
            f"the variable {key_env} that holds the key for {name} is not set",
            f"`export {key_env}=...` (never written to the journal, git or the model).",
        )
    if not key_env:
        try:
            missing = litellm.validate_environment(name).get("missing_keys") or []
        except Exception:  # litellm cannot tell: the first request will
            missing = []
        if missing:
            raise ConfigError(
                "environment",
                missing[0],
                f"{name} needs an API key in {', '.join(missing)}, which is not set",
                f"`export {missing[0]}=...` (or name another variable with `[model] "
                "api_key_env`); harness never writes it to the journal, git or the model.",
            )
    known = known_models(litellm, provider)
    model = name.split("/", 1)[1] if "/" in name else name
    if model in known:
        found.lines.append(f"{name}: {provider} model known to litellm; key set")
        return
    close = difflib.get_close_matches(model, sorted(known), n=3, cutoff=0.8)
    found.lines.append(f"{name}: not in litellm's model table; asked {provider} once")
    _probe(settings, root, lambda: _listed(provider, close, "litellm's model table lists"))


def _listed(provider: str, names: list[str], what: str) -> str:
    if not names:
        return ""
    return f"Did you mean {' or '.join(repr(f'{provider}/{n}') for n in names)} ({what} them)?"


def known_models(litellm: Any, provider: str) -> set[str]:
    """The model names litellm's table lists for ``provider`` (without the prefix)."""
    names = set()
    for key, info in litellm.model_cost.items():
        if isinstance(info, dict) and info.get("litellm_provider") == provider:
            names.add(key.split("/", 1)[1] if key.startswith(provider + "/") else key)
    return names


def _check_server(settings: Any, root: Path, provider: str, found: ModelCheck) -> None:
    name = str(settings.name)
    ollama = provider in ("ollama", "ollama_chat")
    base = (settings.api_base or (os.environ.get("OLLAMA_API_BASE") if ollama else "")) or (
        OLLAMA_BASE if ollama else ""
    )
    if not base:
        found.lines.append(f"{name}: a local provider; no address to check")
        return
    url = base.rstrip("/") + ("/api/tags" if ollama else "/models")
    status, body = _get(url, settings, base)
    model = name.split("/", 1)[1] if "/" in name else name
    served = _served(body, ollama) if status == 200 else None
    probe = _post_probe if provider in OPENAI_COMPATIBLE else _probe
    if served is None:
        found.lines.append(f"{base} answers (HTTP {status}); its model list was not readable")
        probe(settings, root, lambda: "")
        return
    if model in served or (ollama and f"{model}:latest" in served):
        found.lines.append(f"{base} answers and serves {model}")
        return
    found.lines.append(f"{base} answers; it lists {', '.join(served[:5]) or 'no model'}")
    close = difflib.get_close_matches(model, served, n=3, cutoff=0.5)
    hint = f"It serves {', '.join(repr(s) for s in served[:8])}." if served else ""
    if close:
        hint += f" Did you mean {provider}/{close[0]}?"
    probe(settings, root, lambda: hint)


def _get(url: str, settings: Any, base: str) -> tuple[int, Any]:
    """(status, parsed JSON or None) of a GET; ConfigError when nothing answers."""
    headers = {"Accept": "application/json"}
    key = os.environ.get(settings.api_key_env or "") if settings.api_key_env else None
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT_S) as reply:
            raw = reply.read(2_000_000)
            status = reply.status
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, OSError) as error:
        raise _unreachable(base, getattr(error, "reason", error)) from None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def _unreachable(base: str, reason: object) -> ConfigError:
    if isinstance(reason, ConnectionRefusedError):
        why = "connection refused: nothing listens at that address"
    elif isinstance(reason, socket.gaierror):
        why = f"the host is not known ({reason.strerror or reason})"
    elif isinstance(reason, TimeoutError | socket.timeout):
        why = f"no answer within {CONNECT_TIMEOUT_S:g} s"
    else:
        why = str(reason)
    return ConfigError(
        "harness.toml",
        "[model].api_base",
        f"cannot reach {base}: {why}",
        "Start the model server (llama.cpp, vLLM, Ollama...) or fix the address "
        "(`harness init --api-base URL`, `[model] api_base`), then run the command again.",
    )


def _served(body: Any, ollama: bool) -> list[str] | None:
    """The model names a server lists (OpenAI's ``data[].id``, Ollama's ``models[].name``)."""
    if not isinstance(body, dict):
        return None
    items = body.get("models" if ollama else "data")
    if not isinstance(items, list):
        return None
    key = "name" if ollama else "id"
    return [str(i[key]) for i in items if isinstance(i, dict) and key in i]


def _post_probe(settings: Any, root: Path, hint: Any) -> None:
    """One tiny chat request over plain HTTP to an OpenAI-compatible server (no litellm):
    a 404 is a model the server does not have (ConfigError); any other answer lets the
    first real request tell."""
    base = str(settings.api_base).rstrip("/")
    model = str(settings.name).split("/", 1)[1]
    body = {"model": model, "messages": [{"role": "user", "content": "Reply with OK."}]}
    headers = {"Content-Type": "application/json"}
    key = os.environ.get(settings.api_key_env or "") if settings.api_key_env else None
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps({**body, "max_tokens": 1}).encode()
    request = urllib.request.Request(base + "/chat/completions", data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S) as reply:
            reply.read(100_000)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            why = f"{base} does not know the model {model!r} (404 to a one-token request)"
            raise ConfigError("harness.toml", WHERE, why, f"{hint()} {FIX_NAME}".strip()) from None
    except (urllib.error.URLError, OSError) as error:
        raise _unreachable(base, getattr(error, "reason", error)) from None


def _probe(settings: Any, root: Path, hint: Any) -> None:
    """One tiny request, no retries: a refusal of the model (404, 400) is ConfigError."""

    timeout = min(settings.timeout_s or PROBE_TIMEOUT_S, PROBE_TIMEOUT_S)
    quick = settings.model_copy(
        update={"retry_deadline_s": 0.0, "timeout_s": timeout, "max_tokens": 1}
    )
    try:
        LitellmModel(quick, project_root=root).complete(
            [{"role": "user", "content": "Reply with OK."}], []
        )
    except ModelFatal as error:
        text = str(error)
        if "(404)" in text:
            where = settings.api_base or "the provider"
            model = str(settings.name).split("/", 1)[-1]
            text = f"{where} does not know the model {model!r} (404 to a one-token request)"
        fix = f"{hint()} {FIX_NAME}".strip()
        raise ConfigError("harness.toml", WHERE, text.rstrip("."), fix) from None
    except ProviderUnavailable as error:
        raise ConfigError(
            "harness.toml",
            "[model]",
            f"{settings.name} did not answer a one-token request: {error.what or error}",
            "Check the server or the provider's status, then run the command again.",
        ) from None
    except HarnessError:
        raise
