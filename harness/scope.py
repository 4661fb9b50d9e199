"""What a run has of its own, passed to it: never read from module globals or the process.

A :class:`RunScope` holds the environment the run reads its model key and secrets from,
the :class:`~harness.redact.Redactor` of those secrets (the variables with secret-looking
names and those its config declares, ``[model] api_key_env``), the run's
:class:`~harness.events.Events` (who watches it) and its step hooks (crash switches,
injected by the tests and the demo only). `harness run` makes one from ``os.environ``; a
process that drives several runs makes one per run, so they share no secret, observer or
hook.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from harness.events import Events
from harness.redact import Redactor

T = TypeVar("T")


class StepHooks(Protocol):
    """Called around a run's live steps (the crash switches of `session.chaos`)."""

    def __call__(self) -> None:
        """At the start of every live tool call."""

    def wrap(self, kind: str, name: str, fn: Callable[[], T]) -> Callable[[], T]:
        """``fn`` of the live step ``kind:name``, or what runs instead."""


class ResourcePlacement(Protocol):
    """Where a run's commands may get the resources it was granted (a fleet's resource
    classes): asked by ``request_resources`` before it grants."""

    def place(self, granted: Mapping[str, float]) -> tuple[bool, str]:
        """(True, "") where the run is; (True, what the agent is told) when the run moves
        to a bigger class at its next step boundary; (False, why) when nothing gives it."""


class Waits(Protocol):
    """How a run waits for what is outside the process (its model's answer, a back-off):
    given by a driver that holds many runs on few threads (a fleet worker), so that a run
    waiting holds no thread of its own."""

    def run(self, start: Callable[[], Awaitable[T]]) -> T:
        """``await start()`` on the driver's event loop; its value (or its exception)."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` the same way."""

    def offload(self, work: Callable[[], T]) -> T:
        """``work()`` (blocking: a command) on the driver's bounded pool, waited the same
        way; its value (or its exception)."""


class ModelMaker(Protocol):
    """Builds a run's models (its agent's, its evaluator's): ``harness.model.make``'s
    ``make_model`` calls it with the model's ``[model]`` settings (a ``ModelSettings``)
    and returns what it returns (a ``Model``)."""

    def __call__(self, settings: Any, *, project_root: Path, scope: RunScope) -> object:
        """The model of ``settings`` for the run of ``scope`` in ``project_root``."""


@dataclass(frozen=True)
class RunScope:
    """A run's environment, secrets, observers and hooks."""

    environ: Mapping[str, str]
    """The environment the run reads: its model key, the secret values it hides, what
    local commands get (less its secrets)."""
    secrets: Redactor
    """Hides the run's secrets from its journal, questions, progress file and the model."""
    events: Events = field(default_factory=Events)
    hooks: StepHooks | None = None
    journal: object | None = None
    """Where the run's journal is when its driver says so, a ``harness.journal.Location``
    (a fleet's: the run's schema in the fleet's database, its key derived from the fleet's
    secret); None: where the project's config puts it. Read with
    ``harness.config.run_journal`` (this module is below the journal's layer)."""
    placement: ResourcePlacement | None = None
    """The resource classes of the fleet driving the run (None: one machine, the run's
    own ``[runner]`` maxima only)."""
    waits: Waits | None = None
    """How the run's model calls and back-offs wait (``fleet.drives``: parked on the
    worker's event loop); None: on the run's own thread (litellm's blocking call)."""
    models: ModelMaker | None = None
    """How the run builds its models; None: the gateway (``LitellmModel``, litellm). Given
    by a test's entry only (the in-process scripted model: a `harness` child that does not
    import litellm, ~4 CPU-s, where the gateway is not what its test is about)."""

    def public_environ(self) -> dict[str, str]:
        """The environment without the run's secrets: what a local command starts from."""
        return {k: v for k, v in self.environ.items() if not self.secrets.hides(k)}

    @classmethod
    def of(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        secret_names: Collection[str | None] = (),
        events: Events | None = None,
        hooks: StepHooks | None = None,
        models: ModelMaker | None = None,
    ) -> RunScope:
        """A scope over ``environ`` (default: a copy of ``os.environ`` now), hiding its
        secret-named values and those of ``secret_names``."""
        environ = dict(os.environ if environ is None else environ)
        names = [name for name in secret_names if name]
        redactor = Redactor(environ, also=names)
        return cls(environ, redactor, events or Events(), hooks, models=models)
