"""The fleet: many runs per worker process, workers on DBOS, runs that survive a lost
machine (`harness fleet ...`). See README.md in this folder."""

__all__ = ["app", "db", "drive", "place", "project", "worker"]
