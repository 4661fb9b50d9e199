"""The feature list's sentinel, alone and at wake (check against HEAD)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from session.sentinel import Sentinel, check_against_head
from tests.session.inproc import EVIDENCE, feature, make_project


def _edit(root: Path, **changes: object) -> None:
    path = root / "feature_list.json"
    data = json.loads(path.read_text())
    data["features"][0].update(changes)
    path.write_text(json.dumps(data))


def test_restore_puts_back_the_known_bytes_and_says_so(fast_path: Path) -> None:
    root = make_project(fast_path / "p")
    before = (root / "feature_list.json").read_bytes()
    sentinel = Sentinel(root)
    assert sentinel.restore() is False
    _edit(root, passes=True)
    assert sentinel.restore() is True
    assert (root / "feature_list.json").read_bytes() == before
    (root / "feature_list.json").unlink()
    assert sentinel.restore() is True and (root / "feature_list.json").read_bytes() == before


def test_accept_makes_the_current_content_the_known_one(fast_path: Path) -> None:
    root = make_project(fast_path / "p")
    sentinel = Sentinel(root)
    _edit(root, description="accepted")
    sentinel.accept()
    assert sentinel.restore() is False
    assert "accepted" in (root / "feature_list.json").read_text()


def test_a_file_that_did_not_exist_is_removed_again(fast_path: Path) -> None:
    fast_path.mkdir(exist_ok=True)
    sentinel = Sentinel(fast_path)
    (fast_path / "feature_list.json").write_text("{}")
    assert sentinel.restore() is True and not (fast_path / "feature_list.json").exists()


def test_a_fifo_is_put_back_without_waiting(fast_path: Path) -> None:
    """A FIFO swapped in for feature_list.json held the sentinel's read (and the session)
    forever: it is put back at once."""
    root = make_project(fast_path / "p")
    path = root / "feature_list.json"
    before = path.read_bytes()
    sentinel = Sentinel(root)
    path.unlink()
    os.mkfifo(path)
    done: list[bool] = []
    worker = threading.Thread(target=lambda: done.append(sentinel.restore()), daemon=True)
    worker.start()
    worker.join(120)
    assert done == [True], "the sentinel waited on the FIFO"
    assert path.is_file() and path.read_bytes() == before


def test_at_wake_a_change_since_head_turning_a_feature_passing_is_undone(fast_path: Path) -> None:
    root = make_project(fast_path / "p", git=True)
    committed = (root / "feature_list.json").read_bytes()
    assert check_against_head(root) is None

    _edit(root, passes=True, evidence=EVIDENCE)  # forged: no harness verification
    reason = check_against_head(root)
    assert reason is not None and "F001" in reason and "restored from HEAD" in reason
    assert (root / "feature_list.json").read_bytes() == committed


def test_at_wake_features_added_at_the_end_by_a_person_are_kept(fast_path: Path) -> None:
    root = make_project(fast_path / "p", git=True)
    path = root / "feature_list.json"
    data = json.loads(path.read_text())
    data["features"].append(json.loads(feature(2).model_dump_json()))
    path.write_text(json.dumps(data))
    assert check_against_head(root) is None
    assert len(json.loads(path.read_text())["features"]) == 2
