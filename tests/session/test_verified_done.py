"""Issue 24's proof: scripted sessions that build to the check, each ending with the feature
failing and the reason named (in the tool's answer and the progress entry, so the next
brief says it); honest sessions still pass, with every proof in their evidence.

Real `harness run`s (in this process) on tiny projects whose checks are pytest tests, on
the local runner and bubblewrap; only the models (worker and evaluator) are scripted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artifacts.progress import read_progress
from tests.attacks.support import committed_passing, run, runner_params
from tests.session.support import (
    call,
    feature_list,
    harness,
    harness_out,
    llm_inputs,
    steps,
    tool_outputs,
    turn,
)
from tests.session.verify_support import (
    COUNT_TEST,
    HARD_CODED,
    PYTEST,
    pytest_project,
    review_scene,
    runner,
    verdict,
    verify_and_mark,
    write,
)

GREET_TEST = (
    "import subprocess, sys\n\n\ndef test_greets():\n"
    "    done = subprocess.run([sys.executable, 'greet.py'], capture_output=True, text=True)\n"
    "    assert done.stdout == 'hello\\n'\n"
)
GREET = "print('hello')\n"
GREET_CHECK = f"{PYTEST} tests/test_greet.py"


def notes(root: Path) -> str:
    return "\n".join(note for entry in read_progress(root) for note in entry.notes)


def evidence(root: Path, feature: str = "F001") -> dict[str, object]:
    found = {f["id"]: f for f in feature_list(root)["features"]}[feature]["evidence"]
    assert isinstance(found, dict)
    return found


@pytest.mark.slow  # 1.0-1.1 CPU-s (bench/suite_census.py)
@pytest.mark.parametrize("kind", runner_params("local", "bwrap"))
def test_an_honest_session_passes_with_every_proof(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The agent writes the program and its test: the check fails where the session started
    (no greet.py), passes on a clean checkout, and the evaluator (mode "auto": the session
    wrote the test) agrees."""
    turns = [write("greet.py", GREET), write("tests/test_greet.py", GREET_TEST)]
    root = pytest_project(
        tmp_path / "p",
        runner(kind, request),
        sessions={1: turns + verify_and_mark()},
        check=GREET_CHECK,
        reviews=[review_scene("F001", [verdict(True, "greet.py prints hello, as tested")])],
    )
    code, report = run(root, tmp_path)
    assert code == 0, report
    assert committed_passing(root) == ["F001"]
    found = evidence(root)
    assert found["tree"] and found["before"] and found["review"], found
    assert report["proofs"] == {"F001": ["check", "clean", "fails-before", "evaluator"]}
    assert "F001 PASSES on a clean checkout" in tool_outputs(root, "verify_feature")[0]
    code, out = harness_out(root, "validate")
    assert code == 0, out
    # status, its JSON, and `harness show F001` name the proofs and their steps.
    code, out = harness_out(root, "status")
    assert "proofs    F001: check, clean, fails-before, evaluator" in out, out
    code, out = harness_out(root, "status", "--json")
    assert '"proofs": [\n' in out and '"fails-before"' in out
    code, out = harness_out(root, "show", "F001")
    before = found["before"]
    assert isinstance(before, dict)
    assert code == 0 and f"before    {before['step']}: exit " in out, out
    assert "evaluator journal:" in out and "(scripted/script.json)" in out


