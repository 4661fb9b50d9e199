"""The docs stay true: folder tables, "may import" sentences and protocol members.

Each check reads the real tree (tests/docs_check.py says what is compared), and each is
shown to fail on a copy with one drift planted, so a check that cannot fail is noticed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests import docs_check
from tests.docs_check import ROOT


@pytest.mark.parametrize("readme", docs_check.readmes(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_readme_table_names_every_file_of_its_folder(readme: Path) -> None:
    assert docs_check.table_problems(readme) == []


@pytest.mark.parametrize("readme", docs_check.readmes(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_readme_may_import_what_the_contracts_allow(readme: Path) -> None:
    assert docs_check.import_problems(readme) == []


def test_every_package_says_what_it_may_import() -> None:
    said = {r.parent.relative_to(ROOT).as_posix() for r in docs_check.readmes()}
    packages = {"artifacts", "escalation", "fleet", "initializer", "runners", "session", "tui"}
    assert packages | {"harness/cli", "harness/journal", "harness/model"} <= said


def test_protocol_members_in_the_readmes_are_the_protocols() -> None:
    problems, listed = docs_check.protocol_problems()
    assert problems == []
    assert {"Model", "Runner"} <= listed  # the two a contributor implements


def test_contributing_draws_the_layers_and_names_the_contracts() -> None:
    assert docs_check.contributing_problems() == []


def test_the_readme_draws_the_layers_of_the_contract() -> None:
    assert docs_check.layers_problems(ROOT / "README.md", "## Layers") == []


def test_a_layer_drawing_with_descriptions_and_wrapped_names() -> None:
    names = {"harness.cli", "harness.errors", "harness.redact", "harness.walk", "tui"}
    text = (
        "## Layers\n\n```\nharness.cli     the command\ntui\n"
        "errors | redact |  the errors;\nwalk              and the walk\n"
        "                  of a project\n```\n"
    )
    assert docs_check.drawn_layers(text, "## Layers", names) == [
        {"harness.cli"},
        {"tui"},
        {"harness.errors", "harness.redact", "harness.walk"},
    ]


def test_contributing_against_changed_contracts(tmp_path: Path) -> None:
    shutil.copy(ROOT / "CONTRIBUTING.md", tmp_path / "CONTRIBUTING.md")
    pyproject = tmp_path / "pyproject.toml"
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pyproject.write_text(
        text.replace(
            '"harness.secret_forms",', '"harness.secret_forms | harness.planted",'
        ).replace('id = "heavy"', 'id = "planted"')
    )
    problems = docs_check.contributing_problems(tmp_path)
    assert len(problems) == 2
    assert problems[0].endswith("harness.planted | harness.secret_forms")
    assert "`planted`" in problems[1]


@pytest.fixture
def runners_copy(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "runners", tmp_path / "runners", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_a_file_without_a_row_and_a_row_without_a_file_are_found(runners_copy: Path) -> None:
    readme = runners_copy / "runners" / "README.md"
    assert docs_check.table_problems(readme, runners_copy) == []
    (runners_copy / "runners" / "planted.py").write_text('"""Planted."""\n')
    (runners_copy / "runners" / "local.py").unlink()
    (runners_copy / "runners" / "extra").mkdir()
    assert docs_check.table_problems(readme, runners_copy) == [
        "runners/README.md: the folder `extra/` has no row; add one",
        "runners/README.md: `planted.py` has no row; add one saying what it owns",
        "runners/README.md: the row `local.py` names a file that is not there; drop it",
    ]


def test_a_subfolder_file_left_out_of_its_row_is_found(tmp_path: Path) -> None:
    shutil.copytree(
        ROOT / "session", tmp_path / "session", ignore=shutil.ignore_patterns("__pycache__")
    )
    readme = tmp_path / "session" / "README.md"
    assert docs_check.table_problems(readme, tmp_path) == []
    (tmp_path / "session" / "verify" / "planted.py").write_text('"""Planted."""\n')
    assert docs_check.table_problems(readme, tmp_path) == [
        "session/README.md: `verify/planted.py` is not named; add it to the `verify/` row"
    ]


def test_a_may_import_sentence_against_a_changed_contract(runners_copy: Path) -> None:
    readme = runners_copy / "runners" / "README.md"
    assert docs_check.import_problems(readme, runners_copy) == []
    pyproject = runners_copy / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    # A new package under the runners: the sentence does not name it (a new module of
    # harness/ would be covered by "the foundation").
    pyproject.write_text(text.replace('"harness.config",', '"planted",\n    "harness.config",'))
    assert docs_check.import_problems(readme, runners_copy) == [
        "runners/README.md: does not name `planted`, which the contracts let "
        "`runners` import; add it (or forbid it in pyproject.toml)"
    ]
    # The runners moved under harness.config: the sentence names what they may no longer import.
    pyproject.write_text(
        text.replace('"runners",\n    "harness.config",', '"harness.config",\n    "runners",')
    )
    problems = docs_check.import_problems(readme, runners_copy)
    assert problems[0].startswith("runners/README.md: says `runners` may import `harness.config`")
    readme.write_text(readme.read_text(encoding="utf-8").replace("May import", "Imports"))
    assert docs_check.import_problems(readme, runners_copy) == [
        'runners/README.md: no sentence starting "May import"; say what `runners` may import'
    ]


def test_a_never_that_the_contracts_allow_is_found(runners_copy: Path) -> None:
    readme = runners_copy / "runners" / "README.md"
    text = readme.read_text(encoding="utf-8")
    readme.write_text(text.replace("never `session`", "never `artifacts`, `session`"))
    assert docs_check.import_problems(readme, runners_copy) == [
        "runners/README.md: says `runners` never imports `artifacts`, which the contracts allow"
    ]


def test_a_member_list_against_its_protocol(tmp_path: Path) -> None:
    (tmp_path / "runners").mkdir()
    (tmp_path / "runners" / "base.py").write_text(
        "from typing import Protocol\n\n"
        "class Base(Protocol):\n    name: str\n\n"
        "class Runner(Base, Protocol):\n"
        "    def run(self, command: str) -> None: ...\n"
        "    def stop(self) -> None: ...\n"
        "    def _private(self) -> None: ...\n"
    )
    readme = tmp_path / "README.md"
    readme.write_text("The `Runner` protocol (members: `name`, `run(command)`, `stop()`).\n")
    assert docs_check.protocol_problems(tmp_path) == ([], {"Runner"})
    readme.write_text(
        "A `Runner` (members: `name`, `run(command)`, `acomplete(...)`). The `Gone`\n"
        "protocol (members: `x`).\n"
    )
    assert docs_check.protocol_problems(tmp_path)[0] == [
        "README.md: `Runner` has no member `acomplete`; drop it",
        "README.md: `Runner`'s member `stop` is not listed; add it",
        "README.md: lists members of `Gone`, which is no Protocol of ours",
    ]


def test_the_readme_and_contributing_give_the_ci_test_command() -> None:
    assert docs_check.ci_test_command().startswith("pytest ")
    assert docs_check.test_command_problems() == []


def test_a_ci_test_command_the_docs_do_not_give_is_found(tmp_path: Path) -> None:
    (tmp_path / ".ci").mkdir()
    for name in ("README.md", "CONTRIBUTING.md", ".ci/run"):
        shutil.copy(ROOT / name, tmp_path / name)
    assert docs_check.test_command_problems(tmp_path) == []
    run = tmp_path / ".ci" / "run"
    run.write_text(re.sub(r" -n \d+ ", " -n 9 ", run.read_text(encoding="utf-8")))
    command = docs_check.ci_test_command(tmp_path)
    assert "-n 9" in command
    assert docs_check.test_command_problems(tmp_path) == [
        f"{name}: does not give .ci/run's test command `{command}`; quote it as it runs"
        for name in ("README.md", "CONTRIBUTING.md")
    ]
