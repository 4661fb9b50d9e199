"""`[escalation] samples = N`: N - 1 more completions of a scored turn, whose disagreement
is structured uncertainty (it parks an unattended run, where a hedge cannot); each sample is
a journaled, paid and counted model call, replayed on resume, and `harness escalation`
says what they cost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from artifacts.config import EscalationConfig, HarnessConfig
from harness.cli.commands.escalation_cmd import sample_cost
from harness.journal import Journal
from harness.model.base import ModelResponse, ToolCall, Usage
from session.wiring import build_escalation
from tests.session.inproc import harnessed, journal_at, make_project, script


class Wavering:
    """A model that writes a different value every time it is asked the same first turn,
    then says it is done (the same words every time)."""

    name = "scripted/wavering"

    def __init__(self) -> None:
        self.calls = 0

    def prepare(self) -> None:
        pass

    def estimate(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Usage:
        return Usage()

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        self.calls += 1
        usage = Usage(prompt_tokens=100, completion_tokens=10, total_tokens=110, cost_usd=0.001)
        if not any(m["role"] == "assistant" for m in messages):
            value = f"port = {8000 + self.calls}"
            call = ToolCall(
                id=f"c{self.calls}", name="write_file",
                arguments=f'{{"path": "cfg.txt", "content": "{value}"}}',
            )  # fmt: skip
            return ModelResponse(content="Writing the config.", tool_calls=[call], usage=usage)
        return ModelResponse(content="Done.", usage=usage)


def escalation(root: Path, run_id: str) -> Any:
    config = HarnessConfig(escalation=EscalationConfig(samples=3))
    return build_escalation(root, config, run_id, unattended=True)


def test_samples_that_disagree_park_an_unattended_run_and_replay(fast_path: Path) -> None:
    root = make_project(fast_path / "p")
    with Journal.open(journal_at(root)) as journal:
        run_id = journal.start_run("run").id
    model = Wavering()
    gates = escalation(root, run_id)
    h = harnessed(root, script({}), gates=gates, run_id=run_id)
    h.loop.model = model
    assert h.run().ending == "parked"
    assert model.calls == 3  # the turn and its two samples
    steps = h.steps()
    assert [s[1] for s in steps[:4]] == [h.loop.model_name, f"{h.loop.model_name}:sample",
                                         f"{h.loop.model_name}:sample", "matrix"]  # fmt: skip
    assert h.loop.accounting.session.total_tokens == 330  # the samples are paid and counted
    [question] = gates.store.pending()
    assert "samples disagree 1.00" in question.reason and "> threshold" in question.reason
    assert not (root / "cfg.txt").exists()
    assert sample_cost(journal_at(root)) == {"calls": 2, "tokens": 220, "cost_usd": 0.002}
    gates.store.answer(question.id, "use port 8080")
    h.close()
    gates.close()
    gates = escalation(root, run_id)
    again = harnessed(root, script({}), gates=gates, run_id=run_id)
    again.loop.model = model
    outcome = again.run()
    again.close()
    gates.close()
    assert outcome.ending == "done"
    # the first turn and its samples replayed (no call); live: "Done." and its two samples
    assert model.calls == 3 + 3
    assert any("use port 8080" in str(m["content"]) for m in again.messages)
