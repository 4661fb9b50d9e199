"""Kill-fuzz (issues 15, 23): random SIGKILLs of the real CLI, some inside a git child.

Each trial copies one tiny project that was never initialised, runs `harness init`, then
`harness run` (what a user types after any interruption: it finishes an interrupted init
first), and SIGKILLs the whole process group (harness and its git children) at random
moments until a run ends by itself. Some kills are aimed: at the moment a `git` child of
harness runs a chosen subcommand (init's `git init`, the commits' `update-ref`, the index
sync's `reset`, or any); those that fall while the project's init has not finished are
also counted as kills in init's git calls. The result is compared with an uninterrupted
reference on features and evidence, commits and their trailers, progress entries, the
user's index (its paths, and nothing staged against HEAD), `journal verify`, and the
tokens the journal recorded.

Bounded for the suite (about a minute); `HARNESS_FUZZ_TRIALS=N` runs more by hand
(`HARNESS_FUZZ_SEED` repeats one, `HARNESS_FUZZ_RUNNER=bwrap` runs the project's commands
under bubblewrap instead of the local runner) and the summary line (runner, trials, kills,
kills inside git by subcommand and those in init's git calls, divergences) is printed.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from artifacts.progress import read_progress
from harness.errors import HarnessError
from harness.journal import Journal
from runners.bwrap import bwrap_version
from tests.session.scripted_child import main as scripted_child
from tests.session.support import _child, _read_all, make_project

pytestmark = pytest.mark.slow

MAX_KILLS = 6
RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")
JOURNAL_ID = re.compile(r"journal:[0-9a-f]{16}/")
# What an aimed kill waits for: a git child running this subcommand (None: any).
TARGETS: tuple[str | None, ...] = ("init", "update-ref", "reset", None)
INIT = "  in init"  # the aimed counter's key for kills inside git during init's own work


class _Child:
    """A `harness` child forked from this process, as `subprocess.Popen` of a new
    interpreter would run it (the parts of Popen the fuzz uses): a session and process
    group of its own (harness and every git child it starts), stdout to /dev/null, stderr
    through a pipe. A fork pays no interpreter start and no imports again (~0.3 CPU-s a
    child, a dozen children a test): the kills fall on harness's own work."""

    def __init__(self, args: list[str]) -> None:
        read_end, write_end = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            os.setsid()
            os.close(read_end)
            devnull = os.open(os.devnull, os.O_WRONLY)
            _child(_scripted_harness, args, {}, devnull, write_end)
        os.close(write_end)
        self.pid = pid
        self.returncode: int | None = None
        self._stderr: int | None = read_end

    def poll(self) -> int | None:
        if self.returncode is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self._ended(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self._ended(os.waitpid(self.pid, 0)[1])
        assert self.returncode is not None
        return self.returncode

    def communicate(self, timeout: float) -> tuple[None, bytes]:
        """Its stderr to the end (every writer gone), then its exit."""
        assert self._stderr is not None
        try:
            (err,) = _read_all([self._stderr], timeout)
        except subprocess.TimeoutExpired:
            _kill_group(self)
            raise
        self.close()
        self.wait()
        return None, err.encode()

    def close(self) -> None:
        """Close this end of its stderr pipe (nothing more is read from it)."""
        if self._stderr is not None:
            os.close(self._stderr)
            self._stderr = None

    def _ended(self, status: int) -> None:
        self.returncode = os.waitstatus_to_exitcode(status)


def _scripted_harness(args: list[str]) -> int:
    """`harness args`, its scripted model answered in process (no `import litellm`)."""
    return scripted_child(["harness", *args])


def _start(root: Path, *args: str) -> _Child:
    """`harness init`/`run` in a forked child (:class:`_Child`), its scripted model in
    process (tests.session.scripted_child: the kills fall on harness's own work)."""
    command = args or ("run", "--quiet")
    return _Child(["-C", str(root), *command])


def _git_children(pid: int) -> list[tuple[int, list[bytes]]]:
    """The git children of ``pid`` with their command lines (GitPython's long-lived
    `cat-file` reader left out: it is not interesting). Read from the process's own
    children list: a scan of /proc is too slow to catch a `git init` of a few ms."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found = []
    for child in children:
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # it ended meanwhile
        if argv and argv[0].endswith(b"git") and b"cat-file" not in argv:
            found.append((int(child), argv))
    return found


def _subcommand(argv: list[bytes]) -> str:
    """The git subcommand of a command line: the first argument after git's own options
    (``-c key=value``, ``-C dir``)."""
    args = argv[1:]
    while args and args[0] in (b"-c", b"-C"):
        args = args[2:]
    return args[0].decode(errors="replace") if args else "?"


def _initialising(root: Path) -> bool:
    """Whether the project's init has not finished yet (read once its process is dead):
    a kill then fell in init's own work, whichever command was running it."""
    try:
        with Journal.open_readonly(root / ".harness") as journal:
            return journal.unfinished_run("init") is not None or not any(
                run.kind == "init" for run in journal.runs()
            )
    except HarnessError:  # no journal yet: init had not recorded its run
        return True


def _kill_group(proc: _Child) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.close()


def _after(command: tuple[str, ...], code: int, err: bytes, root: Path) -> tuple[str, ...]:
    """The next command once a process ended by itself (empty: the trial is over)."""
    if command[0] == "init" and code == 0:
        return ("run", "--quiet")
    if code == 2 and b"Start it with `harness init" in err:
        # Killed before the init recorded its run: `harness run` says to start it.
        return ("init", "--spec", str(root / "SPEC.md"))
    return ()


def _trial(
    root: Path, rng: random.Random, reference_s: float, aimed: Counter[str]
) -> tuple[int, int, int]:
    """Init, then run to the end under random kills; (kills, kills inside git, the final
    exit code). ``aimed`` counts the kills inside git by subcommand, and under ``INIT``
    those that fell while the project's init had not finished (init's git calls)."""
    kills = in_git = 0
    command: tuple[str, ...] = ("init", "--spec", str(root / "SPEC.md"))
    while True:
        proc = _start(root, *command)
        killed = False
        if kills < MAX_KILLS:
            target = rng.choice(TARGETS) if rng.random() < 0.5 else ""
            deadline = time.monotonic() + rng.uniform(0.05, max(0.2, reference_s))
            while proc.poll() is None:
                if target != "":
                    running = [_subcommand(argv) for _, argv in _git_children(proc.pid)]
                    hit = [sub for sub in running if target in (None, sub)]
                    if hit:
                        _kill_group(proc)
                        killed, in_git = True, in_git + 1
                        aimed[hit[0]] += 1
                        aimed[INIT] += _initialising(root)
                        break
                elif time.monotonic() >= deadline:  # an aimed kill waits for its git child
                    _kill_group(proc)
                    killed = True
                    break
                time.sleep(0.0005 if target != "" else 0.002)
        if killed:
            kills += 1
            command = ("run", "--quiet")  # what the user types after any interruption
            continue
        _, err = proc.communicate(timeout=300)
        code = proc.wait()
        command = _after(command, code, err, root)
        if not command:
            return kills, in_git, code


def _signature(root: Path) -> dict[str, Any]:
    """What must not depend on where the kills fell (run ids and times normalised)."""

    def norm(text: str) -> str:
        return JOURNAL_ID.sub("journal:J/", RUN_ID.sub("RUN", text))

    features = json.loads((root / "feature_list.json").read_text())["features"]
    shown = [
        (f["id"], f["passes"], norm((f.get("evidence") or {}).get("verification", "")))
        for f in features
    ]
    log = subprocess.run(
        ["git", "-C", str(root), "log", "--format=%s%x00%(trailers:only,unfold)%x01"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    commits = [norm(c.strip()) for c in log.split("\x01") if c.strip()]
    status = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True
    ).stdout
    index = subprocess.run(
        ["git", "-C", str(root), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    staged = subprocess.run(
        ["git", "-C", str(root), "diff", "--cached", "--name-status", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout
    progress = [
        (
            e.session,
            e.feature,
            e.outcome,
            e.summary,
            [n for n in e.notes if "stale git lock" not in n],
        )
        for e in read_progress(root)
    ]
    with Journal.open_readonly(root / ".harness") as journal:
        tokens = sum(s.tokens or 0 for s in journal.steps() if s.kind == "llm")
        llm_calls = sum(1 for s in journal.steps() if s.kind == "llm" and s.status == "ended")
    verify = subprocess.run(
        [sys.executable, "-m", "harness", "-C", str(root), "journal", "verify"],
        capture_output=True,
        text=True,
    )
    return {
        "features": shown,
        "commits": commits,
        "clean": status == "",
        "index": index,
        "staged": staged,
        "progress": progress,
        "tokens": tokens,
        "llm_calls": llm_calls,
        "journal_verify": verify.returncode,
    }


def test_random_kills_end_as_an_uninterrupted_run(tmp_path: Path) -> None:
    trials = int(os.environ.get("HARNESS_FUZZ_TRIALS", "2"))
    seed = int(os.environ.get("HARNESS_FUZZ_SEED", str(random.randrange(1 << 30))))
    rng = random.Random(seed)
    runner = os.environ.get("HARNESS_FUZZ_RUNNER", "local")
    template = make_project(tmp_path / "template", count=2)
    if runner != "local":
        if bwrap_version() is None:
            pytest.skip("HARNESS_FUZZ_RUNNER=bwrap: bubblewrap cannot run here")
        toml = template / "harness.toml"
        toml.write_text(toml.read_text().replace('kind = "local"', f'kind = "{runner}"'))
    reference_root = tmp_path / "reference"
    shutil.copytree(template, reference_root, symlinks=True)
    started = time.monotonic()
    for command in (("init", "--spec", str(reference_root / "SPEC.md")), ("run", "--quiet")):
        ref = _start(reference_root, *command)
        ref.communicate(timeout=300)
        assert ref.returncode == 0
    reference_s = time.monotonic() - started
    reference = _signature(reference_root)
    assert reference["journal_verify"] == 0 and reference["clean"] and not reference["staged"]
    total_kills = total_in_git = 0
    aimed: Counter[str] = Counter()
    divergences: list[str] = []
    for number in range(trials):
        root = tmp_path / f"trial-{number}"
        shutil.copytree(template, root, symlinks=True)
        kills, in_git, code = _trial(root, rng, reference_s, aimed)
        total_kills += kills
        total_in_git += in_git
        found = _signature(root)
        if code != 0 or found != reference:
            different = {k: (reference[k], found[k]) for k in reference if reference[k] != found[k]}
            divergences.append(f"trial {number} (exit {code}, {kills} kills): {different}")
        else:
            shutil.rmtree(root)  # a long run by hand keeps only what diverged
    in_init = aimed.pop(INIT, 0)
    by_command = ", ".join(f"{name} {count}" for name, count in sorted(aimed.items()))
    print(
        f"kill-fuzz: {runner} runner, seed {seed}, {trials} trials, {total_kills} kills "
        f"({total_in_git} inside a git child: {by_command or 'none'}; {in_init} of them "
        f"in init's git calls), {len(divergences)} divergences"
    )
    assert not divergences, "\n".join(divergences)
