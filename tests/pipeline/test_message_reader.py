"""The message-reader knobs end to end: configuration, the runtime's decoder, and the batch
counters (SDK fallbacks, compare-mode disagreements) that become metrics."""

from __future__ import annotations

import base64
import json

import pytest

from engine.das.crypto import encrypt_message
from engine.das.decoder import Decoder
from engine.das.encoder import Encoder, envelope_json
from engine.das.keys import LocalKeyProvider
from engine.das.message import MessageReader, Mode
from engine.das.records import RawRecord
from engine.pipeline.batch import OK, PERMANENT, Pipeline, summarize
from engine.pipeline.config import Config
from engine.pipeline.env import ConfigError
from engine.pipeline.state import MemoryStateStore

PG = "cluster-READERTEST4HNY5V4RRNPKKYB"
KEYS = LocalKeyProvider(bytes(range(32)))
EVENT = {"type": "record", "command": "SELECT", "dbUserName": "app"}


def _pipeline(reader: str, verify: bool = False) -> Pipeline:
    decoder = Decoder(KEYS, default_resource_id=PG, reader=reader, verify_signature=verify)
    return Pipeline(decoder, state=MemoryStateStore())


def _non_framed_record() -> bytes:
    """Valid Encryption SDK content that is not RDS's shape (no frames)."""
    enc = Encoder(KEYS, PG)
    good = json.loads(enc.encode([EVENT], cluster_id=PG, instance_id="db-X"))
    key = KEYS.plaintext_key(base64.b64decode(good["key"]), PG)
    plaintext = MessageReader().decrypt(base64.b64decode(good["databaseActivityEvents"]), key)
    message = encrypt_message(plaintext, key, frame_length=0)
    return envelope_json("1.2", message, base64.b64decode(good["key"]))


def _footer_swapped_record() -> bytes:
    """A genuine record whose signature is another message's: only the footer differs."""
    enc = Encoder(KEYS, PG)
    a, b = (json.loads(enc.encode([EVENT], cluster_id=PG, instance_id="db-X")) for _ in "ab")
    ma, mb = (base64.b64decode(d["databaseActivityEvents"]) for d in (a, b))
    # The SDK's P-384 signatures are 103 bytes: the footer is the last 105 bytes.
    a["databaseActivityEvents"] = base64.b64encode(ma[:-105] + mb[-105:]).decode()
    return json.dumps(a).encode()


def test_config_defaults_and_values() -> None:
    cfg = Config.from_env({})
    assert (cfg.message_reader, cfg.verify_signature) == ("native", False)
    cfg = Config.from_env({"DASALERT_MESSAGE_READER": "ESDK", "DASALERT_VERIFY_SIGNATURE": "true"})
    assert (cfg.message_reader, cfg.verify_signature) == ("esdk", True)
    assert Mode(cfg.message_reader) is Mode.ESDK


@pytest.mark.parametrize(
    ("variable", "value"),
    [("DASALERT_MESSAGE_READER", "fast"), ("DASALERT_VERIFY_SIGNATURE", "sometimes")],
)
def test_config_refuses_wrong_values(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        Config.from_env({variable: value})
    assert err.value.variable == variable


def test_a_message_of_another_shape_is_opened_by_the_sdk_and_counted() -> None:
    result = _pipeline("native").run([RawRecord("r1", _non_framed_record())])
    assert [o.status for o in result.outcomes] == [OK] and result.events == 1
    assert result.reader_fallbacks == 1 and result.reader_mismatches == 0
    assert summarize(result)["reader_fallbacks"] == 1


def test_footer_only_change_by_mode() -> None:
    """Default: accepted (GCM covers all but the footer); verifying or esdk: refused; compare:
    the SDK's refusal is used and the difference is counted as a footer mismatch."""
    data = _footer_swapped_record()
    native = _pipeline("native").run([RawRecord("r", data)])
    assert [o.status for o in native.outcomes] == [OK] and native.events == 1
    for reader, verify in (("native", True), ("esdk", False)):
        res = _pipeline(reader, verify).run([RawRecord("r", data)])
        assert [(o.status, o.reason) for o in res.outcomes] == [(PERMANENT, "ciphertext_invalid")]
    compare = _pipeline("compare").run([RawRecord("r", data)])
    assert [o.status for o in compare.outcomes] == [PERMANENT]
    assert (compare.reader_footer_mismatches, compare.reader_mismatches) == (1, 0)
