"""The first commits of `harness init` and `harness adopt` obey the writeback's rules:
a file holding a secret or above the size limits is neither committed nor staged, stays
on disk as it was, and is named on the terminal with its reason and what to do."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.session.support import harness, harness_proc, harness_run, head_files, make_project
from tests.session.test_e2e_adopt import quickstart

SHAPED = "sk-proj-" + "Zx81Yw72Xv63Wu54Vt45Us36Tr27Qs18"  # an OpenAI key's shape
TOKEN = "deploy-Qm3Lk9Jh7Gf5Ds1A"  # a value only the environment says is secret
PRIVATE = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
GITHUB = "ghp_" + "FirstCommitZYXWVUTSRQPONMLKJ0123"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout


def _users_project(root: Path) -> dict[str, bytes]:
    """The user's folder: a spec, some code, and what must never reach git."""
    make_project(root, count=1)
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print('hello')\n")
    (root / ".env").write_text(f"OPENAI_API_KEY={SHAPED}\nDEBUG=1\n")
    (root / "id_rsa").write_text(PRIVATE)
    (root / "deploy.cfg").write_text(f"token = {TOKEN}\n")
    with (root / "data.bin").open("wb") as handle:
        handle.truncate(60 * 1024 * 1024)  # 60 MiB (sparse: its size comes from lstat)
    return {name: (root / name).read_bytes() for name in (".env", "id_rsa", "deploy.cfg")}


LEFT_OUT = {
    ".env": "openai key",
    "id_rsa": "private key",
    "deploy.cfg": "the value of $DEPLOY_TOKEN",
    "data.bin": "60.0 MiB is above [git] max_file_mb = 10",
}


def _assert_left_out(root: Path, said: str, before: dict[str, bytes]) -> None:
    committed = head_files(root)
    assert not committed & set(LEFT_OUT), committed
    assert not set(_git(root, "ls-files").split()) & set(LEFT_OUT)  # not staged either
    untracked = _git(root, "status", "--porcelain", "--untracked-files=all")
    for name, reason in LEFT_OUT.items():
        line = next((ln for ln in said.splitlines() if f"not committed: {name}:" in ln), "")
        assert reason in line, said
        assert f"?? {name}" in untracked  # still there, still the user's
    assert ".gitignore" in said and "max_file_mb in harness.toml" in said
    for secret in (SHAPED, TOKEN, "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU"):
        assert secret not in said
    assert {name: (root / name).read_bytes() for name in before} == before
    assert (root / "data.bin").stat().st_size == 60 * 1024 * 1024


