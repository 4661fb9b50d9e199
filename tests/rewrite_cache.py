"""pytest-xdist's controller rewrites the test modules' asserts once, for every worker.

Each worker collects every test module, and pytest rewrites a module's asserts at its
import (parse, rewrite, compile: ~6 of a worker's ~12 CPU-s of collection). It caches the
result in ``__pycache__/*-pytest-*.pyc`` unless bytecode is not written
(PYTHONDONTWRITEBYTECODE, set in some shells here), and on a fresh clone the workers start
at once and all miss the cache. So the controller, which collects nothing, writes that
cache before it starts the workers, whatever PYTHONDONTWRITEBYTECODE says; a worker then
reads it (pytest reads the cache even where it writes none, and checks it by the source's
hash). Only the speed depends on it: a pytest whose internals differ writes nothing here,
and its workers rewrite as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _pytest.assertion import rewrite

TESTS = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return  # a worker, or no workers: the one process rewrites what it imports
    if config.getoption("assertmode") != "rewrite":
        return
    write_rewritten(config, sorted(collected(config)))


def collected(config: pytest.Config) -> set[Path]:
    """The test modules and conftest.py files the workers import for the session's paths
    (pytest's ``testpaths`` when none is given)."""
    modules: set[Path] = set()
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if path.is_dir():
            modules.update([*path.rglob("test_*.py"), *path.rglob("conftest.py")])
        elif path.is_file():
            modules.add(path)
        for parent in path.parents:
            if parent.is_relative_to(TESTS) and (parent / "conftest.py").is_file():
                modules.add(parent / "conftest.py")
    return modules


def write_rewritten(config: pytest.Config, modules: list[Path]) -> int:
    """Write pytest's cached rewrite of each of ``modules`` that has no valid one; how many
    were written (0 where pytest's internals are not the ones this was written for)."""
    needed = ("PYC_TAIL", "_read_pyc", "_rewrite_test", "_write_pyc", "get_cache_dir")
    if not all(hasattr(rewrite, name) for name in needed):
        return 0
    trace = Silent()
    written = 0
    for module in modules:
        cache = rewrite.get_cache_dir(module)
        pyc = cache / (module.name[:-3] + rewrite.PYC_TAIL)
        try:
            if rewrite._read_pyc(module, pyc, trace) is not None:
                continue
            cache.mkdir(exist_ok=True)
            source_hash, code = rewrite._rewrite_test(module, config)
        except (OSError, SyntaxError, TypeError, ValueError):
            continue  # the worker meets it again at its import and says what is wrong
        written += bool(rewrite._write_pyc(trace, code, source_hash, pyc))  # type: ignore[arg-type]
    return written


class Silent:
    """What ``_read_pyc`` and ``_write_pyc`` trace to (pytest's own trace: nothing here)."""

    def __call__(self, *message: object) -> None:
        pass

    def trace(self, *message: object) -> None:
        pass
