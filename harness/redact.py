"""Secret redaction: API keys and secret-named environment values become ``[REDACTED:<NAME>]``.

Everything the journal stores (inputs, outputs, errors, blobs) and everything the model is
sent goes through a :class:`Redactor` first. A known value is found in its reversible
encodings too (base64, hex, percent-encoding, reversed: `harness.secret_forms`) and
replaced by ``[REDACTED:<NAME> (<form>)]`` (``[REDACTED:OPENAI_API_KEY (base64)]``,
``(base64url)``, ``(hex)``, ``(percent-encoded)``, ``(reversed)``). Key-shaped strings
(`KEY_PATTERNS`) are found by their shape only, never in an encoding. The hot path is one
regex scan over the JSON text; the structure is walked only when that scan finds a
candidate.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Collection, Mapping
from typing import Any

from pydantic_core import PydanticSerializationError, to_json, to_jsonable_python

from harness.secret_forms import FormSearch, Found, forms

# Key shapes of the providers most likely to leak into a coding session. Each begins with a
# literal (or a lookbehind of one): the search's first-character skip depends on it.
KEY_PATTERNS: tuple[tuple[str, str], ...] = (
    ("ANTHROPIC_KEY", r"sk-ant-[A-Za-z0-9_\-]{16,}"),
    # Generic "sk-": at least 20 characters and a digit, so "task-assessment-..." is safe.
    ("OPENAI_KEY", r"sk-(?=[A-Za-z_\-]*[0-9])[A-Za-z0-9_\-]{20,}"),
    ("AWS_ACCESS_KEY", r"(?:AKIA|ASIA)[0-9A-Z]{16}"),
    ("GITHUB_TOKEN", r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"),
    ("SLACK_TOKEN", r"xox[abposr]-[A-Za-z0-9\-]{10,}"),
    ("BEARER_TOKEN", r"(?<=Bearer )[A-Za-z0-9._~+/=\-]{8,}"),
)
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH(?!OR)", re.IGNORECASE)
MIN_SECRET_LENGTH = 8


def is_secret_name(name: str, also: Collection[str] = ()) -> bool:
    """Whether the variable ``name`` holds a secret: its name looks like one, or the run
    declared it one (``also``: the model key named by ``[model] api_key_env``)."""
    return name in also or SECRET_NAME.search(name) is not None


def secret_env(env: Mapping[str, str], also: Collection[str] = ()) -> dict[str, str]:
    """The environment values to hide: secret names (:func:`is_secret_name`), values of 8
    characters or more."""
    return {
        name: value
        for name, value in env.items()
        if is_secret_name(name, also) and len(value) >= MIN_SECRET_LENGTH
    }


class Redactor:
    """Replaces secrets in strings and JSON-able structures: the known values in each of
    their forms (`harness.secret_forms`) and key-shaped strings.

    One per run, made from the run's environment and the names its config declares
    secret (``also``), and passed to everything that stores or shows what the run does.

    Args:
        env: the environment whose secret values are hidden (default: ``os.environ`` now).
        also: variables secret whatever their names (``[model] api_key_env``).
    """

    def __init__(self, env: Mapping[str, str] | None = None, *, also: Collection[str] = ()) -> None:
        self.also = frozenset(name for name in also if name)
        self.secrets = secret_env(os.environ if env is None else env, self.also)
        """The values hidden, by variable name."""
        self._search = _search(tuple(sorted(self.secrets.items())))

    def hides(self, name: str) -> bool:
        """Whether the variable ``name`` is secret to this run (never passed to a command)."""
        return is_secret_name(name, self.also)

    def text(self, value: str) -> str:
        """One string with its secrets replaced."""
        found = self._search.find(value)
        if not found:
            return value
        parts: list[str] = []
        pos = 0
        for item in found:
            parts += [value[pos : item.start], marker(item)]
            pos = item.end
        parts.append(value[pos:])
        return "".join(parts)

    def maybe_secret(self, json_text: str) -> bool:
        """Cheap test: could this JSON text hold a secret?"""
        return self._search.search(json_text)

    def structure(self, value: Any) -> Any:
        """:meth:`value`, walked only when the structure's JSON text could hold a secret
        (the journal's own test, `harness.journal.codec.encode`); else ``value`` itself,
        not a copy. A transcript's new messages each turn: the walk tested every string
        of them one by one, a quarter of a long resume's replay."""
        try:
            text = to_json(value).decode()
        except PydanticSerializationError:
            return self.value(value)  # not JSON-able as it is: the walk says what it holds
        return self.value(value) if self.maybe_secret(text) else value

    def value(self, value: Any) -> Any:
        """A JSON-able structure (dicts, lists, strings, numbers) with its secrets replaced."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


def marker(found: Found) -> str:
    """What stands in for a secret: ``[REDACTED:<NAME>]``, with the form when it is not the
    value itself (``[REDACTED:OPENAI_API_KEY (base64)]``)."""
    if found.kind in ("value", "pattern"):
        return f"[REDACTED:{found.name}]"
    return f"[REDACTED:{found.name} ({found.kind})]"


@functools.lru_cache(maxsize=8)
def _search(values: tuple[tuple[str, str], ...]) -> FormSearch[str]:
    """The search for these values (built once per set: `redact` makes a Redactor per call,
    a run one for its life)."""
    return FormSearch(forms(dict(values)), KEY_PATTERNS, "")


def redact(value: Any, env: Mapping[str, str] | None = None) -> Any:
    """``value`` with API keys and secret environment values replaced by ``[REDACTED:<NAME>]``.

    Strings, dicts and lists are handled recursively; pydantic models are dumped to JSON
    form first. ``env`` defaults to ``os.environ`` as it is now. For text that belongs to
    no run (the CLI's traceback file); a run's text goes through the run's Redactor, which
    also knows the names its config declares secret.
    """

    redactor = Redactor(env)
    if isinstance(value, str | int | float | bool) or value is None:
        return redactor.value(value)
    return redactor.value(to_jsonable_python(value))
