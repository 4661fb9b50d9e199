"""The in-memory backend: the fake that loop, pipeline and session unit tests use.

A :class:`MemoryDatabase` holds a journal's tables in this process; stores and readers
opened on it see the same rows, with the SQL backends' semantics (the conformance suite
runs on all three): a batch writes all or nothing, a run lock is held until its store is
closed or dropped (as a killed process's is released). The chain's key is in the key file,
as for every backend.
"""

from harness.journal.memory.reader import MemoryReader
from harness.journal.memory.store import MemoryStore
from harness.journal.memory.tables import MemoryDatabase

__all__ = ["MemoryDatabase", "MemoryReader", "MemoryStore"]
