"""Set keys of one table in an existing TOML file's text, keeping its comments and layout.

`harness init --model X` on a project that already has a harness.toml writes X into it;
a rewrite from the parsed values would drop the user's comments, so the table's lines are
edited in place: an existing ``key = ...`` line is replaced, a missing key is added right
after the table's header, a missing table is appended.
"""

from __future__ import annotations

import json
import re

_HEADER = re.compile(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$")


def set_table_keys(text: str, table: str, values: dict[str, str], *, literal: bool = False) -> str:
    """``text`` with ``[table]`` holding ``values`` (strings; with ``literal``, TOML
    literals written as they are: ``30``, ``true``, ``["a"]``); everything else unchanged."""

    def line(key: str, value: str) -> str:  # a JSON string is a TOML basic string
        return f"{key} = {value if literal else json.dumps(value)}"

    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _is_header(line, table)), None)
    if start is None:
        added = [f"[{table}]", *(line(k, v) for k, v in values.items())]
        body = "\n".join(lines).rstrip("\n")
        return (body + "\n\n" if body else "") + "\n".join(added) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
    missing = []
    for key, value in values.items():
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        found = next((i for i in range(start + 1, end) if pattern.match(lines[i])), None)
        if found is None:
            missing.append(line(key, value))
        else:
            lines[found] = line(key, value)
    lines[start + 1 : start + 1] = missing
    return "\n".join(lines) + "\n"


def _is_header(line: str, table: str) -> bool:
    match = _HEADER.match(line)
    return match is not None and match.group(1).strip() == table
