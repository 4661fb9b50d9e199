"""The demo's scripted model: an initializer scene and one scene per feature.

The script is data for the scripted litellm provider (see harness/model/README.md). Its
code turns are the stages of `templates/demo/wordstat.annotated.py.txt`: stage k is the
program that passes features 1..k, so each session really writes code that really passes
a real pytest check. The independent evaluator has a scene per feature (it runs the
program once, and gives its verdict). Faults are placed on the way: a 429 storm, a
malformed tool call (of the worker and of the evaluator).
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

FEATURES: list[dict[str, Any]] = [
    {
        "category": "functional",
        "description": "`count FILE` prints the number of words in FILE",
        "test": "tests/test_f1_count_words.py",
    },
    {
        "category": "functional",
        "description": "`count --lines FILE` prints the number of lines",
        "test": "tests/test_f2_count_lines.py",
    },
    {
        "category": "functional",
        "description": "`count --chars FILE` prints the number of characters",
        "test": "tests/test_f3_count_chars.py",
    },
    {
        "category": "functional",
        "description": "`top FILE` prints the 3 most frequent words; `-n N` changes how many",
        "test": "tests/test_f4_top.py",
    },
    {
        "category": "functional",
        "description": "`top --ignore-case FILE` counts words regardless of case",
        "test": "tests/test_f5_ignore_case.py",
    },
    {
        "category": "input",
        "description": "FILE may be `-` to read standard input, for both commands",
        "test": "tests/test_f6_stdin.py",
    },
    {
        "category": "error handling",
        "description": "a missing file prints `wordstat: cannot read FILE` and exits with 2",
        "test": "tests/test_f7_missing_file.py",
    },
    {
        "category": "output",
        "description": "`--json` prints the result of either command as JSON",
        "test": "tests/test_f8_json.py",
    },
]
STORM_FEATURE = 2  # a 429 storm hits the first model call of this feature's session
BAD_ARGS_FEATURE = 5  # the model sends malformed tool arguments once in this session
ASK_FEATURE = 4  # with --ask, the agent asks a human here


def _annotated() -> list[str]:
    text = resources.files("templates").joinpath("demo", "wordstat.annotated.py.txt")
    return text.read_text("utf-8").splitlines()


def stage(k: int) -> str:
    """The program after feature k: annotated lines `#@a` or `#@a-b` kept when a <= k <= b."""
    lines = []
    for line in _annotated():
        match = re.search(r"\s+#@(\d+)(?:-(\d+))?$", line)
        if match is None:
            lines.append(line)
            continue
        low, high = int(match.group(1)), int(match.group(2) or 10**6)
        if low <= k <= high:
            lines.append(line[: match.start()])
    return "\n".join(lines) + "\n"


def edit_between(before: str, after: str) -> tuple[str, str]:
    """One exact-replacement edit turning `before` into `after` (whole lines, unique)."""
    old_lines, new_lines = before.splitlines(keepends=True), after.splitlines(keepends=True)
    start = 0
    while start < min(len(old_lines), len(new_lines)) and old_lines[start] == new_lines[start]:
        start += 1
    end = 0
    while (
        end < min(len(old_lines), len(new_lines)) - start
        and old_lines[-1 - end] == new_lines[-1 - end]
    ):
        end += 1
    while True:
        old = "".join(old_lines[start : len(old_lines) - end])
        new = "".join(new_lines[start : len(new_lines) - end])
        if old and before.count(old) == 1:
            return old, new
        start = max(0, start - 1)  # widen the context until the old text is unique


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def _turn(*calls: dict[str, Any], text: str | None = None, **fault: object) -> dict[str, Any]:
    turn: dict[str, Any] = {"tool_calls": list(calls), **fault}
    if text:
        turn["text"] = text
    return turn


# The tests use no pytest plugin: pytest loads none of the environment's (harness's own
# environment has several, and each check paid ~0.1 CPU-s for them). The variable works
# with every pytest (`--disable-plugin-autoload` needs pytest 8.4).
NO_PLUGINS = "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1"


def init_scene() -> dict[str, Any]:
    features = [
        {
            "category": f["category"],
            "description": f["description"],
            "steps": [f"run `python -m pytest -q {f['test']}`"],
            "check": f"{NO_PLUGINS} python -m pytest -q {f['test']}",
        }
        for f in FEATURES
    ]
    init_sh = (
        "#!/usr/bin/env bash\n# Bring the environment up and run a smoke test.\nset -euo pipefail\n"
        f"export {NO_PLUGINS}  # the tests use no pytest plugin\n"
        "python -m pytest --collect-only -q tests >/dev/null ||\n"
        '  { echo "pytest is not installed, or the tests do not collect"; exit 1; }\n'
        'echo "environment ok: $(python --version), tests collect"\n'
    )
    return {
        "match": "ROLE: initializer",
        "turns": [
            _turn(_call("list_files", pattern="**/*"), text="Looking at the folder."),
            _turn(_call("read_file", path="SPEC.md")),
            _turn(_call("write_feature_list", features=features)),
            _turn(_call("write_init_sh", content=init_sh)),
            {
                "text": "Plan: eight features, each checked by its acceptance test in "
                "tests/; implement them in priority order in wordstat.py."
            },
        ],
    }


def feature_scene(k: int, *, ask: bool) -> dict[str, Any]:
    fid = f"F{k:03d}"
    turns: list[dict[str, Any]] = []
    storm: dict[str, Any] = (
        {"fault": "rate_limit", "retry_after": 0.2, "times": 4} if k == STORM_FEATURE else {}
    )
    turns.append(_turn(_call("read_file", path=FEATURES[k - 1]["test"]), **storm))
    if ask and k == ASK_FEATURE:
        turns.append(
            _turn(
                _call(
                    "ask_human",
                    question="Ties in `top`: alphabetical with uppercase first (Python's "
                    "default order), or case-insensitive order?",
                    context="The spec says alphabetical; the test expects 'The 1' before 'cat 1'.",
                    choices=["Python's default order", "case-insensitive order"],
                )
            )
        )
    if k == 1:
        turns.append(_turn(_call("write_file", path="wordstat.py", content=stage(1))))
    else:
        old, new = edit_between(stage(k - 1), stage(k))
        edit = _call("edit_file", path="wordstat.py", old=old, new=new)
        if k == BAD_ARGS_FEATURE:
            # The model's first try has malformed JSON arguments; it reads the error, retries.
            turns.append(_turn(edit, fault="bad_tool_args"))
        turns.append(_turn(edit))
    turns.append(_turn(_call("verify_feature", feature=fid)))
    turns.append(_turn(_call("mark_passing", feature=fid)))
    turns.append(_turn(_call("note", text=f"{fid} done: {FEATURES[k - 1]['description']}")))
    turns.append({"text": f"{fid} is implemented, verified by its check and marked passing."})
    return {"match": f"Session \\d+: Feature {fid}\\b", "turns": turns}


def evaluator_scene(k: int) -> dict[str, Any]:
    """The independent evaluator's review of feature k (a fresh context of its own): it runs
    the program once as a user would (feature 1), then gives its verdict."""
    fid = f"F{k:03d}"
    turns: list[dict[str, Any]] = []
    if k == 1:
        command = "printf 'one two three\\n' > /tmp/t && python wordstat.py count /tmp/t"
        text = "Trying the command as a user would, on a file of my own."
        turns.append(_turn(_call("run", command=command), text=text))
    reasons = (
        f"{fid} works as described: {FEATURES[k - 1]['description']}; "
        f"{FEATURES[k - 1]['test']} checks real output, and the code computes it."
    )
    verdict = _call("verdict", passed=True, reasons=reasons)
    if k == BAD_ARGS_FEATURE:  # a malformed answer first: the evaluator reads the error
        turns.append(_turn(verdict, fault="bad_tool_args"))
    turns.append(_turn(verdict))
    return {"match": f"Review of feature {fid}\\b", "turns": turns}


def build_script(*, ask: bool = False, latency_s: float = 0.0) -> dict[str, Any]:
    """The whole demo script."""
    count = len(FEATURES)
    scenes = [init_scene()] + [feature_scene(k, ask=ask) for k in range(1, count + 1)]
    scenes += [evaluator_scene(k) for k in range(1, count + 1)]
    return {"latency_s": latency_s, "scenes": scenes}
