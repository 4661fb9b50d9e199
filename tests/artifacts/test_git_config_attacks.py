"""The config check's verdict is bound to the config's bytes: a hostile agent that rewrites
the config behind a kept verdict, keeping every timestamp and size it can, is refused at
the next git command.

Each test first proves the verdict was kept (the repository is seconds old: a verdict kept
under the files' timestamps was never kept for it), then attacks it: a rewrite in place of
the same size with the mtime put back, A-B-A rewrites, a worktree's config and its
``.git`` file, a link and its target, an include, and spellings only git's own parser
reads right. A marker outside the project proves that nothing ran.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from artifacts import git_safety
from artifacts.git import GitRepo
from artifacts.git_safety import ConfigChecks, GitConfigRefused, run_git
from artifacts.git_stamp import MAX_BYTES


def _repo(root: Path) -> Path:
    with GitRepo.init(root) as repo:
        (root / "a.txt").write_text("a\n")
        repo.commit("first")
    return root


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def _kept(root: Path, checks: ConfigChecks, reads: list[Path]) -> None:
    """Two git commands, one read: the clean verdict is kept (a seconds-old repository)."""
    before = len(reads)
    run_git(root, "status", checks=checks)
    run_git(root, "rev-parse", "HEAD", checks=checks)
    assert len(reads) == before + 1, "the verdict was not kept"


def _evil(
    marker: Path, size: int, *, form: str = '[core]\n\tfsmonitor = "touch {m}; false"\n'
) -> bytes:
    """A config of exactly ``size`` bytes whose first lines run a program (a comment pads)."""
    text = form.format(m=marker).encode()
    assert len(text) + 2 <= size, "the original config is too short to pad"
    return text + b"#" * (size - len(text) - 1) + b"\n"


def _rewrite_in_place(path: Path, data: bytes) -> None:
    """Write ``data`` over ``path`` through the same inode, then put its mtime back."""
    before = path.stat()
    assert len(data) == before.st_size
    with path.open("r+b") as handle:
        handle.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )


def _padded(root: Path, extra: int = 200) -> Path:
    """The repository's config with a long harmless comment, so an attack fits its size."""
    config = root / ".git" / "config"
    config.write_bytes(config.read_bytes() + b"#" * extra + b"\n")
    return config


def test_a_same_size_rewrite_with_the_mtime_put_back_is_refused(
    tmp_path: Path, reads: list[Path]
) -> None:
    root = _repo(tmp_path / "p")
    config = _padded(root)
    checks = ConfigChecks()
    _kept(root, checks, reads)
    marker = tmp_path / "MARKER"
    _rewrite_in_place(config, _evil(marker, config.stat().st_size))
    with pytest.raises(GitConfigRefused, match=r"core\.fsmonitor"):
        run_git(root, "status", checks=checks)
    with pytest.raises(GitConfigRefused):  # and again: a refusal is never kept
        run_git(root, "status", checks=checks)
    assert not marker.exists()


def test_a_b_a_rewrites_are_judged_by_their_bytes(tmp_path: Path, reads: list[Path]) -> None:
    """A (clean, kept), B (dangerous), A again, B again, each the same size with the same
    mtime: B is refused each time, A accepted each time."""
    root = _repo(tmp_path / "p")
    config = _padded(root)
    checks = ConfigChecks()
    clean = config.read_bytes()
    marker = tmp_path / "MARKER"
    dangerous = _evil(marker, len(clean))
    _kept(root, checks, reads)
    for _ in range(2):
        _rewrite_in_place(config, dangerous)
        with pytest.raises(GitConfigRefused, match=r"core\.fsmonitor"):
            run_git(root, "status", checks=checks)
        _rewrite_in_place(config, clean)
        _kept(root, checks, reads)
    assert not marker.exists()


def test_a_worktree_s_config_and_its_git_file_are_judged_by_their_bytes(
    tmp_path: Path, reads: list[Path]
) -> None:
    """In a linked worktree: its own config.worktree, the common config, and its ``.git``
    file pointed at another repository whose config runs a program."""
    main = _repo(tmp_path / "main")
    _git(main, "config", "extensions.worktreeConfig", "true")
    _git(main, "worktree", "add", "-q", "-b", "side", str(tmp_path / "wt"))
    root = tmp_path / "wt"
    marker = tmp_path / "MARKER"
    own = main / ".git" / "worktrees" / "wt" / "config.worktree"
    own.write_text("[user]\n\tnote = " + "x" * 120 + "\n")
    checks = ConfigChecks()
    _kept(root, checks, reads)
    clean = own.read_bytes()
    _rewrite_in_place(own, _evil(marker, len(clean)))
    with pytest.raises(GitConfigRefused, match=r"core\.fsmonitor"):
        run_git(root, "status", checks=checks)
    _rewrite_in_place(own, clean)
    _kept(root, checks, reads)
    common = _padded(main)
    _kept(root, checks, reads)
    _rewrite_in_place(common, _evil(marker, common.stat().st_size))
    with pytest.raises(GitConfigRefused, match=r"core\.fsmonitor"):
        run_git(root, "status", checks=checks)
    with pytest.raises(GitConfigRefused):  # the main work tree's own check too
        run_git(main, "status", checks=checks)
    # The worktree's .git file names another repository: its config is the one read.
    other = _repo(tmp_path / "other")
    _git(other, "config", "core.fsmonitor", f"touch {marker}; false")
    (root / ".git").write_text(f"gitdir: {other / '.git'}\n")
    with pytest.raises(GitConfigRefused, match=r"core\.fsmonitor"):
        run_git(root, "status", checks=checks)
    assert not marker.exists()


