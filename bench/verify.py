"""Cost of the proofs of verified done per feature, beside the single check of before.

On the demo project (`wordstat`, 8 features, each a real pytest check), with the program
at its last stage, for each runner that works here:
  single   the feature's check in the work tree, through the session's runner (what
           verify_feature ran before: one check, the agent's sandbox as it is)
  after    the check on a clean checkout of the session's tree, in a fresh sandbox, with
           the checkout's init.sh run first (`[verify] setup = true`, the default): what
           verify_feature runs now
  before   the same on the tree the session started from (mark_passing's second run)
  no-setup after and before with `[verify] setup = false`
and for an empty check (`true`), the fixed cost of a clean checkout and a fresh sandbox.
A feature now costs after + before (+ the evaluator's model calls, not timed here), where
it cost one single; each later session's writeback rechecks passing features on one shared
checkout (setup once, one check each). Rounds interleave the ways; medians in seconds.
Docker needs an image with Python and pytest: `--image` (e.g. the runner's own
`harness-default:latest` from `harness image build`), or by default one built here offline
from the tests' Python image (tests/runners/python_image.py) plus this interpreter's pure
Python pytest packages (`harness-bench-pytest`).

    python bench/verify.py [--rounds N] [--quick] [--runners local,bwrap,docker] [--image I]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_demo(folder: Path) -> tuple[Path, str, list[str]]:
    """The demo project committed without wordstat.py (the start), then its last stage
    written (the session's work): (root, start commit, checks)."""
    from importlib import resources

    from harness.cli.demo_script import FEATURES, init_scene, stage

    root = folder / "demo"
    source = resources.files("templates").joinpath("demo", "project")
    with resources.as_file(source) as path:
        shutil.copytree(path, root)
    (root / ".gitignore").write_text("__pycache__/\n.pytest_cache/\n.harness/\n")
    init_sh = next(
        call["arguments"]["content"]
        for turn in init_scene()["turns"]
        for call in turn.get("tool_calls", [])
        if call["name"] == "write_init_sh"
    )
    (root / "init.sh").write_text(init_sh)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=b@l"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "start"], cwd=root, check=True)
    start = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()
    (root / "wordstat.py").write_text(stage(len(FEATURES)))
    return root, start, [f"python -m pytest -q -p no:cacheprovider {f['test']}" for f in FEATURES]


PYTEST_IMAGE = "harness-bench-pytest"
PACKAGES = ("pytest", "_pytest", "pluggy", "iniconfig", "packaging", "pygments", "py.py")


def pytest_image(folder: Path) -> str:
    """The tests' Python image with pytest's pure-Python packages copied in ("" when no
    Docker engine answers or the host cannot build it)."""
    import site

    try:
        import docker
        from docker.errors import ImageNotFound

        client = docker.from_env(timeout=30)
        client.ping()
    except Exception:  # no engine: Docker is left out, the table says why
        return ""
    try:
        client.images.get(PYTEST_IMAGE)
        return PYTEST_IMAGE
    except ImageNotFound:
        pass
    from tests.runners.python_image import PYTHON_IMAGE, build_python_image

    try:
        build_python_image(client, folder / "python-image")
    except BaseException:  # pytest.skip: the host has no Debian Python to copy
        return ""
    context = folder / "pytest-image"
    target = context / "site"
    target.mkdir(parents=True)
    source = Path(site.getsitepackages()[0])
    for entry in source.iterdir():
        base = entry.name.split("-")[0]
        if entry.name in PACKAGES or (entry.suffix == ".dist-info" and base in PACKAGES):
            copy = shutil.copytree if entry.is_dir() else shutil.copy
            copy(entry, target / entry.name)
    (context / "Dockerfile").write_text(
        f"FROM {PYTHON_IMAGE}\nCOPY site/ /usr/lib/python3/dist-packages/\n"
    )
    client.images.build(path=str(context), tag=PYTEST_IMAGE, rm=True, pull=False)
    return PYTEST_IMAGE


def runner_config(kind: str, image: str) -> object:
    from artifacts.config import HarnessConfig

    config = HarnessConfig.model_validate({"runner": {"kind": kind, "image": image}})
    if kind == "docker":
        import os

        config.runner.user = f"{os.getuid()}:{os.getgid()}"
    return config


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def bench_runner(kind: str, image: str, rounds: int, folder: Path) -> dict[str, float] | str:
    from runners.factory import make_runner
    from session.verify.hidden import HiddenFiles
    from session.verify.trees import before_tree
    from session.verify.verifier import Verifier
    from session.verify.wiring import check_runners

    root, start, checks = make_demo(folder / kind)
    config = runner_config(kind, image)
    try:
        runner = make_runner(config.runner, root)  # type: ignore[attr-defined]
    except Exception as error:  # a runner that cannot run here: said, left out
        return f"left out: {error}"
    factory = check_runners(config, runner, "bench")  # type: ignore[arg-type]
    assert factory is not None
    verifier = Verifier(
        root=root,
        config=config,  # type: ignore[arg-type]
        make_runner=factory,
        start=start,
        user_files=[],
        hidden=HiddenFiles(),
    )
    after_tree, _ = verifier.tree_now()
    start_tree = before_tree(root, start, [])
    probe = runner.run(checks[0])
    if probe.exit_code != 0:
        runner.close()
        return f"left out: the check does not run in this runner ({probe.stderr.strip()[:120]})"
    ways: dict[str, Callable[[str], object]] = {
        "single": lambda check: runner.run(check),
        "after": lambda check: verifier.check(check, after_tree, None),
        "before": lambda check: verifier.check(check, start_tree, None),
    }
    times: dict[str, list[float]] = {
        name: []
        for name in [*ways, "after-no-setup", "before-no-setup", "empty-single", "empty-clean"]
    }
    for _ in range(rounds):
        for check in checks:
            for name, way in ways.items():
                started = time.perf_counter()
                way(check)
                times[name].append(time.perf_counter() - started)
            verifier.config.verify.setup = False
            for name, tree in (("after-no-setup", after_tree), ("before-no-setup", start_tree)):
                started = time.perf_counter()
                verifier.check(check, tree, None)
                times[name].append(time.perf_counter() - started)
            verifier.config.verify.setup = True
        started = time.perf_counter()
        runner.run("true")
        times["empty-single"].append(time.perf_counter() - started)
        verifier.config.verify.setup = False
        started = time.perf_counter()
        verifier.check("true", after_tree, None)
        times["empty-clean"].append(time.perf_counter() - started)
        verifier.config.verify.setup = True
    runner.close()
    return {name: median(values) for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the 8 checks")
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--runners", default="local,bwrap,docker")
    parser.add_argument("--image", default="", help="a Docker image with python and pytest")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    folder = Path(tempfile.mkdtemp(prefix="harness-bench-verify-"))
    if not args.image and "docker" in args.runners:
        args.image = pytest_image(folder)
    print(f"python bench/verify.py --rounds {rounds} --runners {args.runners} --image {args.image}")
    print("medians in seconds per feature check (8 demo checks x rounds)\n")
    header = f"{'runner':<8}{'single':>8}{'after':>8}{'before':>8}{'a+b':>8}{'ratio':>7}"
    header += f"{'a+b no setup':>14}{'ratio':>7}{'empty: single':>15}{'clean':>7}"
    print(header)
    try:
        for kind in args.runners.split(","):
            found = bench_runner(kind, args.image, rounds, folder)
            if isinstance(found, str):
                print(f"{kind:<8}{found}")
                continue
            both = found["after"] + found["before"]
            bare = found["after-no-setup"] + found["before-no-setup"]
            print(
                f"{kind:<8}{found['single']:>8.2f}{found['after']:>8.2f}{found['before']:>8.2f}"
                f"{both:>8.2f}{both / found['single']:>6.1f}x{bare:>14.2f}"
                f"{bare / found['single']:>6.1f}x{found['empty-single']:>15.3f}"
                f"{found['empty-clean']:>7.3f}"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
