"""The gateway over real HTTP: requests sent and time taken for the faults of issue 14.

    python bench/gateway_http.py

Against the fault-injecting server of the tests (tests/harness/http_fake.py) on localhost,
with `[model] timeout_s = 5` and `retry_deadline_s = 10`: a persistent 429 with
`Retry-After: 20`, a server that never answers, a spent quota. Before the fix (the OpenAI
SDK's own retries under the harness's): 43.9 s, 20.1 s and 3 requests.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.errors import HarnessError
from harness.model import LitellmModel
from tests.harness.http_fake import QUOTA, FakeOpenAI, Hang, rate_limited
from tests.harness.model_support import TOOLS, Cfg, user


def once(fake: FakeOpenAI, faults: list[object]) -> tuple[int, float, str]:
    fake.faults = list(faults)  # type: ignore[arg-type]
    fake.requests.clear()
    cfg = Cfg(
        name="openai/bench", api_base=fake.url, api_key_env="BENCH_KEY",
        timeout_s=5.0, retry_deadline_s=10.0,
    )  # fmt: skip
    model = LitellmModel(cfg, project_root=Path.cwd(), environ={"BENCH_KEY": "sk-bench"})
    started = time.monotonic()
    try:
        model.complete(user("go"), TOOLS)
        what = "answered"
    except HarnessError as error:
        what = f"{type(error).__name__} (exit {int(error.exit_code)})"
    return len(fake.chat_requests()), time.monotonic() - started, what


def main() -> None:
    with FakeOpenAI() as fake:
        once(fake, [])  # warm up: litellm's first call imports a lot
        cases = {
            "429 Retry-After: 20, deadline 10 s": [rate_limited(retry_after="20")] * 50,
            "hanging server, timeout 5 s, deadline 10 s": [Hang(60)] * 50,
            "429 insufficient_quota": [QUOTA] * 50,
        }
        for name, faults in cases.items():
            requests, seconds, what = once(fake, faults)
            print(f"{name:45s} {requests:3d} request(s) {seconds:6.1f} s  -> {what}")


if __name__ == "__main__":
    main()
