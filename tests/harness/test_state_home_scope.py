"""A run's journal keys live in the state home its own environment names, not the process's:
two runs in one process with two state homes each keep theirs (the key that signs a journal
is where that run's user keeps harness state)."""

from __future__ import annotations

from pathlib import Path

from harness.config import load_config, run_journal, run_scope
from harness.journal import Journal
from harness.journal.keys import key_path, state_home
from tests.session.support import make_project


def test_two_runs_in_one_process_keep_their_keys_in_their_own_state_homes(
    tmp_path: Path,
) -> None:
    process_home = state_home()  # the tests' own (tests/conftest.py)
    opened = []
    for name in ("alpha", "beta"):
        root = make_project(tmp_path / name)
        environ = {"HOME": str(tmp_path / f"{name}-home"),
                   "HARNESS_STATE_HOME": str(tmp_path / f"{name}-state")}  # fmt: skip
        config = load_config(root, env=environ)
        opened.append((Journal.open(run_journal(root, config, run_scope(config, environ))),
                       tmp_path / f"{name}-state"))  # fmt: skip
    try:
        for journal, home in opened:
            assert key_path(journal.id, home).is_file()
            assert not key_path(journal.id, process_home).exists()
        (alpha, alpha_home), (_, beta_home) = opened
        assert not key_path(alpha.id, beta_home).exists()
        # reopened through the same scope, the journal is checked with that key
        alpha.close()
        root = tmp_path / "alpha"
        environ = {"HARNESS_STATE_HOME": str(alpha_home)}
        config = load_config(root, env=environ)
        with Journal.open(run_journal(root, config, run_scope(config, environ))) as again:
            assert again.id == alpha.id
    finally:
        for journal, _ in opened:
            journal.close()
