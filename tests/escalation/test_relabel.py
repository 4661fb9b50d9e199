"""Labels across sessions (escalation/relabel.py): a later session of the run, or of a later
run of the project, that leaves a file back as it was before an earlier unasked decision
changed it relabels that decision should-ask, in the project record and the user record,
once; labels never go back; a fit reads relabels up to the id its checkpoint names."""

from __future__ import annotations

from pathlib import Path

from artifacts.config import EscalationConfig
from escalation.learn import refit, settle_session
from escalation.matrix import Decision
from escalation.outcomes import Outcome
from escalation.questions import QuestionStore
from escalation.record import Record
from escalation.trace import Decided, Settling, Trace, content_digest, file_digest
from tests.escalation.test_learn import outcomes as made

OLD, NEW = content_digest(b"original\n"), content_digest(b"rewritten\n")


def decision(escalate: bool = False) -> Decision:
    return Decision(
        topic="turn", uncertainty=0.1, novelty=0.2, benefit=0.5, total=0.27, threshold=0.6,
        weights=(1 / 3, 1 / 3, 1 / 3), escalate=escalate, reason="r",
    )  # fmt: skip


def session(
    store: QuestionStore, record: Record, user: Record, root: Path, number: int,
    content: bytes, *, run: str = "r1", question: str | None = None,
) -> tuple[list[str], dict[str, str]]:  # fmt: skip
    """One session of ``run``: a decision (asked when ``question``), then notes.txt
    rewritten to ``content`` in its window. Returns its outcomes' keys and the relabels."""
    path = root / "notes.txt"
    before = file_digest(path)
    path.write_bytes(content)
    trace = Trace()
    key = f"journal:{run}/{number}/1"
    trace.decided(Decided(key, "turn", "writing notes", decision(question is not None),
                          question=question))  # fmt: skip
    trace.wrote("notes.txt", before, file_digest(path))
    how = Settling(
        run=run, session=number, task_type="functional", feature_passed=True,
        question=store.find_id, on_disk=lambda p: file_digest(root / p),
    )  # fmt: skip
    settled = settle_session(trace, how, store, record, user)
    assert settled.user_record_error is None
    return [o.key for o in settled.outcomes], settled.relabeled


def labels(record: Record, project: str) -> dict[str, tuple[bool, str | None]]:
    return {o.key: (o.should_ask, o.relabeled) for o in record.outcomes(project)}


def test_a_change_undone_in_a_later_session_relabels_the_decision_that_let_it_through(
    store: QuestionStore, project: Path, tmp_path: Path
) -> None:
    (project / "notes.txt").write_bytes(b"original\n")
    with Record.of_project(project / ".harness") as record, Record(tmp_path / "u.db") as user:
        me = record.project_id()
        [first], none = session(store, record, user, project, 1, b"rewritten\n")
        assert none == {} and labels(record, me)[first] == (False, None)  # kept at its end
        [second], relabeled = session(store, record, user, project, 2, b"original\n")
        assert list(relabeled) == [first]
        assert relabeled[first].startswith("undone in session 2")
        assert "notes.txt" not in relabeled[first]  # no path leaves the project
        assert labels(record, me)[first] == (True, relabeled[first])
        assert labels(record, me)[second] == (False, None)
        assert labels(user, me)[first] == (True, relabeled[first])  # the user record too
        # the fit reads the relabel: one should-ask outcome where there was none
        assert sum(c.positives for c in record.cells(up_to=record.last_id())) == 1
        assert sum(c.positives for c in user.cells(up_to=user.last_id())) == 1


