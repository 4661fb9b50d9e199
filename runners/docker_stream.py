"""An exec's output as the engine sent it, every byte, read to the end of the stream.

The engine answers an attached ``exec start`` with a response head and then the
command's output as frames (8 bytes: the stream, 0 0 0, the length; then the bytes).
docker-py reads the head through http.client's buffered file and then reads the frames
from the bare socket under it. When the engine wrote output before the head was read (a
command that prints and exits at once while this process waits for a CPU), the buffer
already holds those frames and the bare socket never yields them: the exec reads as
exit 0 with empty output (docker/docker-py#3332; ci31's ``echo again`` under load).
Here the frames are read through that same buffered file, so what it holds comes first.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docker import APIClient

STDOUT, STDERR = 1, 2
_HEAD = struct.Struct(">BxxxL")
# As docker-py's exec_start: the engine hijacks the connection for the stream.
_UPGRADE = {"Connection": "Upgrade", "Upgrade": "tcp"}


def frames(api: APIClient, exec_id: str) -> Iterator[tuple[int, bytes]]:
    """Start the created exec attached; yield (stream, bytes) until the engine ends the
    stream. APIError as docker-py's exec_start raises it (the container is gone or
    stopped); OSError when the connection breaks."""
    client: Any = api  # docker-py's own request helpers: its exec_start, minus the socket
    response = client._post_json(
        client._url("/exec/{0}/start", exec_id),
        headers=_UPGRADE,
        data={"Tty": False, "Detach": False},
        stream=True,
    )
    try:
        # The client's timeout bounds the engine's answers, not a command's silence: off
        # for the stream, as docker-py's exec_start does (the caller bounds the command).
        # Its socket helper raises for the status first, as there.
        client._disable_socket_timeout(client._get_raw_response_socket(response))
        stream = response.raw._fp.fp  # the buffered file http.client read the head with
        while True:
            head = stream.read(_HEAD.size)
            if len(head) < _HEAD.size:
                return  # the end of the stream
            kind, size = _HEAD.unpack(head)
            data = stream.read(size) if size else b""
            if data:
                yield kind, data
            if len(data) < size:
                return  # the stream ended inside a frame
    finally:
        response.close()


def output(api: APIClient, exec_id: str) -> bytes:
    """Start the created exec attached and return its stdout and stderr as they came."""
    return b"".join(data for _, data in frames(api, exec_id))
