"""A moto server in this process for benchmarks: KMS (and friends) over real HTTP on 127.0.0.1.

Benchmarks and the test fixture ``moto_server`` use ``moto_server()``; boto3 then reaches it
through ``AWS_ENDPOINT_URL`` exactly as it reaches AWS, so nothing is patched. The environment is
restored on exit.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
)


@contextlib.contextmanager
def moto_server(region: str = "us-east-1") -> Iterator[str]:
    """Start ``ThreadedMotoServer`` on 127.0.0.1 (a free port) and point boto3 at it."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in _ENV}
    os.environ.update(
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION=region,
        AWS_REGION=region,
    )
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield url
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
