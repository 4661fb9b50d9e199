"""Projects shaped like the ones the autonomous-coding quickstart leaves, for adopt's tests.

Each shape is the class of a real project's quirk (the real projects are held out): extra
keys on entries (``priority``, ``id``, ``completed_at``, ``claimed_at``/``claimed_by``,
nine QA keys), object wrappers, Chinese and Spanish text, 305 entries, notes files in
UTF-16, cp1252 and CRLF, a CRLF or Latin-1 .gitignore, a git-ignored feature list, an
uncommitted edit of init.sh, a 248 KB notes file, no init.sh. ``build(root, name)`` makes
one as a git repository with the quickstart's commit; ``python -m
tests.artifacts.quickstart_shapes DIR`` writes them all (for trying adopt by hand).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Quick Starter",
    "GIT_AUTHOR_EMAIL": "qs@example.com",
    "GIT_COMMITTER_NAME": "Quick Starter",
    "GIT_COMMITTER_EMAIL": "qs@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
}
INIT_SH = "#!/usr/bin/env bash\nset -e\nnpm install\nnpm run dev &\n"
SPEC = "<project_specification>\n  <project_name>Todo</project_name>\n</project_specification>\n"
NOTES = (
    "## Session 1 summary\n\nCompleted:\n- Set up the Vite project\n- Login page\n\n"
    "Next: the todo list. Run `./init.sh` then open http://localhost:5173\n"
)
QA_KEYS = (
    "qa_status", "qa_notes", "qa_tested_at", "qa_tested_by", "qa_browser",
    "qa_screenshots", "qa_issues", "qa_retest", "qa_severity",
)  # fmt: skip
ZH = ["用户可以使用电子邮件登录", "待办事项列表显示所有任务", "用户可以删除任务 [x] 按钮"]
ES = ["El usuario puede iniciar sesión", "La lista muestra las tareas pendientes", "Año nuevo"]


def entry(k: int, passes: bool = False, text: str | None = None) -> dict[str, Any]:
    """A quickstart entry: the four keys, in the quickstart's order."""
    return {
        "category": "functional" if k % 3 else "style",
        "description": text or f"Feature {k}: the user can do thing {k} — with “quotes”",
        "steps": [f"Step 1: Navigate to page {k}", "Step 2: Click the button", "Step 3: Verify"],
        "passes": passes,
    }


def entries(count: int, passing: int = 0) -> list[dict[str, Any]]:
    return [entry(k, k <= passing) for k in range(1, count + 1)]


def _with(
    items: list[dict[str, Any]], add: Callable[[int, dict[str, Any]], dict[str, Any]]
) -> list[Any]:
    return [{**item, **add(k, item)} for k, item in enumerate(items, start=1)]


def _qa(k: int, item: dict[str, Any]) -> dict[str, Any]:
    values: list[Any] = ["passed", f"looks fine {k}", "2025-01-02T03:04:05Z", "qa-agent"]
    values += ["chromium", [f"shots/{k}.png"], [], False, "low"]
    return dict(zip(QA_KEYS, values, strict=True)) if item["passes"] else {}


FEATURES: dict[str, Callable[[], Any]] = {
    "plain": lambda: entries(12, passing=3),
    "priority": lambda: _with(entries(10, 2), lambda k, _: {"priority": 11 - k}),
    "priority_words": lambda: _with(
        entries(6, 1), lambda k, _: {"priority": ["high", "medium", "low"][k % 3]}
    ),
    "ids": lambda: _with(entries(8, 2), lambda k, _: {"id": f"auth-{k:03d}"}),
    "numeric_ids": lambda: _with(entries(8, 2), lambda k, _: {"id": k}),
    "completed_at": lambda: _with(
        entries(9, 4),
        lambda k, item: {"completed_at": f"2025-03-0{k}T10:00:00Z"} if item["passes"] else {},
    ),
    "claimed": lambda: _with(
        entries(7, 2),
        lambda k, _: {"claimed_at": "2025-03-01T10:00:00Z", "claimed_by": f"agent-{k % 2}"},
    ),
    "qa_keys": lambda: _with(entries(10, 5), _qa),
    "wrapper": lambda: {"project": "Todo app", "features": entries(6, 1)},
    "wrapper_meta": lambda: {
        "project_name": "Todo",
        "version": "1.0",
        "total_features": 5,
        "features": _with(entries(5, 2), lambda k, _: {"id": f"F{k:03d}", "priority": k}),
    },
    "chinese": lambda: [entry(k + 1, k == 0, text) for k, text in enumerate(ZH)],
    "spanish": lambda: [entry(k + 1, k == 1, text) for k, text in enumerate(ES)],
    "large": lambda: entries(305, passing=300),
    "grouped": lambda: {"auth": entries(2), "ui": entries(3)},
    "broken": lambda: [
        *entries(3),
        {"category": "functional", "steps": []},
        {**entry(5), "passes": "yes"},
        {**entry(6), "steps": "click it"},
        {**entry(7), "passes": "no"},
        "a stray string",
    ],
}


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=root, env=GIT_ENV, capture_output=True, text=True, check=True
    )
    return done.stdout


