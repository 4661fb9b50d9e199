"""The secrets scan of the writeback: a file holding a secret is never committed.

One compiled bytes regex per writeback: the values harness knows to be secret (the
values of secret-named environment variables, :func:`harness.redact.secret_env`, and the
model's key named by ``[model] api_key_env``) and the key shapes the redactor knows, plus
private-key blocks and Google API keys. The journal's redactor and this scan share their
patterns and one search (`harness.secret_forms`), so what is hidden from the journal is
kept out of git, a value's base64, hex, percent-encoded and reversed forms included.
A few regexes rather than detect-secrets: its entropy plugins flag hashes and lock files
(every ``package-lock.json`` and ``uv.lock``), and one pass of one regex over a 10 MiB
file takes milliseconds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from harness.redact import KEY_PATTERNS, MIN_SECRET_LENGTH, secret_env
from harness.secret_forms import FormSearch, forms

if TYPE_CHECKING:
    from artifacts.config import HarnessConfig
    from harness.redact import Redactor

EXTRA_PATTERNS: tuple[tuple[str, str], ...] = (
    ("PRIVATE_KEY", r"-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----"),
    ("GOOGLE_API_KEY", r"AIza[0-9A-Za-z_\-]{35}"),
)


class SecretScanner:
    """Finds the first secret in some bytes and names its kind (never its value)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._search = FormSearch(forms(values), (*KEY_PATTERNS, *EXTRA_PATTERNS), b"")

    @classmethod
    def of(cls, secrets: Redactor) -> SecretScanner:
        """The scan for the values a run's redactor hides."""
        return cls(secrets.secrets)

    @classmethod
    def from_config(
        cls, config: HarnessConfig, env: Mapping[str, str] | None = None
    ) -> SecretScanner:
        env = os.environ if env is None else env
        values = secret_env(env)
        key_env = config.model.api_key_env
        if key_env and len(env.get(key_env, "")) >= MIN_SECRET_LENGTH:
            values[key_env] = env[key_env]
        return cls(values)

    def scan(self, data: bytes) -> str | None:
        """What the first secret in ``data`` is ("the value of $NAME", "the value of $NAME,
        base64-encoded", "openai key"...), or None."""
        found = self._search.find(data)
        if not found:
            return None
        first = found[0]
        if first.kind == "pattern":
            return first.name.lower().replace("_", " ")
        how = {"value": "", "reversed": ", reversed", "percent-encoded": ", percent-encoded"}
        return f"the value of ${first.name}{how.get(first.kind, f', {first.kind}-encoded')}"

    def scan_file(self, path: Path, size: int) -> str | None:
        """Scan a regular file of ``size`` bytes (already checked against the size limit)."""
        try:
            with path.open("rb") as handle:
                return self.scan(handle.read(size + 1))
        except OSError as error:
            return f"unreadable ({error.strerror})"
