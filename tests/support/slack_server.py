"""A local HTTP server that answers like Slack, for tests of the Slack output.

It records every request and answers from a queue of scripted responses (default: 200 ``ok`` for
incoming webhooks, ``{"ok": true}`` for Web API methods), so a test can make Slack rate-limit
(429 + ``Retry-After``), fail (500) or revoke the webhook (410 ``no_service``) as Slack does.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class SlackRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class SlackResponse:
    status: int = 200
    body: str | bytes | dict = "ok"
    headers: dict[str, str] = field(default_factory=dict)


class SlackServer:
    webhook_path = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"

    def __init__(self) -> None:
        self.requests: list[SlackRequest] = []
        self._script: deque[SlackResponse] = deque()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                req = SlackRequest(
                    "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                resp = server._next(req)
                payload = resp.body
                if isinstance(payload, dict):
                    payload = json.dumps(payload)
                data = payload.encode() if isinstance(payload, str) else payload
                self.send_response(resp.status)
                ctype = "application/json" if self.path.startswith("/api/") else "text/plain"
                self.send_header("Content-Type", resp.headers.get("Content-Type", ctype))
                for k, v in resp.headers.items():
                    if k != "Content-Type":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    # -- scripting ---------------------------------------------------------------------
    def _next(self, req: SlackRequest) -> SlackResponse:
        with self._lock:
            self.requests.append(req)
            if self._script:
                return self._script.popleft()
        if req.path.startswith("/api/"):
            return SlackResponse(
                200, {"ok": True, "channel": "C0000000", "ts": "1700000000.000100"}
            )
        return SlackResponse(200, "ok")

    def script(self, *responses: SlackResponse) -> None:
        """Answer the next requests with these responses, in order, then the defaults."""
        with self._lock:
            self._script.extend(responses)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script.clear()

    # -- addresses ---------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def webhook_url(self) -> str:
        return self.base_url + self.webhook_path

    @property
    def api_url(self) -> str:
        """``base_url`` for slack_sdk.WebClient (it appends the method name)."""
        return self.base_url + "/api/"

    def start(self) -> SlackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
