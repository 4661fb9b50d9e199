"""commit_exact (real git): the tree holds the work tree's bytes as they are, whatever
`.gitattributes` says, under git's plain modes, for any name a command can make."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from artifacts.git import GitRepo
from artifacts.git_commit import commit_exact


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    with GitRepo.init(root) as repo:
        (root / "a.txt").write_text("a\n")
        repo.commit("harness init", trailers={"Harness-Init": "1"})
    return root


def _ls(root: Path) -> dict[bytes, tuple[str, bytes]]:
    out = subprocess.run(
        ["git", "ls-tree", "-r", "-z", "HEAD"], cwd=root, capture_output=True, check=True
    ).stdout
    found = {}
    for record in out.split(b"\0"):
        if record:
            meta, name = record.split(b"\t", 1)
            mode, _, sha = meta.decode().split()
            blob = subprocess.run(
                ["git", "cat-file", "blob", sha], cwd=root, capture_output=True, check=True
            ).stdout
            found[name] = (mode, blob)
    return found


def test_the_commit_stores_the_bytes_on_disk_under_plain_modes(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / ".gitattributes").write_text("* working-tree-encoding=UTF-16LE ident\n")
    names = ["odd.txt", "new\nline", '"quoted\\', "tab\tname", "caf\u00e9", "bad\udcff"]
    for name in names:
        (root / name).write_bytes(b"$Id: x $\r\n" + os.fsencode(name))
    tool = root / "tool.sh"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o6755)  # setuid and setgid: git keeps neither
    (root / "link").symlink_to("a.txt")
    (root / "a.txt").unlink()
    paths = [*names, ".gitattributes", "tool.sh", "link", "a.txt"]
    assert commit_exact(root, "s1", paths=paths, blobs={"f.json": b"{}\r\n"}, protected=[])
    tree = _ls(root)
    for name in [*names, ".gitattributes"]:
        assert tree[os.fsencode(name)] == ("100644", (root / name).read_bytes()), name
    assert tree[b"tool.sh"] == ("100755", b"#!/bin/sh\n")
    assert tree[b"link"] == ("120000", b"a.txt")
    assert tree[b"f.json"] == ("100644", b"{}\r\n")
    assert b"a.txt" not in tree
