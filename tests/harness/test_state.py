"""`harness state save/load`: a state file is safe to load and carries a run to another clone."""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import tarfile
import time
from importlib import resources
from pathlib import Path

import pytest

import harness.state_file as state_file
from harness.cli import main
from harness.errors import JournalKeyMissing, RunLocked
from harness.journal import Journal
from harness.journal.keys import key_path
from harness.leftovers import is_temp
from harness.state_file import (
    MANIFEST,
    StateRefused,
    journal_runs,
    load_state,
    read_archive,
    save_state,
)
from tests.session.scripted_child import SCRIPTED


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def make_repo(root: Path, text: str = "project\n") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "t")
    (root / ".gitignore").write_text(".harness/\n")
    (root / "README.md").write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "project")
    state = root / ".harness"
    (state / "blobs" / "ab").mkdir(parents=True)
    (state / "blobs" / "ab" / "cdef").write_bytes(b"blob bytes")
    (state / "notes.txt").write_text("kept\n")
    (state / "run.lock").write_text("12345\n")  # machine-specific: stays behind
    (state / "cache").mkdir()
    (state / "cache" / "x").write_text("machine cache\n")
    return root


def members(path: Path) -> list[str]:
    with tarfile.open(path, "r:gz") as archive:
        return archive.getnames()


