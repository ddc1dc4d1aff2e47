"""The outer Kinesis record: strict where it must be, tolerant of what AWS may add."""

from __future__ import annotations

import base64
import json

import pytest

from engine.das.envelope import parse_envelope
from engine.das.errors import BadBase64, BadEnvelope, UnsupportedType

CT = base64.b64encode(b"ciphertext").decode()
KEY = base64.b64encode(b"keyblob").decode()


def doc(**over: object) -> dict[str, object]:
    d: dict[str, object] = {
        "type": "DatabaseActivityMonitoringRecords",
        "version": "1.2",
        "databaseActivityEvents": CT,
        "key": KEY,
    }
    d.update(over)
    return {k: v for k, v in d.items() if v is not ...}


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.10"])
def test_versions(version: str) -> None:
    env = parse_envelope(json.dumps(doc(version=version)).encode())
    assert (env.version, env.ciphertext, env.key_blob) == (version, b"ciphertext", b"keyblob")


def test_any_whitespace_and_field_order_and_unknown_fields_kept() -> None:
    text = (
        f'\n {{\r\n\t"key" :  "{KEY}" ,"newField": {{"a": [1]}},\n'
        f'  "databaseActivityEvents":"{CT}",   "version":"1.3","type"  :'
        '"DatabaseActivityMonitoringRecords"  }\n\n'
    )
    env = parse_envelope(text.encode())
    assert env.version == "1.3"
    assert env.extra == {"newField": {"a": [1]}}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", BadEnvelope),
        (b"not json", BadEnvelope),
        (b"\xff\xfe\x00garbage", BadEnvelope),
        (b"[1, 2]", BadEnvelope),
        (b'"a string"', BadEnvelope),
        (b"[" * 100_000, BadEnvelope),
        (json.dumps(doc(type=...)).encode(), BadEnvelope),
        (json.dumps(doc(type="DatabaseActivityMonitoringRecord")).encode(), UnsupportedType),
        (json.dumps(doc(type=5)).encode(), UnsupportedType),
        (json.dumps(doc(version=...)).encode(), BadEnvelope),
        (json.dumps(doc(version=1.2)).encode(), BadEnvelope),
        (json.dumps(doc(version="2.0")).encode(), UnsupportedType),
        (json.dumps(doc(version="1.")).encode(), UnsupportedType),
        (json.dumps(doc(databaseActivityEvents=...)).encode(), BadEnvelope),
        (json.dumps(doc(key=...)).encode(), BadEnvelope),
        (json.dumps(doc(key=None)).encode(), BadEnvelope),
        (json.dumps(doc(databaseActivityEvents=["x"])).encode(), BadEnvelope),
        (json.dumps(doc(key="")).encode(), BadBase64),
        (json.dumps(doc(key="abc")).encode(), BadBase64),  # bad padding
        (json.dumps(doc(key="ab!c")).encode(), BadBase64),  # not the alphabet
        (json.dumps(doc(key="ab c")).encode(), BadBase64),  # whitespace inside
        (json.dumps(doc(key="a-_b")).encode(), BadBase64),  # URL-safe alphabet
        (json.dumps(doc(key="====")).encode(), BadBase64),
        (json.dumps(doc(databaseActivityEvents="é")).encode(), BadBase64),
        (json.dumps(doc(databaseActivityEvents=CT + "\n")).encode(), BadBase64),
    ],
)
def test_errors(data: bytes, error: type) -> None:
    with pytest.raises(error) as info:
        parse_envelope(data)
    assert type(info.value) is error
    assert info.value.message
