"""How a run builds its models: the gateway, unless the run's scope says otherwise.

``make_model`` is the one place the session, the initializer and the evaluator get a
`Model` from. By default it is `LitellmModel` (every provider, litellm imported at the
first call). A run's scope may carry another maker (``RunScope.models``), given only by a
test's entry: ``scripted_in_process`` answers ``scripted/<file>`` models with the
in-process `ScriptedModel` (the same scripts and turns, no litellm: a `harness` child
that skips ~4 CPU-s of imports where its test is not about the gateway).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import cast

from harness import signals
from harness.model.base import Model, ModelSettings
from harness.model.inprocess import ScriptedModel
from harness.model.litellm_model import LitellmModel
from harness.model.names import SCRIPTED_PREFIX, no_model_error
from harness.model.script import resolve
from harness.scope import RunScope


def make_model(settings: ModelSettings, *, project_root: Path, scope: RunScope) -> Model:
    """The model of ``settings`` for the run of ``scope``: its scope's maker's, else the
    gateway's (with the run's environment, events and ``waits``)."""
    if scope.models is not None:
        return cast(Model, scope.models(settings, project_root=project_root, scope=scope))
    return LitellmModel(
        settings,
        project_root=project_root,
        environ=scope.environ,
        events=scope.events,
        waits=scope.waits,
    )


def scripted_in_process(settings: ModelSettings, *, project_root: Path, scope: RunScope) -> Model:
    """A ``scripted/<file>`` model as the in-process `ScriptedModel` (its file read at each
    call, its latency waited as the gateway waits a request: on the run's ``waits`` where
    it has them, a fleet worker's drive parked meanwhile); any other model through the
    gateway."""
    name = settings.name
    if not name:
        raise no_model_error()
    if not name.startswith(SCRIPTED_PREFIX):
        return make_model(
            settings, project_root=project_root, scope=dataclasses.replace(scope, models=None)
        )
    path = resolve(name[len(SCRIPTED_PREFIX) :], project_root)
    sleep = scope.waits.sleep if scope.waits is not None else signals.sleep
    return ScriptedModel(path, name=name, sleep=sleep)
