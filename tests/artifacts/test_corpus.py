"""The bad-input corpus: every broken artifact gives a clear error and stays byte-for-byte."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.artifacts.conftest import tree_digest

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
ADOPT_CASES = [c for c in CASES if c.startswith(("fl_", "adopt_")) and c != "fl_legacy_array"]
Cli = Callable[..., tuple[int, str, str]]


def _install(project: Path, case: str) -> tuple[str, list[str]]:
    folder = CORPUS / case
    files = [p for p in folder.iterdir() if p.name != "expect"]
    for source in files:
        shutil.copyfile(source, project / source.name)
    expected = (folder / "expect").read_text().splitlines()
    return files[0].name, expected


def _needs_config_loader(case: str) -> None:
    if case.startswith("toml_"):
        pytest.importorskip("artifacts.config", reason="the harness.toml loader is not there yet")


def _check(code: int, err: str, file: str, expected: list[str]) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert f"{file}: at " in err, err
    for text in expected:
        assert text in err, err


@pytest.mark.parametrize("case", CASES)
def test_validate_reports_the_broken_file(project: Path, cli: Cli, case: str) -> None:
    _needs_config_loader(case)
    file, expected = _install(project, case)
    before = tree_digest(project)
    code, _, err = cli(project, "validate")
    _check(code, err, file, expected)
    assert tree_digest(project) == before


@pytest.mark.parametrize("case", ADOPT_CASES)
def test_adopt_refuses_the_broken_file(project: Path, cli: Cli, case: str) -> None:
    file, _ = _install(project, case)
    before = tree_digest(project)
    code, out, err = cli(project, "adopt")
    assert code == 2, out + err
    assert "Traceback" not in err
    assert f"{file}: at " in err, err
    assert tree_digest(project) == before


def _directory(project: Path) -> str:
    (project / "feature_list.json").unlink()
    (project / "feature_list.json").mkdir()
    (project / "feature_list.json" / "x").write_text("x")
    return "directory"


def _huge(project: Path) -> str:
    with open(project / "feature_list.json", "r+b") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB without writing 50 MB
    return "over the limit"


def _symlink_out(project: Path) -> str:
    outside = project.parent / "elsewhere.json"
    outside.write_bytes((project / "feature_list.json").read_bytes())
    (project / "feature_list.json").unlink()
    (project / "feature_list.json").symlink_to(outside)
    return "outside the project"


def _dangling(project: Path) -> str:
    (project / "progress.md").unlink()
    (project / "progress.md").symlink_to(project / "gone.md")
    return "does not exist"


def _fifo(project: Path) -> str:
    (project / "progress.md").unlink()
    os.mkfifo(project / "progress.md")
    return "not a regular file"


def _missing_feature_list(project: Path) -> str:
    (project / "feature_list.json").unlink()
    return "does not exist"


def _init_sh_directory(project: Path) -> str:
    (project / "init.sh").unlink()
    (project / "init.sh").mkdir()
    return "directory"


def _init_sh_missing(project: Path) -> str:
    (project / "init.sh").unlink()
    return "does not exist"


GENERATED = {
    "feature_list.json": [_directory, _huge, _symlink_out, _missing_feature_list],
    "progress.md": [_dangling, _fifo],
    "init.sh": [_init_sh_directory, _init_sh_missing],
}
GENERATED_CASES = [
    (file, make, command)
    for file, makers in GENERATED.items()
    for make in makers
    for command in ("validate", "adopt")
    if command == "validate" or file == "feature_list.json"  # adopt reads only that file
]


@pytest.mark.parametrize(
    ("file", "make", "command"),
    GENERATED_CASES,
    ids=[f"{c}-{m.__name__.strip('_')}" for _, m, c in GENERATED_CASES],
)
def test_generated_bad_input(
    project: Path, cli: Cli, file: str, make: Callable[[Path], str], command: str
) -> None:
    reason = make(project)
    before = tree_digest(project)
    outside_before = tree_digest(project.parent)
    code, _, err = cli(project, command)
    _check(code, err, file, [reason])
    assert tree_digest(project) == before
    assert tree_digest(project.parent) == outside_before


def test_corpus_is_big_enough() -> None:
    assert len(CASES) + sum(map(len, GENERATED.values())) >= 25
