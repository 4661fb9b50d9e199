"""Redaction benchmark: what the secret search costs per journal step and on a big output.

With 5 secret values (the typical 1 to 5 of a user's environment), it times:
- building a `Redactor` and a `SecretScanner` (once per journal, once per writeback; a
  `Redactor` for the same values is cached, a `SecretScanner` is not);
- `codec.encode` of a typical 2 KB tool output (what every journal step pays), with no
  secret known, one, and five;
- `Redactor.maybe_secret` and `Redactor.text` on a 1 MiB command output holding no
  secret (pytest-like lines, sha256 hex digests, a lock file's base64 integrity hashes),
  and `text` on the same output with each secret's base64 form written into it once;
- `SecretScanner.scan` on the same 1 MiB as bytes (the writeback's scan of one file).

    python bench/redact.py            # 7 repeats of each, medians
    python bench/redact.py --quick    # 3 repeats
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# This folder's session.py would shadow the `session` package: import from the repository.
sys.path[0] = str(Path(__file__).resolve().parents[1])

SECRETS = {
    "OPENAI_API_KEY": "sk-proj-Q7fLx2mN9pR4tV8wY1zB3cD5eG6hJ0kM2nP4qS6uW8yA1bC3dE5fG7hI9jK1lM3nO5"
    "pQ7rS9tU1vW3xY5zA7bC9dE1fG3hI5jK7lM9nO1pQ3rS5tU7vW9xY1zA3bC5dE7fG9hI1jK3lM5nO7pQ9rS1t",
    "ANTHROPIC_API_KEY": "sk-ant-api03-Zq8Wx7Ec6Rv5Tb4Yn3Um2Ik1Ol0Pa9Sd8Fg7Hj6Kl5Zx4Cv3Bn2Mq1We0"
    "Rt9Yu8Io7Pa6Sd5Fg4Hj3Kl2Zx1Cv0Bn9Mq8We7Rt6-AbCdEfAA",
    "GITHUB_TOKEN": "ghp_R2d2C3poBb8Xw1Yv4Zu7Tt0Ss3Rr6Qq9Pp2Oo5N",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYzz",
    "DB_PASSWORD": "correct-horse-battery-staple-42",
}
MIB = 1 << 20


def big_output() -> str:
    """About 1 MiB of ordinary command output, holding no secret."""
    lines: list[str] = []
    size = i = 0
    while size < MIB:
        digest = hashlib.sha256(str(i).encode()).digest()
        sha512 = hashlib.sha512(str(i).encode()).digest()
        line = (
            f"tests/test_mod{i % 97}.py::test_case_{i} PASSED [{i % 100:3d}%]\n"
            f"  resolved {digest.hex()}\n"
            f'  "integrity": "sha512-{base64.b64encode(sha512).decode()}",\n'
        )
        lines.append(line)
        size += len(line)
        i += 1
    return "".join(lines)[:MIB]


def tool_output() -> dict[str, object]:
    """A typical `run` step's output: about 2 KB of text."""
    text = "".join(f"line {i}: compiling module_{i}.py ... ok\n" for i in range(50))
    return {"exit_code": 0, "output": text[:2048], "truncated": False, "duration_s": 0.42}


def timed(fn: Callable[[], object], repeats: int, inner: int = 1) -> float:
    """Median seconds of one call of ``fn`` over ``repeats`` rounds of ``inner`` calls (CPU
    time of this process: other work on a shared machine counts less than in wall time)."""
    samples = []
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(inner):
            fn()
        samples.append((time.process_time() - t0) / inner)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7

    from harness.journal.codec import encode
    from harness.redact import Redactor
    from session.secrets import SecretScanner

    redactor = Redactor(SECRETS)
    scanner = SecretScanner(SECRETS)
    output = big_output()
    as_json = json.dumps(output)
    as_bytes = output.encode()
    planted = output[: MIB // 2]
    for value in SECRETS.values():
        planted += base64.b64encode(f"token={value}\n".encode()).decode() + "\n"
    planted += output[MIB // 2 :]
    step = tool_output()
    leaked = redactor.text(planted)

    one = Redactor(dict(list(SECRETS.items())[:1]))
    none = Redactor({})
    rows = [
        ("build Redactor (5 secrets)", timed(lambda: Redactor(SECRETS), repeats, 5), "ms"),
        (
            "build SecretScanner (5 secrets)",
            timed(lambda: SecretScanner(SECRETS), repeats, 5),
            "ms",
        ),
        ("encode 2 KB output, no secret", timed(lambda: encode(step, none), repeats, 2000), "us"),
        ("encode 2 KB output, 1 secret", timed(lambda: encode(step, one), repeats, 2000), "us"),
        (
            "encode 2 KB output, 5 secrets",
            timed(lambda: encode(step, redactor), repeats, 2000),
            "us",
        ),
        ("maybe_secret, 1 MiB JSON", timed(lambda: redactor.maybe_secret(as_json), repeats), "ms"),
        ("text, 1 MiB, no secret", timed(lambda: redactor.text(output), repeats), "ms"),
        ("text, 1 MiB, 5 base64 leaks", timed(lambda: redactor.text(planted), repeats), "ms"),
        ("scan, 1 MiB bytes", timed(lambda: scanner.scan(as_bytes), repeats), "ms"),
    ]
    print(f"{'redaction, 5 secrets':<34}{'median':>12}")
    for name, seconds, unit in rows:
        value = seconds * (1e6 if unit == "us" else 1e3)
        print(f"{name:<34}{value:>10.2f} {unit}")
    hidden = sum(
        base64.b64encode(f"token={v}\n".encode()).decode()[8:40] not in leaked
        for v in SECRETS.values()
    )
    print(f"base64 leaks hidden by text(): {hidden} of {len(SECRETS)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
