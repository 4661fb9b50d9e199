"""What the docs say, read back and compared with the tree, the contracts and the code.

Three claims a contributor relies on:

- a folder README's table of files (first column header `module`, `file`, `script` or
  `folder`) names every file of the folder, and only files that are there;
- a package README's "May import" sentence names exactly the packages the import contracts
  of `pyproject.toml` let the package import ("the foundation" stands for the `harness.*`
  names it may import, `harness.cli` aside: new foundation modules change no README);
- CONTRIBUTING.md's layers are the layers contract's, and it names every contract;
- a Protocol's members listed in a README as "`Name` (members: `a`, `b()`, ...)" are the
  members of the Protocol class of that name.

Each function returns the problems found (empty: the docs are true), as sentences saying
which README, what is wrong and what to do.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Our packages: the import contracts' root packages (written once, in pyproject.toml).
PACKAGES = tuple(
    tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"][
        "root_packages"
    ]
)
TABLE_HEADS = {"module", "modules", "file", "files", "script", "folder"}
SKIP = {"__init__.py", "__pycache__", "README.md", "conftest.py"}
FOUNDATION = "the foundation"
TICK = re.compile(r"`([^`]+)`")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def prose(path: Path) -> str:
    """A Markdown file's text without its fenced code blocks."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


def readmes(root: Path = ROOT) -> list[Path]:
    """Every folder README of the project (not the root's, not a user project's template)."""
    found = [root / p / "README.md" for p in ("bench", "templates", "tests", "tests/attacks")]
    for package in PACKAGES:
        found += sorted((root / package).rglob("README.md"))
    return [p for p in found if p.exists()]


# --- the table of files ------------------------------------------------------------------


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def file_rows(text: str) -> list[list[str]] | None:
    """The body rows of the README's tables of files, or None when it has no such table."""
    rows: list[list[str]] | None = None
    lines = text.splitlines()
    for i, line in enumerate(lines[:-1]):
        if not line.startswith("|") or (i and lines[i - 1].startswith("|")):
            continue
        if _cells(line)[0].lower() not in TABLE_HEADS:
            continue
        rows = rows or []
        for body in lines[i + 2 :]:
            if not body.startswith("|"):
                break
            rows.append(_cells(body))
    return rows


def _named(folder: Path, text: str) -> tuple[set[str], set[str], dict[str, set[str]]]:
    """(files named, subfolders named, files named in each subfolder) by the table of files."""
    files: set[str] = set()
    subs: set[str] = set()
    inside: dict[str, set[str]] = {}
    for row in file_rows(text) or []:
        for token in TICK.findall(row[0]):
            if "<" in token:  # a pattern: `commands/<name>.py`
                sub = token.split("/")[0]
                subs.add(sub)
                pattern = re.sub(r"<[^>]+>", "*", token.split("/", 1)[1])
                inside.setdefault(sub, set()).update(p.name for p in (folder / sub).glob(pattern))
            elif token.endswith("/"):
                sub = token.rstrip("/")
                subs.add(sub)
                rest = TICK.findall(" ".join(row[1:]))
                inside.setdefault(sub, set()).update(t for t in rest if _local(t))
            elif "/" in token:
                sub, name = token.split("/", 1)
                subs.add(sub)
                inside.setdefault(sub, set()).add(name)
            else:
                files.add(token)
    return files, subs, inside


def prose_problems(readme: Path, root: Path) -> list[str]:
    """A package README without a table of files (a list in prose): every file is named."""
    folder = readme.parent
    said = {t.rstrip("/") for t in TICK.findall(prose(readme))}
    said |= {part for t in said for part in t.split("/")}
    problems = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(p in SKIP or p.startswith(".") for p in relative.parts):
            continue
        if (path.is_dir() or path.suffix == ".py") and path.name not in said:
            problems.append(
                f"{readme.relative_to(root)}: `{relative.as_posix()}` is not named; "
                "say what it owns"
            )
    return problems


def _local(token: str) -> bool:
    """A name of a file of this folder (`x.py`) or a subfolder (`x/`), not a path elsewhere."""
    return bool(re.fullmatch(r"[\w.-]+\.py|[\w-]+/", token))


