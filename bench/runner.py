"""Overhead of the runners for a trivial command (`true`): Docker, bubblewrap, bare subprocess.

The ways, interleaved run by run so drift hits them alike:
  subprocess    subprocess.run(["sh", "-c", "true"]) (no runner, no sandbox)
  bare bwrap    subprocess.run of the bwrap command line the runner builds, then `sh -c true`
  bwrap+limits  the same with the runner's limits set as it sets them (dash's `ulimit`
                in that shell, else `prlimit ... --` before it): the rest of "bwrap
                runner" over this is harness's own Python: pipes, the start marker, the
                checks after
  bwrap host /etc  the same command line with the host's whole /etc bound (as before the
                curated /etc)
  bwrap runner  BubblewrapRunner.run("true") as `harness run` makes it (rlimits, output
                capture, protected paths, a hidden .env, the curated /etc, the 10 GiB
                workspace budget)
  bwrap as user (root only) the runner on a project that belongs to uid 4242: bwrap
                started by setpriv as that user
  bwrap no cgroup (root only, where a pids cgroup can be made) the runner without the
                pids cgroup root's commands get (runners/pids_group.py): "bwrap runner"
                over this is what the cgroup costs
  bwrap+count   the same, counting the workspace after every command (what the budget
                check cost before it learnt to skip a count that cannot matter)
  bwrap check   a check's fresh sandbox on bubblewrap, as the verifier makes it for each
                check: a runner built on the checkout (runners.factory.make_runner, the
                hidden-file walk and the workspace count of a new runner), one command
                (``fresh=True``: every bubblewrap command is a new sandbox), closed
  bare exec     container.exec_run(["sh", "-c", "true"]) in a running container
  runner exec   DockerRunner.run("true") (the session container, via exec)
  bare fresh    client.containers.run(..., remove=True) of `sh -c true`
  runner fresh  DockerRunner.run("true", fresh=True)
  docker check  a check's fresh sandbox on Docker, as "bwrap check": a DockerRunner built
                on the checkout, one command in a fresh container, closed
Docker's sides use the same image and the same hardened settings (no network, caps
dropped). Targets: DockerRunner at most 10% above the bare SDK (median); the bubblewrap
runner at most 10 ms above bare subprocess (median). The check rows have no target: they
say what a fresh sandbox per check costs on each runner. Without a Docker engine (or with
--no-docker) the Docker ways are left out; without bwrap its ways are. The project
holds --files small files (20,000: a project with its .venv or node_modules).

    python bench/runner.py [--runs N] [--quick] [--no-docker] [--files N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

IMAGE = "harness-test-busybox"


def ensure_image(client: object) -> None:
    """The offline busybox image the tests use (built from scratch if absent)."""
    from docker.errors import ImageNotFound

    try:
        client.images.get(IMAGE)  # type: ignore[attr-defined]
        return
    except ImageNotFound:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy("/bin/busybox", Path(tmp) / "busybox")
        (Path(tmp) / "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        )
        client.images.build(path=tmp, tag=IMAGE, rm=True, pull=False)  # type: ignore[attr-defined]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="10 runs")
    parser.add_argument("--no-docker", action="store_true", help="leave the Docker ways out")
    parser.add_argument("--files", type=int, default=20_000, help="files in the project")
    args = parser.parse_args()
    runs = 10 if args.quick else args.runs

    from runners.base import DEFAULTS
    from runners.bwrap import BubblewrapRunner, bwrap_version

    project = Path(tempfile.mkdtemp(prefix="harness-bench-"))
    project.chmod(0o777)
    for index in range(args.files):
        folder = project / "deps" / f"pkg{index // 100}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"m{index % 100}.py").write_text("x = 1\n")
    (project / ".env").write_text("KEY=not-for-the-sandbox\n")  # hidden: one stand-in bind
    ways: dict[str, Callable[[], object]] = {
        "subprocess": lambda: subprocess.run(["sh", "-c", "true"], cwd=project, check=True),
    }
    cleanup: list[Callable[[], object]] = [lambda: shutil.rmtree(project, ignore_errors=True)]
    if bwrap_version() is not None:
        limits = {"disk_mb": DEFAULTS.disk_mb, "max_file_mb": DEFAULTS.max_file_mb}
        sandbox = BubblewrapRunner(project, **limits)
        counting = BubblewrapRunner(project, **limits)
        argv = [*sandbox.sandbox_args(network=False, workdir=project), "/bin/sh", "-c", "true"]
        etc = argv.index("/etc") - 1  # --ro-bind <curated> /etc
        host_etc = [*argv[:etc], "/etc", *argv[etc + 1 :]]
        env = sandbox.environment(None)
        plan = sandbox._limit_plan(sandbox.resources)
        prefix, prelude = (plan.prefix, plan.prelude) if plan else ([], "")
        script = f"{prelude} && true" if prelude else "true"
        limited = [*argv[:-3], *prefix, "/bin/sh", "-c", script]
        ways["bare bwrap"] = lambda: subprocess.run(argv, cwd=project, env=env, check=True)
        ways["bwrap+limits"] = lambda: subprocess.run(limited, cwd=project, env=env, check=True)
        ways["bwrap host /etc"] = lambda: subprocess.run(host_etc, cwd=project, env=env, check=True)
        ways["bwrap runner"] = lambda: sandbox.run("true")
        if os.geteuid() == 0:
            owned = Path(tempfile.mkdtemp(prefix="harness-bench-user-"))
            owned.chmod(0o755)
            (owned / "p").mkdir()
            os.chown(owned / "p", 4242, 4242)
            cleanup.append(lambda: shutil.rmtree(owned, ignore_errors=True))
            as_user = BubblewrapRunner(owned / "p", **limits)
            ways["bwrap as user"] = lambda: as_user.run("true")

        if sandbox.pids_cgroup is not None:
            uncounted = BubblewrapRunner(project, **limits)
            uncounted.pids_cgroup = None  # pids not enforced: what the group costs
            ways["bwrap no cgroup"] = lambda: uncounted.run("true")

        def count_every_time() -> object:
            counting.disk = type(counting.disk)(project, DEFAULTS.disk_mb)  # nothing known
            return counting.run("true")

        ways["bwrap+count"] = count_every_time
        ways["bwrap check"] = lambda: _check(project, "bwrap")
    else:
        print("bubblewrap cannot run here: its ways are left out")
    if not args.no_docker:
        try:
            ways.update(_docker_ways(project, cleanup))
        except Exception as error:  # no engine: say so and measure the rest
            print(f"no Docker engine ({type(error).__name__}): the Docker ways are left out")
    times: dict[str, list[float]] = {name: [] for name in ways}
    try:
        for fn in ways.values():  # warm up: the session container starts here
            fn()
        for _ in range(runs):
            for name, fn in ways.items():
                started = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - started) * 1000)
    finally:
        for step in reversed(cleanup):
            step()

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{runs} runs each, trivial command `true`, project of {args.files:,} files")
    print(f"load average (1, 5, 15 min) at the end: {load}; {os.cpu_count()} CPUs")
    print(f"{'way':<17}{'median ms':>11}{'p90 ms':>9}{'p99 ms':>9}")
    for name, values in times.items():
        print(
            f"{name:<17}{statistics.median(values):>11.1f}"
            f"{pct(values, 0.9):>9.1f}{pct(values, 0.99):>9.1f}"
        )
    median = {name: statistics.median(values) for name, values in times.items()}
    if "bwrap runner" in median:
        above = median["bwrap runner"] - median["subprocess"]
        verdict = "within" if above <= 10.0 else "ABOVE"
        print(
            f"bwrap runner - subprocess: {above:+.1f} ms, ratio "
            f"{median['bwrap runner'] / median['subprocess']:.2f} ({verdict} the 10 ms target)"
        )
        print(
            f"bwrap runner - bare bwrap: {median['bwrap runner'] - median['bare bwrap']:+.1f} ms "
            f"(limits: {median['bwrap+limits'] - median['bare bwrap']:+.1f}, harness's Python "
            f"and pipes: {median['bwrap runner'] - median['bwrap+limits']:+.1f}); bare bwrap - "
            f"subprocess: {median['bare bwrap'] - median['subprocess']:+.1f} ms"
        )
        if "bwrap no cgroup" in median:
            print(
                "the pids cgroup of root's commands: "
                f"{median['bwrap runner'] - median['bwrap no cgroup']:+.1f} ms"
            )
        print(
            f"workspace counts: {sandbox.disk.counts} in {runs + 1} commands (bwrap+count: "
            f"one per command, {median['bwrap+count'] - median['bwrap runner']:+.1f} ms each)"
        )
    for kind in ("exec", "fresh"):
        if f"runner {kind}" not in median:
            continue
        ratio = median[f"runner {kind}"] / median[f"bare {kind}"]
        verdict = "within" if ratio <= 1.10 else "ABOVE"
        print(f"runner {kind} / bare {kind}: {ratio:.3f} ({verdict} the 10% target)")
    fresh = []
    if "bwrap check" in median:
        fresh.append(
            f"bubblewrap {median['bwrap check']:.1f} ms (a runner's command "
            f"{median['bwrap runner']:.1f}, building the runner "
            f"{median['bwrap check'] - median['bwrap runner']:+.1f})"
        )
    if "docker check" in median:
        ratio = median["docker check"] / median["bare fresh"]
        fresh.append(
            f"Docker {median['docker check']:.1f} ms (bare fresh container "
            f"{median['bare fresh']:.1f}, ratio {ratio:.2f})"
        )
    if fresh:
        print("a fresh sandbox per check: " + "; ".join(fresh))
    return 0


def _check(project: Path, kind: str, **settings: object) -> object:
    """One check's sandbox: a runner of ``kind`` built on the checkout as the verifier
    builds it (session/verify/wiring.py), one command, closed."""
    from artifacts.config import RunnerConfig
    from runners.factory import make_runner

    config = RunnerConfig(kind=kind, **settings)  # type: ignore[arg-type]
    runner = make_runner(config, project, labels={"harness.role": "check"})
    try:
        return runner.run("true", fresh=True)
    finally:
        runner.close()


def _docker_ways(
    project: Path, cleanup: list[Callable[[], object]]
) -> dict[str, Callable[[], object]]:
    import docker

    from runners import Resources
    from runners.docker_runner import DockerRunner

    client = docker.from_env()
    client.ping()
    ensure_image(client)
    hardening = dict(
        user="1000:1000",
        network_mode="none",
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        read_only=True,
        init=True,
        mem_limit="2g",
        volumes={str(project): {"bind": "/workspace", "mode": "rw"}},
        working_dir="/workspace",
    )
    runner = DockerRunner(project, image=IMAGE, client=client, resources=Resources())
    cleanup.append(runner.close)
    bare = client.containers.run(
        IMAGE, ["sleep", "3600"], detach=True, labels={"harness.bench": "1"}, **hardening
    )
    cleanup.append(lambda: bare.remove(force=True))
    return {
        "bare exec": lambda: bare.exec_run(["sh", "-c", "true"]),
        "runner exec": lambda: runner.run("true"),
        "bare fresh": lambda: client.containers.run(
            IMAGE, ["sh", "-c", "true"], remove=True, **hardening
        ),
        "runner fresh": lambda: runner.run("true", fresh=True),
        "docker check": lambda: _check(project, "docker", image=IMAGE),
    }


if __name__ == "__main__":
    sys.exit(main())
