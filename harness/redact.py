"""Secret redaction: API keys and secret-named environment values become ``[REDACTED:<NAME>]``.

Everything the journal stores (inputs, outputs, errors, blobs) goes through a
:class:`Redactor` first. The hot path is one regex scan over the JSON text; the structure
is walked only when that scan finds a candidate.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

# Key shapes of the providers most likely to leak into a coding session.
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


def secret_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment values to hide: names that look secret, values of 8 characters or more."""
    found = {
        name: value
        for name, value in env.items()
        if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LENGTH
    }
    return found


class Redactor:
    """Replaces secrets in strings and JSON-able structures."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        values = secret_env(os.environ if env is None else env)
        # Longest values first so a value that contains another is replaced whole.
        ordered = sorted(values.items(), key=lambda item: -len(item[1]))
        self._names = {value: name for name, value in ordered}
        # No word boundary: a key glued to other text ("line2sk-...") is still a key.
        parts = [f"(?P<k{i}>{pattern})" for i, (_, pattern) in enumerate(KEY_PATTERNS)]
        self._key_names = [name for name, _ in KEY_PATTERNS]
        env_alts = [re.escape(value) for _, value in ordered]
        if env_alts:
            parts.insert(0, "(?P<env>" + "|".join(env_alts) + ")")
        self._precise = re.compile("|".join(parts))
        # The scan over JSON text also looks for the escaped form of each value.
        loose = [pattern.replace("(?<=Bearer )", "Bearer ") for _, pattern in KEY_PATTERNS]
        for _, value in ordered:
            loose.append(re.escape(value))
            escaped = json.dumps(value, ensure_ascii=False)[1:-1]
            if escaped != value:
                loose.append(re.escape(escaped))
        self._scan = re.compile("|".join(loose))

    def _replace(self, match: re.Match[str]) -> str:
        if match.lastgroup == "env":
            return f"[REDACTED:{self._names.get(match.group(), 'SECRET')}]"
        index = int((match.lastgroup or "k0")[1:])
        return f"[REDACTED:{self._key_names[index]}]"

    def text(self, value: str) -> str:
        """One string with its secrets replaced."""
        return self._precise.sub(self._replace, value)

    def maybe_secret(self, json_text: str) -> bool:
        """Cheap test: could this JSON text hold a secret?"""
        return self._scan.search(json_text) is not None

    def value(self, value: Any) -> Any:
        """A JSON-able structure (dicts, lists, strings, numbers) with its secrets replaced."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


def redact(value: Any, env: Mapping[str, str] | None = None) -> Any:
    """``value`` with API keys and secret environment values replaced by ``[REDACTED:<NAME>]``.

    Strings, dicts and lists are handled recursively; pydantic models are dumped to JSON
    form first. ``env`` defaults to ``os.environ`` as it is now.
    """
    from pydantic_core import to_jsonable_python

    redactor = Redactor(env)
    if isinstance(value, str | int | float | bool) or value is None:
        return redactor.value(value)
    return redactor.value(to_jsonable_python(value))
