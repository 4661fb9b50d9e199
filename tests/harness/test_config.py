"""Configuration: harness.toml models, the precedence chain, `harness config`."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from artifacts.config import HarnessConfig, load_config_file
from harness.cli import _secrets_of, main
from harness.config import env_key, load_config, resolve_config, run_scope
from harness.crashlog import save_traceback
from harness.errors import ArtifactError, ConfigError
from harness.journal import Journal
from harness.redact import Redactor
from runners.local import LocalRunner


def write(root: Path, text: str) -> Path:
    path = root / "harness.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_config(tmp_path, env={})
    assert config == HarnessConfig()
    assert config.budgets.session_steps == 60 and config.runner.kind == "auto"
    assert config.model.retry_deadline_s == 300 and config.escalation.gates.network


def test_precedence_defaults_file_env_flag(tmp_path: Path) -> None:
    write(tmp_path, '[model]\nname = "file/m"\n[budgets]\nsession_steps = 10\nrun_sessions = 5\n')
    env = {"HARNESS_BUDGETS_SESSION_STEPS": "20", "HARNESS_MODEL_NAME": "env/m"}
    resolved = resolve_config(tmp_path, env=env, overrides={"model.name": "flag/m"})
    config = resolved.config
    assert config.model.name == "flag/m"
    assert config.budgets.session_steps == 20
    assert config.budgets.run_sessions == 5
    assert resolved.sources["model.name"] == "flag"
    assert resolved.sources["budgets.session_steps"] == "env:HARNESS_BUDGETS_SESSION_STEPS"
    assert resolved.sources["budgets.run_sessions"] == "file"
    assert resolved.sources["runner.kind"] == "default"


def test_env_values_are_typed_and_nested(tmp_path: Path) -> None:
    env = {
        "HARNESS_RUNNER_NETWORK": "true",
        "HARNESS_RUNNER_CPUS": "2.5",
        "HARNESS_MODEL_NAME": "123",  # a string field keeps the text
        "HARNESS_ESCALATION_GATES_NETWORK": "false",
        "HARNESS_ESCALATION_GATES_COMMAND_PATTERNS": '["^make deploy"]',
        "HARNESS_BUDGETS_RUN_SESSIONS": "none",
        "HARNESS_CRASH_AT_STEP": "7",  # not a section: not configuration, ignored
    }
    config = load_config(tmp_path, env=env)
    assert config.runner.network is True and config.runner.cpus == 2.5
    assert config.model.name == "123"
    assert config.escalation.gates.network is False
    assert config.escalation.gates.command_patterns == ["^make deploy"]
    assert config.budgets.run_sessions is None


def test_env_key_mapping() -> None:
    assert env_key("HARNESS_MODEL_NAME") == ("model", "name")
    assert env_key("HARNESS_ESCALATION_GATES_RESOURCES_ABOVE_MAX") == (
        "escalation",
        "gates",
        "resources_above_max",
    )
    assert env_key("HARNESS_STATE_FILE") is None
    assert env_key("PATH") is None


def test_unknown_env_field_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, env={"HARNESS_RUNNER_MEMORY": "4096"})
    assert "HARNESS_RUNNER_MEMORY" in str(caught.value)
    assert "HARNESS_RUNNER_MEMORY_MB" in str(caught.value)  # says what it could be


def test_bad_env_value_names_the_variable_and_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, env={"HARNESS_RUNNER_KIND": "k8s"})
    assert caught.value.file == "environment variable HARNESS_RUNNER_KIND"
    assert caught.value.where == "[runner].kind"


def test_bad_flag_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"flag model\.colour"):
        load_config(tmp_path, env={}, overrides={"model.colour": "red"})
    with pytest.raises(ConfigError, match=r"flag runner.memory_mb.*above max_memory_mb"):
        load_config(tmp_path, env={}, overrides={"runner.memory_mb": 100_000})


@pytest.mark.parametrize(
    ("text", "where", "why"),
    [
        ('[model\nname = "x"\n', "line 1, column 7", "not valid TOML"),
        ('[model]\ncolour = "red"\n', "[model].colour", 'unknown key "colour"'),
        ("[modle]\n", "[modle]", 'unknown key "modle"'),
        ('[budgets]\nsession_steps = "many"\n', "[budgets].session_steps", "integer"),
        ("[budgets]\nsession_steps = 0\n", "[budgets].session_steps", "greater than or equal"),
        ("[model]\ncompact_at = 1.5\n", "[model].compact_at", "less than or equal"),
        ('[journal]\nsynchronous = "OFF"\n', "[journal].synchronous", "'NORMAL' or 'FULL'"),
        ("model = 3\n", "[model]", "expected a table"),
        ('[escalation.gates]\ncommand_patterns = ["("]\n', "[escalation.gates]", "not a regex"),
        ("[runner]\ncpus = 8\n", "[runner]", "cpus = 8.0 is above max_cpus"),
    ],
)
def test_file_errors_name_file_key_and_reason(
    tmp_path: Path, text: str, where: str, why: str
) -> None:
    path = write(tmp_path, text)
    before = path.read_bytes()
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    assert caught.value.file == "harness.toml"
    assert caught.value.where.startswith(where), caught.value
    assert why in caught.value.why, caught.value
    assert path.read_bytes() == before


def test_empty_file_is_all_defaults(tmp_path: Path) -> None:
    assert load_config_file(write(tmp_path, "")) == HarnessConfig()


def test_symlink_out_of_the_project_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.toml"
    outside.write_text("[model]\n")
    project = tmp_path / "p"
    project.mkdir()
    (project / "harness.toml").symlink_to(outside)
    with pytest.raises(ArtifactError, match="outside the project"):
        load_config(project, env={})


def test_shipped_template_and_example_load(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    example = load_config(repo / "templates" / "example", env={})
    assert example.model.name.startswith("scripted/")


def cli(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["-C", str(root), "config", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_config_command_prints_toml_that_loads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_RUNNER_KIND", "local")
    write(tmp_path, "[budgets]\nsession_steps = 7\n")
    code, out, _ = cli(tmp_path, capsys, "-c", "model.temperature=0.5")
    assert code == 0
    again = HarnessConfig.model_validate(tomllib.loads(out))
    assert again.budgets.session_steps == 7
    assert again.runner.kind == "local"
    assert again.model.temperature == 0.5
    assert again == load_config(tmp_path, overrides={"model.temperature": 0.5})


def test_config_command_json_and_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_MODEL_NAME", "openai/gpt-4o-mini")
    code, out, _ = cli(tmp_path, capsys, "--json", "--sources", "-c", "runner.gpus=1")
    data = json.loads(out)
    assert code == 0
    assert data["config"]["model"]["name"] == "openai/gpt-4o-mini"
    assert data["sources"]["model.name"] == "env:HARNESS_MODEL_NAME"
    assert data["sources"]["runner.gpus"] == "flag"
    assert data["config"]["runner"]["gpus"] == 1
    code, out, _ = cli(tmp_path, capsys, "--sources")
    assert 'name = "openai/gpt-4o-mini"  # env:HARNESS_MODEL_NAME' in out


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--set", "runner.cpus=lots"], "flag runner.cpus"),
        (["--set", "nonsense"], "SECTION.KEY=VALUE"),
        (["--set", "runner.nope=1"], "no such key"),
        (["-c", "runner.cpus=lots"], "flag runner.cpus"),
    ],
)
def test_config_command_bad_flags_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], text: str
) -> None:
    code, out, err = cli(tmp_path, capsys, *args)
    assert code == 2 and out == ""
    assert text in err and "Traceback" not in err


def test_config_command_bad_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "[runner]\nkind = 3\n")
    code, _, err = cli(tmp_path, capsys)
    assert code == 2
    assert err.startswith("harness: harness.toml: at [runner].kind:")


def test_the_model_key_variable_is_secret_whatever_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[model] api_key_env = "MY_LLM"`: the run's scope hides MY_LLM's value from its
    journal and the model door, and its local runner does not pass it; reading the config
    declares nothing for anyone else (a Redactor of no run does not know the name)."""

    monkeypatch.setenv("MY_LLM", "llm-value-0123456789")
    (tmp_path / "harness.toml").write_text('[model]\napi_key_env = "MY_LLM"\n')
    config = load_config(tmp_path)
    scope = run_scope(config)
    assert scope.secrets.text("key llm-value-0123456789") == "key [REDACTED:MY_LLM]"
    assert Redactor().text("key llm-value-0123456789") == "key llm-value-0123456789"
    with Journal.open(tmp_path / ".harness", redactor=scope.secrets) as journal:
        assert "llm-value" not in journal.redactor.text("llm-value-0123456789")
    runner = LocalRunner(tmp_path, environ=scope.public_environ())
    assert runner.run("echo ${MY_LLM:-unset}").stdout.split() == ["unset"]


def test_a_traceback_file_hides_the_projects_key_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An internal error's traceback file is redacted with the project's own secrets: its
    `[model] api_key_env` too, read from its config (no process-wide declaration)."""

    monkeypatch.setenv("MY_LLM", "llm-value-0123456789")
    (tmp_path / "harness.toml").write_text('[model]\napi_key_env = "MY_LLM"\n')
    (tmp_path / ".harness").mkdir()
    try:
        raise RuntimeError("a bug saw llm-value-0123456789")
    except RuntimeError:
        where = save_traceback(str(tmp_path), _secrets_of(str(tmp_path)))
    text = Path(where).read_text()
    assert "llm-value" not in text and "[REDACTED:MY_LLM]" in text