def test_init_in_a_fresh_folder_commits_the_project_but_not_its_secrets_or_big_files(
    tmp_path: Path,
) -> None:
    root = tmp_path / "app"
    before = _users_project(root)
    done = harness_proc(root, "init", "--spec", str(root / "SPEC.md"), env={"DEPLOY_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    committed = head_files(root)
    assert {"SPEC.md", "src/app.py", "feature_list.json", "progress.md", ".gitignore"} <= committed
    _assert_left_out(root, done.stdout + done.stderr, before)
    assert "first commit" in done.stdout


@pytest.mark.slow(reason="kills its harness child")
def test_a_killed_init_reports_and_leaves_out_the_same_files_when_resumed(
    tmp_path: Path,
) -> None:
    """Killed just before the commit (after the plan made the repository): the resumed
    init still commits the whole project, without the secrets, and says so again; a
    planned file that took a secret meanwhile is scanned again and left out too."""
    root = tmp_path / "app"
    before = _users_project(root)
    spec = str(root / "SPEC.md")
    env = {"DEPLOY_TOKEN": TOKEN}
    killed = harness_proc(root, "init", "--spec", spec, env=env, crash_in="git:commit")
    assert killed.returncode == -9, killed.stderr
    assert "not committed: .env" in killed.stderr  # the plan was made and said
    (root / "src" / "app.py").write_text(PRIVATE)
    done = harness_proc(root, "init", "--spec", spec, env=env)
    assert done.returncode == 0, done.stderr
    committed = head_files(root)
    assert {"SPEC.md", "feature_list.json", "progress.md"} <= committed
    assert "src/app.py" not in committed
    assert "not committed: src/app.py: it holds what looks like a secret (private key)" in (
        done.stderr
    )
    _assert_left_out(root, done.stderr, before)


def test_init_in_an_existing_repository_scans_the_protocol_files_it_commits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(tmp_path / "app", count=1)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "SPEC.md")
    _git(root, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "spec")
    (root / "notes.txt").write_text("the user's own, uncommitted\n")
    assert harness(root, "init", "--spec", str(root / "SPEC.md")) == 0
    committed = head_files(root)
    assert {"feature_list.json", "progress.md", "init.sh", "harness.toml"} <= committed
    assert "notes.txt" not in committed and "script.json" not in committed
    assert "?? notes.txt" in _git(root, "status", "--porcelain")


def test_adopt_in_a_fresh_folder_leaves_out_a_spec_holding_a_private_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = quickstart(tmp_path / "qs", [False])
    subprocess.run(["rm", "-rf", str(root / ".git")], check=True)
    users = _users_project(root / "app")  # the user's other files: not protocol files
    (root / "app_spec.txt").write_text(
        f"<project_specification>\n{PRIVATE}</project_specification>\n"
    )
    assert harness(root, "adopt") == 0
    said = capsys.readouterr()
    committed = head_files(root)
    assert {
        "feature_list.json",
        "progress.md",
        "harness.toml",
        ".gitignore",
        "init.sh",
    } <= committed
    assert "app_spec.txt" not in committed
    assert not {p for p in committed if p.startswith("app/")}
    assert {name: (root / "app" / name).read_bytes() for name in users} == users
    assert (
        "not committed: app_spec.txt: it holds what looks like a secret (private key)" in said.err
    )
    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU" not in said.err + said.out
    assert (root / "app_spec.txt").read_text().count("PRIVATE KEY") == 2


def test_adopt_in_a_repository_refuses_a_progress_md_holding_a_secret_then_commits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """progress.md (the quickstart's notes verbatim) is a file harness needs: a secret in
    it refuses the adoption before anything is written (exit 2); init.sh is the user's and
    is not adopt's to commit."""
    root = quickstart(tmp_path / "qs", [False])
    head = _git(root, "rev-parse", "HEAD").strip()
    (root / "claude-progress.txt").write_text(f"Session 1: used the key {GITHUB}\n")
    (root / "init.sh").write_text(f"#!/usr/bin/env bash\nexport GH={GITHUB}\necho ok\n")
    before = (root / "feature_list.json").read_bytes()
    assert harness(root, "adopt") == 2
    said = capsys.readouterr().err
    assert "progress.md would hold what looks like a secret (github token" in said
    assert "from claude-progress.txt" in said and "committed nothing" in said
    assert GITHUB not in said
    assert _git(root, "rev-parse", "HEAD").strip() == head
    assert not (root / "progress.md").exists()
    assert (root / "feature_list.json").read_bytes() == before

    notes = root / "claude-progress.txt"
    notes.write_text(notes.read_text().replace(GITHUB, "(a token)"))
    assert harness(root, "adopt") == 0
    said = capsys.readouterr().out
    assert "not committed (your uncommitted changes, left as they are): init.sh" in said
    assert _git(root, "rev-parse", "HEAD").strip() != head
    assert _git(root, "show", "HEAD:progress.md").count("(a token)") == 1
    assert GITHUB not in _git(root, "log", "-p", "--", "init.sh", "progress.md")
    assert GITHUB in (root / "init.sh").read_text()  # the user's file, unchanged


def test_the_count_limit_never_leaves_the_protocol_files_out(tmp_path: Path) -> None:
    """A fresh folder with more files than [git] max_commit_files, sorted before the
    protocol files: the first commit takes the feature list and progress.md first."""
    root = tmp_path / "app"
    make_project(root, count=1, toml="[git]\nmax_commit_files = 4\n")
    (root / "aa").mkdir()
    for index in range(10):
        (root / "aa" / f"{index}.txt").write_text("x\n")
    done = harness_run(root, "init", "--spec", str(root / "SPEC.md"))
    assert done.returncode == 0, done.stderr
    committed = head_files(root)
    assert {"feature_list.json", "progress.md"} <= committed, committed
    assert len(committed) <= 4
    assert "max_commit_files = 4" in done.stderr


def test_init_says_what_it_left_out_through_its_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As the writeback's: a progress line, and nothing with --quiet (issue 26)."""
    loud, quiet = (make_project(tmp_path / name, count=1) for name in ("loud", "quiet"))
    for root in (loud, quiet):
        (root / ".env").write_text(f"OPENAI_API_KEY={SHAPED}\n")
    assert harness(loud, "init", "--spec", str(loud / "SPEC.md")) == 0
    assert "harness: not committed: .env: " in capsys.readouterr().err
    assert harness(quiet, "init", "--quiet", "--spec", str(quiet / "SPEC.md")) == 0
    assert "not committed" not in capsys.readouterr().err
    assert ".env" not in head_files(quiet) and (quiet / ".env").exists()
