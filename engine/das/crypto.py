"""The AWS Encryption SDK path for the message inside ``databaseActivityEvents``: decrypt (the
``esdk`` reader mode, and the fallback for shapes the native reader in ``engine.das.message`` does
not read), and encrypt for the encoder. Importing this module imports the SDK (and boto3): the
decoder imports it only on first use.

What RDS emits (docs/decoding.md): message format v1, suite 0x0378
(``AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384``, signed, non-committing), 262144-byte frames,
exactly one encrypted data key from provider ``"BC"``, key name ``"DataKey"``, wrapped with raw
AES-256-GCM under the KMS plaintext. The pitfalls the published decoders fall into, and how this
module avoids each:

- SDK ≥ 2 rejects non-committing suites by default ("Algorithm ID was 888"): the client uses
  ``FORBID_ENCRYPT_ALLOW_DECRYPT``, and ``max_encrypted_data_keys=1`` refuses key-flooding.
- The module-level ``aws_encryption_sdk.decrypt()`` is gone since SDK 2: we use
  ``EncryptionSDKClient``.
- Names are case-sensitive: ``provider_id="BC"``, ``key_id=b"DataKey"``.
- Decrypt in one shot: ``read()`` with no size returns nothing until the last frame *and the
  ECDSA signature in the footer* have been verified (streaming would release unverified plaintext
  in 8 KiB pieces of one gzip stream).
- The SDK silently ignores bytes after the footer; we refuse them (the record is not what RDS
  sent), and we refuse suites RDS does not use.
- A header may claim a huge frame: ``max_body_length`` bounds it (a Kinesis record is ≤ 1 MiB).

The SDK client and one materials manager per data key are cached: creating them is pure overhead
per record, and records share data keys.
"""

from __future__ import annotations

import base64
import io
import threading
from collections import OrderedDict

import aws_encryption_sdk
from aws_encryption_sdk.exceptions import SerializationError
from aws_encryption_sdk.identifiers import (
    Algorithm,
    CommitmentPolicy,
    EncryptionKeyType,
    WrappingAlgorithm,
)
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.internal.defaults import ENCODED_SIGNER_KEY
from aws_encryption_sdk.key_providers.raw import RawMasterKey
from aws_encryption_sdk.materials_managers.default import DefaultCryptoMaterialsManager
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from engine.das.errors import CiphertextInvalid

PROVIDER_ID = "BC"
KEY_NAME = b"DataKey"
SUITE = Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384  # 0x0378
FRAME_LENGTH = 262144
# Kinesis records are at most 1 MiB, so no genuine frame can be larger.
MAX_BODY_LENGTH = 1 << 20
# Suites we accept on decrypt: what RDS sends, and its key-committing successor should AWS move.
ACCEPTED_SUITES = frozenset({SUITE, Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384})


def master_key(data_key: bytes) -> RawMasterKey:
    """The raw AES master key RDS wraps the message's data key with."""
    return RawMasterKey(
        provider_id=PROVIDER_ID,
        key_id=KEY_NAME,
        wrapping_key=WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=data_key,
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        ),
    )


def make_client() -> aws_encryption_sdk.EncryptionSDKClient:
    return aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT,
        max_encrypted_data_keys=1,
    )


class _MaterialsManager(DefaultCryptoMaterialsManager):
    """The SDK's default materials manager with a faster way to load the signature key.

    The SDK decompresses the message's ECDSA P-384 public key in pure Python (two 384-bit modular
    exponentiations, about a fifth of the cost of decrypting a small record); OpenSSL does the
    same through ``EllipticCurvePublicKey.from_encoded_point``, which also checks that the point
    lies on the curve. Same DER result for the compressed points RDS sends (a test compares
    both). One difference: OpenSSL also accepts an *uncompressed* point, which the SDK's own
    manager refuses and the specification does not allow; the native reader
    (``engine.das.message``) refuses it too. Kept as is so that ``esdk`` mode stays exactly the
    path it always was.
    """

    def _load_verification_key_from_encryption_context(self, algorithm, encryption_context):
        encoded = encryption_context.get(ENCODED_SIGNER_KEY)
        info = algorithm.signing_algorithm_info
        if info is None:
            if encoded is not None:
                raise SerializationError("Signature verification key found for a non-signed suite.")
            return None
        if encoded is None:
            raise SerializationError("No signature verification key found in the header.")
        point = base64.b64decode(encoded, validate=True)
        key = ec.EllipticCurvePublicKey.from_encoded_point(info(), point)
        return key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class MessageDecryptor:
    """Decrypts ESDK messages; one instance per decoder, reused across records."""

    def __init__(self, *, cache_size: int = 256) -> None:
        self._client = make_client()
        self._cache_size = max(1, cache_size)
        self._cmms: OrderedDict[bytes, _MaterialsManager] = OrderedDict()
        self._lock = threading.Lock()

    def _materials(self, data_key: bytes) -> _MaterialsManager:
        with self._lock:
            cmm = self._cmms.get(data_key)
            if cmm is not None:
                self._cmms.move_to_end(data_key)
                return cmm
        cmm = _MaterialsManager(master_key_provider=master_key(data_key))
        with self._lock:
            self._cmms[data_key] = cmm
            while len(self._cmms) > self._cache_size:
                self._cmms.popitem(last=False)
        return cmm

    def decrypt(self, message: bytes, data_key: bytes) -> bytes:
        """The verified plaintext of ``message``, or ``CiphertextInvalid`` saying why not."""
        source = io.BytesIO(message)
        try:
            with self._client.stream(
                mode="d",
                source=source,
                materials_manager=self._materials(data_key),
                max_body_length=MAX_BODY_LENGTH,
            ) as decryptor:
                plaintext = decryptor.read()  # whole message: signature checked before return
                header = decryptor.header
        except Exception as exc:  # the SDK raises many types (its own, struct, cryptography…)
            raise CiphertextInvalid(_describe(exc)) from None
        if header.algorithm not in ACCEPTED_SUITES:
            raise CiphertextInvalid(
                f"algorithm suite 0x{header.algorithm.algorithm_id:04x} is not one RDS uses"
            )
        consumed = source.tell()
        if consumed != len(message):
            raise CiphertextInvalid(
                f"{len(message) - consumed} unexpected bytes after the end of the message"
            )
        return plaintext


def _describe(exc: Exception) -> str:
    name = type(exc).__name__
    text = str(exc).strip()
    if name == "InvalidSignature":
        return "the message signature does not verify (tampered or truncated)"
    if name == "InvalidTag":
        return "authentication failed (tampered ciphertext, or a different data key)"
    if name == "DecryptKeyError":
        return (
            "the data key does not open the message's encrypted data key "
            "(a different key, or not 'BC'/'DataKey')"
        )
    if not text:
        text = "no detail"
    if len(text) > 200:
        text = text[:197] + "..."
    return f"Encryption SDK message rejected: {name}: {text}"


def encrypt_message(
    plaintext: bytes,
    data_key: bytes,
    *,
    frame_length: int = FRAME_LENGTH,
    algorithm: Algorithm = SUITE,
    client: aws_encryption_sdk.EncryptionSDKClient | None = None,
) -> bytes:
    """An ESDK message exactly as RDS builds it (suite 0x0378, 256 KiB frames, "BC"/"DataKey")."""
    ciphertext, _ = (client or make_client()).encrypt(
        source=plaintext,
        key_provider=master_key(data_key),
        algorithm=algorithm,
        frame_length=frame_length,
    )
    return ciphertext
