"""A process that is a child subreaper (a local runner made it one) reaps the orphans it
adopts: a long-lived worker's commands, sandboxed or not, leave no zombies behind, and
no command's exit status is taken from the runner that waits for it.

Each case runs in a fresh Python process: the test process itself may already be a
subreaper with other tests' children."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runners import reaper
from runners.bwrap import bwrap_version

pytestmark = pytest.mark.skipif(
    not reaper.adopt_orphans(), reason="no child subreaper here (not Linux 3.4+ with /proc)"
)

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, os, sys, tempfile, threading
from pathlib import Path
from runners import Resources
from runners.local import LocalRunner

def zombies():
    me = os.getpid()
    found = []
    for pid in open(f"/proc/{me}/task/{me}/children").read().split():
        text = open(f"/proc/{pid}/stat").read()
        fields = text[text.rfind(")") + 2:].split()
        if fields[0] == "Z" and int(fields[3]) != os.getsid(0):
            found.append(int(pid))
    return found

folder = Path(tempfile.mkdtemp())
local = LocalRunner(folder)
runners = [local]
if sys.argv[1] == "bwrap":
    from runners.bwrap import BubblewrapRunner
    runners.append(BubblewrapRunner(folder))
commands = [
    ("true", None),
    ("sleep 0.05 & exit 0", None),  # a background child that ends on its own
    ("sleep 30", 0.3),  # killed at its time limit
]
counts = []
for round in range(6):
    for runner in runners:
        for command, timeout in commands:
            limits = Resources(timeout_s=timeout) if timeout else None
            runner.run(command, resources=limits)
    counts.append(len(zombies()))

codes = []
def exits(runner, code):
    for _ in range(8):
        codes.append(runner.run(f"exit {code}").exit_code)
threads = [threading.Thread(target=exits, args=(r, 7)) for r in runners for _ in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"counts": counts, "codes": sorted(set(codes))}))
"""


@pytest.mark.parametrize(
    "kind",
    [
        "local",
        pytest.param(
            "bwrap",
            marks=pytest.mark.skipif(bwrap_version() is None, reason="no usable bubblewrap"),
        ),
    ],
)
@pytest.mark.slow  # 5.5 s (bwrap) waiting
def test_commands_leave_no_zombies_and_keep_their_exit_codes(kind: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, kind],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    counts = result["counts"]
    # At most the last command's orphans are not reaped yet; they never pile up.
    assert max(counts) <= 2, counts
    assert result["codes"] == [7], result


def test_becoming_the_subreaper_starts_no_process() -> None:
    """Every `harness run` makes itself the subreaper of its commands' orphans; finding
    libc's prctl for that starts no child (ctypes.util.find_library runs `ldconfig -p`)."""
    code = (
        "import ctypes, subprocess\n"
        "started = []\n"
        "real = subprocess.Popen.__init__\n"
        "def spy(self, args, *rest, **options):\n"
        "    started.append(args)\n"
        "    real(self, args, *rest, **options)\n"
        "subprocess.Popen.__init__ = spy\n"
        "from runners import reaper\n"
        "adopted = reaper.adopt_orphans()\n"
        "flag = ctypes.c_int(0)\n"
        "ctypes.CDLL(None).prctl(37, ctypes.byref(flag), 0, 0, 0)  # PR_GET_CHILD_SUBREAPER\n"
        "print(adopted, flag.value, started)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(maxsplit=2) == ["True", "1", "[]\n"]
