"""The durable question store: ids, answers, errors, two processes, attached files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from escalation.inputs import InputFileError
from escalation.questions import QuestionError, QuestionStore, Scores
from harness.errors import ExitCode


def test_ask_and_answer(store: QuestionStore) -> None:
    scores = Scores(uncertainty=0.9, novelty=0.5, benefit=0.5, total=0.66)
    q1 = store.ask(
        "question",
        "Which database?",
        "the spec is silent",
        ["sqlite", "postgres"],
        scores,
        "journal:r/1/7",
        reason="score 0.66 > 0.6",
        session=1,
        run="r",
    )
    q2 = store.ask("approval", "Approve `git push`?", session=1)
    assert (q1.id, q2.id) == ("q1", "q2")
    assert q1.pending and q1.scores == scores and q1.step_ref == "journal:r/1/7"
    assert [q.id for q in store.pending()] == ["q1", "q2"]
    answered = store.answer("q1", choice=1)
    assert answered.status == "answered" and answered.answer == "postgres"
    assert answered.choice == 1 and answered.answered_at is not None
    assert [q.id for q in store.pending()] == ["q2"]
    assert store.get("Q1").answer == "postgres"


def test_key_makes_ask_idempotent(store: QuestionStore) -> None:
    first = store.ask("question", "Which?", key="journal:r/1/3")
    again = store.ask("question", "Which?", key="journal:r/1/3")
    assert first.id == again.id == "q1"
    assert len(store.all()) == 1
    assert store.ask("question", "Other?").id == "q2"  # ids stay dense


def test_errors(store: QuestionStore) -> None:
    q = store.ask("question", "Which?", choices=["a", "b"])
    approval = store.ask("approval", "push?")
    with pytest.raises(QuestionError, match="no question 'q9'") as info:
        store.get("q9")
    assert info.value.exit_code == ExitCode.INVALID
    with pytest.raises(QuestionError, match="not a question id"):
        store.get("banana")
    with pytest.raises(QuestionError, match="2 choices; 3 is not one"):
        store.answer(q.id, choice=2)
    with pytest.raises(QuestionError, match="needs text"):
        store.answer(q.id)
    with pytest.raises(QuestionError, match="harness approve/deny"):
        store.answer(approval.id, text="yes")
    with pytest.raises(QuestionError, match="harness answer"):
        store.approve(q.id)
    store.answer(q.id, text="a")
    with pytest.raises(QuestionError, match="already answered"):
        store.answer(q.id, text="b")
    assert store.get(q.id).answer == "a"
    store.deny(approval.id, "not today")
    with pytest.raises(QuestionError, match="already denied"):
        store.approve(approval.id)
    assert store.get(approval.id).deny_reason == "not today"


ASKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from escalation.questions import QuestionStore
    with QuestionStore(Path(sys.argv[1])) as store:
        q = store.ask("question", "from the child", session=3)
        print(q.id)
    """
)
WAITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from escalation.ask import ask_human
    from escalation.questions import QuestionStore
    with QuestionStore(Path(sys.argv[1])) as store:
        result = ask_human(store, "wait for me", interactive=True, wait_timeout=20, poll_s=0.02,
                           on_wait=lambda q: print(q.id, flush=True))
        print(result.status, result.question.answer, flush=True)
    """
)


def test_two_processes(project: Path) -> None:
    state = project / ".harness"
    done = subprocess.run(
        [sys.executable, "-c", ASKER, str(state)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == "q1"
    with QuestionStore(state) as store:
        assert store.get("q1").text == "from the child"
        store.answer("q1", text="hello from the parent")
        # a child that waits, answered while it waits
        child = subprocess.Popen(
            [sys.executable, "-c", WAITER, str(state)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        qid = child.stdout.readline().strip()
        assert qid == "q2"
        store.answer(qid, text="go on")
        out, _ = child.communicate(timeout=30)
    assert child.returncode == 0
    assert out.strip() == "answered go on"


def test_answer_files(project: Path, store: QuestionStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "notes.md").write_text("# notes\n")
    with zipfile.ZipFile(outside / "docs.zip", "w") as archive:
        archive.writestr("api/spec.txt", "spec")
        archive.writestr("readme.txt", "read me")
    q = store.ask("question", "Send the docs?")
    answered = store.answer(
        q.id, text="attached", files=[outside / "notes.md", outside / "docs.zip"]
    )
    assert answered.files == [
        "human_inputs/q1/docs/api/spec.txt",
        "human_inputs/q1/docs/readme.txt",
        "human_inputs/q1/notes.md",
    ]
    assert (project / "human_inputs/q1/docs/api/spec.txt").read_text() == "spec"
    assert not [p for p in (project / "human_inputs").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("member", ["../evil.txt", "/etc/evil.txt", "a/../../evil.txt"])
def test_zip_traversal_refused(
    project: Path, store: QuestionStore, tmp_path: Path, member: str
) -> None:
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("fine.txt", "ok")
        archive.writestr(zipfile.ZipInfo(member), "evil")
    q = store.ask("question", "docs?")
    with pytest.raises(InputFileError, match="outside its folder"):
        store.answer(q.id, text="here", files=[bad])
    assert store.get(q.id).pending  # nothing recorded
    assert not list(tmp_path.rglob("evil.txt"))
    assert not (project / "human_inputs" / q.id).exists()
    assert not [p for p in (project / "human_inputs").iterdir()]  # staging cleaned up


def test_missing_file_and_size_limit(
    store: QuestionStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    q = store.ask("question", "docs?")
    with pytest.raises(InputFileError, match="no such file"):
        store.answer(q.id, text="x", files=[tmp_path / "nope.pdf"])
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 2000)
    monkeypatch.setattr("escalation.inputs.MAX_FILE_BYTES", 1000)
    with pytest.raises(InputFileError, match="limit"):
        store.answer(q.id, text="x", files=[big])
    assert store.get(q.id).pending


def test_losing_an_answer_race_leaves_the_winners_files(
    project: Path, store: QuestionStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    (tmp_path / "one/a.txt").write_text("winner")
    (tmp_path / "two/a.txt").write_text("loser")
    q = store.ask("question", "docs?")
    with QuestionStore(project / ".harness") as other:
        # the loser checked "pending" before the winner answered
        monkeypatch.setattr(other, "_require", lambda *args: q)
        store.answer(q.id, text="one", files=[tmp_path / "one/a.txt"])
        with pytest.raises(QuestionError, match="already answered"):
            other.answer(q.id, text="two", files=[tmp_path / "two/a.txt"])
    assert store.get(q.id).answer == "one"
    assert (project / "human_inputs/q1/a.txt").read_text() == "winner"
    assert [p.name for p in (project / "human_inputs").iterdir()] == ["q1"]
