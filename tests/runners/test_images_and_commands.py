"""`harness image build` and `harness doctor` against the real engine."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from runners.bwrap import bwrap_version
from runners.images import TEMPLATE, base_images, plan_build


def test_plan_prefers_the_projects_dockerfile(tmp_path: Path) -> None:
    assert plan_build(tmp_path).dockerfile == TEMPLATE
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    plan = plan_build(tmp_path)
    assert plan.dockerfile == tmp_path / "Dockerfile" and plan.context == tmp_path.resolve()


def test_template_is_python_slim_with_a_non_root_user() -> None:
    text = TEMPLATE.read_text()
    assert base_images(TEMPLATE) == ["python:3.11-slim"]
    assert "USER 1000:1000" in text and "pytest" in text


def test_image_build_of_a_project_dockerfile(
    docker_client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy("/bin/busybox", tmp_path / "busybox")
    (tmp_path / "Dockerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    )
    # Its own tag: suites sharing one engine (CI beside another run) each build and remove
    # theirs, never one another's.
    tag = f"harness-test-built-{uuid.uuid4().hex[:12]}:latest"
    try:
        assert main(["-C", str(tmp_path), "image", "build", "--tag", tag]) == 0
        assert docker_client.images.get(tag).id
        assert f"built {tag}" in capsys.readouterr().out
    finally:
        docker_client.images.remove(tag, force=True)


def test_image_build_with_a_missing_base_says_so(
    docker_client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM harness-no-such-base:1\nRUN true\n")
    code = main(["-C", str(tmp_path), "image", "build", "--tag", "harness-test-never"])
    err = capsys.readouterr().err
    assert code == 2  # the Dockerfile's base is the user's input to fix
    assert "harness-no-such-base:1 is not on this Docker engine" in err
    assert "Traceback" not in err


def _git_project(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def test_doctor_all_fine(
    docker_client: Any,
    busybox_image: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = _git_project(tmp_path)
    monkeypatch.setenv("HARNESS_RUNNER_IMAGE", busybox_image)
    monkeypatch.setenv("HARNESS_MODEL_NAME", "scripted/builtin:echo")  # no model: a FIX
    assert main(["-C", str(root), "doctor"]) == 0
    out = capsys.readouterr().out
    assert f"[ok  ] image: {busybox_image} is present" in out
    assert f"[ok  ] runner: docker runner, image {busybox_image}" in out
    assert "network off for the agent" in out
    assert out.strip().endswith("all fine")


@pytest.mark.parametrize(
    ("kind", "line"),
    [
        ("bwrap", "[ok  ] runner: bwrap sandbox (bubblewrap "),
        ("local", "[warn] runner: local runner (NOT a sandbox)"),
    ],
)
def test_doctor_names_the_runner_in_use(
    kind: str,
    line: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:

    if kind == "bwrap" and bwrap_version() is None:
        pytest.skip("bubblewrap cannot run here (bwrap missing or user namespaces disabled)")
    monkeypatch.setenv("HARNESS_RUNNER_KIND", kind)
    main(["-C", str(_git_project(tmp_path)), "doctor"])
    out = capsys.readouterr().out
    assert line in out
    assert f'docker: runner.kind = "{kind}": Docker not used' in out


def test_doctor_with_auto_and_no_docker_names_bubblewrap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:

    if bwrap_version() is None:
        pytest.skip("bubblewrap cannot run here (bwrap missing or user namespaces disabled)")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    main(["-C", str(_git_project(tmp_path)), "doctor"])
    out = capsys.readouterr().out
    assert "[warn] docker: the Docker engine cannot be reached" in out
    assert "[ok  ] runner: bwrap sandbox (bubblewrap " in out and "daemon_unreachable" in out


def test_doctor_says_what_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    monkeypatch.setenv("HARNESS_RUNNER_KIND", "docker")
    monkeypatch.setenv("HARNESS_MODEL_NAME", "openai/gpt-4o")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["-C", str(tmp_path), "doctor"]) == 2  # things to fix: exit 2
    out = capsys.readouterr().out
    assert "[FIX ] docker: the Docker engine cannot be reached" in out
    assert "Start Docker" in out
    assert "[FIX ] git:" in out and "git init" in out
    assert "OPENAI_API_KEY is not set" in out
    assert "3 thing(s) to fix" in out
