"""Tiny projects and scripts for the end-to-end tests: real litellm, git, SQLite, local runner.

A project has 2-3 features whose checks are `test -f done_<x>.txt`; the scripted model's
scenes are matched on the first user message (`ROLE: initializer`, `Feature F001`, ...).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import IO, Any

from artifacts.progress import read_progress
from harness.cli import main
from harness.journal import Journal

SCRIPT = "script.json"
LETTERS = "abc"
SPEC = "# Tiny\n\nA project whose features are files: done_a.txt, done_b.txt, done_c.txt.\n"
INIT_SH = "#!/usr/bin/env bash\nset -e\necho 'environment ok'\n"


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def turn(*calls: dict[str, Any], text: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"tool_calls": list(calls), **extra}
    if text:
        out["text"] = text
    return out


def fid(k: int) -> str:
    return f"F{k:03d}"


def drafts(count: int) -> list[dict[str, Any]]:
    """The feature drafts the initializer writes: feature k is the file done_<letter>.txt."""
    return [
        {
            "category": "functional",
            "description": f"the file done_{LETTERS[k]}.txt exists",
            "steps": [f"create done_{LETTERS[k]}.txt"],
            "check": f"test -f done_{LETTERS[k]}.txt",
        }
        for k in range(count)
    ]


def init_scene(count: int, extra_turns: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "name": "init",
        "match": "ROLE: initializer",
        "turns": [
            turn(call("read_file", path="SPEC.md")),
            turn(call("write_feature_list", features=drafts(count))),
            *(extra_turns or []),
            turn(call("write_init_sh", content=INIT_SH)),
            {"text": "Plan: create the files one per session."},
        ],
    }


def good_turns(k: int) -> list[dict[str, Any]]:
    """Feature k (1-based) done honestly: write, verify, mark, note, finish."""
    f = fid(k)
    return [
        turn(call("write_file", path=f"done_{LETTERS[k - 1]}.txt", content="done\n")),
        turn(call("verify_feature", feature=f)),
        turn(call("mark_passing", feature=f)),
        turn(call("note", text=f"{f} done")),
        {"text": f"{f} is done."},
    ]


def scene(k: int, turns: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": fid(k), "match": f"Session \\d+: Feature {fid(k)}\\b", "turns": turns}


def make_project(
    root: Path,
    *,
    count: int = 2,
    sessions: dict[int, list[dict[str, Any]]] | None = None,
    init_extra: list[dict[str, Any]] | None = None,
    toml: str = "",
    model: str = "",
    files: dict[str, str] | None = None,
) -> Path:
    """SPEC.md, script.json and harness.toml (local runner) in a new folder `root`.

    `sessions` replaces the turns of feature k's scene; `toml` is appended to harness.toml,
    `model` goes into its [model] table.
    """
    root.mkdir(parents=True, exist_ok=True)
    scenes = [init_scene(count, init_extra)]
    for k in range(1, count + 1):
        scenes.append(scene(k, (sessions or {}).get(k, good_turns(k))))
    (root / SCRIPT).write_text(json.dumps({"scenes": scenes}, indent=1) + "\n")
    (root / "SPEC.md").write_text(SPEC)
    (root / "harness.toml").write_text(
        f'[model]\nname = "scripted/{SCRIPT}"\n{model}\n[runner]\nkind = "local"\n\n{toml}'
    )
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def harness(root: Path, *args: str) -> int:
    """`harness -C root ...` in this process."""

    return main(["-C", str(root), *args])


def harness_out(root: Path, *args: str) -> tuple[int, str]:
    """`harness` in this process, with its stdout."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = harness(root, *args)
    return code, buffer.getvalue()


