"""`harness adopt` on quickstart projects as they are on disk: notes in any encoding,
the user's .gitignore and init.sh, git-ignored protocol files, a crash half-way."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import artifacts.io
import initializer.adopt
from artifacts.adopt import adopt_feature_list
from artifacts.progress import read_progress
from tests.artifacts.conftest import tree_digest
from tests.artifacts.quickstart_shapes import ENCODED_NOTES, GIT_ENV, INIT_SH, NOTES, build
from tests.session.support import harness, harness_out, harness_run


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, env=GIT_ENV, capture_output=True, text=True, check=True
    ).stdout


def committed(root: Path, path: str) -> bytes:
    return subprocess.run(
        ["git", "show", f"HEAD:{path}"], cwd=root, env=GIT_ENV, capture_output=True, check=True
    ).stdout


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("utf16", "it is UTF-16: the text is kept as UTF-8"),
        ("cp1252", "it is not UTF-8 (byte 4): read as cp1252"),
        ("crlf", "its 7 CRLF line ending(s) are LF"),
    ],
)
def test_notes_in_any_encoding_are_kept_as_text_and_the_difference_said(
    tmp_path: Path, name: str, said: str
) -> None:
    data = ENCODED_NOTES[name]
    root = build(tmp_path / "qs", notes=data)
    code, out = harness_out(root, "adopt")
    assert code == 0, out
    assert said in out and "the file is left as it is" in out
    entry = read_progress(root)[0]
    expected = {"utf16": NOTES, "crlf": NOTES}.get(name) or data.decode("cp1252")
    assert entry.summary == expected
    assert any(said in note for note in entry.notes)
    assert (root / "claude-progress.txt").read_bytes() == data
    assert harness(root, "validate") == 0


def test_utf8_notes_are_kept_verbatim(tmp_path: Path) -> None:
    root = build(tmp_path / "qs")
    code, out = harness_out(root, "adopt")
    assert code == 0 and "holds claude-progress.txt verbatim" in out
    assert read_progress(root)[0].summary == NOTES


def test_a_long_notes_file_is_cited_with_its_tail_not_made_one_line(tmp_path: Path) -> None:
    data = ENCODED_NOTES["big"]
    root = build(tmp_path / "qs", notes=data)
    code, out = harness_out(root, "adopt")
    assert code == 0, out
    assert f"cites claude-progress.txt ({len(data):,} bytes, kept as it is)" in out
    text = (root / "progress.md").read_text()
    assert max(len(line) for line in text.splitlines()) < 200
    assert len(text) < 10_000
    summary = read_progress(root)[0].summary
    assert "<command>npm test</command>" in summary  # text kept as text
    assert (root / "claude-progress.txt").read_bytes() == data


def test_notes_with_tabs_and_trailing_spaces_stay_many_lines(tmp_path: Path) -> None:
    notes = "Done:\n\t- login   \n\t- logout\n\nNext: todo\n"
    root = build(tmp_path / "qs", notes=notes.encode())
    assert harness(root, "adopt") == 0
    assert read_progress(root)[0].summary == notes
    assert "\t- login   " in (root / "progress.md").read_text()


@pytest.mark.parametrize(
    "ignore",
    [b"node_modules/\r\ndist/\r\n", "# caché\nnode_modules/\n".encode("latin-1"), b"dist"],
    ids=["crlf", "latin1", "no-final-newline"],
)
def test_the_users_gitignore_is_kept_byte_for_byte(tmp_path: Path, ignore: bytes) -> None:
    root = build(tmp_path / "qs", gitignore=ignore)
    code, out = harness_out(root, "adopt")
    assert code == 0, out
    after = (root / ".gitignore").read_bytes()
    assert after.startswith(ignore)
    added = after[len(ignore) :]
    newline = b"\r\n" if b"\r\n" in ignore else b"\n"
    assert added.lstrip(newline).split(newline)[0] == b".harness/"
    if newline == b"\r\n":
        assert b"\n" not in added.replace(b"\r\n", b"")
    assert b"__pycache__/" in added
    assert (b"node_modules/" in added) == (b"node_modules/" not in ignore)  # not twice
    assert committed(root, ".gitignore") == after
    assert git(root, "status", "--porcelain") == ""


def test_a_users_uncommitted_edits_stay_theirs(tmp_path: Path) -> None:
    root = build(tmp_path / "qs")
    (root / "init.sh").write_text(INIT_SH + "echo my edit\n")
    (root / ".gitignore").write_bytes(b"node_modules/\ndist/\nmy-local-thing\n")
    code, out = harness_out(root, "adopt")
    assert code == 0, out
    assert "not committed (your uncommitted changes, left as they are): init.sh" in out
    assert committed(root, "init.sh") == INIT_SH.encode()
    assert (root / "init.sh").read_text() == INIT_SH + "echo my edit\n"
    head_ignore = committed(root, ".gitignore")
    assert head_ignore.startswith(b"node_modules/\ndist/\n.harness/\n")
    assert b"my-local-thing" not in head_ignore
    assert b"my-local-thing" in (root / ".gitignore").read_bytes()
    assert sorted(git(root, "status", "--porcelain").split()) == [".gitignore", "M", "M", "init.sh"]


def test_a_git_ignored_feature_list_is_committed_and_said(tmp_path: Path) -> None:
    root = build(tmp_path / "qs", gitignore=b"*.json\nprogress.md\n")
    git(root, "rm", "-q", "--cached", "feature_list.json")
    git(root, "commit", "-q", "-m", "the list is ignored")
    code, out = harness_out(root, "adopt")
    assert code == 0, out
    assert "feature_list.json is ignored by git (.gitignore:1: *.json): committed" in out
    assert "progress.md is ignored by git (.gitignore:2: progress.md)" in out
    assert {"feature_list.json", "progress.md"} <= set(git(root, "ls-files").split())
    assert json.loads(committed(root, "feature_list.json"))["version"] == 1
    assert harness(root, "validate") == 0


def test_a_missing_init_sh_is_written_committed_and_said(tmp_path: Path) -> None:
    root = build(tmp_path / "qs", init_sh=None)
    code, out = harness_out(root, "adopt")
    assert code == 0, out
    assert "wrote a minimal init.sh" in out
    init = root / "init.sh"
    assert init.stat().st_mode & 0o111 and b"harness adopt" in committed(root, "init.sh")
    assert harness(root, "validate") == 0


@pytest.mark.parametrize("quiet", [False, True])
def test_what_git_needed_is_a_notice_of_the_event_system_and_quiet_hushes_it(
    tmp_path: Path, quiet: bool
) -> None:
    """A `.git` a killed `git init` left, made again: said as the events' notice on
    stderr (`harness: ...`, as run and init say theirs), nothing on stderr with --quiet;
    the report on stdout either way."""
    root = build(tmp_path / "qs", commit=False)
    (root / ".git").mkdir()  # all a `git init` killed at its start leaves
    done = harness_run(root, "adopt", *(["--quiet"] if quiet else []))
    assert done.returncode == 0, done.stderr
    assert "harness adopt: committed " in done.stdout, done.stdout
    said = f"harness: removed {root / '.git'}: an interrupted `git init` left it half made"
    if quiet:
        assert done.stderr == ""
    else:
        assert [line for line in done.stderr.splitlines() if line.startswith(said)], done.stderr
    assert git(root, "log", "--format=%s").startswith("harness adopt: ")


def test_a_refusal_writes_nothing(tmp_path: Path) -> None:
    root = build(tmp_path / "qs", "broken")
    before = tree_digest(root)
    assert harness(root, "adopt") == 2
    assert tree_digest(root) == before


def test_a_crash_half_way_is_finished_by_the_next_adopt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:

    root = build(tmp_path / "qs")
    real = artifacts.io.atomic_write

    def crash_on_gitignore(path: Path, *args: object, **kwargs: object) -> None:
        if path.name == ".gitignore":
            raise RuntimeError("killed")
        real(path, *args, **kwargs)  # type: ignore[arg-type]

    # adopt's own name for it (initializer.adopt imports it at its top)
    monkeypatch.setattr(initializer.adopt, "atomic_write", crash_on_gitignore)
    assert harness(root, "adopt") == 1
    err = capsys.readouterr().err
    assert "`harness adopt` again finishes what this one started" in err
    assert "journal" not in err
    assert (root / "progress.md").exists()  # written before the crash
    assert isinstance(json.loads((root / "feature_list.json").read_text()), list)  # not yet
    monkeypatch.setattr(initializer.adopt, "atomic_write", real)
    code, out = harness_out(root, "adopt")
    assert code == 0, out
    files = git(root, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(files) == [".gitignore", "feature_list.json", "harness.toml", "progress.md"]
    assert git(root, "status", "--porcelain") == ""
    assert harness(root, "validate") == 0


def test_a_crash_after_the_list_is_finished_by_the_next_adopt(tmp_path: Path) -> None:
    """Killed between the last write and the commit: adopt again commits what it wrote."""

    root = build(tmp_path / "qs")
    adopt_feature_list(root)
    (root / "progress.md").write_text("# Progress\n")
    code, out = harness_out(root, "adopt")
    assert code == 0, out
    assert "already in harness format" in out
    files = git(root, "show", "--name-only", "--format=", "HEAD").split()
    assert "feature_list.json" in files and "progress.md" in files


@pytest.mark.parametrize("left", [None, "a killed git init", "a git init, no commit"])
def test_a_folder_without_git_gets_its_quickstart_files_committed(
    tmp_path: Path, left: str | None
) -> None:
    """Also where a `.git` without a commit is there (a `git init` or an adopt killed after
    its `git init`): the first commit is the one HEAD's init.sh comes from."""
    root = build(tmp_path / "qs", commit=False)
    if left == "a killed git init":
        (root / ".git").mkdir()
    elif left == "a git init, no commit":
        git(root, "init", "-q", "-b", "main")
    code, out = harness_out(root, "adopt")
    assert code == 0, out
    tracked = set(git(root, "ls-files").split())
    assert {"app_spec.txt", "claude-progress.txt", "init.sh", ".gitignore"} <= tracked
    assert "src/main.ts" not in tracked  # the user's code stays theirs to commit