def test_a_linked_config_is_judged_by_its_target_s_bytes(tmp_path: Path, reads: list[Path]) -> None:
    root = _repo(tmp_path / "p")
    config = _padded(root)
    outside = tmp_path / "elsewhere.cfg"
    outside.write_bytes(config.read_bytes())
    config.unlink()
    config.symlink_to(outside)
    checks = ConfigChecks()
    _kept(root, checks, reads)
    clean = outside.read_bytes()
    marker = tmp_path / "MARKER"
    _rewrite_in_place(outside, _evil(marker, len(clean)))  # the link itself unchanged
    with pytest.raises(GitConfigRefused, match=r"core\.fsmonitor"):
        run_git(root, "status", checks=checks)
    _rewrite_in_place(outside, clean)
    _kept(root, checks, reads)
    # The link pointed elsewhere, at a name of the same length: the bytes there are read.
    twin = tmp_path / "elsewhere.cfh"
    twin.write_bytes(_evil(marker, len(clean), form='[filter "x"]\n\tclean = {m}\n'))
    config.unlink()
    config.symlink_to(twin)
    with pytest.raises(GitConfigRefused, match=r"filter\.x\.clean"):
        run_git(root, "status", checks=checks)
    assert not marker.exists()


@pytest.mark.parametrize(
    "form",
    (
        "[include]\n\tpath = {m}.cfg\n",
        '[includeIf "gitdir:/"]\n\tpath = {m}.cfg\n',
        "[INCLUDE]\n\tPath = {m}.cfg\n",
    ),
)
def test_an_include_written_behind_a_kept_verdict_is_refused(
    tmp_path: Path, reads: list[Path], form: str
) -> None:
    """An included file is outside the bytes judged, so an include is itself refused, and
    what it pulls in is named."""
    root = _repo(tmp_path / "p")
    config = _padded(root)
    marker = tmp_path / "MARKER"
    Path(f"{marker}.cfg").write_text(f'[diff "y"]\n\ttextconv = touch {marker}\n')
    checks = ConfigChecks()
    _kept(root, checks, reads)
    _rewrite_in_place(config, _evil(marker, config.stat().st_size, form=form))
    with pytest.raises(GitConfigRefused, match=r"(?i)include") as caught:
        run_git(root, "status", checks=checks)
    assert "diff.y.textconv" in str(caught.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "form",
    (
        '[filter "x"] clean = touch {m}\n',  # a key on the section's own line
        '\ufeff[filter "x"]\r\n\tclean = touch {m}\r\n',  # a byte-order mark, CRLF
        '[filter "x"]\n\tclean = touch \\\n{m}\n',  # a value continued on the next line
        '[FILTER "x"]\n\tCLEAN = touch {m}\n',  # section and key in capitals
        '[filter "x\\"y"]\n\tclean = touch {m}\n',  # an escaped quote in the subsection
        "[filter.x]\n\tclean = touch {m}\n",  # the old dotted subsection form
        '[core]\n\tfsmonitor = "touch {m}" ; a comment after the value\n',
    ),
)
def test_spellings_only_git_reads_right_are_refused(
    tmp_path: Path, reads: list[Path], form: str
) -> None:
    """git itself parses the bytes (no parser of ours to get a corner wrong)."""
    root = _repo(tmp_path / "p")
    config = _padded(root)
    marker = tmp_path / "MARKER"
    (root / ".gitattributes").write_text("* filter=x\n")
    checks = ConfigChecks()
    _kept(root, checks, reads)
    _rewrite_in_place(config, _evil(marker, config.stat().st_size, form=form))
    with pytest.raises(GitConfigRefused, match=r"(?i)(filter\.x.*\.clean|core\.fsmonitor)"):
        run_git(root, "status", checks=checks)
    assert not marker.exists()


def test_a_config_too_large_to_read_is_asked_of_git_every_time(
    tmp_path: Path, reads: list[Path]
) -> None:
    """Over the bytes read in process, nothing is kept: git's whole reading each time."""
    root = _repo(tmp_path / "p")
    checks = ConfigChecks()
    _kept(root, checks, reads)
    config = root / ".git" / "config"
    config.write_bytes(config.read_bytes() + (b"#" * 1023 + b"\n") * (MAX_BYTES // 1024 + 1))
    before = len(reads)
    run_git(root, "rev-parse", "HEAD", checks=checks)
    run_git(root, "rev-parse", "HEAD", checks=checks)
    assert len(reads) == before + 2
    marker = tmp_path / "MARKER"
    with config.open("ab") as handle:
        handle.write(f'[core]\n\tfsmonitor = "touch {marker}; false"\n'.encode())
    with pytest.raises(GitConfigRefused, match=r"core\.fsmonitor"):
        run_git(root, "status", checks=checks)
    assert not marker.exists()


def test_a_config_git_cannot_parse_runs_nothing(tmp_path: Path, reads: list[Path]) -> None:
    """A dangerous key before a line git cannot parse is refused; git stops at the bad
    line before any command runs, so a key after it runs nothing either."""
    root = _repo(tmp_path / "p")
    config = _padded(root)
    marker = tmp_path / "MARKER"
    checks = ConfigChecks()
    _kept(root, checks, reads)
    size = config.stat().st_size
    _rewrite_in_place(config, _evil(marker, size, form='[filter "x"]\n\tclean = {m}\n[bad\n'))
    with pytest.raises(GitConfigRefused, match=r"filter\.x\.clean"):
        run_git(root, "status", checks=checks)
    (root / ".gitattributes").write_text("* filter=x\n")
    _rewrite_in_place(config, _evil(marker, size, form='[bad\n[filter "x"]\n\tclean = {m}\n'))
    with pytest.raises(git_safety.GitError):
        run_git(root, "status", checks=checks)
    assert not marker.exists()
