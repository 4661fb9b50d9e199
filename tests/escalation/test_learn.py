"""Learning from the record: outcomes are kept once, in the project's and the user's record;
a refit is deterministic and resumable (killed mid-fit, the same weights after resume)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from artifacts.config import EscalationConfig, HarnessConfig
from escalation.learn import refit, settle_session
from escalation.outcomes import Outcome
from escalation.record import Record, user_record_path
from escalation.trace import Settling, Trace
from harness.config import run_scope
from harness.events import Event, Events
from session.wiring import build_escalation


def outcomes(seed: int, count: int, *, run: str = "r1") -> list[Outcome]:
    """Settled decisions whose label follows uncertainty (with noise)."""
    rng = random.Random(seed)
    found = []
    for i in range(count):
        u, n, b = rng.random(), rng.random(), rng.random()
        should = rng.random() < 0.1 + 0.8 * u**2
        outcome = Outcome(
            key=f"journal:{run}/{i // 20}/{i}", source="turn", topic="turn", situation=f"s{i}",
            run=run, session=i // 20, uncertainty=u, novelty=n, benefit=b, asked=False,
            should_ask=should,
        )  # fmt: skip
        found.append(outcome)
    return found


def test_outcomes_are_kept_once(tmp_path: Path) -> None:
    with Record(tmp_path / "p.db") as record:
        first = outcomes(1, 50)
        assert record.add("p1", first) == 50
        assert record.add("p1", first) == 0  # a resumed writeback settles again
        assert record.add("p2", first[:10]) == 10  # another project: its own keys
        assert len(record.outcomes("p1")) == 50 and len(record.outcomes()) == 60


def test_a_refit_is_kept_under_its_key_and_says_what_changed(tmp_path: Path) -> None:
    config = EscalationConfig()
    with Record(tmp_path / "p.db") as record:
        project = record.project_id()
        record.add(project, outcomes(2, 20))
        early = refit(record, None, config, key="journal:r1/1/9")
        assert not early.fit.fitted and not early.changed
        assert early.after.source == "config" and record.fits(project) == []
        record.add(project, outcomes(3, 200))
        first = refit(record, None, config, key="journal:r1/2/9")
        assert first.fit.fitted and first.changed and first.after.source == "fitted"
        again = refit(record, None, config, key="journal:r1/2/9")  # the step ran again
        assert again == first
        assert [f["key"] for f in record.fits(project)] == ["journal:r1/2/9"]
        same = refit(record, None, config, key="journal:r1/3/9")  # nothing new: no change
        assert same.fit.weights == first.fit.weights and not same.changed


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from artifacts.config import EscalationConfig
    from escalation.learn import refit
    from escalation.record import Record

    project, user, at = sys.argv[1], sys.argv[2], int(sys.argv[3])

    def hook(iteration, coefficients):
        if iteration == at:
            os.kill(os.getpid(), signal.SIGKILL)

    refit(Record(project), Record(user), EscalationConfig(), key="journal:r1/9/40", hook=hook)
    """
)


def test_a_fit_killed_midway_resumes_to_the_same_weights(tmp_path: Path) -> None:
    """The fit is killed in its second Newton iteration; before it resumes, another project
    adds 400 outcomes to the user's record. The resumed fit reads the rows its checkpoint
    names, so it ends with the weights an uninterrupted fit had; a fit that read the
    record as it stands now ends elsewhere."""
    project, user = tmp_path / "project.db", tmp_path / "user.db"
    with Record(project) as record, Record(user) as prior:
        pid = record.project_id()
        mine = outcomes(4, 120)
        record.add(pid, mine)
        prior.add(pid, mine)
        prior.add("other-project", outcomes(5, 300, run="r7"))
    reference = tmp_path / "reference"
    reference.mkdir()
    shutil.copy(project, reference / "project.db")
    shutil.copy(user, reference / "user.db")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", KILLER, str(project), str(user), "2"],
        cwd=root, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr
    with Record(project) as record:
        assert record.fits(record.project_id()) == []  # nothing half-kept
    flipped = [o.model_copy(update={"should_ask": not o.should_ask}) for o in outcomes(6, 400)]
    with Record(user) as prior:
        prior.add("late-project", flipped)
    config = EscalationConfig()
    with Record(project) as record, Record(user) as prior:
        resumed = refit(record, prior, config, key="journal:r1/9/40")
    with Record(reference / "project.db") as record, Record(reference / "user.db") as prior:
        uninterrupted = refit(record, prior, config, key="journal:r1/9/40")
    assert resumed.fit.fitted
    assert json.dumps(resumed.fit.weights) == json.dumps(uninterrupted.fit.weights)
    assert json.dumps(resumed.fit.coefficients) == json.dumps(uninterrupted.fit.coefficients)
    assert resumed.fit.threshold == uninterrupted.fit.threshold
    assert resumed.fit.check == uninterrupted.fit.check  # the held-out check read the same
    assert resumed.fit.prior_outcomes == 300
    with Record(project) as record, Record(user) as prior:
        fresh = refit(record, prior, config, key="journal:r1/10/40")  # a later fit sees it all
    # (the weights in force may be the configured ones in both: 120 outcomes of this project
    # do not show fitted ones better; the fit itself differs)
    assert fresh.fit.prior_outcomes == 700 and fresh.fit.coefficients != resumed.fit.coefficients


def test_a_damaged_user_record_does_not_stop_a_project(
    tmp_path: Path, state_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The user's record is a prior: garbage there is said, and the run learns from the
    project's own record; a user record that fails a write leaves the project's intact."""

    path = user_record_path(state_home)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a database, " * 64)
    root = tmp_path / "p"
    root.mkdir()
    told: list[Event] = []
    scope = run_scope(HarnessConfig(), events=Events(told.append))
    escalation = build_escalation(root, HarnessConfig(), "r1", unattended=True, scope=scope)
    assert escalation.matrix.prior is None
    # Said to the run's observers (a progress line; nothing with --quiet), not on stderr.
    assert [e.type for e in told] == ["notice"]
    assert "cannot open the escalation record" in told[0].detail
    assert "cannot open the escalation record" not in capsys.readouterr().err
    broken = Record(tmp_path / "other.db")
    broken.close()  # every write to it now fails
    how = Settling("r1", 1, "-", False, escalation.store.find_id, lambda _: None)
    trace = Trace()
    settled = escalation_settle(escalation, trace, how, broken)
    assert settled.user_record_error is not None and "cannot write" in settled.user_record_error
    escalation.close()


def escalation_settle(escalation: Any, trace: Any, how: Any, prior: Record) -> Any:

    return settle_session(trace, how, escalation.store, escalation.matrix.record, prior)
