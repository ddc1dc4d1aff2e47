"""Published 0x0378 messages from another implementation (the AWS Encryption SDK for
JavaScript's fixtures, vendored under their Apache-2.0 licence in ``vectors/``)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from engine.das.errors import CiphertextInvalid
from engine.das.message import BAD_SIGNATURE, open_parsed, parse_header

DOC = json.loads((Path(__file__).parent / "vectors" / "js-0378.json").read_text())
V = {k: base64.b64decode(v) for k, v in DOC["vectors"].items()}
ZERO_KEY = bytes(32)  # what the fixtures' test keyring returns for their one EDK


def _open(name: str, verify: bool) -> bytes:
    m = V[name]
    return open_parsed(m, parse_header(m, rds_edk=False), ZERO_KEY, verify_signature=verify)


@pytest.mark.parametrize("verify", [False, True])
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("base64CiphertextAlgAes256GcmIv12Tag16HkdfSha384EcdsaP384", V["base64Plaintext"]),
        ("base64CiphertextAlgAes256GcmIv12Tag16HkdfSha384EcdsaP384With4Frames", b"asdf"),
        ("base64Ciphertext4BytesWith4KFrameLength", b"asdf"),
    ],
)
def test_valid_vectors(name: str, expected: bytes, verify: bool) -> None:
    assert _open(name, verify) == expected


def test_the_first_vector_has_61_frames_and_an_extra_context_entry() -> None:
    h = parse_header(V["base64CiphertextAlgAes256GcmIv12Tag16HkdfSha384EcdsaP384"], rds_edk=False)
    assert h.frame_length == 5 and len(V["base64Plaintext"]) == 300  # 60 regular + final
    assert b"simple" in h.context


def test_invalid_signature_vector() -> None:
    """Only the signature differs: refused when verifying, the genuine plaintext when not."""
    name = "invalidSignatureCiphertextAlgAes256GcmIv12Tag16HkdfSha384EcdsaP384"
    with pytest.raises(CiphertextInvalid) as info:
        _open(name, True)
    assert info.value.message == BAD_SIGNATURE
    assert _open(name, False) == V["base64Plaintext"]


def test_the_rds_shape_check_refuses_their_edk() -> None:
    """Without the test seam the vectors' EDK (provider 'k') is not RDS's: refused."""
    with pytest.raises(CiphertextInvalid, match="data key"):
        parse_header(V["base64Ciphertext4BytesWith4KFrameLength"])
