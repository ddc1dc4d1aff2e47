"""The Encryption SDK message: what RDS sends decrypts; anything else is CiphertextInvalid."""

from __future__ import annotations

import io
import os

import pytest
from aws_encryption_sdk.identifiers import (
    Algorithm,
    ContentType,
    EncryptionKeyType,
    WrappingAlgorithm,
)
from aws_encryption_sdk.internal.crypto.authentication import Verifier
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.internal.formatting.deserialize import deserialize_header
from aws_encryption_sdk.key_providers.raw import RawMasterKey

from engine.das import crypto
from engine.das.crypto import FRAME_LENGTH, MessageDecryptor, encrypt_message, make_client
from engine.das.errors import CiphertextInvalid

KEY = bytes(range(32, 64))


@pytest.fixture(scope="module")
def message() -> bytes:
    return encrypt_message(b"payload bytes " * 50, KEY)


def test_encoder_emits_the_rds_format(message: bytes) -> None:
    header, _ = deserialize_header(io.BytesIO(message))
    assert header.algorithm.algorithm_id == 0x0378
    assert header.content_type is ContentType.FRAMED_DATA
    assert header.frame_length == FRAME_LENGTH == 262144
    [edk] = header.encrypted_data_keys
    assert edk.key_provider.provider_id == "BC"
    assert edk.key_provider.key_info.startswith(b"DataKey")
    assert list(header.encryption_context) == ["aws-crypto-public-key"]


def test_decrypt_round_trip_and_materials_cached(message: bytes) -> None:
    dec = MessageDecryptor(cache_size=2)
    assert dec.decrypt(message, KEY) == b"payload bytes " * 50
    first = dec._materials(KEY)
    dec.decrypt(message, KEY)
    assert dec._materials(KEY) is first
    for _ in range(3):
        dec._materials(os.urandom(32))
    assert len(dec._cmms) == 2


def test_fast_verification_key_matches_the_sdk(message: bytes) -> None:
    """Our OpenSSL point decompression yields the SDK's DER key, byte for byte."""
    header, _ = deserialize_header(io.BytesIO(message))
    point = header.encryption_context["aws-crypto-public-key"]
    sdk = Verifier.from_encoded_point(algorithm=header.algorithm, encoded_point=point).key_bytes()
    ours = crypto._MaterialsManager(
        crypto.master_key(KEY)
    )._load_verification_key_from_encryption_context(header.algorithm, header.encryption_context)
    assert ours == sdk


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: m[:-1],
        lambda m: m[: len(m) // 2],
        lambda m: m[:20],
        lambda m: m + b"\x00",
        lambda m: m + b"extra bytes",
        lambda m: m[:-10] + bytes([m[-10] ^ 0x01]) + m[-9:],  # signature
        lambda m: m[:300] + bytes([m[300] ^ 0x80]) + m[301:],  # body
        lambda m: m[:5] + bytes([m[5] ^ 0x01]) + m[6:],  # message id
        lambda m: b"",
        lambda m: b"\x02" + m[1:],  # message format v2 header with v1 layout
    ],
    ids=["drop1", "half", "header-only", "nul", "appended", "sig", "body", "msgid", "empty", "v2"],
)
def test_tampered_or_truncated(message: bytes, mutate) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CiphertextInvalid) as info:
        MessageDecryptor().decrypt(mutate(message), KEY)
    assert info.value.message


def test_wrong_data_key(message: bytes) -> None:
    with pytest.raises(CiphertextInvalid, match="data key"):
        MessageDecryptor().decrypt(message, os.urandom(32))


def test_wrong_provider_or_key_name_is_refused() -> None:
    for provider, name in (("bc", b"DataKey"), ("BC", b"datakey")):
        mk = RawMasterKey(
            provider_id=provider,
            key_id=name,
            wrapping_key=WrappingKey(
                wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
                wrapping_key=KEY,
                wrapping_key_type=EncryptionKeyType.SYMMETRIC,
            ),
        )
        msg, _ = make_client().encrypt(
            source=b"x", key_provider=mk, algorithm=crypto.SUITE, frame_length=FRAME_LENGTH
        )
        with pytest.raises(CiphertextInvalid):
            MessageDecryptor().decrypt(msg, KEY)


@pytest.mark.parametrize(
    "algorithm",
    [
        Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA256,
        Algorithm.AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256,
    ],
)
def test_suites_rds_does_not_use_are_refused(algorithm: Algorithm) -> None:
    msg = encrypt_message(b"x", KEY, algorithm=algorithm)
    with pytest.raises(CiphertextInvalid, match="suite"):
        MessageDecryptor().decrypt(msg, KEY)


def test_unframed_message_still_decrypts_when_signed() -> None:
    """Frame length 0 (non-framed) is valid ESDK; RDS frames, but nothing is unsafe about it."""
    msg = encrypt_message(b"x" * 100, KEY, frame_length=0)
    assert MessageDecryptor().decrypt(msg, KEY) == b"x" * 100
