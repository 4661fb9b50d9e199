"""The secrets scan of the writeback: a file holding a secret is never committed.

One compiled bytes regex per writeback: the values harness knows to be secret (the
values of secret-named environment variables, :func:`harness.redact.secret_env`, and the
model's key named by ``[model] api_key_env``) and the key shapes the redactor knows, plus
private-key blocks and Google API keys. The journal's redactor and this scan share their
patterns, so what is hidden from the journal is kept out of git. A few regexes rather
than detect-secrets: its entropy plugins flag hashes and lock files (every
``package-lock.json`` and ``uv.lock``), and one pass of one regex over a 10 MiB file takes
milliseconds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from harness.redact import KEY_PATTERNS, MIN_SECRET_LENGTH, secret_env

if TYPE_CHECKING:
    from artifacts.config import HarnessConfig

EXTRA_PATTERNS: tuple[tuple[str, str], ...] = (
    ("PRIVATE_KEY", r"-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----"),
    ("GOOGLE_API_KEY", r"AIza[0-9A-Za-z_\-]{35}"),
)


class SecretScanner:
    """Finds the first secret in some bytes and names its kind (never its value)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        ordered = sorted(values.items(), key=lambda item: -len(item[1]))
        self._names: dict[bytes, str] = {v.encode(): name for name, v in ordered}
        parts = [b"(?P<env>" + b"|".join(re.escape(v.encode()) for _, v in ordered) + b")"]
        if not ordered:
            parts = []
        self._kinds = [name for name, _ in (*KEY_PATTERNS, *EXTRA_PATTERNS)]
        for index, (_, pattern) in enumerate((*KEY_PATTERNS, *EXTRA_PATTERNS)):
            parts.append(f"(?P<k{index}>{pattern})".encode())
        self._regex = re.compile(b"|".join(parts))

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
        """The kind of the first secret in ``data`` (an env name or a key kind), or None."""
        match = self._regex.search(data)
        if match is None:
            return None
        if match.lastgroup == "env":
            return f"the value of ${self._names.get(match.group(), 'SECRET')}"
        return self._kinds[int((match.lastgroup or "k0")[1:])].lower().replace("_", " ")

    def scan_file(self, path: Path, size: int) -> str | None:
        """Scan a regular file of ``size`` bytes (already checked against the size limit)."""
        try:
            with path.open("rb") as handle:
                return self.scan(handle.read(size + 1))
        except OSError as error:
            return f"unreadable ({error.strerror})"
