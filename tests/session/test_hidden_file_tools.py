"""Files declared secret (`.env` files, `[protect] hide`) are not the file tools' to read,
write, list or search: by their name, by a link to them, inside a hidden folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.tools import ToolRegistry, ToolResult
from session.context import WorkContext
from session.tools.files import FILE_TOOLS

KEY = "sk-hidden-0123456789abcdef"


@pytest.fixture
def ctx(tmp_path: Path) -> WorkContext:
    (tmp_path / ".env").write_text(f"KEY={KEY}\n")
    (tmp_path / ".env.example").write_text("KEY=your-key\n")
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "server.pem").write_text(KEY)
    (tmp_path / "app.py").write_text("import os\n")
    (tmp_path / "link").symlink_to(".env")
    return WorkContext(
        root=tmp_path,
        runner=None,  # type: ignore[arg-type]
        run_id="r",
        session=1,
        secret=["*.pem"],
    )


def _call(ctx: WorkContext, name: str, **args: object) -> ToolResult:
    tools = ToolRegistry(FILE_TOOLS)
    parsed = tools.parse(name, json.dumps(args))
    result = parsed if isinstance(parsed, ToolResult) else tools.invoke(name, parsed, ctx)
    assert isinstance(result, ToolResult)
    return result


@pytest.mark.parametrize("path", [".env", "./.env", "link", "certs/server.pem"])
def test_a_hidden_file_is_refused_by_name_and_by_link(ctx: WorkContext, path: str) -> None:
    result = _call(ctx, "read_file", path=path)
    assert result.status == "error" and "declared secret" in result.output
    assert KEY not in result.output
    written = _call(ctx, "write_file", path=path, content="x")
    assert written.status == "error"
    assert KEY in (ctx.root / ".env").read_text()


def test_search_and_listing_pass_them_over(ctx: WorkContext) -> None:
    listed = _call(ctx, "list_files", pattern="**/*").output
    assert ".env.example" in listed and "app.py" in listed
    assert "server.pem" not in listed and "\n.env\n" not in f"\n{listed}\n"
    found = _call(ctx, "grep", regex="KEY|sk-", glob="**/*").output
    assert KEY not in found and "your-key" in found
    assert _call(ctx, "read_file", path=".env.example").status == "ok"
