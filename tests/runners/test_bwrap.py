"""BubblewrapRunner with the real bwrap: what a hostile command can and cannot do."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import RunnerError
from runners import Resources, pids_group, process
from runners.bwrap import BubblewrapRunner, bwrap_version
from runners.process import dash_shell, prlimit_path

pytestmark = pytest.mark.skipif(
    bwrap_version() is None,
    reason="bubblewrap cannot run here (bwrap missing or user namespaces disabled)",
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]\n")
    (root / ".harness").mkdir()
    (root / ".harness" / "journal.db").write_bytes(b"journal")
    (root / "feature_list.json").write_text('{"passes": false}\n')
    (root / "tests" / "acceptance").mkdir(parents=True)
    (root / "tests" / "acceptance" / "test_ok.py").write_text("assert True\n")
    (root / "src").mkdir()
    return root


@pytest.fixture
def runner(project: Path) -> BubblewrapRunner:
    return BubblewrapRunner(project, protected=["tests/acceptance"])


def _stable(path: Path, wait_s: float = 0.6) -> bool:
    """True when ``path`` does not change over ``wait_s`` (nothing writes it any more)."""
    before = path.read_bytes() if path.exists() else None
    time.sleep(wait_s)
    return (path.read_bytes() if path.exists() else None) == before


def test_runs_in_the_project_and_names_itself(runner: BubblewrapRunner, project: Path) -> None:
    result = runner.run("pwd; echo made > src/out.txt; echo err >&2; exit 3")
    assert result.stdout.strip() == str(project)
    assert result.stderr == "err\n" and result.exit_code == 3 and result.failure is None
    assert (project / "src" / "out.txt").read_text() == "made\n"
    assert runner.sandboxed and runner.name == "bwrap"
    assert "bwrap sandbox (bubblewrap" in runner.describe()

    pids = ""
    if os.geteuid() == 0:  # root is exempt from RLIMIT_NPROC: a cgroup, where one can be made
        pids = ", pids by a cgroup (commands run as root)"
        if pids_group.base() is None:
            pids = " (pids not enforced: commands run as root, and no pids cgroup can be made here)"
    by = "the shell's ulimit" if dash_shell() else "prlimit"
    limited = dash_shell() or prlimit_path()
    limits = f"limits by {by}{pids}," if limited else "(no prlimit: pids not enforced)"
    if not limited and runner.pids_cgroup is not None:
        limits = "limits set before exec, pids by a cgroup (commands run as root),"
    assert limits in runner.describe()
    assert "network off" in runner.describe()


@pytest.mark.parametrize(
    "attack",
    [
        "echo forged > feature_list.json",
        "mv feature_list.json f2",
        "rm -f feature_list.json",
        "mv .git g2",
        "echo 'rm -rf /' > .git/hooks/pre-commit",
        "printf '[core]\\n fsmonitor = evil\\n' >> .git/config",
        "echo forged > .harness/journal.db",
        "rm -rf .harness",
        "echo weak > tests/acceptance/test_ok.py",
        "mv tests tests2",  # the parent of a protected path is pinned too
        "mv tests/acceptance tests/moved",
        "rm -rf tests",
        "umount .git",  # no capabilities, even when the harness runs as root
        "touch /usr/marker",
        "touch /etc/marker",
    ],
)
def test_protected_paths_and_the_system_stay_read_only(
    runner: BubblewrapRunner, project: Path, attack: str
) -> None:
    result = runner.run(f"{attack} && echo BROKE; echo x > .git/after-umount && echo BROKE")
    assert "BROKE" not in result.stdout, result.stderr
    assert (project / "feature_list.json").read_text() == '{"passes": false}\n'
    assert (project / ".git" / "config").read_text() == "[core]\n"
    assert not (project / ".git" / "hooks" / "pre-commit").exists()
    assert (project / ".harness" / "journal.db").read_bytes() == b"journal"
    assert (project / "tests" / "acceptance" / "test_ok.py").read_text() == "assert True\n"
    assert not (project / "tests2").exists() and not Path("/usr/marker").exists()


def test_the_host_is_out_of_sight(runner: BubblewrapRunner, tmp_path: Path) -> None:
    marker = f"harness-bwrap-marker-{os.getpid()}"
    result = runner.run(
        f"echo $HOME; touch /tmp/{marker}; ls /root /home 2>&1; "
        "test -e /var/run/docker.sock || test -e /run/docker.sock && echo SOCKET; true"
    )
    assert result.stdout.splitlines()[0] == "/home/harness"
    assert "SOCKET" not in result.stdout
    assert not Path(f"/tmp/{marker}").exists()  # /tmp is private
    host_home = Path.home()
    if host_home.is_dir() and any(host_home.iterdir()):
        listed = set(runner.run(f"ls -A {host_home} 2>/dev/null").stdout.split())
        # Only the way to the harness's own Python (e.g. ~/.pyenv/versions/X) is there.
        python_dirs = {
            Path(p).relative_to(host_home).parts[0]
            for p in (sys.prefix, sys.base_prefix)
            if Path(p).is_relative_to(host_home)
        }
        assert listed <= python_dirs, listed


def test_secrets_in_the_environment_do_not_reach_the_command(
    runner: BubblewrapRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_TEST_API_KEY", "sk-very-secret-value")
    monkeypatch.setenv("PLAIN_LOOKING_VARIABLE", "also-private")
    result = runner.run("env; cat /proc/1/environ; cat /proc/$PPID/environ", env={"MINE": "1"})
    assert "sk-very-secret-value" not in result.stdout
    assert "also-private" not in result.stdout
    assert "MINE=1" in result.stdout


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP server on the host's loopback that answers 'pong'."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(10)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(b"pong")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def test_no_network_unless_declared(runner: BubblewrapRunner, listener: int) -> None:
    probe = (
        f"{sys.executable} -c \"import socket; s = socket.create_connection(('127.0.0.1', "
        f'{listener}), timeout=3); print(s.recv(4).decode())"'
    )
    closed = runner.run(probe)
    assert "pong" not in closed.stdout and closed.exit_code != 0
    assert runner.run("cat /proc/net/dev").stdout.count(":") == 1  # only lo
    opened = runner.run(probe, resources=Resources(network=True))
    assert opened.stdout.strip() == "pong", opened.stderr
    setup = runner.run(probe, phase="setup")  # setup_network defaults to on
    assert setup.stdout.strip() == "pong", setup.stderr


def test_no_process_outlives_the_command(runner: BubblewrapRunner, project: Path) -> None:
    result = runner.run(
        "(while :; do date +%N >> beat.txt; sleep 0.05; done) & "
        "setsid sh -c 'while :; do date +%N >> beat2.txt; sleep 0.05; done' & "
        "nohup sh -c 'sleep 1; echo late > late.txt' >/dev/null 2>&1 & "
        "sleep 0.3; echo started"
    )
    assert result.stdout.strip() == "started" and result.duration_s < 5
    assert _stable(project / "beat.txt") and _stable(project / "beat2.txt")
    time.sleep(1.0)
    assert not (project / "late.txt").exists()
    runner.stop()  # nothing to stop, and the runner is still usable
    assert runner.run("echo again").stdout == "again\n"


def test_time_limit_kills_the_sandbox(runner: BubblewrapRunner, project: Path) -> None:
    result = runner.run(
        "(while :; do date +%N >> beat.txt; sleep 0.05; done) & sleep 300",
        resources=Resources(timeout_s=1),
    )
    assert result.failure is not None and result.failure.kind == "timeout"
    assert result.exit_code is None and result.duration_s < 5
    assert _stable(project / "beat.txt")


def test_memory_limit_is_an_oom_failure(runner: BubblewrapRunner) -> None:
    result = runner.run(
        f"{sys.executable} -c 'x = bytearray(600 * 1024 * 1024)'",
        resources=Resources(memory_mb=300),
    )
    assert result.failure is not None and result.failure.kind == "oom"
    assert "300 MB" in result.failure.message


def test_a_50_gb_sparse_file_is_a_disk_failure(project: Path) -> None:
    runner = BubblewrapRunner(project, max_file_mb=5)
    result = runner.run("truncate -s 50G big.bin; echo done")
    assert result.failure is not None and result.failure.kind == "disk"
    assert "5 MB" in result.failure.message and "max_file_mb" in result.failure.suggestion
    assert not (project / "big.bin").exists() or (project / "big.bin").stat().st_size <= 5 << 20
    written = runner.run("dd if=/dev/zero of=data.bin bs=1M count=8")
    assert written.failure is not None and written.failure.kind == "disk"
    assert (project / "data.bin").stat().st_size <= 5 << 20


def test_the_workspace_budget_is_checked_after_each_command(project: Path) -> None:
    runner = BubblewrapRunner(project, disk_mb=3)
    assert runner.run("dd if=/dev/zero of=a.bin bs=1M count=2").failure is None
    result = runner.run("dd if=/dev/zero of=b.bin bs=1M count=2")
    assert result.failure is not None and result.failure.kind == "disk"
    assert "3 MB" in result.failure.message and result.failure.limit == "disk_mb=3"
    assert runner.run("rm b.bin").failure is None  # back under the budget


def test_tmp_is_size_limited(runner: BubblewrapRunner) -> None:
    result = runner.run("dd if=/dev/zero of=/tmp/fill bs=1M count=600 2>&1; echo rc=$?")
    assert "No space left on device" in result.stdout


def test_a_protected_path_created_later_is_protected_from_then_on(project: Path) -> None:
    runner = BubblewrapRunner(project, protected=["SPEC.md"])
    assert runner.run("echo hi").exit_code == 0
    (project / "SPEC.md").write_text("the human's\n")  # written by the harness, on the host
    assert runner.run("echo changed > SPEC.md").exit_code != 0
    assert (project / "SPEC.md").read_text() == "the human's\n"


def test_a_protected_path_that_does_not_exist_cannot_be_planted(project: Path) -> None:
    runner = BubblewrapRunner(project, protected=["conftest.py", "tests/conftest.py", "docs/x"])
    result = runner.run(
        "echo evil > conftest.py; echo evil > tests/conftest.py; mkdir -p docs/x; echo ok"
    )
    assert result.failure is not None and result.failure.kind == "sandbox"
    assert "conftest.py, tests/conftest.py, docs/x" in result.failure.message
    assert not (project / "conftest.py").exists()
    assert not (project / "tests" / "conftest.py").exists()
    assert not (project / "docs" / "x").exists() and (project / "docs").is_dir()


def test_a_planted_path_through_a_symlink_out_of_the_project_is_not_followed(
    project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "conftest.py").write_text("the user's file\n")
    runner = BubblewrapRunner(project, protected=["lib/conftest.py"])
    result = runner.run(f"ln -s {outside} lib")
    assert result.failure is not None and "lib/conftest.py" in result.failure.message
    assert (outside / "conftest.py").read_text() == "the user's file\n"  # not removed


def test_the_journal_keys_are_out_of_sight_even_under_a_bound_folder(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = project / "src" / "state"  # a state home a workload could otherwise read
    (state / "keys").mkdir(parents=True)
    (state / "keys" / "0123456789abcdef.key").write_bytes(b"k" * 32)
    monkeypatch.setenv("HARNESS_STATE_HOME", str(state))
    result = BubblewrapRunner(project).run("ls -A src/state; cat src/state/keys/*.key")
    assert "kkkk" not in result.stdout and "keys" not in result.stdout
    assert (state / "keys" / "0123456789abcdef.key").read_bytes() == b"k" * 32


@pytest.mark.parametrize("how", ["shell", "prlimit", "preexec"])
def test_the_limits_hold_set_by_the_shell_by_prlimit_or_before_exec(
    project: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:

    if how == "shell" and not process.dash_shell():
        pytest.skip("/bin/sh is not dash: prlimit sets the limits here")
    if how != "shell":
        monkeypatch.setattr("runners.bwrap.dash_shell", lambda: False)
    if how == "preexec":
        monkeypatch.setattr(process, "prlimit_path", lambda: None)
        monkeypatch.setattr("runners.bwrap.prlimit_path", lambda: None)
    elif how == "prlimit" and process.prlimit_path() is None:
        pytest.skip("util-linux's prlimit is not installed")
    runner = BubblewrapRunner(project, max_file_mb=5)
    limits = runner.run("ulimit -f; ulimit -v; ulimit -t", resources=Resources(memory_mb=300))
    file_blocks, memory_kb, cpu_s = limits.stdout.split()
    assert int(file_blocks) * 512 == 5 << 20  # POSIX sh: 512-byte blocks
    assert int(memory_kb) == 300 * 1024
    assert int(cpu_s) == int(Resources().timeout_s) + 1
    big = runner.run("dd if=/dev/zero of=data.bin bs=1M count=8")
    assert big.failure is not None and big.failure.kind == "disk"


@pytest.mark.parametrize("how", ["shell", "prlimit"])
def test_a_sandbox_that_cannot_start_is_the_machines_fault_not_the_commands(
    project: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """Limits that cannot be set (here a soft limit above its hard one), by the shell or
    by prlimit: the command does not run. With the run's own resources it is the
    machine's fault (RunnerError: the run parks, issue 23); with resources the agent
    declared, the agent reads why."""
    if how == "shell":
        if not process.dash_shell():
            pytest.skip("/bin/sh is not dash")
        monkeypatch.setattr(
            "runners.bwrap.limit_script", lambda *a, **k: "ulimit -t 3 && ulimit -S -t 5"
        )
        said = "error setting limit"
    else:
        if process.prlimit_path() is None:
            pytest.skip("util-linux's prlimit is not installed")
        monkeypatch.setattr("runners.bwrap.dash_shell", lambda: False)
        monkeypatch.setattr(
            "runners.bwrap.limit_argv",
            lambda *a, **k: [process.prlimit_path(), "--cpu=5:3", "--"],
        )
        said = "soft limit CPU"
    runner = BubblewrapRunner(project)
    with pytest.raises(RunnerError) as raised:
        runner.run("echo ran > ran.txt")
    assert raised.value.kind == "sandbox_failed"
    assert "bubblewrap could not start a command on this machine" in str(raised.value)
    assert said in str(raised.value)
    declared = Resources(memory_mb=1024)
    result = runner.run("echo ran > ran.txt", resources=declared)
    assert not (project / "ran.txt").exists()
    assert result.failure is not None and result.failure.kind == "sandbox"
    assert "could not start under the resources you declared" in result.failure.message
    assert said in result.failure.message


def test_a_command_that_fails_like_bwrap_is_still_the_commands(project: Path) -> None:
    """The sandbox says it started before the command runs: a command printing what bwrap
    prints on a failed start, and exiting 1, is the command's own failure (an agent
    cannot park the run with it)."""
    result = BubblewrapRunner(project).run(
        "echo 'bwrap: setting up uid map: Permission denied' >&2; exit 1"
    )
    assert result.failure is None and result.exit_code == 1
    assert "setting up uid map" in result.stderr


def test_a_command_that_does_not_parse_counts_as_started(project: Path) -> None:
    result = BubblewrapRunner(project).run("if then fi (")
    assert result.failure is None and result.exit_code == 2


SETPRIV = "/usr/bin/setpriv"


@pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(SETPRIV),
    reason="needs root to run the runner as an unprivileged user (setpriv)",
)
def test_the_pids_limit_holds_for_an_unprivileged_user(tmp_path: Path) -> None:
    """RLIMIT_NPROC, set inside the sandbox's user namespace, bounds a fork bomb to
    ``pids`` processes (root is exempt from it, so the runner runs as nobody here)."""

    repo = Path(__file__).resolve().parents[2]
    project = Path(tempfile.mkdtemp(prefix="harness-pids-"))
    project.chmod(0o777)
    program = (
        "from pathlib import Path; from runners import Resources; "
        "from runners.bwrap import BubblewrapRunner; "
        f"r = BubblewrapRunner(Path({str(project)!r})); "
        "cmd = 'n=0; while [ $n -lt 60 ]; do sleep 5 & n=$((n+1)); echo $n; done'; "
        "res = r.run(cmd, resources=Resources(pids=16, timeout_s=20)); "
        "print('COUNT', (res.stdout.split() or ['0'])[-1])"
    )
    probe = subprocess.run(
        [
            SETPRIV,
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-c",
            program,
        ],
        cwd=project,
        env={
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(repo),
            "HARNESS_STATE_HOME": str(project),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "COUNT" not in probe.stdout:
        pytest.skip(f"the harness cannot run as nobody here: {probe.stderr.strip()[-300:]}")
    started = int(probe.stdout.split("COUNT")[-1].split()[0])
    assert 0 < started < 16  # the shell, bwrap's init and prlimit count too


@pytest.mark.skipif(os.geteuid() != 0, reason="root's commands: RLIMIT_NPROC exempts them")
def test_the_pids_limit_holds_for_root_by_a_cgroup_removed_after_each_command(
    runner: BubblewrapRunner,
) -> None:
    """The project is root's, so its commands run as root: the kernel exempts them from
    RLIMIT_NPROC (60 sleeps all started before). Each command gets a pids cgroup."""
    if runner.pids_cgroup is None:
        pytest.skip("no pids cgroup can be made here (describe() says pids is not enforced)")
    groups = runner.pids_cgroup
    before = {p.name for p in groups.iterdir()}  # other runners of this process may have some
    bomb = "n=0; while [ $n -lt 60 ]; do sleep 5 & n=$((n+1)); echo $n; done"
    result = runner.run(bomb, resources=Resources(pids=16, timeout_s=20))
    started = int((result.stdout.split() or ["0"])[-1])
    assert 0 < started < 16, result  # the shell counts too
    assert "fork" in result.stderr.lower(), result
    for _ in range(5):
        assert runner.run("echo ok").stdout == "ok\n"  # each command gets a group of its own
    runner.close()
    mine = f"{pids_group.PREFIX}{os.getpid()}-"
    assert not [p for p in groups.iterdir() if p.name.startswith(mine) and p.name not in before]


# A process orphans are re-parented to, running five commands; prints its zombie children.
REAPED_CHILD = """
import ctypes, os, sys, time
from pathlib import Path
# made the reaper of its orphans by its launcher, as pid 1 of a container is
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
from runners import reaper
from runners.bwrap import BubblewrapRunner

