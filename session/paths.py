"""Confinement of the agent's file access to the project folder."""

from __future__ import annotations

import os
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
    real_root: str | None = None,
) -> Path:
    """Resolve `relative` inside `root`; refuse absolute paths, `..` and symlinks out.

    Writes are also refused inside `.git/` and `.harness/`, to the feature list, which
    only the guarded tools change, and to the ``protected`` paths (``[protect] paths``).
    Reads and writes alike are refused in the ``hidden`` paths (``[verify] hidden``), and,
    when ``secret`` is given, in the files declared secret (``.env`` files and the
    ``secret`` patterns, ``[protect] hide``), by the name asked and by where a link leads.
    ``real_root``: ``root`` as the caller resolved it once (a session's,
    ``WorkContext.real_root``); the path asked is resolved here each time.
    """
    if not relative or relative.strip() == "":
        raise PathRefused("an empty path; give a path relative to the project root")
    if relative.startswith("/"):
        raise PathRefused(f"{relative!r} is absolute; give a path relative to the project root")
    if ".." in relative.split("/"):
        raise PathRefused(f"{relative!r} climbs out with '..'; stay inside the project")
    # Strings, not pathlib: this runs for every file tool call and write (twice a write),
    # and pathlib's objects cost twice the resolution itself. Same rule: the path with
    # every link resolved (realpath), inside the project's own resolved folder.
    if real_root is None:
        real_root = os.path.realpath(root)
    resolved = os.path.realpath(os.path.join(real_root, relative))
    if resolved == real_root:
        where = ""
    elif resolved.startswith(real_root.rstrip("/") + "/"):
        where = resolved[len(real_root.rstrip("/")) + 1 :]
    else:
        raise PathRefused(f"{relative!r} leads outside the project through a symlink")
    first = where.partition("/")[0]
    if first in PROTECTED and (write or first == ".harness"):
        raise PathRefused(f"{relative!r} is harness or git state, not the agent's to touch")
    for path in hidden:
        if where == path or where.startswith(path.rstrip("/") + "/"):
            raise PathRefused(
                f"{relative!r} is hidden from you ([verify] hidden in harness.toml: {path}): "
                "acceptance tests only the checks read; verify_feature shows their verdict"
            )
    if secret is not None and (is_hidden(relative, secret) or is_hidden(where, secret)):
        raise PathRefused(
            f"{relative!r} is declared secret (.env files, [protect] hide in harness.toml): "
            "hidden from the agent. Ask a human for what you need from it."
        )
    if write and where == "feature_list.json":
        raise PathRefused("feature_list.json changes only through verify_feature and mark_passing")
    if write:
        for path in protected:
            if where == path or where.startswith(path.rstrip("/") + "/"):
                raise PathRefused(
                    f"{relative!r} is protected ([protect] paths in harness.toml: {path}); "
                    "the agent may not change it. Ask a human if it is wrong."
                )
    return Path(resolved)
