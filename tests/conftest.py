"""Fixtures that start real local servers: moto (AWS) and a Slack look-alike.

boto3 reaches moto through ``AWS_ENDPOINT_URL`` exactly as it would reach AWS; nothing is patched.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest

from tests.support.slack_server import SlackServer

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One moto server for the whole session; its URL becomes ``AWS_ENDPOINT_URL``.

    The same context manager the benchmarks use: fake credentials, the region, and the
    environment restored afterwards.
    """
    from bench._moto import moto_server as start

    with start(REGION) as url:
        yield url


@pytest.fixture
def aws(moto_server: str) -> Iterator[str]:
    """A clean AWS account on the shared moto server for one test."""
    req = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    urllib.request.urlopen(req).close()
    yield moto_server


@pytest.fixture(scope="session")
def _slack_server() -> Iterator[SlackServer]:
    server = SlackServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def slack(_slack_server: SlackServer) -> Iterator[SlackServer]:
    """The local Slack server, with its request log and script cleared for this test."""
    _slack_server.reset()
    yield _slack_server