def test_settling_again_relabels_the_same_once_and_survives_a_reopen(
    store: QuestionStore, project: Path, tmp_path: Path
) -> None:
    """A writeback killed after its settling step wrote and before the journal kept its
    output settles again on resume: the same relabels, said again, kept once."""
    (project / "notes.txt").write_bytes(b"original\n")
    with Record.of_project(project / ".harness") as record, Record(tmp_path / "u.db") as user:
        session(store, record, user, project, 1, b"rewritten\n")
        _, relabeled = session(store, record, user, project, 2, b"original\n")
        assert relabeled
        _, again = session(store, record, user, project, 2, b"original\n")
        assert again == relabeled
        assert record.last_relabel() == 1 and user.last_relabel() == 1
    with Record.of_project(project / ".harness") as reopened:
        first = reopened.outcomes()[0]
        assert first.should_ask and first.relabeled == relabeled[first.key]


def test_an_agent_cannot_launder_a_relabel_by_redoing_its_change(
    store: QuestionStore, project: Path, tmp_path: Path
) -> None:
    """Attack: the model undoes its silent change in one session and redoes it in the next,
    hoping the record forgets it should have asked. Labels only go to should-ask."""
    (project / "notes.txt").write_bytes(b"original\n")
    with Record.of_project(project / ".harness") as record, Record(tmp_path / "u.db") as user:
        me = record.project_id()
        [first], _ = session(store, record, user, project, 1, b"rewritten\n")
        [second], relabeled = session(store, record, user, project, 2, b"original\n")
        [third], later = session(store, record, user, project, 3, b"rewritten\n")
        assert first in relabeled
        # session 3 puts back what session 2's window changed: session 2's decision is
        # relabelled, session 1's stays (not relabelled twice, not undone)
        assert list(later) == [second]
        assert labels(record, me)[first] == (True, relabeled[first])
        assert record.last_relabel() == 2
        # back again in session 4: session 3's decision now; session 1's is said once only
        _, fourth = session(store, record, user, project, 4, b"original\n")
        assert list(fourth) == [third] and record.last_relabel() == 3


def test_asked_decisions_are_never_relabelled(
    store: QuestionStore, project: Path, tmp_path: Path
) -> None:
    (project / "notes.txt").write_bytes(b"original\n")
    with Record.of_project(project / ".harness") as record, Record(tmp_path / "u.db") as user:
        me = record.project_id()
        q = store.ask("question", "rewrite the notes?", run="r1", session=1)
        store.answer(q.id, text="yes go ahead")
        [asked], _ = session(store, record, user, project, 1, b"rewritten\n", question=q.id)
        assert labels(record, me)[asked] == (False, None)  # the human agreed
        _, other = session(store, record, user, project, 2, b"original\n", run="r2")
        assert other == {}
        # the asked decision rests on the human's answer: never relabelled
        _, mine = session(store, record, user, project, 2, b"rewritten\n")
        _, mine = session(store, record, user, project, 3, b"original\n")
        assert asked not in mine and labels(record, me)[asked] == (False, None)


def test_a_later_run_of_the_project_relabels_an_earlier_run_s_decision(
    store: QuestionStore, project: Path, tmp_path: Path
) -> None:
    """A change let through in one run and undone by the project's next run (or by the
    person between the runs) is as undone as within a run; a run settling again reads the
    same earlier decisions, never the ones recorded after its own."""
    (project / "notes.txt").write_bytes(b"original\n")
    with Record.of_project(project / ".harness") as record, Record(tmp_path / "u.db") as user:
        me = record.project_id()
        [first], _ = session(store, record, user, project, 3, b"rewritten\n", run="r1")
        [second], relabeled = session(store, record, user, project, 1, b"original\n", run="r2")
        assert list(relabeled) == [first] and labels(user, me)[first][0]
        assert labels(record, me)[second] == (False, None)
        # a third run redoes the change, then r2's session 1 settles again (a resume):
        # the same relabels, the third run's later decision is not r2's to judge
        session(store, record, user, project, 1, b"rewritten\n", run="r3")
        (project / "notes.txt").write_bytes(b"original\n")
        _, again = session(store, record, user, project, 1, b"original\n", run="r2")
        assert again == relabeled