def table_problems(readme: Path, root: Path = ROOT) -> list[str]:
    """The README's table of files against the files of its folder."""
    folder = readme.parent
    text = prose(readme)
    if file_rows(text) is None:
        if folder.relative_to(root).parts[0] in PACKAGES:
            return prose_problems(readme, root)
        return []  # no table of files (tests/README.md says how the tests mirror the code)
    files, subs, inside = _named(folder, text)
    data = re.search(r"^\| folder \|", text, re.M) is not None  # package data (templates)
    where = readme.relative_to(root)
    problems = []
    for entry in sorted(folder.iterdir()):
        if entry.name in SKIP or entry.name.startswith("."):
            continue
        if entry.is_dir():
            if entry.name not in subs:
                problems.append(f"{where}: the folder `{entry.name}/` has no row; add one")
            elif not data and not (entry / "README.md").exists():
                for py in sorted(entry.glob("*.py")):
                    if py.name not in SKIP and py.name not in inside.get(entry.name, set()):
                        problems.append(
                            f"{where}: `{entry.name}/{py.name}` is not named; add it to the "
                            f"`{entry.name}/` row"
                        )
        elif (data or entry.suffix == ".py") and entry.name not in files:
            problems.append(f"{where}: `{entry.name}` has no row; add one saying what it owns")
    for name in sorted(files):
        if not (folder / name).exists():
            problems.append(f"{where}: the row `{name}` names a file that is not there; drop it")
    for sub in sorted(subs):
        for name in sorted(inside.get(sub, set())):
            if not (folder / sub / name).exists():
                problems.append(f"{where}: `{sub}/{name}` is named but not there; drop it")
        if not (folder / sub).is_dir():
            problems.append(f"{where}: the folder `{sub}/` is named but not there; drop it")
    return problems


# --- what a package may import -----------------------------------------------------------


def contracts(pyproject: Path) -> list[dict[str, Any]]:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    return list(data["tool"]["importlinter"]["contracts"])


def allowed(unit: str, pyproject: Path) -> tuple[set[str], set[str]]:
    """(the layer names `unit` may import, every layer name), by the contracts.

    A layer may import the layers below it, and a sibling only where the layer joins them
    with `:` (`|` makes them independent); a `forbidden` contract whose source holds the
    unit takes away each layer name at or under a forbidden module. A forbidden module
    deeper than a layer name (the journal's SQLite classes) leaves the name allowed.
    """
    rules = contracts(pyproject)
    (layers,) = [c for c in rules if c["type"] == "layers"]
    levels = [[n.strip() for n in re.split(r"[|:]", level)] for level in layers["layers"]]
    names = {n for level in levels for n in level}
    (at,) = [i for i, level in enumerate(levels) if unit in level]
    may = {n for level in levels[at + 1 :] for n in level}
    if ":" in layers["layers"][at]:
        may |= set(levels[at]) - {unit}
    for rule in rules:
        if rule["type"] != "forbidden":
            continue
        if any(_under(unit, s) for s in rule["source_modules"]):
            for gone in rule["forbidden_modules"]:
                may -= {n for n in may if _under(n, gone)}
    return may, names


def _under(name: str, module: str) -> bool:
    return name == module or name.startswith(module + ".")


def foundation(pyproject: Path) -> set[str]:
    """The foundation (harness/README.md): the layer names in `harness/` but the application."""
    _, names = allowed("harness.cli", pyproject)
    return {n for n in names if n.startswith("harness.") and n != "harness.cli"}


def unit_of(token: str, names: set[str]) -> str | None:
    """The layer name a README token stands for (`escalation.questions`: `escalation`)."""
    for name in (token, f"harness.{token}"):
        owners = [n for n in names if _under(name, n)]
        if owners:
            return max(owners, key=len)
    return None


def may_import_sentence(text: str) -> str | None:
    """The sentence of the README that starts with "May import" (None: there is none)."""
    text = " ".join(text.split())
    start = text.find("May import")
    if start < 0:
        return None
    depth, ticked = 0, False
    for i in range(start, len(text)):
        ticked ^= text[i] == "`"
        if ticked:
            continue
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if text[i] == "." and depth == 0 and text[i + 1 : i + 2] in ("", " "):
            return text[start:i]
    return text[start:]


