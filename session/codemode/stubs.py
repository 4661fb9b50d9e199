"""Type stubs for code mode, generated from the tools' pydantic argument models.

A tool `read_file` with arguments `path: str`, `offset: int = 0` becomes
``def read_file(path: str, offset: int = 0) -> str: ...``: the sandbox's type checker
reads these before the program runs, and the host maps the call back onto the model.
"""

from __future__ import annotations

import enum
import functools
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

SIMPLE_DEFAULTS = (bool, int, float, str, type(None))
MAX_DEFAULT_REPR = 60


@dataclass(frozen=True)
class FunctionStub:
    """One host function as the sandbox sees it."""

    name: str
    text: str
    positional: tuple[str, ...]  # parameters that may be passed by position, in order
    keywords: frozenset[str]


def render_type(tp: Any) -> str:
    """A stub spelling of a type annotation; unknown types become `Any`."""
    if tp is None or tp is type(None):
        return "None"
    if tp is Any:
        return "Any"
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return render_type(args[0])
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(render_type(a) for a in args)
    if origin in (list, set, frozenset, tuple, dict):
        name = "tuple" if origin is tuple else origin.__name__
        if origin in (set, frozenset):
            name = "list"  # JSON has no sets: the host accepts a list
        if not args:
            return f"{name}[Any]" if name != "dict" else "dict[str, Any]"
        inner = ", ".join("..." if a is Ellipsis else render_type(a) for a in args)
        return f"{name}[{inner}]"
    if isinstance(tp, type):
        if issubclass(tp, bool | int | float | str | bytes):
            if issubclass(tp, enum.Enum):
                return "str"
            return tp.__name__
        if issubclass(tp, BaseModel):
            return "dict[str, Any]"
    return "Any"


def _default(value: Any) -> str:
    if isinstance(value, SIMPLE_DEFAULTS):
        text = repr(value)
        if len(text) <= MAX_DEFAULT_REPR:
            return text
    return "..."


@functools.lru_cache(maxsize=512)
def function_stub(name: str, args: type[BaseModel], description: str = "") -> FunctionStub:
    """The stub of one tool: its fields as parameters, returning the tool's output text.

    Parameters keep the model's order; once a required field follows one with a default,
    it and every later field become keyword-only. Made once per process for each tool
    (every session builds its code tool over the same tools; pydantic inspecting each
    default factory cost ~4 ms of CPU a session).
    """
    params: list[str] = []
    positional: list[str] = []
    keyword_only = False
    seen_default = False
    for field_name, info in args.model_fields.items():
        key = info.alias or field_name
        spelled = f"{key}: {render_type(info.annotation)}"
        if info.is_required():
            if seen_default and not keyword_only:
                params.append("*")
                keyword_only = True
        else:
            seen_default = True
            spelled += f" = {_default(info.get_default(call_default_factory=True))}"
        params.append(spelled)
        if not keyword_only:
            positional.append(key)
    doc = " ".join(description.split()).replace('"""', "'''")
    body = f'\n    """{doc}"""\n    ...' if doc else " ..."
    text = f"def {name}({', '.join(params)}) -> str:{body}\n"
    keys = frozenset(info.alias or n for n, info in args.model_fields.items())
    return FunctionStub(name, text, tuple(positional), keys)


def module_stubs(stubs: list[FunctionStub]) -> str:
    """The stub module the type checker reads: imports, then one function per tool."""
    header = "from typing import Any, Literal\n\n"
    return header + "\n".join(stub.text for stub in stubs)


def bind_arguments(
    stub: FunctionStub, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Map a call's positional and keyword arguments onto the tool's field names."""
    if len(args) > len(stub.positional):
        raise TypeError(
            f"{stub.name}() takes at most {len(stub.positional)} positional argument(s) "
            f"({len(args)} given); pass the rest by keyword"
        )
    bound = dict(zip(stub.positional, args, strict=False))
    for key, value in kwargs.items():
        if key in bound:
            raise TypeError(f"{stub.name}() got multiple values for argument {key!r}")
        if key not in stub.keywords:
            known = ", ".join(sorted(stub.keywords)) or "none"
            raise TypeError(f"{stub.name}() got an unexpected argument {key!r}; it takes: {known}")
        bound[key] = value
    return bound
