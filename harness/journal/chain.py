"""The HMAC chain that makes the journal tamper-evident.

Every step row carries two MACs under the journal's key (``keys.py``):

- ``mac_start`` over the row's identity (journal id, run, session, seq, kind, name, input
  digest) and the ``mac_start`` of the step before it in the session (the session's
  seed for seq 1): a row moved, inserted or removed breaks every link after it;
- ``mac`` over ``mac_start`` and what the step produced (status, output or blob digest,
  error, tokens, cost): an edited result (a failed check turned into exit 0) breaks it.

A cache entry has its own ``mac``. Replay checks each recorded row of a session before
using any; ``harness journal verify`` checks all of them. What is not covered, because
nothing trusted is read from it: attempt counts and timings, and the runs and sessions
rows (which session runs next; every step it replays is checked).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from harness.errors import JournalForged

if TYPE_CHECKING:
    from harness.journal.records import CacheKey, Recorded, Result


class Chain:
    """MACs for one journal (its id and key).

    HMAC-SHA256 (RFC 2104) with the key's inner and outer pads hashed once, which halves
    the cost of each MAC; a message is the previous link's bytes and the ``repr`` of a
    tuple of str/int/float/None fields (unambiguous: ``repr`` quotes and escapes).
    """

    __slots__ = ("_inner", "_outer", "journal_id", "key")

    def __init__(self, journal_id: str, key: bytes) -> None:
        self.journal_id = journal_id
        self.key = key
        block = key.ljust(64, b"\0") if len(key) <= 64 else hashlib.sha256(key).digest()
        block = block.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def _sign(self, message: bytes) -> bytes:
        """HMAC-SHA256 of ``message`` (a link's bytes, then the fields' ``repr``)."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def _mac(self, link: bytes, *fields: Any) -> bytes:
        return self._sign(link + repr(fields).encode())

    def seed(self, run_id: str, session: int) -> bytes:
        """The link before a session's first step."""
        return self._mac(b"", "session", self.journal_id, run_id, session)

    def start(
        self,
        prev: bytes,
        run_id: str,
        session: int,
        seq: int,
        kind: str,
        name: str,
        input_digest: str,
        idempotent: int,
    ) -> bytes:
        # A step's two MACs are on the per-step path: ``_mac``'s message, the ``repr`` of
        # the fields' tuple, written out here (the same text, without a tuple to walk).
        text = (f"('start', {run_id!r}, {session!r}, {seq!r}, {kind!r}, {name!r}, "
                f"{input_digest!r}, {idempotent!r})")  # fmt: skip
        return self._sign(prev + text.encode())

    def end(
        self,
        start: bytes,
        status: str,
        output: str | None,
        output_blob: str | None,
        error: str | None,
        tokens: int | None,
        cost_usd: float | None,
        cached: int,
    ) -> bytes:
        return self._mac(start, "end", status, output, output_blob, error, tokens, cost_usd, cached)

    def cache(
        self,
        kind: str,
        name: str,
        input_digest: str,
        version: str,
        output: str | None,
        output_blob: str | None,
    ) -> bytes:
        return self._mac(
            b"", "cache", self.journal_id, kind, name, input_digest, version, output, output_blob
        )

    def result(self, start: bytes, result: Result) -> bytes:
        """The end MAC of a step whose ``mac_start`` is ``start``."""
        status, output, blob, error, tokens, cost, cached = result
        # ``_mac(start, "end", status, ..., int(cached))``'s message, written out (``start``)
        text = (f"('end', {status!r}, {output!r}, {blob!r}, {error!r}, {tokens!r}, {cost!r}, "
                f"{int(cached)!r})")  # fmt: skip
        return self._sign(start + text.encode())

    def entry(self, key: CacheKey, output: str | None, output_blob: str | None) -> bytes:
        """The MAC of a cache entry."""
        return self.cache(key.kind, key.name, key.input_digest, key.version, output, output_blob)


def forged(run_id: str, session: int, seq: int, what: str, where: str) -> JournalForged:
    step = f"{run_id}/{session}/{seq}"
    return JournalForged(
        f"journal {where}: step {step} (run {run_id}, session {session}, seq {seq}) {what}: "
        "it was written or reordered outside harness, so it is not replayed and nothing "
        "was changed. Run `harness journal verify` for every such row; restore the journal "
        "from a backup or a saved state, or move it aside to start a new one (its passing "
        "features are then verified again)",
        step=step,
        what=what,
    )


def check(chain: Chain, prev: bytes, run_id: str, session: int, row: Recorded, where: str) -> bytes:
    """Check one live row against the link before it; returns its ``mac_start``.

    Raises JournalForged naming the step when a MAC does not match.
    """
    expected = chain.start(prev, run_id, session, row.seq, row.kind, row.name,
                           row.input_digest, int(row.idempotent))  # fmt: skip
    if row.mac_start is None or not hmac.compare_digest(row.mac_start, expected):
        raise forged(run_id, session, row.seq, "does not follow its chain (moved, inserted or "
                     "edited identity)", where)  # fmt: skip
    status = row.result.status
    if status == "started":
        return expected
    if row.mac is None or not hmac.compare_digest(row.mac, chain.result(expected, row.result)):
        article = "an" if status[:1] in "aeiou" else "a"
        raise forged(run_id, session, row.seq, f"has {article} {status} result its MAC does "
                     "not match (edited output, error or status)", where)  # fmt: skip
    return expected
