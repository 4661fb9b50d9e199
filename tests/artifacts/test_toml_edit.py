"""Keys set in an existing harness.toml keep the user's comments and other tables."""

from __future__ import annotations

import tomllib

from artifacts.toml_edit import set_table_keys

USER = """# my settings
[model]
# the model I used before
name = "openai/old"   # old one
temperature = 0.2

[budgets]
run_sessions = 5
name = "not the model's"
"""


def test_an_existing_key_is_replaced_and_everything_else_kept() -> None:
    text = set_table_keys(USER, "model", {"name": "ollama_chat/qwen", "api_base": "http://x/v1"})
    parsed = tomllib.loads(text)
    assert parsed["model"] == {
        "name": "ollama_chat/qwen",
        "api_base": "http://x/v1",
        "temperature": 0.2,
    }
    assert parsed["budgets"] == {"run_sessions": 5, "name": "not the model's"}
    assert "# the model I used before" in text and text.startswith("# my settings\n")


def test_a_missing_table_is_appended() -> None:
    text = set_table_keys("[budgets]\nrun_sessions = 5\n", "model", {"name": 'a"b'})
    assert tomllib.loads(text) == {"budgets": {"run_sessions": 5}, "model": {"name": 'a"b'}}


def test_a_commented_out_key_does_not_count_as_set() -> None:
    text = set_table_keys('[model]\n# name = "x"\n', "model", {"name": "y"})
    assert tomllib.loads(text) == {"model": {"name": "y"}}
    assert '# name = "x"' in text
