"""The autonomous-coding quickstart's feature list, in the shapes real projects give it.

The quickstart writes a flat array of ``{category, description, steps, passes}``. Real
projects add keys of their own (``id``, ``priority``, ``completed_at``, ``claimed_by``, QA
notes...) and some wrap the array in an object (``{"project": ..., "features": [...]}``).
:func:`read_quickstart` finds the entries, checks every one of them and returns what an
adoption needs, or raises one :class:`ArtifactError` that names every problem, grouped by
kind with counts. Nothing here writes.

What harness takes from an entry: ``category``, ``description``, ``steps`` (none: ``[]``),
``passes`` (none: false) and, when every entry has a sane one, the project's own ``id``
and ``priority``. Every other key, and an ``id``/``priority`` not taken as it is, is kept
in the feature's ``extra``; a wrapper's other keys in the list's ``extra``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from artifacts.models import FEATURE_ID_PATTERN
from harness.errors import ArtifactError

TAKEN = ("category", "description", "steps", "passes")
# Priority words real lists use, lowest number first (harness works on the lowest first).
PRIORITY_WORDS = {
    "critical": 1, "urgent": 1, "highest": 1, "p0": 1,
    "high": 2, "p1": 2,
    "medium": 3, "normal": 3, "moderate": 3, "p2": 3,
    "low": 4, "p3": 4,
    "lowest": 5, "trivial": 5, "p4": 5,
}  # fmt: skip
SHOWN = 6  # places named per problem kind


class NotQuickstart(ArtifactError):
    """The file is neither a harness feature list nor a quickstart list adopt can read."""


@dataclass
class Quickstart:
    """A quickstart list read from a file: its entries and what adopting keeps of them."""

    entries: list[dict[str, Any]]
    wrapper: str | None = None
    """The key of the wrapping object the entries came from (None: a flat array)."""
    top_extra: dict[str, Any] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    priorities: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What adopting does beyond the plain upgrade (ids taken, defaults filled), said."""

    def extra(self, index: int) -> dict[str, Any]:
        """The keys of entry ``index`` that harness does not take, as they are."""
        entry = self.entries[index]
        taken = set(TAKEN)
        if self.ids and entry.get("id") == self.ids[index]:
            taken.add("id")
        if self.priorities and entry.get("priority") == self.priorities[index]:
            taken.add("priority")
        return {key: value for key, value in entry.items() if key not in taken}


def looks_like_harness(data: object) -> bool:
    """An object of the harness format, maybe with errors: ``"version": 1``, or only
    harness's top-level keys around features that carry harness's own (``evidence``,
    ``check``, or ``id`` and ``priority`` on every one)."""
    if not isinstance(data, dict):
        return False
    version = data.get("version")
    if version == 1 and not isinstance(version, bool):
        return True
    if not set(data) <= {"version", "features", "extra"}:
        return False
    items = data.get("features")
    if not isinstance(items, list):
        return True
    dicts = [i for i in items if isinstance(i, dict)]
    return any("evidence" in i or "check" in i for i in dicts) or (
        bool(dicts) and all("id" in i and "priority" in i for i in dicts)
    )


def read_quickstart(data: object, file: str) -> Quickstart:
    """The quickstart list in ``data`` (parsed JSON), checked; ArtifactError naming every
    problem (NotQuickstart when ``data`` is not a quickstart list at all)."""
    found = _locate(data, file)
    _check(found.entries, file, found.wrapper)
    found.ids, id_note = _ids(found.entries)
    found.priorities, priority_note = _priorities(found.entries)
    found.notes += [note for note in (id_note, priority_note) if note]
    for key, default in (("steps", []), ("passes", False)):
        missing = [i for i, e in enumerate(found.entries) if key not in e]
        if missing:
            found.notes.append(
                f"{_count(len(missing), 'entry has', 'entries have')} no {key!r} key "
                f"({_places(missing)}): adopted with {key} = {str(default).lower()}"
            )
    return found


def _locate(data: object, file: str) -> Quickstart:
    if isinstance(data, list):
        if data and not any(isinstance(item, dict) for item in data):
            raise _not_quickstart(file, data)
        if not data:
            raise ArtifactError(
                file,
                "$",
                "the array is empty: there is nothing to adopt",
                "Write the features first, or let `harness init` write them.",
            )
        return Quickstart(entries=list(data))
    if not isinstance(data, dict):
        raise _not_quickstart(file, data)
    lists = [key for key, value in data.items() if _entry_list(value)]
    if len(lists) != 1:
        raise _not_quickstart(file, data)
    key = lists[0]
    rest = {k: v for k, v in data.items() if k != key}
    return Quickstart(
        entries=list(data[key]),
        wrapper=key,
        top_extra=rest,
        notes=[
            f"the features were wrapped in an object: read from its {key!r} array; its other "
            f"keys ({', '.join(rest) or 'none'}) are kept under the list's extra"
        ],
    )


