"""JSON encoding of step inputs, outputs and errors (never pickle), redacted on the way in."""

from __future__ import annotations

import contextlib
import hashlib
import json
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
