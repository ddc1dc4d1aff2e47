"""The native message reader against the AWS Encryption SDK as the oracle: same plaintext on
everything valid, same refusal of everything else, and the documented differences (footer not
verified by default; shapes RDS never sends) pinned down one by one."""

from __future__ import annotations

import logging
import os
import struct
import subprocess
import sys

import pytest

from bench import streamgen as sg
from engine.das.crypto import FRAME_LENGTH, MessageDecryptor, encrypt_message
from engine.das.envelope import parse_envelope
from engine.das.errors import CiphertextInvalid, UnsupportedShape
from engine.das.keys import LocalKeyProvider
from engine.das.message import BAD_SIGNATURE, MessageReader, NativeReader
from engine.das.sources import iter_records_from_file, resource_id_from_arn
from tests.das.conftest import MASTER_KEY, ROOT, SAMPLES
from tests.das.forge import Spec, body_end, forge, segments

KEY = bytes(range(64, 96))
ESDK = MessageDecryptor()
NATIVE = NativeReader()
VERIFY = NativeReader(verify_signature=True)
REJECT = "reject"


def outcome(reader: MessageDecryptor | NativeReader, m: bytes, key: bytes = KEY) -> bytes | str:
    try:
        return reader.decrypt(m, key)
    except CiphertextInvalid as exc:
        assert exc.reason == "ciphertext_invalid" and exc.message
        return REJECT


def all_three(m: bytes, key: bytes = KEY) -> tuple[bytes | str, bytes | str, bytes | str]:
    return outcome(ESDK, m, key), outcome(VERIFY, m, key), outcome(NATIVE, m, key)


# --- valid corpus: equal plaintexts ----------------------------------------------------------
@pytest.mark.parametrize("events_per_record", [1, 10, 50])
def test_generated_streams(events_per_record: int) -> None:
    keys = LocalKeyProvider(MASTER_KEY)
    spec = sg.StreamSpec(records=12, events_per_record=events_per_record, records_per_key=3)
    for rec in sg.encode(sg.plan(spec), keys):
        env = parse_envelope(rec.payload)
        key = keys.plaintext_key(env.key_blob, rec.resource.resource_id)
        esdk, verify, native = all_three(env.ciphertext, key)
        assert isinstance(esdk, bytes) and esdk == verify == native


def test_bundled_sample_stream() -> None:
    keys = LocalKeyProvider.from_file(SAMPLES / "demo.key")
    n = 0
    for rec in iter_records_from_file(SAMPLES / "das-stream.jsonl"):
        env = parse_envelope(rec.data)
        assert rec.stream_arn
        key = keys.plaintext_key(env.key_blob, resource_id_from_arn(rec.stream_arn) or "")
        esdk, verify, native = all_three(env.ciphertext, key)
        assert isinstance(esdk, bytes) and esdk == verify == native
        n += 1
    assert n == 60


FL = FRAME_LENGTH


@pytest.mark.parametrize(
    ("size", "frame_length"),
    [
        (0, FL),
        (1, FL),
        (FL - 1, FL),
        (FL, FL),
        (FL + 1, FL),
        (2 * FL, FL),
        (3 * FL + 7, FL),
        (0, 128),
        (128, 128),
        (129, 128),
        (33 * 128, 128),
        (5000, 1024),
        (1 << 20, 1 << 20),
    ],
)
def test_frame_boundaries_and_multi_frame(size: int, frame_length: int) -> None:
    pt = os.urandom(size)
    m = encrypt_message(pt, KEY, frame_length=frame_length)
    assert all_three(m) == (pt, pt, pt)
    frames = sum(name in ("frame_seq", "final_seq") for name, _, _ in segments(m))
    assert frames == size // frame_length + 1  # the SDK adds an empty final frame on a multiple


# --- structural substitutions under the same DAS key -------------------------------------------
@pytest.fixture(scope="module")
def pair() -> tuple[bytes, bytes, bytes]:
    """Two multi-frame messages under KEY and the first one's plaintext."""
    pt = os.urandom(700)
    return (
        encrypt_message(pt, KEY, frame_length=256),
        encrypt_message(pt, KEY, frame_length=256),
        pt,
    )


def _cut(m: bytes, name: str, nth: int = 0) -> tuple[int, int]:
    found = [(a, b) for n, a, b in segments(m) if n == name]
    return found[nth]


def _frame(m: bytes, nth: int) -> tuple[int, int]:
    """(start, end) of the nth regular frame."""
    segs = segments(m)
    starts = [a for n, a, _ in segs if n == "frame_seq"]
    ends = [b for n, _, b in segs if n == "frame_body"]
    return starts[nth], ends[nth]


def _set_seq(frame: bytes, seq: int) -> bytes:
    return struct.pack(">I", seq) + frame[4:]


