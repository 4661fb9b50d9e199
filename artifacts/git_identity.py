"""Who harness's commits are by: the user's git identity when there is one, harness named
in a ``Co-authored-by`` trailer (the convention GitHub shows and coding agents use); the
author ``harness <harness@localhost>`` only where git knows no user.

The identity is git's own: ``GIT_AUTHOR_NAME``/``GIT_AUTHOR_EMAIL`` in the environment,
else ``user.name``/``user.email`` from the repository's config, the user's global config
or the system's (read with the hardened git of :mod:`artifacts.git_safety`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from artifacts.git_safety import check_config, git_program, run_git
from artifacts.git_stamp import user_config_files

if TYPE_CHECKING:
    from artifacts.git_safety import ConfigChecks

HARNESS_NAME = "harness"
HARNESS_EMAIL = "harness@localhost"
TRAILER = "Co-authored-by"


def user_identity(
    root: Path, checks: ConfigChecks | None = None, config: dict[str, str] | None = None
) -> tuple[str, str] | None:
    """(name, email) of the user git would commit as, or None when git knows none.

    ``config`` holds ``user.name``/``user.email`` when the caller has read them; else one
    hardened ``git config`` reads both."""
    if config is None:
        config = _read_user_config(root, checks)
    found = []
    for variable, key in (("GIT_AUTHOR_NAME", "user.name"), ("GIT_AUTHOR_EMAIL", "user.email")):
        found.append(os.environ.get(variable, "").strip() or config.get(key, "").strip())
    name, email = found
    if not name or not email or "\n" in name + email:
        return None
    return name, email


def _read_user_config(root: Path, checks: ConfigChecks | None) -> dict[str, str]:
    """``user.name``/``user.email`` as git reads them at ``root``: asked once while every
    config file git reads them from holds the same bytes (:func:`user_config_files`; a
    run commits ~once a step), with ``checks``; without, every time."""

    def ask() -> dict[str, str]:
        done = run_git(
            root, "config", "--get-regexp", r"^user\.(name|email)$", check=False, checks=checks
        )
        values: dict[str, str] = {}
        for line in done.stdout.decode("utf-8", "replace").splitlines():
            key, _, value = line.partition(" ")
            values[key] = value  # the last one git reads wins (system, global, local)
        return values

    if checks is None:
        return ask()
    check_config(root, checks)  # a refusal first, as every git command of harness
    where = str(Path(root).absolute())
    found = checks.by_bytes(
        f"user {where}", lambda: user_config_files(root, git_program(root)), ask
    )
    return dict(found)


def commit_env(
    root: Path, checks: ConfigChecks | None = None, config: dict[str, str] | None = None
) -> tuple[dict[str, str], bool]:
    """The author and committer variables of a harness commit, and whether they are the
    user's (then the message takes :func:`with_trailer`)."""
    user = user_identity(root, checks, config)
    name, email = user or (HARNESS_NAME, HARNESS_EMAIL)
    env = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
    return env, user is not None


def with_trailer(message: str) -> str:
    """``message`` with ``Co-authored-by: harness <harness@localhost>`` in its trailers."""
    line = f"{TRAILER}: {HARNESS_NAME} <{HARNESS_EMAIL}>"
    text = message.rstrip("\n")
    if line in text.splitlines():
        return text + "\n"
    last = text.rsplit("\n\n", 1)
    paragraph = last[-1] if len(last) == 2 else ""
    trailers = paragraph and all(_is_trailer(row) for row in paragraph.splitlines())
    return f"{text}\n{line}\n" if trailers else f"{text}\n\n{line}\n"


def _is_trailer(row: str) -> bool:
    key, sep, value = row.partition(": ")
    return bool(sep and value) and key.replace("-", "").isalnum()