def harness_run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`harness -C root ...` in this process, as `harness_proc` gives it: exit code, stdout
    and stderr (what Python printed, then what reached file descriptors 1 and 2, from git
    for example). For a command that needs no process of its own (no kill, no signal, no
    environment of its own): a child pays `import litellm` and the rest again (~5 CPU-s)."""
    printed = io.StringIO(), io.StringIO()
    with tempfile.TemporaryFile() as fd_out, tempfile.TemporaryFile() as fd_err:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(fd_out.fileno(), 1)
        os.dup2(fd_err.fileno(), 2)
        try:
            with contextlib.redirect_stdout(printed[0]), contextlib.redirect_stderr(printed[1]):
                code = harness(root, *args)
        finally:
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)
        out, err = (
            text.getvalue() + _written(file)
            for text, file in zip(printed, (fd_out, fd_err), strict=True)
        )
    argv = ["harness", "-C", str(root), *args]
    return subprocess.CompletedProcess(argv, code, out, err)


def _written(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read().decode(errors="replace")


def harness_proc(
    root: Path,
    *args: str,
    env: dict[str, str] | None = None,
    crash_in: str | None = None,
    crash_at_step: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m harness -C root ...` in a child process (for crashes).

    ``crash_in`` (``kind:name[#k]``) or ``crash_at_step`` (N): the child is started through
    the crash entry, `python -m harness.cli.chaos`, and SIGKILLs itself in that live step.
    The timeout only stops a hung child; it is no speed bound (the demo takes 25 s on a
    quiet machine and over 110 s on a loaded one).
    """
    entry = ["harness"]
    if crash_in is not None or crash_at_step is not None:
        entry = ["harness.cli.chaos"]
        entry += ["--in", crash_in] if crash_in is not None else []
        entry += ["--at-step", str(crash_at_step)] if crash_at_step is not None else []
        entry.append("--")
    return subprocess.run(
        [sys.executable, "-m", *entry, "-C", str(root), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def init(root: Path) -> None:
    code = harness(root, "init", "--spec", str(root / "SPEC.md"))
    assert code == 0


def feature_list(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "feature_list.json").read_text())
    return data


def passing(root: Path) -> list[str]:
    return [f["id"] for f in feature_list(root)["features"] if f["passes"]]


def session_commits(root: Path) -> Counter[str]:
    """Harness-Session trailer value -> number of commits carrying it."""
    out = subprocess.run(
        ["git", "-C", str(root), "log", "--format=%(trailers:key=Harness-Session,valueonly)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return Counter(line.strip() for line in out.splitlines() if line.strip())


def init_commits(root: Path) -> int:
    """Commits with the Harness-Init trailer (0 in a repository without commits)."""
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "-q", "HEAD"])
    if head.returncode != 0:
        return 0
    out = subprocess.run(
        ["git", "-C", str(root), "log", "--format=%(trailers:key=Harness-Init,valueonly)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def head_files(root: Path) -> set[str]:
    """Every path committed at HEAD (`git ls-tree -r HEAD`), not the index's."""
    out = subprocess.run(
        ["git", "-C", str(root), "ls-tree", "-r", "--name-only", "-z", "HEAD"],
        capture_output=True,
        check=True,
    ).stdout
    return {p.decode() for p in out.split(b"\0") if p}


def commit_count(root: Path) -> int:
    out = subprocess.run(
        ["git", "-C", str(root), "rev-list", "--count", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out)


def progress_sessions(root: Path) -> Counter[int]:

    return Counter(entry.session for entry in read_progress(root))


def log_json(root: Path, *args: str) -> list[dict[str, Any]]:
    """`harness log --json` rows (newest run unless `--run` is given)."""
    code, out = harness_out(root, "log", "--json", *args)
    assert code == 0
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def steps(root: Path) -> list[Any]:
    """Every journaled step of every run."""

    with Journal.open_readonly(root / ".harness") as journal:
        return journal.steps()


def tool_outputs(root: Path, name: str) -> list[str]:
    """The results the model read for every call of tool `name`, in order."""

    found = []
    with Journal.open_readonly(root / ".harness") as journal:
        for step in journal.steps():
            if step.kind == "tool" and step.name == name and step.status == "ended":
                detail = journal.step_detail(step.run_id, step.session, step.seq)
                assert detail is not None
                found.append(str(detail.output["output"]))
    return found


def llm_inputs(root: Path) -> list[tuple[Any, dict[str, Any]]]:
    """(step row, inputs) for every model call of every run."""

    found = []
    with Journal.open_readonly(root / ".harness") as journal:
        for step in journal.steps():
            if step.kind == "llm":
                detail = journal.step_detail(step.run_id, step.session, step.seq)
                assert detail is not None
                found.append((step, detail.inputs))
    return found
