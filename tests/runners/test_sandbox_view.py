"""What a bubblewrap sandbox sees of the host: the curated /etc, hidden files, the user
its command runs as. Real bubblewrap; the parts that need none run everywhere."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

import pytest

from artifacts.config import ProtectConfig, RunnerConfig
from harness.secret_files import is_hidden
from runners import bwrap_view, protect, sandbox_etc
from runners.bwrap import BubblewrapRunner, bwrap_version
from runners.bwrap_view import Workload, reachable
from runners.factory import make_runner

needs_bwrap = pytest.mark.skipif(bwrap_version() is None, reason="bubblewrap cannot run here")


def test_the_curated_etc_holds_only_what_everyone_may_read(tmp_path: Path) -> None:
    etc = sandbox_etc.build(tmp_path, 4242, 4243)
    names = set(os.listdir(etc))
    assert {"passwd", "group", "hosts", "resolv.conf"} <= names
    assert not names & {"shadow", "gshadow", "sudoers", "docker", "ssh", "environment"}
    assert (etc / "resolv.conf").read_bytes() == b""
    assert "localhost" in (etc / "hosts").read_text()
    passwd = (etc / "passwd").read_text().splitlines()
    assert [line.split(":")[2] for line in passwd] == ["0", "4242", "65534"]
    for folder, _, files in os.walk(etc):
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink():
                assert path.stat().st_mode & stat.S_IROTH, path
    if (Path("/etc/ssl/private")).is_dir():
        assert not (etc / "ssl" / "private").exists()  # not searchable by everyone
    if Path("/etc/ld.so.cache").is_file():
        assert (etc / "ld.so.cache").read_bytes() == Path("/etc/ld.so.cache").read_bytes()


def test_the_curated_etc_is_built_once_per_content(tmp_path: Path) -> None:
    first = sandbox_etc.build(tmp_path, 0, 0)
    assert sandbox_etc.build(tmp_path, 0, 0) == first
    other = sandbox_etc.build(tmp_path, 4242, 4243)  # another user: another passwd
    assert other != first and first.is_dir()


def test_hidden_names_patterns_and_templates() -> None:
    assert is_hidden(".env")
    assert is_hidden("backend/.env.production")
    assert is_hidden(".env/inside")  # inside a hidden folder
    assert not is_hidden(".env.example") and not is_hidden("a/.env.sample")
    assert not is_hidden("environment.py")
    assert is_hidden("keys/server.pem", ["*.pem"])
    assert is_hidden("config/credentials.yml", ["config/credentials.yml"])
    assert not is_hidden("other/config/credentials.yml", ["config/credentials.yml"])
    assert is_hidden(".env.example", [".env.example"])  # named: hidden after all


def test_find_hidden_lists_the_shallowest_and_follows_links_into_the_project(
    tmp_path: Path,
) -> None:
    root = tmp_path / "p"
    (root / "secrets" / "deep").mkdir(parents=True)
    (root / "secrets" / "deep" / "a.key").write_text("k")
    (root / ".env").write_text("K=1")
    (root / "config").mkdir()
    (root / "config" / "prod.env").write_text("K=2")
    os.symlink("config/prod.env", root / ".env.local")
    os.symlink("/etc/hostname", root / ".env.host")  # outside: not visible in a sandbox
    (root / ".git").mkdir()
    (root / ".git" / ".env").write_text("not the agent's")
    assert protect.find_hidden(root, ["secrets"]) == [".env", "config/prod.env", "secrets"]


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", ".git/config", ".harness"])
def test_hide_refuses_paths_out_of_the_project_and_harness_state(bad: str) -> None:
    with pytest.raises(ValueError, match="path 0"):
        ProtectConfig(hide=[bad])


@needs_bwrap
def test_a_hidden_file_is_empty_and_cannot_be_moved_or_removed(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "app").mkdir(parents=True)
    (root / "app" / ".env").write_text("TOKEN=sk-hidden-value\n")
    (root / "creds").mkdir()
    (root / "creds" / "a.json").write_text("{}")
    runner = BubblewrapRunner(root, hide=["creds"])
    result = runner.run(
        "cat app/.env; ls -A creds; echo x > app/.env; rm -f app/.env; mv app app2; "
        "mv creds c2; ls -A; echo done"
    )
    assert "sk-hidden-value" not in result.stdout + result.stderr
    assert result.stdout.endswith("done\n")
    assert "a.json" not in result.stdout
    assert (root / "app" / ".env").read_text() == "TOKEN=sk-hidden-value\n"
    assert (root / "creds" / "a.json").is_file() and not (root / "app2").exists()


@needs_bwrap
def test_a_secret_added_during_a_session_is_hidden_after_stop(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    runner = BubblewrapRunner(root)
    (root / ".env").write_text("LATE=sk-late-value\n")
    runner.stop()
    assert "sk-late-value" not in runner.run("cat .env; echo done").stdout


def test_the_workload_of_a_root_harness_is_the_project_s_owner(tmp_path: Path) -> None:
    workload = Workload.for_project(tmp_path)
    if os.geteuid() != 0:
        assert (workload.uid, workload.switch) == (os.getuid(), False)
        return
    assert (workload.uid, workload.switch) == (0, False)  # root's own project
    owned = tmp_path / "owned"
    owned.mkdir()
    os.chown(owned, 4242, 4243)
    workload = Workload.for_project(owned)
    assert (workload.uid, workload.gid, workload.switch) == (4242, 4243, True)
    assert workload.prefix()[1:] == ["--reuid=4242", "--regid=4243", "--clear-groups", "--"]


def test_reachable_follows_each_folder_s_bits() -> None:
    base = Path(tempfile.mkdtemp(prefix="harness-reach-"))  # pytest's folder is root's alone
    try:
        base.chmod(0o755)
        top = base / "top"
        (top / "inner").mkdir(parents=True)
        top.chmod(0o700)
        assert reachable(top / "inner", os.getuid(), os.getgid())
        if os.geteuid() == 0:
            assert not reachable(top / "inner", 4242, 4243)  # 0700 root: not for 4242
            top.chmod(0o711)
            assert reachable(top / "inner", 4242, 4243)
            assert not reachable(top / "inner", 4242, 4243, write=True)
    finally:
        shutil.rmtree(base)


@needs_bwrap
def test_the_package_cache_is_mounted_only_for_a_setup_on_a_clean_checkout(
    tmp_path: Path,
) -> None:
    root = tmp_path / "p"
    root.mkdir()
    tree = tmp_path / "checkout"
    tree.mkdir()
    runner = BubblewrapRunner(root, package_cache=True)
    write = 'mkdir -p "$HOME/.cache/pip" && echo w > "$HOME/.cache/pip/$0"; ls -A "$HOME/.cache"'
    kept = bwrap_view.package_folder(runner.root, runner.view.workload)
    for name, options in [
        ("agent-tree", {"tree": tree}),
        ("setup-in-place", {"phase": "setup"}),
        ("agent", {}),
    ]:
        result = runner.run(f"sh -c '{write}' {name}", cache=True, **options)  # type: ignore[arg-type]
        assert result.exit_code == 0, result
    assert sorted(os.listdir(kept)) == []  # none of those reached the kept folder
    result = runner.run(f"sh -c '{write}' setup", phase="setup", tree=tree, cache=True)
    assert result.exit_code == 0 and "pip" in result.stdout, result
    assert sorted(os.listdir(kept / "pip")) == ["setup"]
    again = runner.run('ls -A "$HOME/.cache/pip"', phase="setup", tree=tree, cache=True)
    assert again.stdout.split() == ["setup"]  # kept for the next setup
    assert "npm_config_cache" in runner.run("env", phase="setup", tree=tree, cache=True).stdout
    off = BubblewrapRunner(root)  # not declared: not mounted
    assert off.run('ls -A "$HOME/.cache"', phase="setup", tree=tree, cache=True).exit_code != 0
    shutil.rmtree(kept)


@needs_bwrap
def test_the_package_cache_is_counted_after_each_setup_and_pruned_when_unused(
    tmp_path: Path,
) -> None:
    """The cache counts against ``disk_mb`` (for itself) after every setup that wrote it,
    and the caches of projects not set up for a week go: before, it only grew."""
    root = tmp_path / "p"
    root.mkdir()
    tree = tmp_path / "checkout"
    tree.mkdir()
    runner = BubblewrapRunner(root, package_cache=True, disk_mb=1)
    kept = bwrap_view.package_folder(runner.root, runner.view.workload)
    stale = kept.parent / "0123456789abcdef"  # another project's, last used 8 days ago
    (stale / "pip").mkdir(parents=True)
    (stale / "pip" / "wheel").write_bytes(b"w" * 4096)
    old = time.time() - sandbox_etc.UNUSED_S - 86400
    os.utime(stale, (old, old))
    small = 'mkdir -p "$HOME/.cache/pip" && head -c 100000 /dev/zero > "$HOME/.cache/pip/a"'
    result = runner.run(small, phase="setup", tree=tree, cache=True)
    assert result.exit_code == 0 and "package cache" not in result.stderr, result
    assert os.listdir(kept / "pip") == ["a"]  # within 1 MiB: kept
    assert not stale.exists()  # unused for a week: removed
    big = 'head -c 3000000 /dev/urandom > "$HOME/.cache/pip/b"'
    result = runner.run(big, phase="setup", tree=tree, cache=True)
    assert result.exit_code == 0, result
    assert "package cache held more than [runner] disk_mb (1 MiB): emptied" in result.stderr
    assert not kept.exists() or os.listdir(kept) == []
    again = runner.run('ls -A "$HOME/.cache"', phase="setup", tree=tree, cache=True)
    assert again.exit_code == 0 and again.stdout.split() == []  # a new, empty cache
    shutil.rmtree(bwrap_view.package_folder(runner.root, runner.view.workload))


def _extra_etc_file() -> str:
    """A world-readable file of the host's /etc outside the curated set (or a skip)."""
    for name in ("adduser.conf", "login.defs", "debconf.conf", "mke2fs.conf"):
        path = Path("/etc") / name
        readable = path.is_file() and path.stat().st_mode & 0o004
        if readable and name not in sandbox_etc.allowed_names():
            return name
    pytest.skip("no world-readable /etc file outside the curated set on this host")


