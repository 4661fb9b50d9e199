"""Prompts are templates in `templates/prompts/`; a missing name is an error, not a blank."""

from __future__ import annotations

from importlib import resources
from string import Template


class PromptError(KeyError):
    """A template names a value the caller did not give."""


def render(name: str, **values: object) -> str:
    """Render `templates/prompts/<name>.md` with `$name` placeholders."""
    text = resources.files("templates").joinpath("prompts", f"{name}.md").read_text("utf-8")
    try:
        return Template(text).substitute({k: str(v) for k, v in values.items()})
    except KeyError as exc:
        raise PromptError(f"prompt {name!r} needs a value for {exc.args[0]!r}") from None
