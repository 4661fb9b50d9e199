"""DockerRunner with a real engine: an exec's output is read to its end, every byte.

ci31: under load, `echo again` came back as exit 0 with empty stdout. The engine had
written the output before this process read the engine's response head; http.client
read the head through a buffer that took the output frames with it, and docker-py then
read the bare socket under that buffer (runners/docker_stream.py). Here the head is read
late on purpose: only once the engine has sent the head and a whole frame after it.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from runners import docker_oom
from runners.docker_runner import DockerRunner

_END_OF_HEAD = b"\r\n\r\n"


def _ready(peeked: bytes, until: bytes) -> bool:
    """The whole head has come and, for an exec's stream, ``until`` in the frames after it."""
    head, found, body = peeked.partition(_END_OF_HEAD)
    return bool(found) and (b"raw-stream" not in head or until in body)


@pytest.fixture
def late_head(monkeypatch: pytest.MonkeyPatch) -> Callable[[bytes], None]:
    """Once called with ``until``: every response head is read only once the engine has
    sent it and, for an exec's stream, output holding ``until`` after it: the order a
    loaded machine can give. (Each exec under it must print ``until``: EOF does not show
    in a peek while the head is unread, so a silent one would wait out the bound.)"""
    original = http.client.HTTPResponse.begin

    until = b""

    def begin(self: http.client.HTTPResponse) -> None:
        raw: Any = self.fp.raw
        sock: socket.socket = raw._sock
        deadline = time.monotonic() + 60  # the engine answers; the bound is for a hang
        while time.monotonic() < deadline:
            peeked = sock.recv(1 << 16, socket.MSG_PEEK)
            if not peeked or _ready(peeked, until):
                break
            time.sleep(0.005)
        original(self)

    def arm(output: bytes) -> None:
        nonlocal until
        until = output
        monkeypatch.setattr(http.client.HTTPResponse, "begin", begin)

    return arm


def test_output_sent_before_the_head_was_read_is_kept(
    session_runner: DockerRunner, late_head: Callable[[bytes], None]
) -> None:
    late_head(b"said")
    result = session_runner.run("echo again; echo said >&2")
    assert result.exit_code == 0 and result.failure is None, result
    assert (result.stdout, result.stderr) == ("again\n", "said\n"), result
    late_head(b"fresh")
    fresh = session_runner.run("echo fresh", fresh=True)
    assert fresh.stdout == "fresh\n" and fresh.failure is None, fresh


def test_the_oom_count_read_inside_is_not_lost_either(
    session_runner: DockerRunner, late_head: Callable[[bytes], None]
) -> None:
    """Without the host's view the OOM count is read by an exec inside the container."""
    assert session_runner.run("true").exit_code == 0
    container = session_runner.session_container
    assert container is not None
    late_head(b"oom_kill ")  # one of the two files is missing: an error frame too
    count = docker_oom.OomCount(session_runner.api, container, "65534:65534", None)
    assert count.killed() is False  # read (0, nothing new), not None (no count)


@pytest.mark.slow  # 5 s waiting
def test_a_command_silent_longer_than_the_clients_timeout_is_read_to_its_end(
    session_runner: DockerRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client's timeout bounds the engine's answers, not an exec's silence: a command
    quiet for longer (a build, a sleep) was cut off by the stream's read (ci35: `sleep 500`
    ended at the client's 30 s instead of the run's wall budget)."""
    assert session_runner.run("true").exit_code == 0  # the container, before the short timeout
    # The client is the test session's (tests/docker_engine.py): its timeout is put back
    # after, or the worker's next Docker tests get 2 s answers (ci5: "cannot be reached").
    monkeypatch.setattr(session_runner.api, "timeout", 2)
    result = session_runner.run("sleep 4; echo woke")
    assert (result.exit_code, result.stdout, result.failure) == (0, "woke\n", None), result