def _entry_list(value: object) -> bool:
    """A non-empty array of objects that read like quickstart entries."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) for item in value)
        and sum(1 for item in value if "description" in item) * 2 >= len(value)
    )


def describe(data: object) -> str:
    """What a JSON value looks like, in a few words."""
    if isinstance(data, dict):
        lists = [k for k, v in data.items() if isinstance(v, list) and v]
        entry_lists = [k for k in lists if _entry_list(data[k])]
        keys = ", ".join(list(data)[:8]) + (", ..." if len(data) > 8 else "")
        if len(entry_lists) > 1:
            return (
                f"features grouped under {len(entry_lists)} keys ({', '.join(entry_lists[:8])})"
                ": adopt reads one array"
            )
        if not data:
            return "an empty object"
        return f"an object with keys {keys} and no array of feature objects in it"
    if isinstance(data, list):
        kinds = sorted({_json_type(item) for item in data})
        return f"an array of {' and '.join(kinds)}, not of feature objects"
    return f"a JSON {_json_type(data)}"


def _json_type(value: object) -> str:
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}
    if value is None:
        return "null"
    return names.get(type(value), "object")


def _not_quickstart(file: str, data: object) -> NotQuickstart:
    return NotQuickstart(
        file,
        "$",
        f"this is not the quickstart array; it looks like {describe(data)}",
        "Adopt reads a JSON array of {category, description, steps, passes} objects (or one "
        'such array inside an object, e.g. {"features": [...]}); reshape the file, or '
        "start over with `harness init --spec SPEC.md`.",
    )


def _check(entries: list[Any], file: str, wrapper: str | None) -> None:
    """Every problem of every entry, grouped by kind; raises when there is any."""
    problems: dict[str, list[str]] = defaultdict(list)
    prefix = "$" if wrapper is None else f"$.{wrapper}"
    for index, entry in enumerate(entries):
        where = f"{prefix}[{index}]"
        if not isinstance(entry, dict):
            problems[f"the entry is not an object (found {_json_type(entry)})"].append(where)
            continue
        for key in ("category", "description"):
            value = entry.get(key)
            if key not in entry:
                problems[f'no "{key}" key'].append(where)
            elif not isinstance(value, str):
                problems[f'"{key}" is not a string'].append(f"{where}.{key}")
            elif not value.strip():
                problems[f'"{key}" is empty'].append(f"{where}.{key}")
        steps = entry.get("steps", [])
        if not isinstance(steps, list):
            problems['"steps" is not an array'].append(f"{where}.steps")
        else:
            for n, step in enumerate(steps):
                if not isinstance(step, str):
                    problems["a step is not a string"].append(f"{where}.steps[{n}]")
        if "passes" in entry and not isinstance(entry["passes"], bool):
            problems['"passes" is not true or false'].append(f"{where}.passes")
    if not problems:
        return
    total = sum(len(places) for places in problems.values())
    lines = [
        f"{kind} ({_count(len(places), 'entry', 'entries')}): {_places(places)}"
        for kind, places in sorted(problems.items(), key=lambda item: -len(item[1]))
    ]
    raise ArtifactError(
        file,
        prefix,
        f"{total} problem(s) of {len(problems)} kind(s) in {len(entries)} entries:\n  - "
        + "\n  - ".join(lines),
        "\nFix those entries by hand (every other key of an entry is kept as it is), then "
        "`harness adopt` again.",
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _places(places: list[Any]) -> str:
    shown = [p if isinstance(p, str) else f"$[{p}]" for p in places[:SHOWN]]
    more = len(places) - SHOWN
    return ", ".join(shown) + (f" and {more:,} more" if more > 0 else "")


def _width(count: int) -> int:
    return max(3, len(str(count)))


def _ids(entries: list[dict[str, Any]]) -> tuple[list[str], str]:
    """The project's own ids when every entry has a sane, unique one; else F001, F002..."""
    width = _width(len(entries))
    generated = [f"F{i + 1:0{width}d}" for i in range(len(entries))]
    if not any("id" in e for e in entries):
        return generated, ""
    values = [e.get("id") for e in entries]
    why = _id_problem(values)
    if why is None:
        return [str(v) for v in values], 'ids are the project\'s own (its "id" keys)'
    if all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        width = _width(max(int(v) for v in values if isinstance(v, int)))
        ids = [f"F{int(v):0{width}d}" for v in values if isinstance(v, int)]
        if len(set(ids)) == len(ids):
            return ids, "ids from the project's numeric ids (1 -> F001); the numbers kept in extra"
    return generated, f"ids from array order ({why}); the project's kept in each extra"


def _id_problem(values: list[Any]) -> str | None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if not isinstance(value, str) or not re.fullmatch(FEATURE_ID_PATTERN, value):
            return f"$[{index}].id is {value!r:.40}, not an id like F001"
        if value in seen:
            return f"$[{index}].id {value!r} is used twice"
        seen.add(value)
    return None


def _priorities(entries: list[dict[str, Any]]) -> tuple[list[int], str]:
    """The project's own priorities when every entry has a sane one; else array order."""
    order = list(range(1, len(entries) + 1))
    if not any("priority" in e for e in entries):
        return order, ""
    taken: list[int] = []
    for index, entry in enumerate(entries):
        value = entry.get("priority")
        number = _priority(value)
        if number is None:
            return order, (
                f"priorities from array order ($[{index}].priority is {value!r:.40}, not a "
                "number or a word like high/medium/low); the project's kept in each extra"
            )
        taken.append(number)
    if all(isinstance(e.get("priority"), int) for e in entries):
        return taken, 'priorities are the project\'s own (its "priority" keys)'
    return taken, (
        "priorities from the project's priority words (critical 1, high 2, medium 3, low 4) "
        "or numbers; its own values kept in each extra"
    )


def _priority(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            return int(text)
        return PRIORITY_WORDS.get(text)
    return None
