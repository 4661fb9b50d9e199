"""Trees harness builds and checks out: exactly the bytes a commit would hold."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from artifacts.git_safety import ConfigChecks
from artifacts.git_tree import build_tree, checkout_tree, head_sha, tree_entries, tree_of
from harness.errors import GitError


def git(root: Path, *args: str, input: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@l", *args],
        cwd=root,
        input=input,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode().strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / "a.txt").write_text("a\n")
    (root / "keep").mkdir()
    (root / "keep" / "b.txt").write_text("b\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "one")
    return root


def test_build_tree_takes_disk_bytes_and_blobs_and_leaves_the_index(repo: Path) -> None:
    (repo / "a.txt").write_text("changed\n")
    (repo / "new.sh").write_text("#!/bin/sh\n")
    (repo / "new.sh").chmod(0o4755)  # setuid on disk: git's 755 in the tree
    (repo / "link").symlink_to("a.txt")
    (repo / "keep" / "b.txt").unlink()
    index_before = (repo / ".git" / "index").read_bytes()
    tree, shas = build_tree(
        repo,
        head_sha(repo),
        paths=["a.txt", "new.sh", "link", "keep/b.txt"],
        blobs={"made.json": b"{}\n"},
    )
    assert (repo / ".git" / "index").read_bytes() == index_before
    entries = {path: (mode, sha) for mode, sha, path in tree_entries(repo, tree)}
    assert set(entries) == {"a.txt", "new.sh", "link", "made.json"}
    assert entries["new.sh"][0] == "100755" and entries["link"][0] == "120000"
    assert entries["made.json"][1] == shas["made.json"]
    assert git(repo, "cat-file", "blob", entries["a.txt"][1]) == "changed"
    assert head_sha(repo) is not None and tree != tree_of(repo, head_sha(repo))


def test_checkout_writes_the_blobs_not_the_attributes_view(repo: Path, tmp_path: Path) -> None:
    """An agent's .gitattributes (eol=crlf, ident) would rewrite a `git checkout`'s bytes:
    the checkout holds the blobs as committed."""
    (repo / ".gitattributes").write_text("*.txt eol=crlf ident\n")
    (repo / "c.txt").write_text("$Id$\nline\n")
    (repo / "tool").write_text("#!/bin/sh\necho hi\n")
    (repo / "tool").chmod(0o755)
    (repo / "pkg" / "__pycache__").mkdir(parents=True)
    (repo / "pkg" / "__pycache__" / "m.pyc").write_bytes(b"forged")
    (repo / "up").symlink_to("../outside")
    paths = [".gitattributes", "c.txt", "tool", "pkg/__pycache__/m.pyc", "up"]
    tree, _ = build_tree(repo, head_sha(repo), paths=paths, blobs={})
    dest = tmp_path / "out"
    dest.mkdir()
    count = checkout_tree(repo, tree, dest, skip=("__pycache__",))
    assert count == 6  # a.txt, keep/b.txt, .gitattributes, c.txt, tool, up
    assert (dest / "c.txt").read_bytes() == b"$Id$\nline\n"
    assert os.access(dest / "tool", os.X_OK) and not os.access(dest / "a.txt", os.X_OK)
    assert os.readlink(dest / "up") == "../outside"  # a link, never followed
    assert not (dest / "pkg").exists()
    assert (dest / "keep" / "b.txt").read_text() == "b\n"


def test_checkout_refuses_a_tree_that_leads_out(repo: Path, tmp_path: Path) -> None:
    """A crafted tree: a symlink `d` and a file `d/x` (git's index refuses it, a tree object
    can hold it): writing d/x would write through the link."""
    blob = git(repo, "hash-object", "-w", "--stdin", input=b"x\n")
    link = git(repo, "hash-object", "-w", "--stdin", input=str(tmp_path).encode())
    inner = git(repo, "mktree", input=f"100644 blob {blob}\tx\n".encode())
    listing = f"120000 blob {link}\td\n040000 tree {inner}\td\n".encode()
    tree = (
        subprocess.run(
            ["git", "hash-object", "-t", "tree", "-w", "--literally", "--stdin"],
            cwd=repo,
            input=_tree_bytes(listing.decode()),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(GitError, match="not a folder"):
        checkout_tree(repo, tree, dest)
    assert not (tmp_path / "x").exists()


def _tree_bytes(listing: str) -> bytes:
    """A raw tree object from `mode type sha\\tname` lines (as mktree reads them)."""
    out = b""
    for line in listing.splitlines():
        meta, name = line.split("\t")
        mode, _kind, sha = meta.split()
        out += f"{int(mode, 8):o} {name}".encode() + b"\0" + bytes.fromhex(sha)
    return out


@pytest.mark.slow  # 2.2 CPU-s
def test_a_file_renamed_away_and_back_while_trees_are_built_never_fails_a_build(
    repo: Path,
) -> None:
    """A process the agent left running renames a file in and out of place in a loop: each
    build holds the file as one read saw it, or not at all; none fails (git was handed the
    path and found it gone)."""

    (repo / "forged.json").write_text('{"forged": true}\n')
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                (repo / "tmp.json").write_bytes((repo / "forged.json").read_bytes())
                os.replace(repo / "tmp.json", repo / "list.json")
                os.replace(repo / "list.json", repo / "tmp.json")

    # As a run builds: one ConfigChecks (the config's clean verdict kept while its bytes
    # stay, not a `git config` run before each git call) and HEAD read once.
    checks = ConfigChecks()
    base = head_sha(repo, checks)
    worker = threading.Thread(target=churn)
    worker.start()
    try:
        seen = set()
        builds = 0
        # At least 150 builds, and on until the churn has reached one (under load the
        # thread may not have run between the first 150: ci4), or two minutes have passed.
        deadline = time.monotonic() + 120
        while builds < 150 or (len(seen) < 2 and time.monotonic() < deadline):
            builds += 1
            tree, _ = build_tree(
                repo, base, paths=["tmp.json", "list.json"], blobs={}, checks=checks
            )
            entries = tree_entries(repo, tree, checks)
            seen.add(frozenset(path for _, _, path in entries) - {"a.txt", "keep/b.txt"})
    finally:
        stop.set()
        worker.join()
    assert seen <= {
        frozenset(),
        frozenset({"tmp.json"}),
        frozenset({"list.json"}),
        frozenset({"tmp.json", "list.json"}),
    }
    assert len(seen) > 1  # the churn did reach the builds


def test_a_folder_swapped_for_a_link_to_outside_is_never_read_through(
    repo: Path, tmp_path: Path
) -> None:
    """Between git's listing and the build, the agent swaps a folder for a link to a host
    folder holding a file of the same name: the build records the path as gone and no
    object holds the host file's bytes."""
    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "b.txt").write_text("host secret\n")
    (repo / "keep" / "b.txt").unlink()
    (repo / "keep").rmdir()
    (repo / "keep").symlink_to(outside)
    tree, _ = build_tree(repo, head_sha(repo), paths=["keep/b.txt"], blobs={})
    assert {path for _, _, path in tree_entries(repo, tree)} == {"a.txt"}
    secret = git(repo, "hash-object", "--stdin", input=b"host secret\n")
    probe = subprocess.run(
        ["git", "cat-file", "-e", secret], cwd=repo, capture_output=True, check=False
    )
    assert probe.returncode != 0


def test_a_fifo_in_place_of_a_file_is_refused_not_waited_on(repo: Path) -> None:
    os.mkfifo(repo / "pipe")
    with pytest.raises(GitError, match="not a regular file"):
        build_tree(repo, head_sha(repo), paths=["pipe"], blobs={})
