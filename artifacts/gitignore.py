"""The lines harness adds to a project's ``.gitignore``: ``.harness/`` and a block for build
and cache output, by language.

The file is the user's: it is edited as bytes, whatever its encoding, keeping its line
endings (a CRLF file gets CRLF lines) and every byte already there; a line is added only
when no line of the file says it already (``__pycache__`` and ``/__pycache__/`` count).
Names nobody commits on purpose (``__pycache__/``, ``*.py[cod]``, ``node_modules/``...) are
always in the block; names that could be a project's own folder (``target/``, ``build/``)
only for the languages the project shows (marker files, source files, the tools init.sh
and the feature checks call).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

GITIGNORE = ".gitignore"
STATE_LINE = ".harness/"
BLOCK_HEADER = "# harness: build and cache output"
ALWAYS = ("__pycache__/", "*.py[cod]", ".pytest_cache/", "node_modules/")


@dataclass(frozen=True)
class Language:
    name: str
    markers: tuple[str, ...]
    """File names that show the language (anywhere in the first two levels)."""
    suffixes: tuple[str, ...]
    tools: str
    """A regex of commands (in init.sh or a feature's check) that show it."""
    ignores: tuple[str, ...]


LANGUAGES = (
    Language(
        "Python",
        ("pyproject.toml", "setup.py", "setup.cfg", "requirements.txt", "Pipfile"),
        (".py",),
        r"\b(pytest|python3?|pip3?|uv|poetry|tox)\b",
        (".mypy_cache/", ".ruff_cache/", ".tox/", "*.egg-info/", ".venv/", ".coverage"),
    ),
    Language(
        "Node",
        ("package.json",),
        (".js", ".ts", ".tsx", ".jsx", ".mjs"),
        r"\b(npm|npx|yarn|pnpm|node|deno|bun)\b",
        (".npm/", "*.tsbuildinfo", ".eslintcache", ".next/", ".nuxt/", ".parcel-cache/"),
    ),
    Language("Go", ("go.mod",), (".go",), r"\bgo (test|build|run|vet)\b", ("*.test", "*.exe")),
    Language("Rust", ("Cargo.toml",), (".rs",), r"\bcargo\b", ("target/", "*.rs.bk")),
    Language(
        "Java",
        ("pom.xml", "build.gradle", "build.gradle.kts"),
        (".java", ".kt"),
        r"\b(mvn|gradlew?|javac|java)\b",
        ("*.class", "target/", ".gradle/", "build/"),
    ),
)
_ALL = tuple(lang.name for lang in LANGUAGES)
_SKIP = {".git", ".harness", "node_modules", ".venv", "venv", "target", "build", "dist"}


def languages(root: Path, texts: Iterable[str] = ()) -> list[str]:
    """The languages the project at ``root`` shows, in LANGUAGES order."""
    names: set[str] = set()
    suffixes: set[str] = set()
    for path in _shallow_files(root):
        names.add(path.name)
        suffixes.add(path.suffix)
    blob = "\n".join(texts)
    return [
        lang.name
        for lang in LANGUAGES
        if names & set(lang.markers)
        or suffixes & set(lang.suffixes)
        or (blob and re.search(lang.tools, blob))
    ]


def _shallow_files(root: Path, depth: int = 2) -> Iterable[Path]:
    folders = [root]
    for _ in range(depth + 1):
        deeper = []
        for folder in folders:
            try:
                children = list(folder.iterdir())
            except OSError:
                continue
            for child in children[:2000]:
                if child.is_symlink():
                    continue
                if child.is_dir():
                    if child.name not in _SKIP:
                        deeper.append(child)
                elif child.is_file():
                    yield child
        folders = deeper


def wanted_lines(langs: Iterable[str]) -> list[str]:
    """``.harness/``, then the block's patterns for ``langs`` (always-lines first)."""
    chosen = set(langs)
    lines = [*ALWAYS]
    for lang in LANGUAGES:
        if lang.name in chosen:
            lines += [p for p in lang.ignores if p not in lines]
    return lines


def _key(line: bytes) -> bytes:
    """A pattern as compared: no spaces, no leading or trailing slash."""
    return line.strip().strip(b"/")


def add_lines(data: bytes, langs: Iterable[str]) -> tuple[bytes, list[str]]:
    """``data`` (a .gitignore's bytes, maybe empty) with the missing lines added at its end,
    in its own line ending; and the lines added ([] when nothing was missing)."""
    have = {_key(line) for line in data.splitlines()}
    chosen = list(langs)
    newline = b"\r\n" if b"\r\n" in data else b"\n"
    added: list[str] = []
    if _key(STATE_LINE.encode()) not in have:
        added.append(STATE_LINE)
    block = [p for p in wanted_lines(chosen) if _key(p.encode()) not in have]
    out = data
    if out and not out.endswith(b"\n"):
        out += newline
    if added:
        out += STATE_LINE.encode() + newline
    if block:
        label = f"{BLOCK_HEADER} ({', '.join(chosen) or 'any language'})"
        if BLOCK_HEADER.encode() in data:
            label = BLOCK_HEADER + f" (more: {', '.join(chosen) or 'any language'})"
        out += newline.join(line.encode() for line in [label, *block]) + newline
        added += block
    return (out, added) if added else (data, [])


def harness_lines(data: bytes, base: bytes) -> list[bytes]:
    """The lines of ``data`` that harness adds (``.harness/``, the block's header and
    patterns) and ``base`` does not have, as they are in ``data``."""
    ours = {_key(STATE_LINE.encode())} | {_key(p.encode()) for p in wanted_lines(_ALL)}
    have = {_key(line) for line in base.splitlines()}
    found = []
    for line in data.splitlines():
        key = _key(line)
        if key in have:
            continue
        if key in ours or line.startswith(BLOCK_HEADER.encode()):
            found.append(line)
            have.add(key)
    return found


def plan_gitignore(root: Path, texts: Iterable[str] = ()) -> tuple[bytes | None, list[str]]:
    """The new bytes of ``<root>/.gitignore`` (None: nothing to add) and the lines added."""
    path = root / GITIGNORE
    data = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
    new, added = add_lines(data, languages(root, texts))
    return (new if added else None), added