def test_structural_substitutions_are_refused(pair: tuple[bytes, bytes, bytes]) -> None:
    a, b, _ = pair
    a0, a0e = _frame(a, 0)
    a1, a1e = _frame(a, 1)
    hdr_a, hdr_b = _cut(a, "header_auth")[1], _cut(b, "header_auth")[1]
    f_a, f_b = body_end(a), body_end(b)
    edk_a = a.index(b"DataKey") - 6
    edk_b = b.index(b"DataKey") - 6
    edk_len = 2 + 2 + 2 + 27 + 2 + 48
    cases = {
        "header of b, body of a": b[:hdr_b] + a[hdr_a:],
        "body of b": a[:hdr_a] + b[hdr_b:],
        "body and footer of b": a[:hdr_a] + b[hdr_b:f_b] + a[f_a:],
        "frames swapped": a[:a0] + a[a1:a1e] + a[a0:a0e] + a[a1e:],
        "frames swapped, sequence numbers fixed": a[:a0]
        + _set_seq(a[a1:a1e], 1)
        + _set_seq(a[a0:a0e], 2)
        + a[a1e:],
        "frame duplicated": a[:a0e] + a[a0:a0e] + a[a0e:],
        "frame dropped": a[:a0] + a[a0e:],
        "frame dropped, sequence numbers fixed": a[:a0] + _set_seq(a[a1:a1e], 1) + a[a1e:],
        "frame of b": a[:a0] + b[_frame(b, 0)[0] : _frame(b, 0)[1]] + a[a0e:],
        "final frame dropped": a[: _cut(a, "final_marker")[0]] + a[f_a:],
        "regular frame relabelled final": a[:a1]
        + struct.pack(">II", 0xFFFFFFFF, 2)
        + a[a1 + 4 : a1 + 16]
        + struct.pack(">I", 256)
        + a[a1 + 16 : a1e]
        + a[f_a:],
        "EDK of b": a[:edk_a] + b[edk_b : edk_b + edk_len] + a[edk_a + edk_len :],
        "suite 0x0178, footer stripped": a[:2] + b"\x01\x78" + a[4:f_a],
        "suite 0x0346": a[:2] + b"\x03\x46" + a[4:],
        "footer removed": a[:f_a],
        "final content length +1": a[: _cut(a, "final_len")[0]]
        + struct.pack(">I", int.from_bytes(a[slice(*_cut(a, "final_len"))], "big") + 1)
        + a[_cut(a, "final_len")[1] :],
    }
    for what, m in cases.items():
        assert m != a
        assert all_three(m) == (REJECT, REJECT, REJECT), what
    assert all_three(a, os.urandom(32)) == (REJECT, REJECT, REJECT)


def test_footer_of_another_message(pair: tuple[bytes, bytes, bytes]) -> None:
    """The one region GCM does not cover: refused when verifying, genuine plaintext when not."""
    a, b, pt = pair
    m = a[: body_end(a)] + b[body_end(b) :]
    assert all_three(m) == (REJECT, REJECT, pt)
    shorter = a[: body_end(a)] + struct.pack(">H", 102) + a[body_end(a) + 2 : -1]
    assert all_three(shorter) == (REJECT, REJECT, pt)


def test_wrong_data_key_says_so() -> None:
    m = encrypt_message(b"x", KEY)
    for reader in (ESDK, NATIVE):
        with pytest.raises(CiphertextInvalid, match="data key"):
            reader.decrypt(m, os.urandom(32))


# --- key holders, and shapes RDS never sends ---------------------------------------------------
def test_a_das_key_holder_can_forge_a_fully_valid_message() -> None:
    """The threat model in one test: fresh signing key, re-wrapped data key, re-signed. Every
    reader accepts, the SDK included: the signature proves nothing about who wrote the record."""
    forged = forge(b"not from RDS", KEY)
    assert all_three(forged.message) == (b"not from RDS",) * 3


def test_a_message_key_holder_is_stopped_only_by_the_signature() -> None:
    """Someone holding one message's key but not the DAS data key re-encrypts the body and
    keeps the header and footer: only the signature catches it (native default accepts)."""
    genuine = forge(b"genuine", KEY, Spec(frame_length=4096))
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from engine.das.message import derive_key
    from tests.das.forge import frames

    mid = genuine.message[4:20]
    aead = AESGCM(derive_key(genuine.message_key, mid))
    body = frames(b"tampered", aead, mid, 4096)
    m = genuine.message[: genuine.header_end] + body + genuine.message[genuine.body_end :]
    assert all_three(m) == (REJECT, REJECT, b"tampered")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (Spec(extra_context={b"purpose": b"test"}), "accept"),  # extra, sorted: the SDK accepts
        (Spec(extra_context={b"a": b"x"}, sort_context=False), "reject"),
        (Spec(edks=2), "reject"),
        (Spec(provider=b"bc"), "reject"),
        (Spec(key_name=b"datakey"), "reject"),
        (Spec(frame_length=2 << 20), "reject"),
        (Spec(header_iv=os.urandom(12)), "accept"),  # GCM authenticates the serialized IV
    ],
    ids=["extra-context", "unsorted", "two-edks", "provider", "key-name", "frame>1MiB", "iv"],
)
def test_forged_shapes(spec: Spec, expected: str) -> None:
    m = forge(b"payload", KEY, spec).message
    want = (b"payload",) * 3 if expected == "accept" else (REJECT,) * 3
    assert all_three(m) == want


