"""Gunzip with a hard cap, and the payload document."""

from __future__ import annotations

import gzip
import json
import os
import zlib

import pytest

from engine.das.errors import NotGzip, TooLarge
from engine.das.payload import MAX_JSON_CONTAINERS, inflate, parse_payload


def test_inflate_single_and_multi_member_like_gzip_decompress() -> None:
    a, b = gzip.compress(b"hello "), gzip.compress(b"world")
    assert inflate(a, 100) == b"hello "
    assert inflate(a + b, 100) == gzip.decompress(a + b) == b"hello world"
    assert inflate(a + b"\x00" * 7 + b + b"\x00\x00", 100) == b"hello world"


def test_inflate_cap_is_exact() -> None:
    data = gzip.compress(b"x" * 1000)
    assert inflate(data, 1000) == b"x" * 1000
    with pytest.raises(TooLarge):
        inflate(data, 999)


def test_inflate_bomb_stops_early() -> None:
    bomb = gzip.compress(b"\x00" * (64 * 1024 * 1024), compresslevel=9)  # ~64 KiB in
    assert len(bomb) < 100_000
    with pytest.raises(TooLarge):
        inflate(bomb, 1024 * 1024)
    with pytest.raises(TooLarge):  # the cap counts every member together
        inflate(gzip.compress(b"a" * 600) * 2, 1000)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"plain text",
        zlib.compress(b"zlib, not gzip"),
        gzip.compress(b"truncated payload " * 10)[:-5],
        gzip.compress(b"truncated")[:12],
        gzip.compress(b"ok") + b"trailing garbage",
        gzip.compress(b"bad crc")[:-8] + b"\x00\x00\x00\x00" + gzip.compress(b"bad crc")[-4:],
        os.urandom(64),
    ],
)
def test_inflate_rejects_non_gzip(data: bytes) -> None:
    with pytest.raises(NotGzip):
        inflate(data, 1 << 20)


_HEAD = b'{"type":"DatabaseActivityMonitoringRecord","databaseActivityEventList":['


def _payload(items: bytes, n: int) -> bytes:
    return _HEAD + b",".join([items] * n) + b"]}"


@pytest.mark.parametrize("item", [b"{}", b"[]", b'{"a":[{}]}'])
def test_a_payload_of_tiny_containers_is_too_large_before_it_is_parsed(item: bytes) -> None:
    """32 MiB of ``{},`` is 11 million dicts (about 800 MiB and seconds to build) before the
    events-per-record cap could see them: the decoder counts the containers first."""
    with pytest.raises(TooLarge, match="containers"):
        parse_payload(_payload(item, MAX_JSON_CONTAINERS))


def test_the_container_cap_is_exact_and_braces_in_strings_do_not_count() -> None:
    at_cap = _payload(b"{}", MAX_JSON_CONTAINERS - 2)  # + the document and its list
    assert len(parse_payload(at_cap).events) == MAX_JSON_CONTAINERS - 2
    with pytest.raises(TooLarge):
        parse_payload(_payload(b"{}", MAX_JSON_CONTAINERS - 1))
    sql = json.dumps({"commandText": "{[" * (MAX_JSON_CONTAINERS) + '\\"{'}).encode()
    (event,) = parse_payload(_payload(sql, 1)).events
    assert event["commandText"].startswith("{[{[")
