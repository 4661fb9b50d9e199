"""Overhead of DockerRunner against the bare docker SDK for a trivial command (`true`).

Four ways, interleaved run by run so drift hits them alike:
  bare exec     container.exec_run(["sh", "-c", "true"]) in a running container
  runner exec   DockerRunner.run("true") (the session container, via exec)
  bare fresh    client.containers.run(..., remove=True) of `sh -c true`
  runner fresh  DockerRunner.run("true", fresh=True)
Both sides use the same image and the same hardened settings (no network, caps dropped).
Target: the runner at most 10% above the bare SDK (median).

    python bench/runner.py [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
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
    args = parser.parse_args()
    runs = 10 if args.quick else args.runs

    import docker

    from runners import Resources
    from runners.docker_runner import DockerRunner

    client = docker.from_env()
    ensure_image(client)
    project = Path(tempfile.mkdtemp(prefix="harness-bench-"))
    project.chmod(0o777)
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
    bare = client.containers.run(
        IMAGE, ["sleep", "3600"], detach=True, labels={"harness.bench": "1"}, **hardening
    )
    ways: dict[str, Callable[[], object]] = {
        "bare exec": lambda: bare.exec_run(["sh", "-c", "true"]),
        "runner exec": lambda: runner.run("true"),
        "bare fresh": lambda: client.containers.run(
            IMAGE, ["sh", "-c", "true"], remove=True, **hardening
        ),
        "runner fresh": lambda: runner.run("true", fresh=True),
    }
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
        runner.close()
        bare.remove(force=True)
        shutil.rmtree(project, ignore_errors=True)

    print(f"{runs} runs each, trivial command `true`, image {IMAGE}")
    print(f"{'way':<14}{'median ms':>11}{'p90 ms':>9}{'p99 ms':>9}")
    for name, values in times.items():
        print(
            f"{name:<14}{statistics.median(values):>11.1f}"
            f"{pct(values, 0.9):>9.1f}{pct(values, 0.99):>9.1f}"
        )
    for kind in ("exec", "fresh"):
        ratio = statistics.median(times[f"runner {kind}"]) / statistics.median(
            times[f"bare {kind}"]
        )
        verdict = "within" if ratio <= 1.10 else "ABOVE"
        print(f"runner {kind} / bare {kind}: {ratio:.3f} ({verdict} the 10% target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
