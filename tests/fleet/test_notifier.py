"""A worker's DBOS notifier wakes once a second (``fleet.worker.NOTIFY_S``): it pushes only
what DBOS's events and streams wrote, and nothing of harness writes or waits on those, so no
takeover, drive or answer waits on it. Both halves checked here: harness's code calls no
event or stream API of DBOS, and DBOS feeds its notifier from nothing else."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("harness", "fleet", "artifacts", "initializer", "session", "escalation", "runners")
EVENTS_AND_STREAMS = {
    name + suffix
    for name in (
        *("set_event", "get_event", "get_all_events"),
        *("write_stream", "read_stream", "close_stream"),
    )
    for suffix in ("", "_async")
}
NOTIFYING = {
    "set_event_from_workflow",
    "set_event_from_step",
    "write_stream_from_step",
    "write_stream_from_workflow",
}


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _called(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def test_harness_calls_no_dbos_event_or_stream() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{call.lineno} {_called(call)}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for call in _calls(ast.parse(path.read_text(encoding="utf-8")))
        if _called(call) in EVENTS_AND_STREAMS
    ]
    assert found == [], (
        "a DBOS event or stream waits up to fleet.worker.NOTIFY_S for the notifier: "
        f"revisit it ({found})"
    )


def test_dbos_notifies_only_for_events_and_streams() -> None:
    """What DBOS queues for the notifier (``_signal_notification``): only event and stream
    writes. A DBOS that also pushed, say, a workflow's end through it would make a wait
    on a result up to :data:`fleet.worker.NOTIFY_S` longer."""
    import dbos

    feeders = set()
    for path in Path(dbos.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                _called(call) == "_signal_notification" for call in _calls(node)
            ):
                feeders.add(node.name)
    assert feeders - {"_signal_notification"} == NOTIFYING