def claimed(line: str, names: set[str]) -> tuple[set[str], set[str]]:
    """(the layer names the line says may be imported, those it says never).

    What is in parentheses explains and is not read; "the foundation" stands for every
    name of `harness/` but `harness.cli` that the contracts allow.
    """
    plain = line
    while re.search(r"\([^()]*\)", plain):
        plain = re.sub(r"\([^()]*\)", "", plain)
    may_part, *rest = re.split(r"\b[Nn]ever\b", plain, maxsplit=1)

    def units(part: str) -> set[str]:
        found = {u for t in TICK.findall(part) if (u := unit_of(t, names))}
        return found | ({FOUNDATION} if FOUNDATION in part else set())

    return units(may_part), units(rest[0] if rest else "")


def compare(where: str, unit: str, line: str, pyproject: Path) -> list[str]:
    """Problems of one "may import" claim of `unit` against the contracts."""
    may, names = allowed(unit, pyproject)
    said, never = claimed(line, names)
    if FOUNDATION in said:
        said = (said - {FOUNDATION}) | (may & foundation(pyproject))
    problems = [
        f"{where}: says `{unit}` may import `{n}`, which the contracts of pyproject.toml "
        "forbid; drop it (or change the contract)"
        for n in sorted(said - may)
    ]
    problems += [
        f"{where}: does not name `{n}`, which the contracts let `{unit}` import; add it "
        "(or forbid it in pyproject.toml)"
        for n in sorted(may - said)
    ]
    problems += [
        f"{where}: says `{unit}` never imports `{n}`, which the contracts allow"
        for n in sorted((never - {FOUNDATION}) & may)
    ]
    return problems


def import_problems(readme: Path, root: Path = ROOT) -> list[str]:
    """The README's "may import" claims (its paragraph, or a table column) against the contracts."""
    pyproject = root / "pyproject.toml"
    folder = readme.parent.relative_to(root)
    unit = ".".join(folder.parts)
    text = prose(readme)
    _, names = allowed("harness.scope", pyproject)
    where = str(readme.relative_to(root))
    if unit in names:
        line = may_import_sentence(text)
        if line is None:
            return [f'{where}: no sentence starting "May import"; say what `{unit}` may import']
        return compare(where, unit, line, pyproject)
    problems = []
    for row in file_rows(text) or []:
        if len(row) < 3:
            continue
        tokens = TICK.findall(row[0])
        if not tokens or (readme.parent / tokens[0] / "README.md").exists():
            continue  # a subfolder with a README of its own says it there
        module = unit_of(f"{unit}.{tokens[0].removesuffix('.py').rstrip('/')}", names)
        if module and module != unit:
            problems += compare(f"{where} (row `{tokens[0]}`)", module, row[2], pyproject)
    return problems


# --- the members of a protocol -----------------------------------------------------------


def _is_protocol(node: ast.ClassDef) -> bool:
    return any(
        (isinstance(b, ast.Name) and b.id == "Protocol")
        or (isinstance(b, ast.Attribute) and b.attr == "Protocol")
        for b in node.bases
    )


def protocols(root: Path = ROOT) -> dict[str, set[str]]:
    """Every Protocol class of ours by name -> its public members (with its bases' own)."""
    classes: dict[str, ast.ClassDef] = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef) and _is_protocol(node):
                    classes[node.name] = node

    def members(node: ast.ClassDef) -> set[str]:
        own = set()
        for item in node.body:
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                own.add(item.name)
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                own.add(item.target.id)
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in classes:
                own |= members(classes[base.id])
        return {m for m in own if not m.startswith("_")}

    return {name: members(node) for name, node in classes.items()}


LIST = re.compile(r"`(\w+)`(?: protocol)? \(members: ")


def member_lists(text: str) -> list[tuple[str, list[str]]]:
    """Each "`Name` (members: `a`, `b(...)`, ...)" of a text: the name and the members."""
    text = " ".join(text.split())
    found = []
    for match in LIST.finditer(text):
        depth, i, ticked = 1, match.end(), False
        while i < len(text) and depth:
            ticked ^= text[i] == "`"
            if not ticked:
                depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        body = text[match.end() : i - 1]
        names = [m.group(0) for t in TICK.findall(body) if (m := re.match(r"\w+", t))]
        found.append((match.group(1), names))
    return found


