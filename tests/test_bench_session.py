"""bench/session.py times each agent step of a real session with its null model."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parent.parent / "bench" / "session.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_session", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_null_way_times_every_step_with_its_model_call() -> None:
    steps = _bench().measure("null", 3)
    # every agent step (the script's tool turns, then its closing turns) had one model call
    # through the null model, timed: the bench measured harness, not a gateway's model
    assert len(steps) >= 3
    assert all(whole >= model >= 0 for whole, model, _, _ in steps)
