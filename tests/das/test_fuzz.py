"""Property tests: whatever arrives, the decoder returns a DecodedRecord or raises a DecodeError.

Anything else (a KeyError, a struct.error from the SDK, a RecursionError, a hang) would stop a
whole Lambda batch, so it counts as a bug.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.das.decoder import DecodedRecord, Decoder
from engine.das.encoder import Encoder, payload_json
from engine.das.errors import DecodeError
from engine.das.keys import LocalKeyProvider
from engine.das.records import RawRecord
from tests.das.conftest import MASTER_KEY, PG, Kms

KEYS = LocalKeyProvider(MASTER_KEY)
ENCODER = Encoder(KEYS, PG)
DECODER = Decoder(KEYS, default_resource_id=PG, max_inflated_bytes=1 << 20)
EVENTS = [
    {"type": "record", "command": "SELECT", "commandText": "select 1", "rowCount": 1},
    {"type": "heartbeat"},
    {"command": "LOGON", "exitCode": 1017},
]
GOOD = ENCODER.encode(EVENTS, cluster_id=PG, instance_id="db-X", version="1.1")
GOOD_DOC = json.loads(GOOD)
CIPHERTEXT = base64.b64decode(GOOD_DOC["databaseActivityEvents"])
KEY_BLOB = base64.b64decode(GOOD_DOC["key"])
# The SDK's P-384 signatures are 103 bytes: the footer is the last 105 bytes of the message.
SIGNED = len(CIPHERTEXT) - 105
assert int.from_bytes(CIPHERTEXT[SIGNED : SIGNED + 2], "big") == 103
VERIFYING = Decoder(KEYS, default_resource_id=PG, verify_signature=True)
GENUINE = DECODER.decode(RawRecord(record_id="genuine", data=GOOD))

# DAS_FUZZ_EXAMPLES=5000 runs a longer, randomized hunt; the suite stays fast and reproducible.
_LONG = os.environ.get("DAS_FUZZ_EXAMPLES")
SETTINGS = settings(max_examples=int(_LONG or 150), deadline=None, derandomize=not _LONG)


def outcome(data: bytes, decoder: Decoder = DECODER) -> DecodedRecord | DecodeError:
    rec = RawRecord(record_id="fuzz", data=data)
    try:
        out = decoder.decode(rec)
    except DecodeError as exc:
        assert exc.record_id == "fuzz"
        assert isinstance(exc.reason, str) and exc.message
        return exc
    assert isinstance(out, DecodedRecord)
    assert all(isinstance(e, dict) for e in out.events)
    return out


def test_the_good_record_decodes() -> None:
    out = outcome(GOOD)
    assert isinstance(out, DecodedRecord) and out.heartbeats == 1 and len(out.events) == 2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
field_values: dict[str, Any] = {
    "type": st.sampled_from(["DatabaseActivityMonitoringRecords", "Other", ""]) | json_values,
    "version": st.sampled_from(["1.0", "1.1", "1.2", "1.3", "1.4", "2.0", "1"]) | json_values,
    "databaseActivityEvents": st.sampled_from([GOOD_DOC["databaseActivityEvents"], "", "AAAA"])
    | st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())
    | json_values,
    "key": st.sampled_from([GOOD_DOC["key"], "", "===="])
    | st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())
    | json_values,
}


@st.composite
def envelopes(draw: st.DrawFn) -> bytes:
    doc: dict[str, Any] = {}
    for name, strategy in field_values.items():
        if draw(st.booleans()) or name in ("type", "version"):
            doc[name] = draw(strategy)
    doc.update(draw(st.dictionaries(st.text(max_size=6), json_values, max_size=2)))
    indent = draw(st.sampled_from([None, 0, 2, "\t"]))
    return json.dumps(doc, indent=indent).encode()


@SETTINGS
@given(envelopes())
def test_fuzz_envelope_json(data: bytes) -> None:
    outcome(data)


@SETTINGS
@given(st.binary(max_size=512) | st.text(max_size=200).map(str.encode))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    assert isinstance(outcome(data), DecodeError)


def _with(ciphertext: bytes | None = None, key: bytes | None = None) -> bytes:
    doc = dict(GOOD_DOC)
    if ciphertext is not None:
        doc["databaseActivityEvents"] = base64.b64encode(ciphertext).decode()
    if key is not None:
        doc["key"] = base64.b64encode(key).decode()
    return json.dumps(doc).encode()


@st.composite
def mutations(draw: st.DrawFn, original: bytes) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "append", "splice"]))
    if kind == "flip":
        i = draw(st.integers(0, len(original) - 1))
        bit = draw(st.integers(0, 7))
        return original[:i] + bytes([original[i] ^ (1 << bit)]) + original[i + 1 :]
    if kind == "truncate":
        return original[: draw(st.integers(0, len(original) - 1))]
    if kind == "append":
        return original + draw(st.binary(min_size=1, max_size=64))
    i = draw(st.integers(0, len(original)))
    j = draw(st.integers(i, min(len(original), i + 32)))
    return original[:i] + draw(st.binary(max_size=32)) + original[j:]


@SETTINGS
@given(mutations(CIPHERTEXT))
def test_fuzz_ciphertext_mutations(mutated: bytes) -> None:
    """Every byte before the footer is under a GCM tag; the footer (the ECDSA signature) is
    checked only with verification on, so a footer-only edit may yield the genuine events."""
    out = outcome(_with(ciphertext=mutated))
    if mutated.startswith(CIPHERTEXT[:SIGNED]):
        assert isinstance(out, DecodeError) or out.events == GENUINE.events
    else:
        assert isinstance(out, DecodeError)
    verified = outcome(_with(ciphertext=mutated), VERIFYING)
    if mutated != CIPHERTEXT:
        assert isinstance(verified, DecodeError)  # the signature covers every byte


@SETTINGS
@given(mutations(KEY_BLOB))
def test_fuzz_key_blob_mutations(mutated: bytes) -> None:
    out = outcome(_with(key=mutated))
    if mutated != KEY_BLOB:
        assert isinstance(out, DecodeError)


@SETTINGS
@given(mutations(GOOD))
def test_fuzz_record_text_mutations(mutated: bytes) -> None:
    """Mutations of the JSON text itself: base64 characters, quotes, braces."""
    outcome(mutated)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.one_of(
        st.binary(max_size=256),
        mutations(gzip.compress(payload_json(EVENTS, cluster_id=PG, instance_id="db-X"))),
        st.builds(lambda v: gzip.compress(json.dumps(v).encode()), json_values),
    )
)
def test_fuzz_decrypted_plaintext(plaintext: bytes) -> None:
    """Valid, signed messages whose plaintext is garbage, broken gzip or odd JSON."""
    outcome(ENCODER.encrypt_plaintext(plaintext))


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(blob=mutations(b"\x01\x02\x03\x00x" * 30) | st.binary(max_size=200))
def test_fuzz_key_blobs_through_kms(kms: Kms, blob: bytes) -> None:
    """Garbage key blobs sent to KMS (moto over HTTP) come back as typed errors too."""
    decoder = Decoder(kms.provider(), default_resource_id=PG)
    if not blob:
        blob = b"\x00"
    assert isinstance(outcome(_with(key=blob), decoder), DecodeError)
