"""The feature list's sentinel: only the guarded tools may change feature_list.json.

The agent's shell commands run in the project and could rewrite the file (reword,
delete, forge evidence). The sentinel keeps the bytes the harness last knew to be
legitimate and puts them back whenever anything else changed the file, telling the
model so; at writeback it checks once more before the commit. The tool pipeline
(`session.pipeline`) runs it around every tool call and accepts a new content only after
a call whose effects say the tool itself wrote the file through the guards
(`session.effects.GUARDED_WRITES`), whether the model called it directly or from code mode.

What it knows never comes from the file as a killed run left it: a session's wake keeps
the bytes it starts from as a git object named in the journal (:meth:`Sentinel.keep`), a
resumed session takes them back from there (:meth:`Sentinel.take`) and applies its
recorded marks again (:meth:`Sentinel.replay_mark`), so an edit the agent's command made
just before a kill is put back like any other.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artifacts.feature_list import FEATURE_LIST, dump_feature_list, parse_feature_list
from artifacts.git_commit import committed_blob
from artifacts.git_tree import keep_blob, read_blob
from artifacts.guards import check_transition
from artifacts.io import atomic_write
from harness.errors import ArtifactError, GitError

if TYPE_CHECKING:
    from artifacts.git_safety import ConfigChecks
    from artifacts.models import Evidence, FeatureList

NOTICE = (
    "POLICY: feature_list.json was changed outside verify_feature/mark_passing; the harness "
    "restored it. Features change only through those tools; do not edit the file."
)


REDACTED = "[REDACTED:"
MARKER = re.compile(r"\[REDACTED:[^\]]*\]")
"""What the journal writes for a secret (``harness.redact.marker``): a recorded mark's
evidence holding one is matched with the file's (:meth:`Sentinel.replay_mark`)."""

NOT_REGULAR = object()
"""What the sentinel reads where the file is a FIFO, a device, a socket or unreadable:
never known content, so it is put back (a FIFO there held every later read of it)."""


class Sentinel:
    def __init__(self, root: Path) -> None:
        self.path = root / FEATURE_LIST
        self.root = root
        self.known: bytes | None = None
        self.accept()

    def _read(self) -> bytes | object | None:
        """The file's bytes (None: absent or a folder; NOT_REGULAR: not a regular file).

        Read twice a tool call, so with the fewest system calls: stat, then an open that
        never waits (a FIFO swapped in between is opened and seen, not read), then one read."""
        path = str(self.path)
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):
                return None if os.path.isdir(path) else NOT_REGULAR
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError:  # a link loop, no permission: not content harness wrote
            return NOT_REGULAR
        try:
            found = os.fstat(fd)
            if not stat.S_ISREG(found.st_mode):
                return NOT_REGULAR
            # Its size and a byte more in one read: exactly its size is the whole file, so
            # no second read asks for its end. Anything else reads on to the end: a byte
            # more is a file grown since fstat; fewer, a file cut short since, or a read
            # Linux capped (one read returns at most 0x7ffff000 bytes, just under 2 GiB).
            data = os.read(fd, found.st_size + 1)
            if len(data) == found.st_size:
                return data
            chunks = [data]
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def on_disk(self) -> bytes | object | None:
        """The file now: its bytes, None (absent or a folder) or NOT_REGULAR."""
        return self._read()

    def accept(self) -> None:
        """The current content is legitimate (after a guarded write, or on replay); what
        is not a regular file is not content: it goes at the next restore."""
        read = self._read()
        self.known = read if isinstance(read, bytes) else None

    def keep(self, checks: ConfigChecks | None = None) -> str | None:
        """The known bytes kept as a git object (out of the agent's reach): its id, for the
        journal to record (None: no feature list known)."""
        return None if self.known is None else keep_blob(self.root, self.known, checks)

    def take(self, kept: str | None, checks: ConfigChecks | None = None) -> None:
        """Know again what :meth:`keep` kept (a resumed session, from the journal's record);
        where this clone lacks the object (`harness state load` into another clone, a
        prune), the list of HEAD, the last commit; only without one, the file."""
        if kept is None:
            self.known = None
            return
        found = read_blob(self.root, kept, checks)
        if found is None:
            self.take_head(checks)
        else:
            self.known = found

    def take_head(self, checks: ConfigChecks | None = None) -> None:
        """Know the list of HEAD, the last commit, where the session's own is not recorded
        (a session journaled by a harness that kept none, the object missing from this
        clone), with the features a person appended to the file, all failing, kept as the
        wake keeps them; only without a committed list, the file."""
        head = committed_blob(self.root, "HEAD", FEATURE_LIST, checks)
        if head is None:
            self.accept()
        else:
            on_disk = self._read()
            self.known = _with_appended(head, on_disk if isinstance(on_disk, bytes) else None)

    def replay_mark(self, feature: str, evidence: Evidence) -> Evidence:
        """A replayed mark of ``feature``: the known list becomes the one its guarded write
        made from it (the file on disk when it is that list, byte for byte). The journal
        keeps the evidence with its secrets redacted (a check command holding one): the
        file's evidence is the mark's when the recorded one is it so redacted. A mark of a
        feature already passing may have changed nothing (a human's approval of it): the
        known list stays when the file is still it. Anything else on disk is not what
        harness wrote, and goes at the next restore. Returns the evidence applied."""
        if self.known is None:
            return evidence
        try:
            listed = parse_feature_list(self.known.decode("utf-8"))
        except (ArtifactError, UnicodeDecodeError):
            return evidence  # never a list harness knew: the mark could not have been written
        marked = listed.get(feature)
        if marked is None:
            return evidence
        on_disk = self._read()
        evidence = _as_written(on_disk, feature, evidence, listed)
        was_passing = marked.passes
        marked.passes, marked.evidence = True, evidence
        made = dump_feature_list(listed).encode("utf-8")
        if on_disk != made and was_passing and on_disk == self.known:
            return evidence  # the mark changed nothing
        self.known = made
        return evidence

    def restore(self) -> bool:
        """Put the known content back if anything else changed the file; True if it did."""
        if self._read() == self.known:
            return False

        if self.known is None:
            self.path.unlink(missing_ok=True)
        else:
            atomic_write(self.path, self.known, root=self.root, replace_link=True)
        return True


