"""The trusted PATH (``harness.hostpath``): its entries are resolved once while each names
the same folder, and again as soon as a link on the way is re-pointed (into the project:
dropped at once)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import hostpath
from harness.hostpath import trusted_path


def test_entries_are_resolved_once_and_again_when_a_link_is_re_pointed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "bin").mkdir(parents=True)
    elsewhere = tmp_path / "tools"
    elsewhere.mkdir()
    link = tmp_path / "link"
    link.symlink_to(elsewhere)
    path = os.pathsep.join([str(link), "/usr/bin", "bin", ""])
    monkeypatch.setattr(hostpath, "_RESOLVED", {}, raising=False)  # none of an earlier test
    resolved: list[str] = []
    real = os.path.realpath

    def counting(name: str, *args: object, **kwargs: object) -> str:
        resolved.append(str(name))
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os.path, "realpath", counting)
    assert trusted_path(path, outside=project) == f"{link}:/usr/bin"
    first = len(resolved)
    for _ in range(20):  # a worker's git calls: nothing resolved again
        assert trusted_path(path, outside=project) == f"{link}:/usr/bin"
    assert len(resolved) == first, resolved[first:]

    link.unlink()  # the agent re-points a link on the way into the project
    link.symlink_to(project / "bin")
    assert trusted_path(path, outside=project) == "/usr/bin"
    assert str(link) in resolved[first:]
    link.unlink()
    link.symlink_to(project)  # the project itself
    assert trusted_path(path, outside=project) == "/usr/bin"
