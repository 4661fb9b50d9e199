"""The scripted model's script files: validation, scenes, turn positions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import ArtifactError, ModelFatal
from harness.model.script import SCRIPTS_DIR, load_script, pick_scene, resolve, turn_index
from tests.harness.model_support import make_model, user, write_script


@pytest.mark.parametrize(
    ("data", "where", "why"),
    [
        ({"turns": [{"txt": "typo"}]}, "$.turns[0].txt", "Extra inputs"),
        ({"turns": [{"fault": "explode"}]}, "$.turns[0].fault", "Input should be"),
        ({"turns": [{"fault": "rate_limit", "times": 0}]}, "$.turns[0].times", "greater"),
        ({"scenes": [{"match": "([", "turns": []}]}, "$.scenes[0].match", "regular expression"),
        ({"turns": [{"fault": "bad_tool_args"}]}, "$.turns[0]", "needs at least one tool call"),
        ({"turns": [{"fault": "timeout", "retry_after": 1}]}, "$.turns[0]", "retry_after"),
        ({"turns": [{"tool_calls": [{"name": "x", "arguments": "ls"}]}]}, "arguments", "dict"),
        ({}, "$", "needs 'scenes' or 'turns'"),
        ({"turns": [], "scenes": [{"turns": []}]}, "$", "not both"),
    ],
)
def test_bad_script_names_file_path_and_reason(
    tmp_path: Path, data: dict[str, object], where: str, why: str
) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    before = path.read_bytes()
    with pytest.raises(ArtifactError) as info:
        load_script(path)
    err = info.value
    assert err.file == str(path) and where in err.where and why in err.why
    assert path.read_bytes() == before


def test_bad_script_is_reported_through_the_gateway_without_retry(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"turns": [')
    with pytest.raises(ArtifactError) as info:
        make_model(tmp_path, "scripted/broken.json").complete(user("go"), [])
    assert "broken.json" in info.value.file and "line 1" in info.value.where


def test_missing_script_and_unknown_builtin(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="cannot be read"):
        make_model(tmp_path, "scripted/nope.json").complete(user("go"), [])
    with pytest.raises(ArtifactError, match="echo"):
        resolve("builtin:nope", tmp_path)
    with pytest.raises(ArtifactError):
        resolve("builtin:../secrets", tmp_path)
    assert resolve("builtin:echo", None) == SCRIPTS_DIR / "echo.json"
    assert resolve("sub/s.json", tmp_path) == tmp_path / "sub" / "s.json"


def test_every_shipped_script_is_valid() -> None:
    shipped = sorted(SCRIPTS_DIR.glob("*.json"))
    assert shipped
    for path in shipped:
        load_script(path)


def test_no_matching_scene_is_fatal_and_lists_scenes(tmp_path: Path) -> None:
    name = write_script(tmp_path, {"scenes": [{"name": "only", "match": "F001", "turns": []}]})
    with pytest.raises(ModelFatal, match="no scene matches"):
        make_model(tmp_path, name).complete(user("Feature F002"), [])


def test_scene_selection_uses_the_first_user_message(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps(
            {
                "scenes": [
                    {"name": "a", "match": "F001", "turns": []},
                    {"name": "b", "match": "F00[0-9]", "turns": []},
                    {"name": "fallback", "turns": []},
                ]
            }
        )
    )
    script = load_script(path)

    def scene(first: str, later: str = "") -> str | None:
        msgs = [*user(first), {"role": "user", "content": later}]
        found = pick_scene(script, msgs)
        return found.name if found else None

    assert scene("Feature F001") == "a"
    assert scene("Feature F003") == "b"
    assert scene("nothing", later="F001") == "fallback"
    parts = [{"role": "user", "content": [{"type": "text", "text": "Feature F001"}]}]
    found = pick_scene(script, parts)
    assert found is not None and found.name == "a"


def test_turn_index_counts_assistants_and_compaction_markers() -> None:
    msgs = [
        *user("x"),
        {"role": "user", "content": "[harness: compacted 5 assistant turns]\nSummary"},
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "tool", "tool_call_id": "c", "content": "ok"},
        {"role": "assistant", "content": "y"},
    ]
    assert turn_index(msgs) == 7
    assert turn_index(user("x")) == 0


def test_faults_count_per_turn(tmp_path: Path) -> None:
    name = write_script(
        tmp_path,
        {
            "turns": [
                {"text": "one", "fault": "server_error", "times": 1},
                {"text": "two", "fault": "server_error", "times": 2},
            ]
        },
    )
    model = make_model(tmp_path, name)
    first = model.complete(user("go"), [])
    second = model.complete([*user("go"), first.message()], [])
    assert (first.content, first.attempts) == ("one", 2)
    assert (second.content, second.attempts) == ("two", 3)


def test_scene_names_are_made_safe_for_ids(tmp_path: Path) -> None:
    name = write_script(
        tmp_path,
        {"scenes": [{"name": "Feature F003!", "turns": [{"tool_calls": [{"name": "ls"}]}]}]},
    )
    response = make_model(tmp_path, name).complete(user("go"), [])
    assert response.tool_calls[0].id == "call_Feature_F003__0_0"
    assert response.tool_calls[0].arguments == "{}" and response.content is None
