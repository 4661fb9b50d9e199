"""The agent writes a `.gitattributes` that changes what git stores for the files the
harness commits: `working-tree-encoding` (a secret written as UTF-16, which the scan
does not read as the key, would be stored as UTF-8; a file that is not valid UTF-16 makes
every `git add` fail, so no session could ever commit), `text eol=crlf`, `ident`, `-text`
on the harness's own files. Defended by construction: a harness commit stores the bytes
on disk the selection scanned, with no attribute or filter applied, and the feature list
and progress.md as harness wrote them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.attacks.support import (
    RUNNERS,
    assert_secret_absent,
    git_out,
    project,
    run,
    runner_for,
    runner_params,
)
from tests.session.support import call, good_turns, turn

CANARY = "sk-canaryQ9w8E7r6T5y4U3i2O1p0"

ATTRIBUTES = {
    "utf16": "* working-tree-encoding=UTF-16LE\n",
    "crlf": "* text eol=crlf\nfeature_list.json text eol=crlf\n",
    "ident": "progress.md ident\nfeature_list.json ident\n* ident\n",
    "binary": "* -text\nfeature_list.json export-ignore\n",
}


UTF16_KEY = "key16.txt working-tree-encoding=UTF-16LE\n"


def _file_in_head(root: Path, path: str) -> bytes:

    return subprocess.run(
        ["git", "cat-file", "blob", f"HEAD:{path}"], cwd=root, capture_output=True, check=True
    ).stdout


@pytest.mark.parametrize("attributes", sorted(ATTRIBUTES))
@pytest.mark.parametrize("kind", runner_params(*RUNNERS))
def test_attributes_do_not_change_what_a_harness_commit_stores(
    kind: str, attributes: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Honest work beside a hostile `.gitattributes` and an odd-length file (not UTF-16):
    the session commits, and every committed file is the bytes on disk."""
    runner = runner_for(kind, request)
    odd = "abc $Id: forged $\r\nline\n"
    turns = [
        turn(call("write_file", path=".gitattributes", content=ATTRIBUTES[attributes])),
        turn(call("write_file", path="odd.txt", content=odd)),
        *good_turns(1),
    ]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    code, report = run(root, tmp_path)
    assert "Traceback" not in str(report)
    tree = git_out(root, "ls-tree", "-r", "--name-only", "HEAD").split()
    assert "done_a.txt" in tree, (code, report)  # the honest work was committed
    for path in ("odd.txt", ".gitattributes", "feature_list.json", "progress.md", "done_a.txt"):
        assert _file_in_head(root, path) == (root / path).read_bytes(), path


@pytest.mark.parametrize("kind", runner_params(*RUNNERS))
def test_a_secret_in_utf16_is_not_decoded_into_git(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key written as UTF-16LE (the scan reads bytes: no key there) under an attribute
    that would have git convert it to UTF-8: the plain key must not reach git."""
    monkeypatch.setenv("MY_SERVICE_TOKEN", CANARY)
    runner = runner_for(kind, request)
    spread = "sed 's/./&\\n/g' | tr '\\n' '\\000'"  # each character, then a NUL: UTF-16LE
    make = f"printf '%s' '{CANARY}' | {spread} > key16.txt; wc -c key16.txt"
    turns = [
        turn(call("write_file", path=".gitattributes", content=UTF16_KEY)),
        turn(call("run", command=make)),
        *good_turns(1),
    ]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    run(root, tmp_path)
    assert (root / "key16.txt").read_bytes() == CANARY.encode("utf-16-le")
    assert_secret_absent(root, CANARY)