def test_a_resumed_fit_reads_the_relabels_its_checkpoint_names(tmp_path: Path) -> None:
    config = EscalationConfig()
    with Record(tmp_path / "p.db") as record:
        project = record.project_id()
        record.add(project, made(5, 300))
        unasked = [o.key for o in record.outcomes(project) if not o.should_ask][:60]
        start = {"own": record.last_id(), "prior": 0, "own_relabels": 0, "prior_relabels": 0}
        record.checkpoint(project, "fit-a", start)  # the fit was killed here
        record.relabel(project, dict.fromkeys(unasked, "undone in session 9"), "r1", 9)
        resumed = refit(record, None, config, key="fit-a")
        fresh = refit(record, None, config, key="fit-b")
    with Record(tmp_path / "q.db") as clean:
        clean.project_id()
        other = clean.project_id()
        clean.add(other, [o.model_copy(update={"relabeled": None}) for o in made(5, 300)])
        unrelabeled = refit(clean, None, config, key="fit-a")
    assert resumed.fit.digest == unrelabeled.fit.digest
    assert resumed.fit.coefficients == unrelabeled.fit.coefficients
    assert fresh.fit.digest != resumed.fit.digest  # a new fit reads the relabels
    assert fresh.fit.should_ask == resumed.fit.should_ask + 60


def test_outcome_rows_keep_their_own_label(tmp_path: Path) -> None:
    """A relabel is its own row: the outcome's stored row is never rewritten."""
    with Record(tmp_path / "p.db") as record:
        record.add("p", [Outcome(key="k", source="turn", topic="turn", situation="s",
                                 asked=False, should_ask=False)])  # fmt: skip
        record.relabel("p", {"k": "undone in session 2"}, "r", 2)
        stored = record._db.execute("SELECT should_ask FROM outcomes").fetchone()[0]
        assert stored == 0
        assert record.outcomes("p")[0].should_ask


def asked_about(
    store: QuestionStore, record: Record, user: Record, root: Path, number: int, text: str,
    answer: str | None,
) -> dict[str, str]:  # fmt: skip
    """Session ``number``: one decision about ``text``, asked and answered with ``answer``
    (None: not asked). Returns the relabels it made."""
    question = None
    if answer is not None:
        question = store.ask("question", text, run="r1", session=number).id
        store.answer(question, text=answer)
    trace = Trace()
    trace.decided(Decided(f"journal:r1/{number}/1", "turn", text, decision(answer is not None),
                          question=question))  # fmt: skip
    how = Settling(
        run="r1", session=number, task_type="functional", feature_passed=True,
        question=store.find_id, on_disk=lambda p: file_digest(root / p),
    )  # fmt: skip
    return settle_session(trace, how, store, record, user).relabeled


def test_an_answer_in_a_later_session_relabels_earlier_decisions_about_the_same_thing(
    store: QuestionStore, project: Path, tmp_path: Path
) -> None:
    export = "the invoice export endpoint returns 404 for a missing invoice"
    with Record.of_project(project / ".harness") as record, Record(tmp_path / "u.db") as user:
        me = record.project_id()
        assert asked_about(store, record, user, project, 1, export, None) == {}
        assert asked_about(store, record, user, project, 2, "rename the css classes", None) == {}
        # a go-ahead answer to a similar question: asking was not needed, nothing moves
        agreed = asked_about(store, record, user, project, 3, export + "?", "yes, go ahead")
        assert agreed == {}
        said = asked_about(store, record, user, project, 4, export + ", or 410?", "no: 410")
        assert said == {"journal:r1/1/1": "a similar question answered in session 4"}
        found = labels(record, me)
        assert found["journal:r1/1/1"] == (True, said["journal:r1/1/1"])
        assert found["journal:r1/2/1"] == (False, None)  # not similar
        assert found["journal:r1/3/1"] == (False, None)  # asked: the human's answer rules
        assert labels(user, me)["journal:r1/1/1"] == (True, said["journal:r1/1/1"])
        stored = record._db.execute("SELECT vector FROM sketches").fetchall()
        assert stored and all("invoice" not in row[0] for row in stored)  # no text kept
