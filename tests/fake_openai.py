"""A scriptable OpenAI-compatible chat-completions server on 127.0.0.1, for tests.

Replies deterministically from the request: the answer names the image's size in bytes
and echoes the question, so tests can check what was sent. A question containing
"FAIL" always gets HTTP 500; "FLAKY" gets one 429 (with Retry-After: 0) then succeeds. ``delay``, ``fail_markers`` and
``reply`` script latency, outages and judge replies.
Every request body and header set is kept in ``requests`` for inspection.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    # the default listen backlog (5) overflows under 16-64 concurrent judge calls on a busy
    # machine, and a client with --judge-max-retries 0 then sees a spurious connection error
    request_queue_size = 128


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._flaky_seen: set[str] = set()
        self.delay = 0.0  # seconds before every reply
        self.fail_markers: set[str] = set()  # any of these in the text -> HTTP 503
        self.reply: Any = None  # text -> reply text, for judge tests
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(
                self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": "fake-vlm", "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append(body)
                owner.headers.append(dict(self.headers))
                content = body["messages"][-1]["content"]
                if isinstance(content, str):  # judge calls: plain text messages
                    content = [
                        {"type": "text", "text": "\n".join(m["content"] for m in body["messages"])}
                    ]
                question = next(c["text"] for c in content if c["type"] == "text")
                images = [c["image_url"]["url"] for c in content if c["type"] == "image_url"]
                if owner.delay:
                    time.sleep(owner.delay)
                if any(marker in question for marker in owner.fail_markers):
                    self._send(
                        503, {"error": {"message": "scripted outage", "type": "server_error"}}
                    )
                    return
                if owner.reply is not None:
                    text = owner.reply(question)
                    self._send(
                        200,
                        {
                            "id": "x",
                            "object": "chat.completion",
                            "created": 0,
                            "model": body["model"] + "-2026",
                            "choices": [
                                {
                                    "index": 0,
                                    "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": text},
                                }
                            ],
                            "usage": {
                                "prompt_tokens": len(question) // 4,
                                "completion_tokens": 7,
                                "total_tokens": len(question) // 4 + 7,
                            },
                        },
                    )
                    return
                if "FAIL" in question:
                    self._send(
                        500, {"error": {"message": "scripted failure", "type": "server_error"}}
                    )
                    return
                if "FLAKY" in question and question not in owner._flaky_seen:
                    owner._flaky_seen.add(question)
                    self._send(
                        429,
                        {"error": {"message": "slow down", "type": "rate_limit"}},
                        {"Retry-After": "0"},
                    )
                    return
                size = len(base64.b64decode(images[0].split(",", 1)[1])) if images else 0
                text = f"A dog next to a stop sign ({size} bytes). {question}"
                self._send(
                    200,
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"] + "-2026",
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": text},
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                    },
                )

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
