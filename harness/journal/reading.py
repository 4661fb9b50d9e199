"""What every backend's reader shares: the members of the read API made of the others."""

from __future__ import annotations

import json
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from harness.errors import JournalDamaged, JournalError
from harness.journal import keys
from harness.journal.chain import Chain
from harness.journal.evidence import cited_step

if TYPE_CHECKING:
    from harness.journal.evidence import CitedStep
    from harness.journal.keys import KeySource
    from harness.journal.records import Recorded
    from harness.journal.rows import RunRow


class ReaderBase:
    """A backend's reader: ``runs``, ``load_session`` and ``get_blob`` come from the backend;
    ``latest_run``, ``cited_step``, ``load``, the chain and the context manager from here."""

    journal_id: str | None
    where: str
    _chain: Chain | None = None
    key_source: KeySource | None = None
    """Where the chain's key comes from (None: the key files)."""

    def runs(self) -> list[RunRow]:
        raise NotImplementedError

    def load_session(self, run_id: str, session: int) -> list[Recorded]:
        raise NotImplementedError

    def get_blob(self, digest: str) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def latest_run(self) -> str | None:
        """The id of the newest run (None if there is none)."""
        found = self.runs()
        return found[-1].id if found else None

    def chain(self) -> Chain:
        """The journal's HMAC chain, its key read from its source on first use."""
        if self._chain is None:
            if self.journal_id is None:
                raise JournalError(
                    f"journal {self.where} predates the HMAC chain (schema version 1); the "
                    "next `harness run` signs it"
                )
            source = self.key_source or keys.KEY_FILES
            self._chain = Chain(self.journal_id, source.load(self.journal_id, self.where))
        return self._chain

    def cited_step(self, ref: str) -> CitedStep | str:
        """The step an evidence reference cites, chain-checked; else why it does not hold."""

        return cited_step(self, ref)

    def load(self, text: str | None, blob: str | None) -> Any:
        """The JSON value stored inline or in a blob (None if neither), its large strings
        read back from the blob store (``codec.join_large``)."""
        if blob is not None:
            text = self.get_blob(blob).decode()
        if text is None:
            return None
        try:
            value = json.loads(text)
        except ValueError as error:
            raise JournalDamaged(f"journal {self.where}: a stored value is not JSON") from error
        # codec imports pydantic_core, which `harness log` and `status` need not load
        from harness.journal.codec import join_large  # noqa: PLC0415

        return join_large(text, value, self.get_blob)
