"""The SQLite backend (the embedded default): ``<project>/.harness/journal.db`` in WAL mode,
blob files under ``.harness/blobs/``, run lock files under ``.harness/locks/``."""
