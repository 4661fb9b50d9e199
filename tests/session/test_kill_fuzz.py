"""Kill-fuzz (issue 15): random SIGKILLs of the real CLI, some while a git child runs.

Each trial copies one initialised tiny project, runs `harness run` and SIGKILLs its whole
process group (harness and its git children) at random moments, some of them chosen as
"a `git` child of harness is running", until a run ends by itself. The result is compared
with an uninterrupted reference run on features and evidence, commits and their trailers,
progress entries, `journal verify`, and the tokens the journal recorded.

Bounded for the suite (about a minute); `HARNESS_FUZZ_TRIALS=N` runs more by hand and the
summary line (trials, kills, kills inside git, divergences) is printed.
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
from pathlib import Path
from typing import Any

import pytest

from tests.session.support import init, make_project

pytestmark = pytest.mark.slow

MAX_KILLS = 5
RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")


def _start(root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "harness", "-C", str(root), "run", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # the group: harness and every git child it starts
    )


def _git_children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and comm == "git":
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue  # it ended between the two reads
            if b"cat-file" not in cmd:  # GitPython's long-lived reader is not interesting
                found.append(int(entry.name))
    return found


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _trial(root: Path, rng: random.Random, reference_s: float) -> tuple[int, int, int]:
    """Run to the end under random kills; (kills, kills inside git, final exit code)."""
    kills = in_git = 0
    while True:
        proc = _start(root)
        if kills >= MAX_KILLS:
            proc.communicate(timeout=300)
            return kills, in_git, proc.returncode
        inside_git = rng.random() < 0.5
        deadline = time.monotonic() + rng.uniform(0.05, max(0.2, reference_s))
        killed = False
        while proc.poll() is None:
            if inside_git and _git_children(proc.pid):
                _kill_group(proc)
                killed, in_git = True, in_git + 1
                break
            if time.monotonic() >= deadline:
                _kill_group(proc)
                killed = True
                break
            time.sleep(0.002)
        if not killed:
            proc.communicate(timeout=300)
            return kills, in_git, proc.returncode
        kills += 1


def _signature(root: Path) -> dict[str, Any]:
    """What must not depend on where the kills fell (run ids and times normalised)."""
    from artifacts.progress import read_progress
    from harness.journal import Journal

    def norm(text: str) -> str:
        return RUN_ID.sub("RUN", text)

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
        "progress": progress,
        "tokens": tokens,
        "llm_calls": llm_calls,
        "journal_verify": verify.returncode,
    }


def test_random_kills_end_as_an_uninterrupted_run(tmp_path: Path) -> None:
    trials = int(os.environ.get("HARNESS_FUZZ_TRIALS", "2"))
    seed = int(os.environ.get("HARNESS_FUZZ_SEED", str(random.randrange(1 << 30))))
    rng = random.Random(seed)
    template = make_project(tmp_path / "template", count=2)
    init(template)
    reference_root = tmp_path / "reference"
    shutil.copytree(template, reference_root, symlinks=True)
    started = time.monotonic()
    ref = _start(reference_root)
    ref.communicate(timeout=300)
    reference_s = time.monotonic() - started
    assert ref.returncode == 0
    reference = _signature(reference_root)
    assert reference["journal_verify"] == 0 and reference["clean"]
    total_kills = total_in_git = 0
    divergences: list[str] = []
    for number in range(trials):
        root = tmp_path / f"trial-{number}"
        shutil.copytree(template, root, symlinks=True)
        kills, in_git, code = _trial(root, rng, reference_s)
        total_kills += kills
        total_in_git += in_git
        found = _signature(root)
        if code != 0 or found != reference:
            different = {k: (reference[k], found[k]) for k in reference if reference[k] != found[k]}
            divergences.append(f"trial {number} (exit {code}, {kills} kills): {different}")
    print(
        f"kill-fuzz: seed {seed}, {trials} trials, {total_kills} kills "
        f"({total_in_git} inside a git child), {len(divergences)} divergences"
    )
    assert not divergences, "\n".join(divergences)
