"""The demo's closing summary reads the journal while it is open (its figures included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli.demo import _summary
from harness.journal.protocol import open_store
from harness.model import ModelResponse, Usage


def test_the_summary_gives_the_runs_tokens_and_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    with open_store(tmp_path / ".harness") as journal:
        run = journal.start_run("run")
        usage = Usage(prompt_tokens=90, completion_tokens=10, total_tokens=100, cost_usd=0.25)
        run.session(1).step("llm", "m", {}, lambda: ModelResponse(content="hi", usage=usage))
        run_id = run.id
    report = {"run_id": run_id, "outcome": "complete", "features_passing": 1, "features_total": 1}
    (tmp_path / ".harness" / "demo-report.json").write_text(json.dumps(report))
    _summary(tmp_path, 1.0, 0)
    out = capsys.readouterr().out
    assert "model:     1 calls" in out
    assert "tokens:    this run 100 ($0.2500" in out
