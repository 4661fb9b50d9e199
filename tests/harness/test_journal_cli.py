"""`harness log`, `show`, `journal verify`, `export --jsonl` over a real journal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.journal import Journal


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, str]:
    with Journal.open(tmp_path / ".harness") as journal:
        run = journal.start_run()
        s = run.session(1)
        reply = {"content": "ok", "usage": {"total_tokens": 12, "cost_usd": 0.002}}
        s.step("llm", "complete", {"messages": ["hi"]}, lambda: reply)
        with pytest.raises(ValueError):
            s.step("tool", "bash", {"cmd": "false"}, lambda: (_ for _ in ()).throw(ValueError("x")))
        s2 = run.session(2)
        s2.step("git", "commit", {"msg": "m"}, lambda: "abc", idempotent=False)
        return tmp_path, run.id


def test_log_table_and_json(project: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    root, run_id = project
    assert main(["-C", str(root), "log"]) == 0
    out = capsys.readouterr().out
    assert run_id in out and "llm" in out and "complete" in out and "$0.0020" in out
    assert "failed ValueError" in out and "attempts" in out
    assert main(["-C", str(root), "log", "--json", "--session", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["session"], r["seq"], r["kind"], r["name"], r["status"], r["attempts"])
            for r in lines] == [(1, 1, "llm", "complete", "ended", 1),
                                (1, 2, "tool", "bash", "failed", 1)]  # fmt: skip
    assert lines[0]["tokens"] == 12
    assert main(["-C", str(root), "log", "--json", "--limit", "1"]) == 0
    assert [json.loads(x)["name"] for x in capsys.readouterr().out.splitlines()] == ["commit"]


def test_show_step(project: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = project
    assert main(["-C", str(root), "show", "1:1"]) == 0
    out = capsys.readouterr().out
    assert '"messages"' in out and '"content": "ok"' in out
    assert main(["-C", str(root), "show", "1:2"]) == 0
    assert '"class": "ValueError"' in capsys.readouterr().out
    assert main(["-C", str(root), "show", "9:9"]) == 2
    assert "no step 9:9" in capsys.readouterr().err
    assert main(["-C", str(root), "show", "nonsense"]) == 2


def test_verify_ok_then_damaged(
    project: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = project
    assert main(["-C", str(root), "journal", "verify"]) == 0
    assert "ok (3 steps" in capsys.readouterr().out
    db = root / ".harness" / "journal.db"
    db.write_bytes(b"garbage" * 100)
    assert main(["-C", str(root), "journal", "verify"]) == 2
    assert "DAMAGED" in capsys.readouterr().out
    assert main(["-C", str(root), "log"]) == 2
    assert "not an SQLite database" in capsys.readouterr().err
    assert db.read_bytes() == b"garbage" * 100


def test_export_jsonl(project: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    root, run_id = project
    target = root / "steps.jsonl"
    assert main(["-C", str(root), "export", "--jsonl", str(target)]) == 0
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(rows) == 3 and all(r["run_id"] == run_id for r in rows)
    assert rows[0]["inputs"] == {"messages": ["hi"]} and rows[0]["output"]["content"] == "ok"
    assert rows[1]["error"]["class"] == "ValueError"
    assert main(["-C", str(root), "export", "--jsonl"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_log_show_export_without_journal_say_so_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["log"], ["show", "1:1"], ["export", "--jsonl"]):
        assert main(["-C", str(tmp_path), *command]) == 2, command
        err = capsys.readouterr().err
        assert "no journal" in err and "-C DIR" in err
