"""Gunzip with a hard cap, and the payload document."""

from __future__ import annotations

import gzip
import os
import zlib

import pytest

from engine.das.errors import NotGzip, TooLarge
from engine.das.payload import inflate


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
