"""The demo project's checks and its init.sh load none of the environment's pytest plugins."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from harness.cli.demo_script import FEATURES, init_scene, stage


def _written(name: str) -> object:
    scene = init_scene()
    return next(
        call["arguments"]
        for turn in scene["turns"]
        for call in turn.get("tool_calls", [])
        if call["name"] == name
    )


@pytest.mark.slow  # 1.1 CPU-s, 2.1 s; 10.7 CPU-s, 38 s in another run (bench/suite_census.py)
def test_the_checks_and_init_sh_load_no_plugin_of_the_environment(tmp_path: Path) -> None:
    # An installed pytest plugin that breaks any pytest loading it (its import fails).
    site = tmp_path / "site"
    (site / "boom-0.dist-info").mkdir(parents=True)
    (site / "boom-0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: boom\n")
    (site / "boom-0.dist-info" / "entry_points.txt").write_text("[pytest11]\nboom = boom\n")
    (site / "boom.py").write_text("raise RuntimeError('a plugin of the environment loaded')\n")
    root = tmp_path / "demo"
    with resources.as_file(resources.files("templates").joinpath("demo", "project")) as folder:
        shutil.copytree(folder, root)
    (root / "wordstat.py").write_text(stage(len(FEATURES)))
    features = _written("write_feature_list")
    assert isinstance(features, dict)
    checks = [f["check"] for f in features["features"]]
    assert checks == [checks[0].replace(FEATURES[0]["test"], f["test"]) for f in FEATURES]
    init_sh = _written("write_init_sh")
    assert isinstance(init_sh, dict)
    (root / "init.sh").write_text(init_sh["content"])
    python = str(Path(sys.executable).parent)
    env = {**os.environ, "PYTHONPATH": str(site), "PATH": f"{python}:{os.environ['PATH']}"}
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    for command in (checks[0], "bash init.sh"):
        done = subprocess.run(
            ["sh", "-c", command], cwd=root, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, command + "\n" + done.stdout + done.stderr
    # The plugin does load where autoload is on: it is what the checks are proven to skip.
    loaded = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", FEATURES[0]["test"]],
        cwd=root, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert loaded.returncode != 0
    assert "a plugin of the environment loaded" in loaded.stdout + loaded.stderr
