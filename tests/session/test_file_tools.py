"""The file tools stay inside the project and report errors as results."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from artifacts.config import HarnessConfig
from escalation.trace import content_digest, file_digest
from harness.tools import ToolRegistry, ToolResult
from runners.local import LocalRunner
from session.context import WorkContext
from session.effects import FileWritten
from session.paths import PathRefused, confine
from session.sentinel import NOTICE
from session.tools.files import FILE_TOOLS, MAX_FILE_BYTES, apply_write
from session.tools.work import RunArgs, VerifyArgs, run_command, verify_feature
from session.verify.hidden import HiddenFiles
from session.verify.verifier import Verifier
from tests.session.support import call as scripted
from tests.session.support import (
    good_turns,
    harness_run,
    init,
    llm_inputs,
    make_project,
    tool_outputs,
    turn,
)


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[WorkContext]:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def f():\n    return 1\n")
    made = WorkContext(root=tmp_path, runner=None, run_id="r", session=1)  # type: ignore[arg-type]
    yield made
    made.close()


@pytest.fixture
def tools() -> ToolRegistry[WorkContext]:
    return ToolRegistry(FILE_TOOLS)


def raw_call(tools: ToolRegistry[WorkContext], name: str, arguments: str, ctx: WorkContext):
    """Parse and run one call, as the pipeline does inside its step."""
    parsed = tools.parse(name, arguments)
    return parsed if isinstance(parsed, ToolResult) else tools.invoke(name, parsed, ctx)


def call(tools: ToolRegistry[WorkContext], ctx: WorkContext, name: str, **args: object):
    return raw_call(tools, name, json.dumps(args), ctx)


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "../outside.txt", "src/../../outside.txt", "", ".harness/journal.db"],
)
def test_paths_out_of_the_project_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(PathRefused):
        confine(tmp_path, path)


def test_symlink_out_is_refused(tmp_path: Path, ctx: WorkContext, tools) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-secret.txt"
    outside.write_text("secret")
    (tmp_path / "link.txt").symlink_to(outside)
    result = call(tools, ctx, "read_file", path="link.txt")
    assert result.status == "error"
    assert "outside the project" in result.output
    result = call(tools, ctx, "write_file", path="link.txt", content="x")
    assert result.status == "error"
    assert outside.read_text() == "secret"


def test_feature_list_and_git_are_not_writable(ctx: WorkContext, tools) -> None:
    for path in ("feature_list.json", ".git/config"):
        result = call(tools, ctx, "write_file", path=path, content="{}")
        assert result.status == "error", path
    assert not (ctx.root / "feature_list.json").exists()


def test_write_read_edit_round_trip(ctx: WorkContext, tools) -> None:
    assert (
        call(tools, ctx, "write_file", path="pkg/mod.py", content="a = 1\nb = 2\n").status == "ok"
    )
    edited = call(tools, ctx, "edit_file", path="pkg/mod.py", old="b = 2", new="b = 3")
    assert edited.status == "ok"
    text = call(tools, ctx, "read_file", path="pkg/mod.py").output
    assert "b = 3" in text and "a = 1" in text
    again = call(tools, ctx, "edit_file", path="pkg/mod.py", old="b = 2", new="b = 3")
    assert again.status == "ok" and "already" in again.output


def test_ambiguous_edit_is_refused(ctx: WorkContext, tools) -> None:
    call(tools, ctx, "write_file", path="x.txt", content="same\nsame\n")
    result = call(tools, ctx, "edit_file", path="x.txt", old="same", new="other")
    assert result.status == "error" and "2 times" in result.output
    assert (ctx.root / "x.txt").read_text() == "same\nsame\n"


def test_list_and_grep_skip_state(ctx: WorkContext, tools) -> None:
    (ctx.root / ".harness").mkdir()
    (ctx.root / ".harness" / "journal.db").write_text("return 1")
    listed = call(tools, ctx, "list_files", pattern="**/*").output
    assert "src/app.py" in listed and ".harness" not in listed
    hits = call(tools, ctx, "grep", regex=r"return \d").output
    assert hits == "src/app.py:2:     return 1"


def test_bad_arguments_come_back_as_results(ctx: WorkContext, tools) -> None:
    assert "not valid JSON" in raw_call(tools, "read_file", "{not json", ctx).output
    assert "invalid arguments" in raw_call(tools, "read_file", "{}", ctx).output
    assert "unknown tool" in raw_call(tools, "rm_rf", "{}", ctx).output


def test_rewriting_a_file_keeps_its_mode(ctx: WorkContext, tools) -> None:
    script = ctx.root / "init.sh"
    script.write_text("#!/bin/sh\necho old\n")
    script.chmod(0o755)
    assert (
        call(tools, ctx, "write_file", path="init.sh", content="#!/bin/sh\necho new\n").status
        == "ok"
    )
    assert call(tools, ctx, "edit_file", path="init.sh", old="new", new="newer").status == "ok"
    assert script.stat().st_mode & 0o777 == 0o755
    assert script.read_text() == "#!/bin/sh\necho newer\n"


def test_list_and_grep_skip_a_linked_directory_out_of_the_project(
    tmp_path: Path, ctx: WorkContext, tools
) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("OUTSIDE\n")
    (tmp_path / "linked").symlink_to(outside)
    (tmp_path / "state").symlink_to(".git")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("OUTSIDE in git\n")
    (tmp_path / "src" / "in.txt").write_text("OUTSIDE? no, inside\n")
    listed = call(tools, ctx, "list_files", pattern="linked/*").output
    assert "secret.txt" not in listed and "skipped 1 symbolic link:" in listed
    found = call(tools, ctx, "grep", regex="OUTSIDE", glob="*/*").output
    assert "src/in.txt:1:" in found, found  # files inside are still searched
    assert "secret" not in found and "in git" not in found, found
    assert "skipped 2 symbolic links" in found, found
    plain = call(tools, ctx, "grep", regex="return", glob="**/*.py").output
    assert "skipped" not in plain, plain


def test_a_huge_sparse_file_is_not_read_whole(
    tools: ToolRegistry[WorkContext], ctx: WorkContext, tmp_path: Path
) -> None:
    """A 1 GB sparse file costs the agent nothing to make; reading it whole took the harness
    2.3 GB of memory. read_file and edit_file refuse it, grep skips it, saying so."""

    with (tmp_path / "big.txt").open("wb") as handle:
        handle.truncate(1024 * 1024 * 1024)
    (tmp_path / "edge.txt").write_bytes(b"x" * MAX_FILE_BYTES)  # exactly the limit: read
    for name, args in (
        ("read_file", {"path": "big.txt"}),
        ("edit_file", {"path": "big.txt", "old": "a", "new": "b"}),
    ):
        result = call(tools, ctx, name, **args)
        assert (
            result.status == "error"
            and "larger than 16 MiB" in result.output
            and "run" in result.output
        )
    found = call(tools, ctx, "grep", regex="x", glob="*.txt")
    assert "edge.txt:1:" in found.output
    assert "skipped 1 file(s) over 16 MiB" in found.output
    assert call(tools, ctx, "read_file", path="edge.txt").status == "ok"


@pytest.mark.parametrize(
    "path", ["a\0b", "x" * 5000, "d/" * 3000 + "f", "\uff46eature_list.json/../x"]
)
def test_odd_paths_are_refused_as_results(
    tools: ToolRegistry[WorkContext], tmp_path: Path, path: str
) -> None:
    """A NUL byte, a name or path too long, a '..' behind a Unicode twin: an error the model
    reads, nothing written anywhere."""
    # The project one folder down, so that everything up to its parent is this test's own
    # (the parent of tmp_path holds every earlier test's folders: walked, ~1 CPU-s a case).
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def f():\n    return 1\n")
    before = set(tmp_path.rglob("*"))
    ctx = WorkContext(root=root, runner=None, run_id="r", session=1)  # type: ignore[arg-type]
    try:
        for name in ("write_file", "read_file"):
            result = call(tools, ctx, name, path=path, content="x")
            assert result.status == "error", (name, result.output)
    finally:
        ctx.close()
    assert set(tmp_path.rglob("*")) == before


def _edit_turns() -> list[dict[str, object]]:

    return [
        turn(scripted("write_file", path="a.txt", content="one\n")),
        turn(scripted("edit_file", path="a.txt", old="one", new="two")),
        *good_turns(1),
    ]


@pytest.mark.slow  # child harness processes
def test_an_edit_resumed_after_a_kill_answers_as_the_first_attempt(tmp_path: Path) -> None:
    """Killed right after edit_file's write reached the disk: before, the step's end was
    not recorded yet (or rode with the next write and was lost), so the resumed session
    ran it again on the edited file and answered "already contains the new text". Now the
    step is recorded before its bytes are written: the resumed session answers "edited",
    as the uninterrupted run did, and the model is told the same things (issue 23)."""

    # after edit_file's write (write_file's is #1)
    reference, root = _killed_and_resumed(
        tmp_path, "after:session.tools.files:atomic_write#2", {1: _edit_turns()}
    )
    assert tool_outputs(root, "edit_file") == tool_outputs(reference, "edit_file")
    assert tool_outputs(root, "edit_file") == ["edited a.txt"]
    assert (root / "a.txt").read_text() == "two\n"
    assert _asked(root) == _asked(reference)


@pytest.mark.slow  # child harness processes
def test_a_mark_resumed_after_a_kill_answers_as_the_first_attempt(tmp_path: Path) -> None:
    """Killed right after mark_passing wrote feature_list.json, before its step ended (the
    kill-fuzz found it): the resumed session took the file its own killed mark had written
    for a change behind the guards, put it back and told the model "POLICY: ... do not
    edit the file" with the re-run mark's answer. What the killed process left is put
    back unannounced (the call in flight runs again): the model is told what the
    uninterrupted run told it, and the mark is made once, by the re-run."""
    # after mark_passing's write
    reference, root = _killed_and_resumed(tmp_path, "after:session.tools.work:save_feature_list#1")
    marks = tool_outputs(root, "mark_passing")
    assert len(marks) == 1 and marks[0].startswith("F001 marked passing") and NOTICE not in marks[0]
    assert _asked(root) == _asked(reference)


def _killed_and_resumed(
    tmp_path: Path, point: str, sessions: dict[int, list[dict[str, object]]] | None = None
) -> tuple[Path, Path]:
    """(an uninterrupted run's project, one whose `harness run` was SIGKILLed at ``point``
    of tests.session.stopped_at and then resumed to the end)."""
    reference = make_project(tmp_path / "reference", count=1, sessions=sessions)
    init(reference)
    assert harness_run(reference, "run").returncode == 0
    root = make_project(tmp_path / "p", count=1, sessions=sessions)
    init(root)
    helper = [sys.executable, "-m", "tests.session.stopped_at", point, str(tmp_path / "m")]
    killed = subprocess.run(
        [*helper, "--", "-C", str(root), "run"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert killed.returncode == -9, killed.stderr
    resumed = harness_run(root, "run")
    assert resumed.returncode == 0, resumed.stderr
    return reference, root


def _asked(project: Path) -> list[object]:
    """What the model was told after each call (the tool results it read; the journal and
    run ids in an evidence reference differ from project to project)."""
    ids = re.compile(r"journal:[0-9a-f]+/[0-9]{8}-[0-9]{6}-[0-9a-f]+/")
    return [
        [ids.sub("journal:J/RUN/", m["content"]) for m in inputs["new_messages"]
         if m["role"] == "tool"]
        for step, inputs in llm_inputs(project)
        if step.session
    ]  # fmt: skip


def test_a_command_cut_by_the_wall_budget_says_the_budget_not_request_resources(
    tmp_path: Path,
) -> None:
    """A command stopped because the run's wall-time budget ran out: more timeout_s would
    not help, so the failure names the budget and never asks for request_resources."""
    made = WorkContext(root=tmp_path, runner=LocalRunner(tmp_path), run_id="r", session=1)
    made.wall, made.wall_what = time.monotonic() + 1.0, "run wall-time limit 1s"
    try:
        result = run_command(made, RunArgs(command="sleep 30", timeout_s=600))
    finally:
        made.close()
    assert result.status == "error"
    assert "run wall-time limit 1s" in result.output, result.output
    assert "request_resources" not in result.output, result.output
    assert "timeout_s >=" not in result.output, result.output


def _slow_check_project(root: Path) -> None:
    feature = {
        "id": "F001", "category": "functional", "description": "waits", "steps": ["run it"],
        "priority": 1, "check": "sleep 30", "passes": False,
    }  # fmt: skip
    (root / "feature_list.json").write_text(json.dumps({"version": 1, "features": [feature]}))
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "start"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=root, check=True
        )


@pytest.mark.parametrize("where", ["in_place", "clean_checkout"])
def test_a_check_cut_by_the_wall_budget_says_the_budget_not_request_resources(
    tmp_path: Path, where: str
) -> None:
    """verify_feature's check, in the work tree or on a clean checkout, cut short by the
    run's wall-time budget: the failure names the budget and never asks for a longer
    timeout_s through request_resources, which could not help."""
    _slow_check_project(tmp_path)
    made = WorkContext(root=tmp_path, runner=LocalRunner(tmp_path), run_id="r", session=1)
    if where == "clean_checkout":
        made.verifier = Verifier(
            root=tmp_path,
            config=HarnessConfig(),
            make_runner=lambda folder, carry: LocalRunner(folder),
            start=subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True
            ).stdout.strip(),
            user_files=[],
            hidden=HiddenFiles(),
            sandboxed=False,
        )
    made.wall, made.wall_what = time.monotonic() + 1.0, "run wall-time limit 1s"
    try:
        result = verify_feature(made, VerifyArgs(feature="F001"))
    finally:
        made.close()
    assert result.status == "error" or "FAILS" in result.output, result.output
    assert "run wall-time limit 1s" in result.output, result.output
    assert "request_resources" not in result.output, result.output
    assert "timeout_s >=" not in result.output, result.output


_AUDITED: list[tuple[str, object]] | None = None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _AUDITED is not None and event in ("open", "os.mkdir"):
        _AUDITED.append((event, args[0]))


def test_a_decided_write_opens_what_it_needs_only(ctx: WorkContext) -> None:
    """The write a file tool decided (``apply_write``: every agent write, after its step is
    recorded) opens the file it replaces once (its digest and the folder test in one),
    makes no folder that is there, and writes the temp file through its descriptor: the
    file, the temp file and the folder (for its fsync) are all it opens. The bytes, the
    mode and the refusals stay as they were."""
    global _AUDITED
    target = ctx.root / "src" / "app.py"
    target.chmod(0o755)
    before = file_digest(target)
    data = b"def f():\n    return 2\n"
    ctx.pending_writes["src/app.py"] = data
    written = FileWritten(path="src/app.py", before=before, after=content_digest(data))
    sys.addaudithook(_audit)  # for the process: it records only while _AUDITED is a list
    _AUDITED = []
    try:
        apply_write(ctx, written)
        seen, _AUDITED = _AUDITED, None
    finally:
        _AUDITED = None
    assert target.read_bytes() == data and target.stat().st_mode & 0o777 == 0o755
    assert [event for event, _ in seen] == ["open"] * 3, seen
    opened = [str(what) for _, what in seen]
    assert opened[0] == str(target) and opened[2] == str(target.parent), opened
    assert re.fullmatch(r"\.app\.py\.harness-\d+-\w{8}\.tmp", Path(opened[1]).name), opened
    # a folder planted where the file was: not written, and said
    target.unlink()
    target.mkdir()
    ctx.pending_writes["src/app.py"] = data
    apply_write(ctx, written)
    assert target.is_dir() and "it is now a folder" in ctx.notes[-1]
    # a FIFO planted there is never waited on: replaced by the bytes decided
    target.rmdir()
    os.mkfifo(target)
    ctx.pending_writes["src/app.py"] = data
    apply_write(ctx, written)
    assert target.is_file() and target.read_bytes() == data


def test_a_project_folder_swapped_for_a_link_leads_outside(tmp_path: Path) -> None:
    """A hostile command swaps the project folder for a link to another folder (the local
    runner's commands may write its parent): the project stays the folder the session
    began with, so the file tools refuse what the link leads to, and a write decided
    before the swap is not made there."""
    root, other = tmp_path / "p", tmp_path / "other"
    for folder, text in ((root, "mine\n"), (other, "theirs\n")):
        (folder / "src").mkdir(parents=True)
        (folder / "src" / "app.py").write_text(text)
    ctx = WorkContext(root=root, runner=None, run_id="r", session=1)  # type: ignore[arg-type]
    tools = ToolRegistry(FILE_TOOLS)
    try:
        assert "mine" in call(tools, ctx, "read_file", path="src/app.py").output
        os.rename(root, tmp_path / "moved")
        os.symlink(other, root)
        for name, args in (("read_file", {}), ("write_file", {"content": "x"})):
            refused = call(tools, ctx, name, path="src/app.py", **args)
            assert refused.status == "error" and "outside the project" in refused.output, refused
        decided = b"x\n"
        ctx.pending_writes["src/app.py"] = decided
        apply_write(ctx, FileWritten(path="src/app.py", before=None, after=content_digest(decided)))
        assert "was not made" in ctx.notes[-1] and "outside the project" in ctx.notes[-1]
        assert (other / "src" / "app.py").read_text() == "theirs\n"
    finally:
        ctx.close()
