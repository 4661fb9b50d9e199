"""JSON encoding of step inputs, outputs and errors (never pickle), redacted on the way in."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

from harness import errors as harness_errors
from harness.errors import HarnessError, JournalError, StepFailed
from harness.redact import Redactor


def encode(value: Any, redactor: Redactor) -> str:
    """Compact JSON text of ``value`` (pydantic's serializer: models, datetimes, paths...),
    with secrets redacted. Dict keys keep their order, so the same code gives the same text."""
    try:
        text = to_json(value).decode()
    except PydanticSerializationError as error:
        raise JournalError(f"value is not JSON-able: {error}") from error
    if redactor.maybe_secret(text):
        text = to_json(redactor.value(json.loads(text))).decode()
    return text


LARGE_STRING = 64 * 1024
"""Strings longer than this (characters) are kept in the blob store once, by content."""
_REF = "$blob"


def split_large(text: str, put: Callable[[bytes], str]) -> str:
    """``text`` (a JSON text) with every string longer than LARGE_STRING replaced by a
    reference ``{"$blob": <sha256>, "bytes": <size>}``, its UTF-8 bytes given to ``put``
    (which stores them by content and returns the digest).

    One large tool argument is in three steps (the model's answer, the tool call, the
    next model call's new messages): stored whole in each, a 200 MB argument grew the
    journal by 781 MB; by reference, it is stored once. Short texts come back as they are.
    """
    if len(text) <= LARGE_STRING:
        return text
    found = False

    def swap(value: Any) -> Any:
        nonlocal found
        if isinstance(value, str):
            if len(value) <= LARGE_STRING:
                return value
            found = True
            data = value.encode("utf-8", "surrogatepass")
            return {_REF: put(data), "bytes": len(data)}
        if isinstance(value, list):
            return [swap(item) for item in value]
        if isinstance(value, dict):
            return {key: swap(item) for key, item in value.items()}
        return value

    swapped = swap(json.loads(text))
    return to_json(swapped).decode() if found else text


def join_large(text: str, value: Any, get: Callable[[str], bytes]) -> Any:
    """``value`` (parsed from ``text``) with each reference of :func:`split_large` replaced
    by its string, read with ``get`` (which checks the digest)."""
    if f'"{_REF}"' not in text:
        return value

    def swap(item: Any) -> Any:
        if isinstance(item, dict):
            if set(item) == {_REF, "bytes"} and isinstance(item[_REF], str):
                return get(item[_REF]).decode("utf-8", "surrogatepass")
            return {key: swap(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [swap(inner) for inner in item]
        return item

    return swap(value)


def digest(text: str) -> str:
    """sha256 hex digest of a JSON text."""
    return hashlib.sha256(text.encode()).hexdigest()


def _attributes(error: BaseException) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in vars(error).items():
        if key.startswith("_"):
            continue
        try:
            data[key] = json.loads(to_json(value))
        except (PydanticSerializationError, ValueError):
            data[key] = repr(value)
    return data


def encode_error(error: BaseException, redactor: Redactor) -> str:
    """The typed error of a failed step: class, module, message and JSON-able attributes."""
    message = error.message if isinstance(error, HarnessError) else str(error)
    record = {
        "class": type(error).__name__,
        "module": type(error).__module__,
        "message": message,
        "data": _attributes(error),
    }
    return encode(record, redactor)


def decode_error(text: str) -> Exception:
    """An error equivalent to the recorded one: the same harness.errors class, else StepFailed."""
    record = json.loads(text)
    name = str(record.get("class", "Exception"))
    message = str(record.get("message", ""))
    data = record.get("data") or {}
    cls = getattr(harness_errors, name, None)
    if (
        record.get("module") == harness_errors.__name__
        and isinstance(cls, type)
        and issubclass(cls, Exception)
    ):
        error: Exception = cls.__new__(cls)
        error.args = (message,)
        for key, value in data.items():
            with contextlib.suppress(AttributeError):
                setattr(error, key, value)
        if isinstance(error, HarnessError):
            error.message = message
        return error
    return StepFailed(name, message, data)
