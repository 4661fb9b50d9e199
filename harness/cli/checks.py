"""`Check`: one line of `harness doctor`'s report (its own checks and the model probe's)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Check:
    """One line of the report; ``fix`` says what to do when not ``ok``."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False  # a problem that does not stop a run
