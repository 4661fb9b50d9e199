"""The feature list's sentinel, alone and at wake (check against HEAD)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from artifacts.feature_list import dump_feature_list, load_feature_list, parse_feature_list
from artifacts.models import Evidence, Feature, FeatureList
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


def test_the_file_is_read_with_one_read_and_whole_when_it_grows(
    fast_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read twice a tool call: one read (its size and a byte more) says the file ended;
    a file grown since its size was taken is read on to its end."""
    root = make_project(fast_path / "p")
    path = root / "feature_list.json"
    data = path.read_bytes()
    sentinel = Sentinel(root)
    reads: list[int] = []
    read = os.read

    def counted(fd: int, n: int) -> bytes:
        reads.append(n)
        return read(fd, n)

    monkeypatch.setattr(os, "read", counted)
    assert sentinel.on_disk() == data and reads == [len(data) + 1]
    fstat = os.fstat
    monkeypatch.setattr(
        os, "fstat", lambda fd: os.stat_result((*fstat(fd)[:6], 10, *fstat(fd)[7:]))
    )
    reads.clear()
    assert sentinel.on_disk() == data and reads[0] == 11 and len(reads) >= 2


def test_a_read_capped_short_of_the_file_s_end_reads_on(
    fast_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linux returns at most 0x7ffff000 bytes a read: a list past 2 GiB comes back short of
    its size. Taken for the whole file, its first part would be known and the rest lost."""
    root = make_project(fast_path / "p")
    path = root / "feature_list.json"
    data = path.read_bytes()
    sentinel = Sentinel(root)
    read = os.read
    cap = len(data) // 3  # the cap scaled down to a test-sized file

    monkeypatch.setattr(os, "read", lambda fd, n: read(fd, min(n, cap)))
    assert sentinel.on_disk() == data
    sentinel.accept()
    assert sentinel.known == data


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


def test_a_resumed_sentinel_knows_the_kept_list_never_the_file(fast_path: Path) -> None:
    """What a resumed session's sentinel knows comes back from the git object its journal
    names; in a clone without that object (moved by `harness state load`), HEAD's list."""
    root = make_project(fast_path / "p", git=True)
    path = root / "feature_list.json"
    data = json.loads(path.read_text())
    data["features"].append(json.loads(feature(2).model_dump_json()))  # a person's, since HEAD
    path.write_text(json.dumps(data))
    started = path.read_bytes()
    kept = Sentinel(root).keep()
    assert kept is not None
    _edit(root, passes=True, evidence=EVIDENCE)  # the agent's command, then a kill
    resumed = Sentinel(root)
    resumed.take(kept)
    assert resumed.restore() is True and path.read_bytes() == started
    head = subprocess.run(
        ["git", "-C", str(root), "show", "HEAD:feature_list.json"], capture_output=True, check=True
    ).stdout
    _edit(root, passes=True, evidence=EVIDENCE)
    elsewhere = Sentinel(root)
    elsewhere.take("0123456789abcdef" * 2 + "01234567")  # no such object here
    assert elsewhere.restore() is True
    assert load_feature_list(root) == _appended(head, feature(2))  # the person's kept


def _appended(head: bytes, *added: Feature) -> FeatureList:
    listed = parse_feature_list(head.decode())
    return FeatureList(features=[*listed.features, *added])


def test_without_a_kept_list_a_sentinel_knows_head_and_a_persons_additions(
    fast_path: Path,
) -> None:
    """A session recorded with no list of its own (by an older harness): HEAD's list, with
    the failing features a person appended to the file kept (the file itself when that is
    all it changed); an appended feature passing or HEAD's features not all there first is
    not a person's addition: HEAD's list alone."""
    root = make_project(fast_path / "p", git=True)
    path = root / "feature_list.json"
    head = path.read_bytes()
    data = json.loads(head)
    data["features"].append(json.loads(feature(2).model_dump_json()))
    path.write_text(json.dumps(data))  # a person's addition, in their own format
    added = path.read_bytes()
    sentinel = Sentinel(root)
    sentinel.take_head()
    assert sentinel.known == added and sentinel.restore() is False

    _edit(root, passes=True, evidence=EVIDENCE)  # F001 forged beside the addition
    sentinel.take_head()
    assert sentinel.restore() is True
    assert load_feature_list(root) == _appended(head, feature(2))

    replaced = FeatureList(features=[feature(2)])  # HEAD's F001 gone
    for forged in (_appended(head, feature(2, passes=True)), replaced):
        path.write_bytes(dump_feature_list(forged).encode())
        sentinel.take_head()
        assert sentinel.known == head and sentinel.restore() is True
    path.write_bytes(b"not json")
    sentinel.take_head()
    assert sentinel.known == head


def test_a_replayed_mark_is_applied_to_what_the_sentinel_knows(fast_path: Path) -> None:
    """Replaying a mark, the sentinel knows the list the mark made from what it knew: the
    file is taken only when it is that list; a forgery beside the mark is put back."""
    root = make_project(fast_path / "p", feature(1), feature(2), git=True)
    path = root / "feature_list.json"
    started = path.read_bytes()
    evidence = Evidence.model_validate(EVIDENCE)
    listed = load_feature_list(root)
    listed.features[0].passes, listed.features[0].evidence = True, evidence
    marked = dump_feature_list(listed).encode()

    sentinel = Sentinel(root)
    path.write_bytes(marked)  # what mark_passing wrote before the kill
    sentinel.replay_mark("F001", evidence)
    assert sentinel.known == marked and sentinel.restore() is False

    path.write_bytes(started)
    sentinel = Sentinel(root)
    data = json.loads(marked)
    data["features"][1].update(passes=True, evidence=EVIDENCE)  # F002 forged beside it
    path.write_text(json.dumps(data))
    sentinel.replay_mark("F001", evidence)
    assert sentinel.known == marked
    assert sentinel.restore() is True and path.read_bytes() == marked


def test_a_replayed_mark_keeps_the_evidence_the_journal_holds_redacted(fast_path: Path) -> None:
    """The journal records a mark's evidence with a secret redacted (a check command holding
    a key): the file's evidence is taken when the record is it so redacted, the secret
    being a text of the list the sentinel knows (the feature's check). A span filled with
    any other text, or another field changed, is not what the mark wrote: put back."""
    check = "test -f done.txt && test local-dev-key-4242 != ''"
    root = make_project(fast_path / "p", feature(1, check=check), git=True)
    path = root / "feature_list.json"
    started = path.read_bytes()
    written = Evidence.model_validate({**EVIDENCE, "command": check})
    as_journaled = check.replace("local-dev-key-4242", "[REDACTED:DEV_API_KEY]")
    recorded = written.model_copy(update={"command": as_journaled})
    listed = load_feature_list(root)
    listed.features[0].passes, listed.features[0].evidence = True, written
    marked = dump_feature_list(listed).encode()

    sentinel = Sentinel(root)
    path.write_bytes(marked)  # what mark_passing wrote before the kill
    assert sentinel.replay_mark("F001", recorded) == written
    assert sentinel.known == marked and sentinel.restore() is False

    forgeries = (
        written.model_copy(update={"command": "test -f done.txt && test anything-else != ''"}),
        written.model_copy(update={"output_digest": "sha256:" + "f" * 64}),
    )
    for forged in forgeries:
        path.write_bytes(started)
        sentinel = Sentinel(root)
        listed.features[0].evidence = forged
        path.write_bytes(dump_feature_list(listed).encode())  # the agent's, before the kill
        assert sentinel.replay_mark("F001", recorded) == recorded
        assert sentinel.restore() is True
        assert load_feature_list(root).features[0].evidence == recorded