def test_save_writes_manifest_and_leaves_machine_files(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "state.tar.gz"
    manifest = save_state(project, target)
    names = members(target)
    assert MANIFEST in names
    assert "state/blobs/ab/cdef" in names and "state/notes.txt" in names
    assert not any("lock" in n or "cache" in n for n in names)
    assert manifest.git_head == git(project, "rev-parse", "HEAD")
    assert set(manifest.files) == {"blobs/ab/cdef", "notes.txt"}
    assert all(d.startswith("sha256:") for d in manifest.files.values())


def test_a_save_writes_under_harness_s_temp_name_and_a_killed_one_is_swept(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a save writes, its temp file beside the target has harness's marked name
    (`harness.leftovers.is_temp`, mode 0600); a killed save's is swept by the next one;
    a user's own file of the old temp name (`.<name>.partial`) stays as it was."""
    target = tmp_path / "out" / "state.tar.gz"
    target.parent.mkdir()
    done = subprocess.Popen(["true"])
    done.wait()  # reaped: a pid no process has now
    killed = target.parent / f".state.tar.gz.harness-{done.pid}-abcdefgh.tmp"
    killed.write_bytes(b"half a state file")
    users = target.parent / ".state.tar.gz.partial"
    users.write_text("the user's own\n")
    seen: list[tuple[str, int]] = []
    add = state_file._add

    def spy(archive: tarfile.TarFile, name: str, data: bytes) -> None:
        seen.extend((p.name, stat.S_IMODE(p.stat().st_mode)) for p in target.parent.iterdir()
                    if p not in (users, killed))  # fmt: skip
        add(archive, name, data)

    monkeypatch.setattr(state_file, "_add", spy)
    save_state(project, target)
    assert seen and all(is_temp(name) and name.startswith(".state.tar.gz.") for name, _ in seen)
    assert {mode for _, mode in seen} == {0o600}
    assert not killed.exists() and users.read_text() == "the user's own\n"
    assert sorted(p.name for p in target.parent.iterdir()) == [users.name, target.name]
    assert MANIFEST in members(target)


def test_load_into_a_clone_at_another_path(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "state.tar.gz"
    save_state(project, target)
    clone = tmp_path / "elsewhere" / "clone"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
    assert main(["-C", str(clone), "state", "load", str(target)]) == 0
    assert (clone / ".harness" / "blobs" / "ab" / "cdef").read_bytes() == b"blob bytes"
    assert not (clone / ".harness" / "run.lock").exists()
    assert not list(clone.glob(".harness-*"))  # no staging folders left behind


def test_load_refuses_a_head_outside_this_history(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "state.tar.gz"
    other = make_repo(tmp_path / "other", text="another project\n")
    save_state(project, target)
    with pytest.raises(StateRefused, match="not in the history"):
        load_state(other, target)
    assert not (other / ".harness").exists()


def test_load_refuses_a_state_ahead_of_the_clone(project: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
    (project / "new.txt").write_text("x")
    git(project, "add", "new.txt")
    git(project, "commit", "-qm", "second")
    target = tmp_path / "state.tar.gz"
    save_state(project, target)
    with pytest.raises(StateRefused, match="git fetch"):
        load_state(clone, target)
    git(clone, "pull", "-q", "origin", "main")
    load_state(clone, target)
    assert (clone / ".harness" / "notes.txt").exists()


def hostile(tmp_path: Path, member: tarfile.TarInfo, data: bytes = b"x") -> Path:
    path = tmp_path / "hostile.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        manifest = {
            "harness_version": "0",
            "git_head": None,
            "created_at": "now",
            "files": {},
            "runs": {},
        }
        info = tarfile.TarInfo(MANIFEST)
        raw = json.dumps(manifest).encode()
        info.size = len(raw)
        archive.addfile(info, io.BytesIO(raw))
        if member.isfile():
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
        else:
            archive.addfile(member)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (_member("state/../../escape.txt"), "climbs out"),
        (_member("../escape.txt"), "climbs out"),
        (_member("/tmp/abs.txt"), "absolute"),
        (_member("state/link", tarfile.SYMTYPE, "/etc/passwd"), "a link"),
        (_member("state/hard", tarfile.LNKTYPE, "state/other"), "a link"),
        (_member("state/dev", tarfile.CHRTYPE), "device"),
        (_member("state/fifo", tarfile.FIFOTYPE), "device"),
        (_member("elsewhere.txt"), "unexpected member"),
        (_member("state/unlisted.txt"), "disagree"),
    ],
)
def test_load_refuses_unsafe_members(
    project: Path, tmp_path: Path, member: tarfile.TarInfo, reason: str
) -> None:
    path = hostile(tmp_path, member)
    before = sorted(p.name for p in project.iterdir())
    with pytest.raises(StateRefused, match=reason):
        load_state(project, path, force=True)
    assert sorted(p.name for p in project.iterdir()) == before
    assert not (tmp_path / "escape.txt").exists()


def test_load_refuses_a_damaged_file(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "state.tar.gz"
    save_state(project, target)
    manifest, files, _ = read_archive(target)
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as archive:
        raw = json.dumps(manifest.__dict__).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(raw)
        archive.addfile(info, io.BytesIO(raw))
        for name, data in files.items():
            data = data + b"tampered" if name == "notes.txt" else data
            info = tarfile.TarInfo(f"state/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with pytest.raises(StateRefused, match="digest"):
        load_state(project, bad, force=True)
    (tmp_path / "garbage.tar.gz").write_bytes(b"not a tar")
    assert main(["-C", str(project), "state", "load", str(tmp_path / "garbage.tar.gz")]) == 2


def test_save_without_state_is_an_error(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "empty")
    assert main(["-C", str(root), "state", "save", str(tmp_path / "s.tar.gz")]) == 2
    assert not (tmp_path / "s.tar.gz").exists()


def test_load_refuses_a_truncated_file(project: Path, tmp_path: Path) -> None:
    (project / ".harness" / "big.bin").write_bytes(bytes(range(256)) * 4000)
    target = tmp_path / "state.tar.gz"
    save_state(project, target)
    raw = target.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(StateRefused, match="truncated or damaged"):
        load_state(project, cut, force=True)
    assert (project / ".harness" / "notes.txt").exists()


# --- with a real journal ------------------------------------------------------------------


def fill(root: Path, steps: int, *, calls: list[str], run_id: str | None = None) -> str:
    """Record `steps` steps in session 1 of a run (resumed if given), leaving it open."""

    with Journal.open(root / ".harness") as journal:
        run = journal.resume_run(run_id) if run_id else journal.start_run("run")
        session = run.session(1)
        for n in range(steps):
            session.step("tool", f"t{n}", {"n": n}, lambda n=n: calls.append(f"t{n}") or n)
        return run.id


def test_journal_travels_and_replays_in_a_clone(project: Path, tmp_path: Path) -> None:

    calls: list[str] = []
    with Journal.open(project / ".harness") as journal:  # a live writer while saving
        run = journal.start_run("run")
        session = run.session(1)
        for n in range(3):
            session.step("tool", f"t{n}", {"n": n}, lambda n=n: calls.append(f"t{n}") or n)
        assert (project / ".harness" / "journal.db-wal").exists()
        # The last quick step's end rides with the next statement (or a 50 ms timer):
        # written now, so the copy holds all three steps as ended.
        journal.flush()
        target = tmp_path / "state.tar.gz"
        manifest = save_state(project, target)
        run_id = run.id
    assert manifest.runs == {run_id: 3}
    assert "journal.db" in manifest.files and "journal.db-wal" not in manifest.files

    clone = tmp_path / "far" / "away"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
    load_state(clone, target)
    assert fill(clone, 5, calls=calls, run_id=run_id) == run_id
    assert calls == ["t0", "t1", "t2", "t3", "t4"]  # t0..t2 replayed, not re-run
    with Journal.open_readonly(clone / ".harness") as journal:
        assert [s.attempts for s in journal.steps(run_id)] == [1] * 5


def test_the_journal_key_travels_only_when_asked(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:

    with Journal.open(project / ".harness") as journal:
        run = journal.start_run("run")
        run.session(1).step("tool", "t0", {}, lambda: 0)
        journal_id, run_id = str(journal.id), run.id
    plain, keyed = tmp_path / "plain.tar.gz", tmp_path / "keyed.tar.gz"
    assert main(["-C", str(project), "state", "save", str(plain)]) == 0
    assert "signing key" not in capsys.readouterr().err
    assert not any(name.startswith("key/") for name in members(plain))
    assert main(["-C", str(project), "state", "save", "--with-key", str(keyed)]) == 0
    assert "signing key" in capsys.readouterr().err  # the warning
    assert "key/journal.key" in members(keyed)

    monkeypatch.setenv("HARNESS_STATE_HOME", str(tmp_path / "machine-b"))  # another machine
    clone = tmp_path / "b" / "clone"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
    assert main(["-C", str(clone), "state", "load", str(plain)]) == 0
    assert "--with-key" in capsys.readouterr().err  # says the key is not here
    with pytest.raises(JournalKeyMissing):
        Journal.open(clone / ".harness")
    assert main(["-C", str(clone), "state", "load", "--with-key", str(plain)]) == 2
    assert "saved without its journal key" in capsys.readouterr().err
    assert main(["-C", str(clone), "state", "load", "--with-key", str(keyed)]) == 0
    assert "signing key" in capsys.readouterr().err
    key = key_path(journal_id)
    assert key.is_relative_to(tmp_path / "machine-b") and stat.S_IMODE(key.stat().st_mode) == 0o600
    with Journal.open(clone / ".harness") as journal:
        assert journal.resume_run(run_id).session(1).step("tool", "t0", {}, lambda: 9) == 0


def test_load_refuses_to_lose_newer_steps(project: Path, tmp_path: Path) -> None:
    calls: list[str] = []
    run_id = fill(project, 2, calls=calls)
    old = tmp_path / "old.tar.gz"
    save_state(project, old)
    fill(project, 4, calls=calls, run_id=run_id)
    newer = tmp_path / "newer.tar.gz"
    save_state(project, newer)

    with pytest.raises(StateRefused, match="newer"):
        load_state(project, old)
    assert main(["-C", str(project), "state", "load", str(old)]) == 2
    load_state(project, newer)  # the incoming state extends the existing one: no --force
    load_state(project, old, force=True)

    assert journal_runs(project / ".harness") == {run_id: 2}


def test_load_refuses_an_unrelated_journal(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(project), str(other)], check=True)
    fill(other, 1, calls=[])
    theirs = tmp_path / "theirs.tar.gz"
    save_state(other, theirs)
    fill(project, 1, calls=[])
    with pytest.raises(StateRefused, match="unrelated"):
        load_state(project, theirs)


def test_load_refuses_while_a_run_is_live(project: Path, tmp_path: Path) -> None:

    target = tmp_path / "state.tar.gz"
    fill(project, 1, calls=[])
    save_state(project, target)
    with Journal.open(project / ".harness") as journal:
        journal.start_run("run")
        with pytest.raises(RunLocked):
            load_state(project, target, force=True)


# --- end to end: `harness run` stops part-way on one clone, finishes on another -------------

# Announces itself, then waits (up to 5 s) for a `go` file before its side effect: on
# machine A it is killed while waiting; on machine B `go` exists and it completes.
SECOND = (
    "touch started-two; for i in $(seq 100); do [ -f go ] && break; sleep 0.05; done; "
    "[ -f go ] && echo two >> effects.log"
)
SCRIPT = {
    "version": 1,
    "turns": [
        {
            "text": "Start.",
            "tool_calls": [
                {"name": "write_file", "arguments": {"path": "wip.txt", "content": "from A\n"}},
                {"name": "run", "arguments": {"command": "echo one >> effects.log"}},
            ],
        },
        {"tool_calls": [{"name": "run", "arguments": {"command": SECOND}}]},
        {"text": "Done for this session."},
    ],
}


def harness_run_command(root: Path, *args: str) -> list[str]:
    """A new interpreter (the machine's own key store): scripted models in process."""
    return [*SCRIPTED, "-C", str(root), "run", "--unattended", *args]


def clean_env(state_home: Path) -> dict[str, str]:

    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    return env | {"HARNESS_STATE_HOME": str(state_home)}  # the machine's own key store


@pytest.mark.slow
def test_run_moves_to_a_fresh_clone_and_finishes_without_repeating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    source = resources.files("templates").joinpath("example")
    project = tmp_path / "machine-a" / "project"
    project.mkdir(parents=True)
    for name in ("feature_list.json", "init.sh", "progress.md"):
        (project / name).write_text(source.joinpath(name).read_text())
    (project / "harness.toml").write_text(
        '[model]\nname = "scripted/script.json"\n\n[runner]\nkind = "local"\n'
    )
    (project / "script.json").write_text(json.dumps(SCRIPT))
    make_repo(project)

    # Machine A: SIGKILLed while the session's second command is in flight.

    home_a, home_b = tmp_path / "home-a", tmp_path / "home-b"
    monkeypatch.setenv("HARNESS_STATE_HOME", str(home_a))
    child = subprocess.Popen(
        harness_run_command(project),
        env=clean_env(home_a),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (project / "started-two").exists():
        assert child.poll() is None and time.monotonic() < deadline, "never reached command 2"
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert (project / "effects.log").read_text() == "one\n"
    state = tmp_path / "state.tar.gz"
    assert main(["-C", str(project), "state", "save", "--with-key", str(state)]) == 0

    # Machine B: a fresh clone at another path, plus the state (and the journal's key).
    monkeypatch.setenv("HARNESS_STATE_HOME", str(home_b))
    clone = tmp_path / "machine-b" / "elsewhere"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
    assert main(["-C", str(clone), "state", "load", "--with-key", str(state)]) == 0
    assert (clone / "wip.txt").read_text() == "from A\n"  # uncommitted work travels
    (clone / "go").write_text("")
    done = subprocess.run(
        harness_run_command(clone, "--max-sessions", "1"),
        env=clean_env(home_b),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 3, done.stderr  # the session finishes, then the budget is spent

    # Nothing recorded on A ran again on B: each command ran once, every step once except
    # the command that was in flight at the kill.
    assert (clone / "effects.log").read_text() == "one\ntwo\n"
    with Journal.open_readonly(clone / ".harness") as journal:
        steps = journal.steps()
    assert len({(s.run_id, s.session, s.seq) for s in steps}) == len(steps)
    again = [(s.kind, s.name, s.status) for s in steps if s.attempts > 1]
    assert again == [("tool", "run", "ended")], again
    log = git(clone, "log", "--format=%s%n%b")
    assert log.count("Harness-Session:") == 1
    # The journal carries no absolute path of machine A.
    db = (clone / ".harness" / "journal.db").read_bytes()
    assert str(project).encode() not in db
