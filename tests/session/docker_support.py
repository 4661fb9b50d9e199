"""Tiny projects whose harness.toml says `[runner] kind = "docker"`, for session-level
proofs against a real engine: one feature, its check a busybox shell command, and a
scripted model (an initializer scene that writes the feature list, no init.sh, and one
scene for the feature's session).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from tests.session.support import SCRIPT, call, turn

# A shell variable of 100 MB: the shell's own memory grows past a 64 MB limit
# (the same allocation the runner's own OOM tests use).
ALLOCATE_100MB = 'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo "allocated ${#x}"'
# These projects' checks test the runner, not a feature: they pass before any session (with
# enough memory, or on a file the host made), so no "before" proof can fail for them.
NO_BEFORE = "[verify]\nbefore = false\n"


def finish(feature: str = "F001") -> list[dict[str, Any]]:
    """The honest end of a session: verify, mark, note, a last word."""
    return [
        turn(call("verify_feature", feature=feature)),
        turn(call("mark_passing", feature=feature)),
        turn(call("note", text=f"{feature} done")),
        {"text": f"{feature} is done."},
    ]


def docker_project(
    root: Path,
    image: str,
    *,
    check: str,
    turns: list[dict[str, Any]],
    runner: str = "",
    files: dict[str, str] | None = None,
    extra: str = "",
) -> Path:
    """SPEC.md, script.json and harness.toml (docker runner on `image`) in a new `root`.

    The folder is world-writable: the container keeps its default non-root user (1000).
    `runner` adds lines to the [runner] table, `extra` tables after it.
    """
    root.mkdir(parents=True)
    root.chmod(0o777)  # the container runs as uid 1000; see runners/README.md
    feature = {
        "category": "functional",
        "description": "the check passes in the container",
        "steps": ["run the check"],
        "check": check,
    }
    scenes = [
        {
            "name": "init",
            "match": "ROLE: initializer",
            "turns": [
                turn(call("write_feature_list", features=[feature])),
                {"text": "Plan: one feature, one session."},
            ],
        },
        {"name": "F001", "match": r"Session \d+: Feature F001\b", "turns": turns},
    ]
    (root / SCRIPT).write_text(json.dumps({"scenes": scenes}, indent=1) + "\n")
    (root / "SPEC.md").write_text("# Tiny\n\nOne feature whose check runs in a container.\n")
    (root / "harness.toml").write_text(
        f'[model]\nname = "scripted/{SCRIPT}"\n\n'
        f'[runner]\nkind = "docker"\nimage = "{image}"\n{runner}\n{extra}'
    )
    for name, text in (files or {}).items():
        (root / name).write_text(text)
    return root


def leftovers(client: Any, root: Path) -> list[str]:
    """Names of the containers (any state) labelled with this project."""
    found = client.containers.list(all=True, filters={"label": f"harness.project={root.resolve()}"})
    return [container.name for container in found]


class Preemptor(threading.Thread):
    """Kills the project's session container once, while `marker` runs inside it."""

    def __init__(self, client: Any, root: Path, marker: str, *, deadline_s: float = 60.0):
        super().__init__(daemon=True)
        self.client = client
        self.filters = {"label": [f"harness.project={root.resolve()}", "harness.role=session"]}
        self.marker = marker
        self.deadline = time.monotonic() + deadline_s
        self.killed: str | None = None
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set() and time.monotonic() < self.deadline:
            for info in self.client.api.containers(filters=self.filters):
                if self._running_marker(info["Id"]):
                    self.client.api.kill(info["Id"])
                    self.killed = info["Id"]
                    return
            time.sleep(0.05)

    def _running_marker(self, container_id: str) -> bool:
        try:
            processes = self.client.api.top(container_id)["Processes"] or []
        except Exception:  # not running (yet, or any more)
            return False
        return any(self.marker in " ".join(row) for row in processes)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)
