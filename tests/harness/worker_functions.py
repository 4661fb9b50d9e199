"""Functions the worker tests run in the child process (importable from the checkout)."""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Any


def echo(value: Any) -> Any:
    return value


def spin(seconds: float) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "spun"


def backtrack(line: str) -> bool:

    return re.search(r"(a+)+$", line) is not None


def fail(message: str) -> None:
    raise RecursionError(message)


def hog(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def where() -> dict[str, Any]:
    return {"cwd": os.getcwd(), "env": dict(os.environ), "path": sys.path, "pid": os.getpid()}


def die() -> None:
    os._exit(3)
