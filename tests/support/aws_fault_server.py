"""A local HTTP server that answers every AWS request with one scripted error.

moto answers like a healthy AWS; throttling and server errors it cannot produce. A boto3 client
pointed here (``endpoint_url``) gets exactly what AWS sends when it throttles or fails: the HTTP
status and the error document in the service's protocol (JSON for DynamoDB and Security Hub,
``x-amzn-ErrorType`` for REST-JSON, XML for the query protocol of SNS), parsed by botocore as in
production. Nothing in boto3 is patched.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Fault:
    status: int
    code: str
    message: str = "scripted failure"

    def render(self, protocol: str) -> tuple[dict[str, str], bytes]:
        if protocol == "query":  # SNS, SQS (XML)
            body = (
                "<ErrorResponse><Error><Type>Sender</Type>"
                f"<Code>{self.code}</Code><Message>{self.message}</Message></Error>"
                "<RequestId>fault</RequestId></ErrorResponse>"
            )
            return {"Content-Type": "text/xml"}, body.encode()
        doc = {"__type": self.code, "message": self.message}
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": self.code}
        return headers, json.dumps(doc).encode()


class AwsFaultServer:
    """``with AwsFaultServer(Fault(503, "ServiceUnavailable"), "json") as url: …``"""

    def __init__(self, fault: Fault, protocol: str = "json") -> None:
        self.fault = fault
        self.protocol = protocol
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests += 1
                headers, body = server.fault.render(server.protocol)
                self.send_response(server.fault.status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}"

    def __enter__(self) -> str:
        self._thread.start()
        return self.url

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def closed_port() -> str:
    """A loopback URL nothing listens on (bound, then released): connection refused."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
