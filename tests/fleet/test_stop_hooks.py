"""When a drive checks its work tree for a checkpoint (``fleet.drive.StopHooks``): before
every live step, and after one whose own work may change a file; a model call, an
escalation step and a file tool's step (its bytes written once its end is recorded) are
checked before only (each check is a ``git status`` in the run's clone)."""

from __future__ import annotations

import pytest

from fleet.drive import StopHooks


@pytest.mark.parametrize(
    ("kind", "name", "checks"),
    [
        ("llm", "scripted/script.json", 1),
        ("escalation", "matrix", 1),
        ("escalation", "fit", 1),
        ("tool", "write_file", 1),
        ("tool", "edit_file", 1),
        ("tool", "run_command", 2),  # a command writes what it writes
        ("tool", "mark_passing", 2),
        ("runner", "wake:init.sh", 2),
        ("git", "commit", 2),  # HEAD moves
        ("artifact", "progress.append", 2),
    ],
)
def test_a_step_is_checked_after_only_when_its_work_may_write(
    kind: str, name: str, checks: int
) -> None:
    taken: list[str] = []
    hooks = StopHooks(lambda: False, checkpoint=lambda: taken.append("check"))
    ran: list[str] = []

    def work() -> int:
        ran.append("work")
        return 7

    assert hooks.wrap(kind, name, work)() == 7
    assert ran == ["work"] and len(taken) == checks


def test_a_failed_step_that_may_write_is_checked_after_too() -> None:
    taken: list[str] = []
    hooks = StopHooks(lambda: False, checkpoint=lambda: taken.append("check"))

    def fails() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError):
        hooks.wrap("tool", "run_command", fails)()
    assert len(taken) == 2
