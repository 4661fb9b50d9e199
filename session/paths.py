"""Confinement of the agent's file access to the project folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.secret_files import is_hidden

PROTECTED = (".git", ".harness")


class PathRefused(ValueError):
    """A path the agent may not touch: outside the project, or harness state."""


def confine(
    root: Path,
    relative: str,
    *,
    write: bool = False,
    protected: Sequence[str] = (),
    hidden: Sequence[str] = (),
    secret: Sequence[str] | None = None,
) -> Path:
    """Resolve `relative` inside `root`; refuse absolute paths, `..` and symlinks out.

    Writes are also refused inside `.git/` and `.harness/`, to the feature list, which
    only the guarded tools change, and to the ``protected`` paths (``[protect] paths``).
    Reads and writes alike are refused in the ``hidden`` paths (``[verify] hidden``), and,
    when ``secret`` is given, in the files declared secret (``.env`` files and the
    ``secret`` patterns, ``[protect] hide``), by the name asked and by where a link leads.
    """
    if not relative or relative.strip() == "":
        raise PathRefused("an empty path; give a path relative to the project root")
    candidate = Path(relative)
    if candidate.is_absolute():
        raise PathRefused(f"{relative!r} is absolute; give a path relative to the project root")
    if ".." in candidate.parts:
        raise PathRefused(f"{relative!r} climbs out with '..'; stay inside the project")
    root = root.resolve()
    resolved = (root / candidate).resolve()
    if resolved != root and root not in resolved.parents:
        raise PathRefused(f"{relative!r} leads outside the project through a symlink")
    inside = resolved.relative_to(root).parts
    if inside and inside[0] in PROTECTED and (write or inside[0] == ".harness"):
        raise PathRefused(f"{relative!r} is harness or git state, not the agent's to touch")
    where = "/".join(inside)
    for path in hidden:
        if where == path or where.startswith(path.rstrip("/") + "/"):
            raise PathRefused(
                f"{relative!r} is hidden from you ([verify] hidden in harness.toml: {path}): "
                "acceptance tests only the checks read; verify_feature shows their verdict"
            )
    if secret is not None and (is_hidden(candidate.as_posix(), secret) or is_hidden(where, secret)):
        raise PathRefused(
            f"{relative!r} is declared secret (.env files, [protect] hide in harness.toml): "
            "hidden from the agent. Ask a human for what you need from it."
        )
    if write and inside == ("feature_list.json",):
        raise PathRefused("feature_list.json changes only through verify_feature and mark_passing")
    if write:
        for path in protected:
            if where == path or where.startswith(path.rstrip("/") + "/"):
                raise PathRefused(
                    f"{relative!r} is protected ([protect] paths in harness.toml: {path}); "
                    "the agent may not change it. Ask a human if it is wrong."
                )
    return resolved