def build(
    root: Path,
    features: str = "plain",
    *,
    notes: bytes | None = NOTES.encode(),
    gitignore: bytes | None = b"node_modules/\ndist/\n",
    init_sh: str | None = INIT_SH,
    commit: bool = True,
) -> Path:
    """A quickstart project at ``root``: the feature list ``features`` (a key of FEATURES),
    app_spec.txt, claude-progress.txt (``notes`` bytes), .gitignore, init.sh; a git
    repository with one commit of it all when ``commit``."""
    root.mkdir(parents=True, exist_ok=True)
    data = FEATURES[features]()
    (root / "feature_list.json").write_text(
        json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (root / "app_spec.txt").write_text(SPEC, encoding="utf-8")
    if notes is not None:
        (root / "claude-progress.txt").write_bytes(notes)
    if gitignore is not None:
        (root / ".gitignore").write_bytes(gitignore)
    if init_sh is not None:
        (root / "init.sh").write_text(init_sh, encoding="utf-8")
        (root / "init.sh").chmod(0o755)
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "main.ts").write_text("console.log('todo')\n", encoding="utf-8")
    if commit:
        _git(root, "init", "-q", "-b", "main")
        _git(root, "add", "-A", "-f")
        _git(root, "commit", "-q", "-m", "quickstart session 1")
    return root


def big_notes(size: int = 248_000) -> bytes:
    """A long notes file as agents write them: CRLF, tabs, trailing spaces, `<tags>`."""
    block = (
        "## Session {n}\r\n\tDid: wired <command>npm test</command> into CI   \r\n"
        "- fixed the <Button/> focus ring\r\n\r\n"
    )
    out, n = [], 0
    while sum(map(len, out)) < size:
        n += 1
        out.append(block.format(n=n))
    return "".join(out).encode()


ENCODED_NOTES: dict[str, bytes] = {
    "utf16": NOTES.encode("utf-16"),
    "cp1252": "Sesión 1: añadí el inicio de sesión – “listo”\n".encode("cp1252"),
    "crlf": NOTES.replace("\n", "\r\n").encode(),
    "big": big_notes(),
}


def write_all(folder: Path) -> list[Path]:
    """Every shape under ``folder`` (one project each), for trying adopt by hand."""
    made = [build(folder / name, name) for name in FEATURES]
    for name, data in ENCODED_NOTES.items():
        made.append(build(folder / f"notes_{name}", notes=data))
    made.append(build(folder / "gitignore_crlf", gitignore=b"node_modules/\r\ndist/\r\n"))
    made.append(
        build(folder / "gitignore_latin1", gitignore="# caché\nnode_modules/\n".encode("latin-1"))
    )
    ignored = build(folder / "ignored_list", gitignore=b"*.json\nnode_modules/\n")
    _git(ignored, "rm", "-q", "--cached", "feature_list.json")
    _git(ignored, "commit", "-q", "-m", "the list is ignored")
    made.append(ignored)
    made.append(build(folder / "no_init_sh", init_sh=None))
    edited = build(folder / "init_sh_edited")
    (edited / "init.sh").write_text(INIT_SH + "echo my local edit\n", encoding="utf-8")
    return made


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1])):
        print(path)