def protocol_problems(root: Path = ROOT) -> tuple[list[str], set[str]]:
    """(problems of every member list in the READMEs, the protocols that have one)."""
    known = protocols(root)
    problems, listed = [], set()
    for readme in [root / "README.md", root / "CONTRIBUTING.md", *readmes(root)]:
        if not readme.exists():
            continue
        where = readme.relative_to(root)
        for name, said in member_lists(prose(readme)):
            listed.add(name)
            if name not in known:
                problems.append(f"{where}: lists members of `{name}`, which is no Protocol of ours")
                continue
            for extra in sorted(set(said) - known[name]):
                problems.append(f"{where}: `{name}` has no member `{extra}`; drop it")
            for missing in sorted(known[name] - set(said)):
                problems.append(f"{where}: `{name}`'s member `{missing}` is not listed; add it")
    return problems, listed


# --- CONTRIBUTING.md ---------------------------------------------------------------------


def drawn_layers(text: str, heading: str, names: set[str]) -> list[set[str]] | None:
    """The layers a Markdown drawing shows under `heading`, top to bottom (None: no drawing).

    A line that starts at the margin begins a layer: its names run to the first two spaces
    (a description may follow); names ending in `|` go on at the next line's margin.
    """
    found = re.search(rf"^{re.escape(heading)}\n.*?^```[a-z]*\n(.*?)^```", text, re.S | re.M)
    if found is None:
        return None
    levels: list[set[str]] = []
    joined = ""
    for line in found.group(1).splitlines():
        if not line or line[0] == " ":
            continue  # a description's next line
        joined += " " + re.split(r" {2,}", line.strip())[0]
        if joined.rstrip().endswith("|"):
            continue
        levels.append({unit_of(n.strip(), names) or n.strip() for n in joined.split("|")})
        joined = ""
    return levels


def layers_problems(path: Path, heading: str, root: Path = ROOT) -> list[str]:
    """The layers drawn in a Markdown file against the layers contract of pyproject.toml."""
    rules = contracts(root / "pyproject.toml")
    (layers,) = [c for c in rules if c["type"] == "layers"]
    wanted = [{n.strip() for n in re.split(r"[|:]", level)} for level in layers["layers"]]
    names = {n for level in wanted for n in level}
    drawn = drawn_layers(path.read_text(encoding="utf-8"), heading, names)
    where = path.relative_to(root)
    if drawn is None:
        return [f'{where}: no drawing of the layers under "{heading}"']
    if drawn == wanted:
        return []
    plain = ["  " + " | ".join(sorted(level)) for level in wanted]
    return [
        f'{where}: the layers under "{heading}" are not the layers contract of pyproject.toml, '
        "which has, top to bottom:\n" + "\n".join(plain)
    ]


def contributing_problems(root: Path = ROOT) -> list[str]:
    """CONTRIBUTING.md's layer picture and contract names against pyproject.toml."""
    problems = layers_problems(root / "CONTRIBUTING.md", "## Import layers", root)
    named = set(TICK.findall(prose(root / "CONTRIBUTING.md")))
    problems += [
        f"CONTRIBUTING.md: the contract `{rule['id']}` of pyproject.toml is not named; "
        "say what it forbids"
        for rule in contracts(root / "pyproject.toml")
        if rule["type"] != "layers" and rule["id"] not in named
    ]
    return problems


CI_TEST_LINE = 'log "pytest";'


def ci_test_command(root: Path = ROOT) -> str:
    """The test command `.ci/run` runs: its line ``log "pytest"; <command>``."""
    for line in (root / ".ci" / "run").read_text(encoding="utf-8").splitlines():
        if line.startswith(CI_TEST_LINE):
            return line.removeprefix(CI_TEST_LINE).strip()
    raise AssertionError(f".ci/run: no line `{CI_TEST_LINE} <command>`")


def test_command_problems(root: Path = ROOT) -> list[str]:
    """README.md and CONTRIBUTING.md give `.ci/run`'s test command word for word."""
    command = ci_test_command(root)
    return [
        f"{name}: does not give .ci/run's test command `{command}`; quote it as it runs"
        for name in ("README.md", "CONTRIBUTING.md")
        if f"`{command}`" not in (root / name).read_text(encoding="utf-8")
    ]
