"""A runner whose commands wait the run's way (``RunScope.waits``): a fleet worker's run
is parked while its command runs on the worker's bounded command pool, so a long command
(a test suite, a build) holds neither the drive thread it shares with other runs nor a
thread of its own beyond that pool's. Everything else is the inner runner's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.scope import Waits
from runners.base import CommandResult, Runner


class WaitedRunner:
    """``inner``'s commands run through ``waits.offload``; the rest is ``inner``'s."""

    def __init__(self, inner: Runner, waits: Waits) -> None:
        self.inner = inner
        self.waits = waits
        self.name = inner.name
        self.sandboxed = inner.sandboxed

    def run(self, command: str, **options: Any) -> CommandResult:
        return self.waits.offload(lambda: self.inner.run(command, **options))

    def describe(self) -> str:
        return self.inner.describe()

    def stop(self) -> None:
        self.inner.stop()

    def close(self) -> None:
        self.inner.close()


def waited(runner: Runner, waits: Waits | None) -> Runner:
    """``runner`` itself when the run waits on its own thread (``waits`` None)."""
    return runner if waits is None else WaitedRunner(runner, waits)


def waited_factory(
    make: Callable[[Path, dict[str, Path]], Runner], waits: Waits | None
) -> Callable[[Path, dict[str, Path]], Runner]:
    """The check runners of ``make``, waited the same way."""
    if waits is None:
        return make
    return lambda folder, carry: WaitedRunner(make(folder, carry), waits)
