"""An OpenAI-compatible chat server on localhost, with fault injection, for the gateway tests.

`FakeOpenAI()` starts a real HTTP server (``http.server`` in a thread) on 127.0.0.1 at a
free port; point ``openai/<name>`` at it with ``api_base=fake.url``. Each request to
``/v1/chat/completions`` (or ``/chat/completions``) takes the next fault from
``fake.faults`` (a list the test fills); with none left it answers `fake.reply`.
Every request is kept in ``fake.requests`` with its arrival time (``time.monotonic``).
With ``fake.models`` set, the server has only those models (GET /models lists them; a
chat request for another is a 404), as a real server does.

Faults: ``Status(code, body, headers)`` (429 with Retry-After, 5xx, 400, 401, quota...),
``Pass()`` (no fault this time), ``Hang(seconds)`` (answer nothing for that long, then
close), ``Drop()`` (close the connection without a response), ``Raw(body)`` (a 200
whose body is the given bytes, e.g. invalid JSON or ``{"choices": []}``).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Status:
    code: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Pass:
    """No fault: answer this request normally."""


@dataclass
class Hang:
    seconds: float


@dataclass
class Drop:
    pass


@dataclass
class Raw:
    body: bytes
    code: int = 200


Fault = Pass | Status | Hang | Drop | Raw


def error_body(message: str, kind: str = "server_error", code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code}}


def rate_limited(retry_after: str | None = None, retry_after_ms: str | None = None) -> Status:
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    if retry_after_ms is not None:
        headers["retry-after-ms"] = retry_after_ms
    return Status(429, error_body("Rate limit reached for requests", "requests"), headers)


QUOTA = Status(
    429,
    error_body(
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        "insufficient_quota",
    ),
)
UNAUTHORIZED = Status(
    401, error_body("Incorrect API key provided", "invalid_request_error", "invalid_api_key")
)
CONTEXT_LENGTH = Status(
    400,
    error_body(
        "This model's maximum context length is 8192 tokens. However, your messages "
        "resulted in 9000 tokens. Please reduce the length of the messages.",
        "invalid_request_error",
        "context_length_exceeded",
    ),
)


def completion(
    text: str | None = "ok",
    tool_calls: list[dict[str, Any]] | None = None,
    *,
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
) -> dict[str, Any]:
    """A chat.completion body; `tool_calls` as ``[{"name": ..., "arguments": "{}"}]``."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": call.get("name"), "arguments": call.get("arguments", "{}")},
            }
            for i, call in enumerate(tool_calls)
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "fake-model",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


@dataclass
class Request:
    path: str
    body: dict[str, Any]
    at: float
    headers: dict[str, str]


class FakeOpenAI:
    """The server; use as a context manager (or call `close`)."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.reply: dict[str, Any] | Any = completion()
        self.models: list[str] | None = None
        """The models the server has: GET /models lists them and a chat request for another
        gets a 404 ``model_not_found``, as vLLM and OpenAI answer (None: any model)."""
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._connections: list[Any] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with fake._lock:
                    fake._connections.append(self.connection)

            def do_GET(self) -> None:
                with fake._lock:
                    fake.requests.append(
                        Request(self.path, {}, time.monotonic(), dict(self.headers.items()))
                    )
                if not self.path.rstrip("/").endswith("/models"):
                    self._send(404, error_body(f"no route {self.path}", "not_found"), {})
                    return
                names = fake.models if fake.models is not None else ["fake-model"]
                self._send(200, {"object": "list", "data": [{"id": n} for n in names]}, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_raw": raw.decode(errors="replace")}
                with fake._lock:
                    fake.requests.append(
                        Request(self.path, body, time.monotonic(), dict(self.headers.items()))
                    )
                    fault = fake.faults.pop(0) if fake.faults else None
                    reply = fake.reply(body) if callable(fake.reply) else fake.reply
                    known = fake.models
                if fault is None and known is not None and body.get("model") not in known:
                    missing = f"The model `{body.get('model')}` does not exist."
                    fault = Status(
                        404, error_body(missing, "invalid_request_error", "model_not_found")
                    )
                if fault is None or isinstance(fault, Pass):
                    self._send(200, reply, {})
                elif isinstance(fault, Status):
                    self._send(fault.code, fault.body, fault.headers)
                elif isinstance(fault, Raw):
                    self._send_bytes(fault.code, fault.body, {})
                elif isinstance(fault, Hang):
                    fake._closing.wait(fault.seconds)
                    self.close_connection = True
                else:  # Drop
                    self.close_connection = True
                    self.connection.close()

            def _send(self, code: int, body: Any, headers: dict[str, str]) -> None:
                self._send_bytes(code, json.dumps(body).encode(), headers)

            def _send_bytes(self, code: int, data: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def chat_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def close(self) -> None:
        """Stop listening and drop the kept-alive connections: the port refuses from now."""
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                    connection.close()

    def __enter__(self) -> FakeOpenAI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