@pytest.mark.slow  # bwrap: 0.97 CPU-s, 2.0 s beside others (bench/suite_census.py)
@pytest.mark.parametrize("kind", runner_params("local", "bwrap"))
def test_a_test_that_asserts_nothing_does_not_pass(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    empty = "def test_greets():\n    assert True\n"
    turns = [write("tests/test_greet.py", empty), *verify_and_mark()]
    root = pytest_project(
        tmp_path / "p", runner(kind, request), sessions={1: turns}, check=GREET_CHECK
    )
    code, report = run(root, tmp_path)
    assert code != 0 and report["outcome"] != "complete", report
    assert committed_passing(root) == []
    (refused,) = tool_outputs(root, "mark_passing")
    assert "does not tell done from not done" in refused, refused
    assert "tests/test_greet.py" in refused  # the test laid over the start tree is named
    assert "does not tell done from not done" in notes(root)


@pytest.mark.slow  # bwrap: 0.96 CPU-s, 2.1 s beside others (bench/suite_census.py)
@pytest.mark.parametrize("kind", runner_params("local", "bwrap"))
def test_a_test_of_what_already_worked_does_not_pass(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The agent writes a check that passed before the session: it tests old behaviour."""
    old = "def add(a, b):\n    return a + b\n"
    test = "from calc import add\n\n\ndef test_greets():\n    assert add(1, 2) == 3\n"
    turns = [write("greet.py", "print('hi')\n"), write("tests/test_greet.py", test)]
    root = pytest_project(
        tmp_path / "p",
        runner(kind, request),
        sessions={1: turns + verify_and_mark()},
        check=GREET_CHECK,
        files={"calc.py": old},
    )
    code, report = run(root, tmp_path)
    assert code != 0, report
    assert committed_passing(root) == []
    (refused,) = tool_outputs(root, "mark_passing")
    assert "it also passes on the tree this session started from" in refused, refused


@pytest.mark.parametrize("kind", runner_params("local", "bwrap"))
def test_a_check_that_passed_before_the_session_does_not_pass(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The feature's check is the whole suite, which passed before the session: doing nothing
    for the feature, the agent verifies and marks."""
    suite = "def test_existing():\n    assert 1 + 1 == 2\n"
    turns = [write("notes.txt", "looked around\n"), *verify_and_mark()]
    root = pytest_project(
        tmp_path / "p",
        runner(kind, request),
        sessions={1: turns},
        check=f"{PYTEST} tests",
        files={"tests/test_existing.py": suite},
    )
    code, report = run(root, tmp_path)
    assert code != 0, report
    assert committed_passing(root) == []
    (refused,) = tool_outputs(root, "mark_passing")
    assert "does not tell done from not done" in refused, refused
    assert "this session's test files" not in refused  # nothing was laid over it


@pytest.mark.parametrize("kind", runner_params("local", "bwrap"))
def test_a_check_depending_on_an_untracked_file_does_not_pass(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """done_a.txt is made, but git-ignored: the commit does not hold it."""
    turns = [
        write(".gitignore", ".harness/\ndone_a.txt\n"),
        write("done_a.txt", "done\n"),
        *verify_and_mark(),
    ]
    root = pytest_project(
        tmp_path / "p", runner(kind, request), sessions={1: turns}, check="test -f done_a.txt"
    )
    code, report = run(root, tmp_path)
    assert code != 0, report
    assert committed_passing(root) == []
    (verified,) = tool_outputs(root, "verify_feature")
    assert "F001 FAILS on a clean checkout" in verified, verified
    assert "It PASSES in your work tree" in verified
    assert "git-ignored (never committed): done_a.txt" in verified
    (refused,) = tool_outputs(root, "mark_passing")
    assert "failed" in refused


@pytest.mark.slow  # 1.7 CPU-s (bench/suite_census.py)
@pytest.mark.parametrize("kind", runner_params("local", "bwrap"))
def test_a_hard_coded_answer_is_failed_by_the_evaluator(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The acceptance test is the initializer's (protected); count.py prints the expected
    number without counting. The check fails before and passes after: only a reader can
    tell. The evaluator (mode "on") fails it, and the next session's brief says why."""
    reasons = "count.py prints a constant 3 instead of counting the words of its file"
    turns = [write("count.py", HARD_CODED), *verify_and_mark()]
    root = pytest_project(
        tmp_path / "p",
        runner(kind, request),
        sessions={1: turns},
        check=f"{PYTEST} tests/acceptance",
        files={"tests/acceptance/test_count.py": COUNT_TEST},
        toml=(
            '[budgets]\nrun_sessions = 2\n\n[protect]\npaths = ["tests/acceptance"]\n\n'
            '[evaluator]\nmode = "on"\n'
        ),
        reviews=[
            review_scene(
                "F001",
                [
                    turn(call("run", command="cat count.py")),
                    verdict(False, reasons),
                ],
            )
        ],
    )
    code, report = run(root, tmp_path)
    assert code != 0 and report["outcome"] != "complete", report
    assert committed_passing(root) == []
    refused = tool_outputs(root, "mark_passing")
    assert refused and "judged it not done" in refused[0] and reasons in refused[0], refused
    assert reasons in notes(root)
    kickoffs = [inputs for step, inputs in llm_inputs(root) if step.session == 2 and step.seq <= 6]
    assert any(reasons in str(inputs) for inputs in kickoffs), "the next brief omits the reasons"


@pytest.mark.slow  # bwrap: 1.0 CPU-s (bench/suite_census.py)
@pytest.mark.parametrize("kind", runner_params("local", "bwrap"))
def test_a_session_that_breaks_an_earlier_feature_turns_it_failing(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Session 2 removes F001's file while doing F002: the writeback's recheck turns F001
    failing in the commit, and session 3's brief says so (it then fixes F001 again)."""
    first = [write("done_a.txt", "done\n"), *verify_and_mark("F001")]
    second = [
        turn(call("run", command="rm done_a.txt")),
        write("done_b.txt", "done\n"),
        *verify_and_mark("F002"),
    ]
    root = pytest_project(
        tmp_path / "p",
        runner(kind, request),
        sessions={1: first, 2: second},
        check="test -f done_a.txt",
        checks=["test -f done_a.txt", "test -f done_b.txt"],
        count=2,
        toml="[budgets]\nrun_sessions = 2\n",
    )
    code, report = run(root, tmp_path)
    assert code != 0, report
    assert committed_passing(root) == ["F002"], "the regression was committed as passing"
    assert "F001 regressed: its check fails on a clean checkout" in notes(root)
    entry = read_progress(root)[-1]
    assert entry.feature == "F002" and any("F001 regressed" in n for n in entry.notes)
    code, report = run(root, tmp_path, "--max-sessions", "1")
    briefs = [inputs for step, inputs in llm_inputs(root) if step.session == 3]
    assert briefs and "F001 regressed" in str(briefs[0])


@pytest.mark.slow  # 1.06 CPU-s (bench/suite_census.py)
def test_validate_checks_the_proofs_the_evidence_cites(
    request: pytest.FixtureRequest, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Forged proofs: a 'before' run on the same tree as the pass, a 'before' that did not
    fail, a verdict step that is not one, a tree the check did not run on."""

    turns = [write("greet.py", GREET), write("tests/test_greet.py", GREET_TEST)]
    root = pytest_project(
        tmp_path / "p",
        runner("local", request),
        sessions={1: turns + verify_and_mark()},
        check=GREET_CHECK,
        reviews=[review_scene("F001", [verdict(True, "greet.py prints hello, as tested")])],
    )
    code, report = run(root, tmp_path)
    assert code == 0, report
    honest = json.loads((root / "feature_list.json").read_text())
    proof = honest["features"][0]["evidence"]

    def forged(change: dict[str, object]) -> str:
        data = json.loads(json.dumps(honest))
        evidence = data["features"][0]["evidence"]
        for key, value in change.items():
            where, _, field = key.partition(".")
            if field:
                evidence[where][field] = value
            else:
                evidence[where] = value
        (root / "feature_list.json").write_text(json.dumps(data, indent=2) + "\n")
        capfd.readouterr()
        code = harness(root, "validate")
        said = capfd.readouterr().err
        assert code == 2, said
        return said

    assert "'before' run ran on tree" in forged({"before.tree": proof["tree"]})
    assert "passed or differs" in forged({"before.exit_code": 0})
    other = proof["verification"]  # the verify_feature step: not a verdict
    assert "not evaluator/verdict:F001" in forged({"review.step": other})
    assert "ran on tree" in forged({"tree": proof["before"]["tree"]})
    (root / "feature_list.json").write_text(json.dumps(honest, indent=2) + "\n")
    code, out = harness_out(root, "validate")
    assert code == 0, out


def test_a_feature_done_before_the_session_passes_on_a_humans_approval(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Its check passed before the session (the work was done earlier): the proof cannot be
    given, so marking it again is a gated action; the approval stands in for that proof
    only (the clean check still has to pass)."""
    turns = [
        *verify_and_mark()[:2],
        turn(call("mark_passing", feature="F001")),  # again: now it asks a human
        {"text": "F001 was already done."},
    ]
    root = pytest_project(
        tmp_path / "p",
        runner("local", request),
        sessions={1: turns},
        check="test -f done_a.txt",
        files={"done_a.txt": "made before harness\n"},
    )
    code, report = run(root, tmp_path)
    assert code == 4 and report["outcome"] == "waiting_for_human", report
    code, out = harness_out(root, "questions", "--json")
    assert "mark_passing" in out and "F001" in out, out
    assert harness(root, "approve", "q1") == 0
    code, report = run(root, tmp_path)
    assert code == 0, report
    assert report["proofs"] == {"F001": ["check", "clean", "human"]}
    assert evidence(root)["approval"] == "human:q1"
    code, out = harness_out(root, "validate")
    assert code == 0, out


@pytest.mark.parametrize("kind", runner_params("local"))
def test_a_change_after_verify_feature_is_checked_again_at_mark_passing(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """verify_feature passed, then the agent broke the program: mark_passing checks the tree
    it would commit now (proof:after) and refuses."""
    turns = [
        write("greet.py", GREET),
        write("tests/test_greet.py", GREET_TEST),
        turn(call("verify_feature", feature="F001")),
        write("greet.py", "print('bye')\n"),
        turn(call("mark_passing", feature="F001")),
        {"text": "F001 is done."},
    ]
    root = pytest_project(
        tmp_path / "p", runner(kind, request), sessions={1: turns}, check=GREET_CHECK
    )
    code, report = run(root, tmp_path)
    assert code != 0, report
    assert committed_passing(root) == []
    (refused,) = tool_outputs(root, "mark_passing")
    assert "changed since verify_feature" in refused, refused
    assert [s.name for s in steps(root) if s.kind == "runner" and "proof" in s.name] == [
        "proof:after:F001"
    ]