def test_reserved_bytes_must_be_zero() -> None:
    m = forge(b"payload", KEY, Spec(reserved=1)).message
    assert outcome(NATIVE, m) == outcome(VERIFY, m) == REJECT


def test_uncompressed_signing_key_refused_natively() -> None:
    """The spec requires the compressed point; the SDK's own default materials manager refuses
    other forms, while this project's SDK path (which loads the key through OpenSSL) accepts it.
    The native reader refuses: a message RDS never sends."""
    m = forge(b"payload", KEY, Spec(uncompressed_key=True)).message
    assert all_three(m) == (b"payload", REJECT, REJECT)


def test_other_shapes_fall_back_to_the_sdk_and_are_counted() -> None:
    m = encrypt_message(b"x" * 300, KEY, frame_length=0)  # non-framed: valid ESDK, not RDS
    with pytest.raises(UnsupportedShape):
        NATIVE.decrypt(m, KEY)
    reader = MessageReader("native")
    assert reader.decrypt(m, KEY) == b"x" * 300
    assert (reader.stats.fallback, reader.stats.esdk, reader.stats.native) == (1, 1, 0)
    v2 = b"\x02\x05\x78" + bytes(40)
    with pytest.raises(CiphertextInvalid) as info:
        reader.decrypt(v2, KEY)  # handed over, and the SDK refuses the garbage
    assert not isinstance(info.value, UnsupportedShape) and reader.stats.fallback == 2


# --- modes -----------------------------------------------------------------------------------
def test_modes_count_what_they_do(pair: tuple[bytes, bytes, bytes]) -> None:
    a, _, pt = pair
    native, esdk = MessageReader("native"), MessageReader("esdk")
    assert native.decrypt(a, KEY) == esdk.decrypt(a, KEY) == pt
    assert (native.stats.native, native.stats.esdk) == (1, 0)
    assert (esdk.stats.native, esdk.stats.esdk) == (0, 1)
    with pytest.raises(ValueError):
        MessageReader("fast")


def test_esdk_mode_verifies_the_signature(pair: tuple[bytes, bytes, bytes]) -> None:
    a, b, _ = pair
    m = a[: body_end(a)] + b[body_end(b) :]
    with pytest.raises(CiphertextInvalid, match="signature"):
        MessageReader("esdk").decrypt(m, KEY)
    with pytest.raises(CiphertextInvalid, match="signature"):
        MessageReader("native", verify_signature=True).decrypt(m, KEY)


def test_compare_uses_the_sdk_and_logs_differences(
    pair: tuple[bytes, bytes, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    a, b, pt = pair
    reader = MessageReader("compare")
    caplog.set_level(logging.WARNING, logger="engine.das.message")
    assert reader.decrypt(a, KEY) == pt
    assert (reader.stats.mismatch, reader.stats.footer_mismatch) == (0, 0)
    assert not caplog.records

    footer_only = a[: body_end(a)] + b[body_end(b) :]
    with pytest.raises(CiphertextInvalid, match="signature"):  # the SDK's answer
        reader.decrypt(footer_only, KEY)
    assert (reader.stats.mismatch, reader.stats.footer_mismatch) == (0, 1)

    uncompressed = forge(b"secret payload", KEY, Spec(uncompressed_key=True)).message
    assert reader.decrypt(uncompressed, KEY) == b"secret payload"  # SDK accepts, native not
    assert reader.stats.mismatch == 1
    ours = [r.getMessage() for r in caplog.records if r.name == "engine.das.message"]
    assert len(ours) == 2 and "signature" in ours[0] and "SDK accepted" in ours[1]
    assert all("secret payload" not in line for line in ours)
    assert BAD_SIGNATURE not in ours[1]


def test_cipher_objects_are_reused_per_data_key() -> None:
    reader = NativeReader(cache_size=2)
    w = reader._wrapper(KEY)
    m = encrypt_message(b"x", KEY)
    reader.decrypt(m, KEY)
    assert reader._wrapper(KEY) is w
    for _ in range(3):
        reader._wrapper(os.urandom(32))
    assert len(reader._wrappers) == 2


def test_the_sdk_is_not_imported_until_needed() -> None:
    """Cold start: decoding with the native reader never imports the Encryption SDK."""
    code = (
        "import sys\n"
        "from engine.das.decoder import Decoder\n"
        "from engine.das.keys import LocalKeyProvider\n"
        "from engine.das.sources import iter_records_from_file\n"
        "d = Decoder(LocalKeyProvider.from_file('samples/demo.key'))\n"
        "n = sum(len(d.decode(r).events) for r in iter_records_from_file("
        "'samples/das-stream.jsonl'))\n"
        "print(n, 'aws_encryption_sdk' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["110", "False"]