def children():  # the states of this process's children
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            text = open(f"/proc/{name}/stat").read()
        except OSError:
            continue
        state, parent = text[text.rindex(")") + 2 :].split()[:2]
        if int(parent) == os.getpid():
            found.append(state)
    return found

runner = BubblewrapRunner(Path(sys.argv[1]))  # its bwrap probes' sandboxes included
for _ in range(10):
    assert runner.run("true").exit_code == 0
deadline = time.monotonic() + 20  # every inner bwrap exits ~10 ms after its command
while any(state != "Z" for state in children()):
    assert time.monotonic() < deadline, children()
    time.sleep(0.05)
left = children().count("Z")
reaper.collect()  # what the next command does first
print(left, children().count("Z"))
"""


def test_a_harness_its_orphans_come_to_keeps_no_zombie_per_command(project: Path) -> None:
    """Each command's inner bwrap exits just after the outer one the runner waits for, and
    goes to the nearest reaper. A harness its orphans come to (made a subreaper by its
    launcher here; pid 1 of a container started without --init is the same case) reaps
    it at its next command: at most the last one is left, never one per command (a run of
    days would fill the pid table). Not run as pid 1 here: a harness in its own PID
    namespace would share the machine's pids cgroups with the other tests' runners."""
    argv = [sys.executable, "-c", REAPED_CHILD, str(project)]
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    left, after = map(int, done.stdout.split())
    # Each command reaps those before it (11 left before the fix: one a command and the
    # bwrap probe's), and a reap takes every one that exited (the probe's stayed when it
    # was started in harness's own session, which collect passes over).
    assert left < 5 and after == 0, done.stdout