def test_runner_etc_adds_only_what_every_local_user_may_read(tmp_path: Path) -> None:
    extra = _extra_etc_file()
    declared = (extra, "shadow", "gshadow", "ssl/private/*", "docker/key.json")
    etc = sandbox_etc.build(tmp_path, 4242, 4243, declared)
    assert (etc / extra).read_bytes() == (Path("/etc") / extra).read_bytes()
    for secret in ("shadow", "gshadow", "docker/key.json"):
        assert not (etc / secret).exists(), secret  # not readable by every user: not copied
    assert not (etc / "ssl" / "private").exists()
    assert extra not in os.listdir(sandbox_etc.build(tmp_path, 4242, 4243))  # not declared


@pytest.mark.parametrize("bad", ["/etc/shadow", "../root/.ssh", "a//b", "passwd", "hosts"])
def test_runner_etc_refuses_paths_out_of_etc_and_harness_own_files(bad: str) -> None:

    with pytest.raises(ValueError, match=r"etc\[0\]"):
        RunnerConfig(etc=[bad])


@needs_bwrap
def test_runner_etc_reaches_the_sandbox_from_harness_toml(tmp_path: Path) -> None:

    extra = _extra_etc_file()
    root = tmp_path / "p"
    root.mkdir()
    command = f"cat /etc/{extra} >/dev/null && echo shown || echo absent"
    plain = make_runner(RunnerConfig(kind="bwrap"), root)
    assert plain.run(command).stdout.strip() == "absent"
    declared = make_runner(RunnerConfig(kind="bwrap", etc=[extra, "shadow"]), root)
    assert declared.run(command).stdout.strip() == "shown"
    assert declared.run("cat /etc/shadow").exit_code != 0
