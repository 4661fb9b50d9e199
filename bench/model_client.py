"""CPU of one model call in this process: the model client as harness uses it, before/after.

Against an OpenAI-compatible server on localhost in another process (the tests'
FakeOpenAI: a chat completion with a tool call), the ways, interleaved in rounds so the
machine's load hits them alike:
  openai SDK     openai.OpenAI(...).chat.completions.create: the floor under litellm
  litellm bare   litellm.completion with harness's arguments, nothing else
  before         LitellmModel.complete as it was: litellm's success logging handed to its
                 thread pool on every call, and the response priced a second time
                 (litellm.completion_cost) after litellm priced it during the call
  now            LitellmModel.complete: no success logging when no litellm callback is
                 configured, litellm's own price of the response read, the table looked
                 up once (harness/model/lean.py)
CPU is this process's (time.process_time: every thread, the logging pool's included),
per call; median and mean of --calls calls per way.

    python bench/model_client.py [--calls N] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.model import LitellmModel
from harness.model.pricing import table_price
from tests.harness.model_support import TOOLS, Cfg, user

SERVER = (
    "import sys, time; sys.path.insert(0, {root!r}); "
    "from tests.harness.http_fake import FakeOpenAI; fake = FakeOpenAI(); fake.__enter__(); "
    "print(fake.url, flush=True); time.sleep(86400)"
)


class Before(LitellmModel):
    """LitellmModel's request and pricing as they were before harness/model/lean.py."""

    def _send(self, litellm: Any, kwargs: dict[str, Any]) -> Any:
        return litellm.completion(**kwargs)

    def _cost(self, litellm: Any, raw: Any, prompt: int, completion: int) -> float:
        try:
            return float(litellm.completion_cost(completion_response=raw, model=self.name))
        except Exception:
            price = table_price(litellm, self.name, self._context(litellm).provider)
            return 0.0 if price is None else prompt * price[0] + completion * price[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50, help="calls per way and round")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    root = str(Path(__file__).resolve().parent.parent)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER.format(root=root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        ways = build(url)
        for call in ways.values():  # warm up: first calls import and build a lot
            for _ in range(5):
                call()
        cpu: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.rounds):
            for name, call in ways.items():
                for _ in range(args.calls):
                    started = time.process_time()
                    call()
                    cpu[name].append(time.process_time() - started)
                time.sleep(0.2)  # the logging pool's work lands in its own way's calls
    finally:
        server.kill()
        server.wait()
    print(f"command: python bench/model_client.py --calls {args.calls} --rounds {args.rounds}")
    print(f"{'way':14} {'cpu p50':>9} {'cpu mean':>9}   (ms per call, this process)")
    for name, values in cpu.items():
        print(
            f"{name:14} {statistics.median(values) * 1e3:>9.2f} "
            f"{statistics.mean(values) * 1e3:>9.2f}"
        )
    before, now = statistics.median(cpu["before"]), statistics.median(cpu["now"])
    print(
        f"before / now (p50): {before / now:.2f}x; now - openai SDK (p50): "
        f"{(now - statistics.median(cpu['openai SDK'])) * 1e3:.2f} ms"
    )
    return 0


def build(url: str) -> dict[str, Callable[[], object]]:
    import openai

    from harness.model.names import import_litellm

    litellm = import_litellm()
    cfg = Cfg(name="openai/gpt-4o-mini", api_base=url, api_key_env="BENCH_KEY",
              timeout_s=30.0, retry_deadline_s=60.0)  # fmt: skip
    environ = {"BENCH_KEY": "sk-bench"}
    now = LitellmModel(cfg, project_root=Path.cwd(), environ=environ)
    before = Before(cfg, project_root=Path.cwd(), environ=environ)
    messages = user("go")
    kwargs = now._kwargs(messages, TOOLS)
    client = openai.OpenAI(base_url=url, api_key="sk-bench", max_retries=0)
    return {
        "openai SDK": lambda: client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,
            tools=TOOLS,  # type: ignore[arg-type]
        ),
        "litellm bare": lambda: litellm.completion(**kwargs),
        "before": lambda: before.complete(messages, TOOLS),
        "now": lambda: now.complete(messages, TOOLS),
    }


if __name__ == "__main__":
    raise SystemExit(main())
