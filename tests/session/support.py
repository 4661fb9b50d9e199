"""Tiny projects and scripts for the end-to-end tests: real litellm, git, SQLite, local runner.

A project has 2-3 features whose checks are `test -f done_<x>.txt`; the scripted model's
scenes are matched on the first user message (`ROLE: initializer`, `Feature F001`, ...).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NoReturn

import pytest

from artifacts.progress import read_progress
from harness.cli import main
from harness.cli.demo_fork import exit_code
from harness.journal import Journal
from tests.session.scripted_child import ENTRY

SCRIPT = "script.json"
LETTERS = "abc"
SPEC = "# Tiny\n\nA project whose features are files: done_a.txt, done_b.txt, done_c.txt.\n"
INIT_SH = "#!/usr/bin/env bash\nset -e\necho 'environment ok'\n"
CHILD_S = 600.0
"""How long a test waits for a `harness` child to show or end what it should by itself: a
liveness bound only. A child pays its imports again (~5 CPU-s); at load 30 on two cores it
gets a tenth of a core, and a 120 s bound ran out after the run had printed "complete"."""


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
    fresh: bool = False,
    gateway: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`harness -C root ...` in a child process (for crashes, kills and an environment of
    its own): exit code (negative: the signal that ended it), stdout, stderr.

    ``crash_in`` (``kind:name[#k]``) or ``crash_at_step`` (N): the child runs the crash
    entry, `python -m harness.cli.chaos`, and SIGKILLs itself in that live step.
    The child is a fork of this process (see :func:`forked`), so it does not pay
    `import litellm` and the rest again (~5 CPU-s a child); ``fresh=True`` starts a new
    interpreter (`python -m ...`) instead, for what only a process start shows: its
    `/proc/<pid>/environ` (a fork's is this process's, without ``env``), its reading of
    the environment at start, none of this process's monkeypatches carried over. A new
    interpreter answers ``scripted/`` models in process (`tests.session.scripted_child`:
    no `import litellm`, ~4 of its ~5 CPU-s) unless ``gateway=True`` (the litellm
    provider, for a test of the gateway itself).
    The timeout only stops a hung child; it is no speed bound (the demo takes 25 s on a
    quiet machine and over 110 s on a loaded one).
    """
    entry = ["harness"]
    if crash_in is not None or crash_at_step is not None:
        entry = ["harness.cli.chaos"]
        entry += ["--in", crash_in] if crash_in is not None else []
        entry += ["--at-step", str(crash_at_step)] if crash_at_step is not None else []
        entry.append("--")
    argv = [*entry, "-C", str(root), *args]
    if not fresh:
        return forked(argv, env=env, timeout=600)
    start = [sys.executable, "-m"] if gateway else ENTRY
    return subprocess.run(
        [*start, *argv],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


@contextlib.contextmanager
def older_harness() -> Iterator[None]:
    """Inside, this process (and a `harness_proc` child forked from it) journals sessions as
    a harness before git/"feature list" did: no such step, the sentinel starting from the
    file (what a session recorded before d6a8647 holds)."""
    with pytest.MonkeyPatch.context() as older:
        older.setattr("session.cycle._start_from_record", lambda env, journal, sentinel: None)
        yield


def forked(
    argv: list[str], *, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """`python -m argv[0] argv[1:]` (harness or harness.cli.chaos) in a forked child of this
    process, as `subprocess.run(..., capture_output=True, text=True)` runs a new one: a real
    process that can die by a signal or exit, ``env`` added to its environment, stdin from
    /dev/null, stdout and stderr read through pipes to their end (a grandchild holding them
    holds this call, as it would hold `subprocess.run`). What this process imported, the
    child has (its state is this process's at the fork, as for an in-process test). A child
    whose pipes are still open after ``timeout`` seconds is killed, TimeoutExpired raised."""
    modules = {"harness": "harness.cli", "harness.cli.chaos": "harness.cli.chaos"}
    entry = importlib.import_module(modules[argv[0]]).main
    pipes = os.pipe(), os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        _child(entry, argv[1:], env or {}, pipes[0][1], pipes[1][1])
    for _, write_end in pipes:
        os.close(write_end)
    try:
        stdout, stderr = _read_all([read_end for read_end, _ in pipes], timeout)
    except subprocess.TimeoutExpired:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise subprocess.TimeoutExpired(argv, timeout) from None
    finally:
        for read_end, _ in pipes:
            os.close(read_end)
    status = os.waitpid(pid, 0)[1]
    code = os.waitstatus_to_exitcode(status)
    return subprocess.CompletedProcess([sys.executable, "-m", *argv], code, stdout, stderr)


def _child(entry: Any, args: list[str], env: dict[str, str], out: int, err: int) -> NoReturn:
    code = 70
    # This process's objects are never collected in the child: their descriptors are closed
    # below, and a socket finalized later would close whatever file reused its number (a
    # git child's pipe: "[Errno 9] Bad file descriptor").
    gc.freeze()
    try:
        stdin = os.open(os.devnull, os.O_RDONLY)
        for fd, target in ((stdin, 0), (out, 1), (err, 2)):
            os.dup2(fd, target)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # as subprocess's close_fds
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 (the child ends by os._exit)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        os.environ.update(env)
        code = exit_code(entry, args)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _read_all(fds: list[int], timeout: float) -> list[str]:
    """Everything written to the pipes ``fds`` until each is closed by every writer."""
    deadline = time.monotonic() + timeout
    chunks: dict[int, list[bytes]] = {fd: [] for fd in fds}
    with selectors.DefaultSelector() as selector:
        for fd in fds:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired([], timeout)
            for key, _ in selector.select(left):
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                else:
                    selector.unregister(key.fd)
    texts = (b"".join(chunks[fd]).decode(errors="replace") for fd in fds)
    return [text.replace("\r\n", "\n").replace("\r", "\n") for text in texts]  # as text=True


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