def _as_written(on_disk: object, feature: str, recorded: Evidence, known: FeatureList) -> Evidence:
    """The evidence of ``feature`` in the file when the journal's ``recorded`` one is it
    with secrets redacted: equal but where the record says ``[REDACTED:...]``, and there a
    text a string of the ``known`` list holds (a check command's secret is in the feature's
    check); else ``recorded``. Matched on the record, not on this process's secrets (a
    resume may know others)."""
    if not isinstance(on_disk, bytes) or REDACTED not in recorded.model_dump_json():
        return recorded
    try:
        written = parse_feature_list(on_disk.decode("utf-8")).get(feature)
    except (ArtifactError, UnicodeDecodeError):
        return recorded
    evidence = None if written is None else written.evidence
    if evidence is None:
        return recorded
    texts = "\0".join(_strings(known.model_dump(mode="json")))
    same = _redacted_as(evidence.model_dump(mode="json"), recorded.model_dump(mode="json"), texts)
    return evidence if same else recorded


def _redacted_as(value: Any, recorded: Any, known: str) -> bool:
    """Whether ``recorded`` is ``value`` with parts of its strings, each found in ``known``,
    redacted."""
    if isinstance(value, dict) and isinstance(recorded, dict):
        return value.keys() == recorded.keys() and all(
            _redacted_as(value[key], recorded[key], known) for key in value
        )
    if isinstance(value, str) and isinstance(recorded, str) and REDACTED in recorded:
        shape = "(.+?)".join(re.escape(part) for part in MARKER.split(recorded))
        found = re.fullmatch(shape, value, re.DOTALL)
        return found is not None and all(text in known for text in found.groups())
    return bool(value == recorded)


def _strings(value: Any) -> list[str]:
    """Every string in a JSON-able structure."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [text for item in value for text in _strings(item)] if isinstance(value, list) else []


def _with_appended(head: bytes, on_disk: bytes | None) -> bytes:
    """HEAD's list with the features ``on_disk`` adds after HEAD's, when every one is
    failing and bare (a person's addition, legal at wake); else HEAD's. The file's own bytes
    when its other features are HEAD's as they are."""
    try:
        committed = parse_feature_list(head.decode("utf-8"))
        current = parse_feature_list((on_disk or b"").decode("utf-8"))
    except (ArtifactError, UnicodeDecodeError):
        return head
    count = len(committed.features)
    ids = [item.id for item in current.features[:count]]
    added = current.features[count:]
    if not added or ids != [item.id for item in committed.features]:
        return head
    if any(item.passes or item.evidence is not None for item in added):
        return head  # not a person's addition the wake would keep
    if current.features[:count] == committed.features and on_disk is not None:
        return on_disk
    return dump_feature_list(
        committed.model_copy(update={"features": [*committed.features, *added]})
    ).encode()


def check_against_head(root: Path, checks: ConfigChecks | None = None) -> str | None:
    """At the start of a new session: harness committed every change it made to the
    feature list, so a change since HEAD that rewords, removes or reorders features, or
    turns one passing, came from elsewhere (a background job, a hand edit): the committed
    version is restored and the reason returned. Features added at the end, all failing,
    are a legal edit by a person and are kept."""

    path = root / FEATURE_LIST
    if not (root / ".git").exists():
        return None
    try:
        data = committed_blob(root, "HEAD", FEATURE_LIST, checks)
        committed = None if data is None else data.decode("utf-8")
    except (GitError, UnicodeDecodeError):
        return None
    if committed is None or not path.is_file():
        return None
    current_text = path.read_text(encoding="utf-8", errors="replace")
    if current_text == committed:
        return None
    try:
        old = parse_feature_list(committed)
    except ArtifactError:
        return None  # e.g. a quickstart list adopted since: HEAD's version is no reference
    reason = ""
    try:
        new = parse_feature_list(current_text)
        check_transition(old, new)
        was = {f.id: f.passes for f in old.features}
        newly = [f.id for f in new.features if f.passes and not was.get(f.id, False)]
        if newly:
            reason = f"{', '.join(newly)} turned passing without a harness verification"
    except ArtifactError as error:
        reason = error.why
    if not reason:
        return None
    atomic_write(path, committed, root=root, replace_link=True)
    return f"feature_list.json was changed outside harness ({reason}); restored from HEAD"
