"""What a drive loads at its first use, loaded when a worker starts instead.

The worker imports the run code at its top (``session.run``), but some of what a drive
runs is still imported at first use (the journal's writer, the feature list's schema
validator, the offline model), and litellm loads ~20 more modules and a tokenizer at a
process's first call (~0.3 s of CPU). In a worker, its first drives would pay for that:
a worker that has driven nothing yet and takes over a lost machine's runs resumes them
all at once, each thread waiting on the import lock before its first step (seconds of
wall time on a loaded machine; ``bench/fleet.py --machines``). :func:`warm` loads them
before the worker takes drives; tests/fleet/test_warm.py checks that a run driven after
it imports no module of harness.
"""

from __future__ import annotations

import importlib

from harness.model.lean import warm_up

# Where a drive's lazily imported code starts; importing these loads the rest.
DRIVE_CODE = (
    "fleet.checkpoint",
    "fleet.classes",
    "fleet.outage",
    "fleet.runjournal",
    "harness.journal.journal",
    "harness.model.scripted",  # `harness demo`'s offline model (litellm's provider)
    "jsonschema",  # validates the feature list (lazy: heavy for `harness status`)
    "session.run",
    "session.wiring",
    "templates",
)


GATEWAY = ("harness.model.scripted",)
"""The drive code that imports litellm: a worker whose runs' models are not litellm's (a
test's in-process maker, ``harness.model.make.scripted_in_process``) loads none of it."""


def warm(*, gateway: bool = True) -> None:
    """Import the drive's code and make one offline litellm call (no request is sent);
    without ``gateway`` (the runs' models are made in process), no litellm at all."""
    if gateway:
        warm_up()  # first: litellm imported the way harness does (its local price table)
    for name in DRIVE_CODE:
        if gateway or name not in GATEWAY:
            importlib.import_module(name)
