"""The agent edits init.sh with its file tools; the next wake runs it with the setup
network. An agent denied the network must not get it that way: the change is held for a
human, or the wake runs the agent-edited init.sh without network.

The probe is the list of network interfaces the wake saw (/proc/net/dev): a sandbox
without network has only `lo`. Not on the local runner: it has no network isolation at
all (every command has the host's network), which its warning says.
"""

from __future__ import annotations

import http.server
import ipaddress
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from tests.attacks.support import project, run, runner_for, runner_params, set_init_sh
from tests.session.support import call, init, make_project, tool_outputs, turn

PROBE = "#!/bin/sh\ncat /proc/net/dev > wake-net.txt\necho 'environment ok'\n"


def _interfaces(text: str) -> set[str]:
    """Interface names of /proc/net/dev lines ("  eth0: 123 4 ..."), other lines ignored."""
    found = set()
    for line in text.splitlines():
        name, colon, counters = line.partition(":")
        numbers = counters.split()
        if colon and name.strip().isidentifier() and numbers and all(n.isdigit() for n in numbers):
            found.add(name.strip())
    return found


@pytest.mark.parametrize("kind", runner_params("docker", "bwrap"))
def test_an_agent_edited_init_sh_gets_no_network_at_the_next_wake(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    turns = [
        turn(call("run", command="cat /proc/net/dev")),  # the agent's own commands: no net
        turn(call("write_file", path="init.sh", content=PROBE)),
        {"text": "Improved the environment setup."},
    ]
    root = project(
        tmp_path / "p", runner, sessions={1: turns}, toml="[budgets]\nrun_sessions = 2\n"
    )
    run(root, tmp_path)
    own = _interfaces(tool_outputs(root, "run")[0])
    assert own == {"lo"}, f"the agent's commands have a network: {own}"
    probe = root / "wake-net.txt"
    if probe.exists():  # the edited init.sh ran at a wake
        seen = _interfaces(probe.read_text())
        assert seen == {"lo"}, f"the agent-edited init.sh ran with a network: {seen}"


@pytest.mark.parametrize("kind", runner_params("docker", "bwrap"))
def test_init_sh_rewritten_by_a_command_gets_no_network_at_the_next_wake(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The same edit made by a shell command instead of the file tools (init.sh is not a
    protected path: the agent may fix it, so the defence cannot be a read-only mount)."""
    runner = runner_for(kind, request)
    rewrite = "printf '#!/bin/sh\\ncat /proc/net/dev > wake-net.txt\\n' > init.sh; echo ok"
    turns = [turn(call("run", command=rewrite)), {"text": "Improved the environment setup."}]
    root = project(
        tmp_path / "p", runner, sessions={1: turns}, toml="[budgets]\nrun_sessions = 2\n"
    )
    run(root, tmp_path)
    probe = root / "wake-net.txt"
    if probe.exists():
        seen = _interfaces(probe.read_text())
        assert seen == {"lo"}, f"the agent-edited init.sh ran with a network: {seen}"


class _Hits(http.server.BaseHTTPRequestHandler):
    """A service on the host: it counts the requests that reach it."""

    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Hits.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"reached\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def host_service() -> Iterator[tuple[int, list[str]]]:
    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), _Hits)
    _Hits.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Hits.hits
    server.shutdown()
    server.server_close()


TRUSTED_INIT = (
    "#!/bin/sh\nset -e\nsh scripts/setup.sh\n"
    "mkdir -p env && echo built > env/marker\necho stray > stray.txt\necho 'environment ok'\n"
)


def _reach(kind: str, port: int, request: pytest.FixtureRequest) -> str:
    """A command that fetches /hit from the host's service, as this runner's network sees it."""
    if kind == "docker":
        bridge = request.getfixturevalue("docker_client").networks.get("bridge")
        config = bridge.attrs["IPAM"]["Config"][0]
        host = config.get("Gateway") or str(ipaddress.ip_network(config["Subnet"])[1])
        return f"wget -q -O- http://{host}:{port}/hit"
    fetch = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/hit')"
    return f'python3 -c "{fetch}"'


@pytest.mark.parametrize("kind", runner_params("docker", "bwrap"))
def test_a_trusted_init_sh_runs_no_file_the_agent_changed_with_the_network(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    host_service: tuple[int, list[str]],
) -> None:
    """init.sh is the initializer's (trusted), but it runs scripts/setup.sh, which the agent
    rewrites to reach a service on the host: the next wake's setup runs the committed
    setup.sh in a clean checkout; what init.sh builds that git ignores (env/) is moved in,
    the rest (stray.txt) is dropped."""
    port, hits = host_service
    runner = runner_for(kind, request)
    evil = f"#!/bin/sh\n{_reach(kind, port, request)}\necho setup-ok\n"
    turns = [turn(call("write_file", path="scripts/setup.sh", content=evil)), {"text": "Tuned."}]
    files = {"scripts/setup.sh": "#!/bin/sh\necho setup-ok\n", ".gitignore": "env/\n"}
    root = make_project(
        tmp_path / "p", count=1, sessions={1: turns}, files=files,
        toml="[budgets]\nrun_sessions = 2\n",
    )  # fmt: skip
    set_init_sh(root, runner, TRUSTED_INIT)
    init(root)
    run(root, tmp_path)
    assert (root / "scripts" / "setup.sh").read_text() == evil  # the agent did rewrite it
    assert hits == [], "a file the agent changed ran with the setup network at wake"
    assert (root / "env" / "marker").read_text() == "built\n"  # the environment was brought up
    assert not (root / "stray.txt").exists()  # not ignored by git: not the environment
