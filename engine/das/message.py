"""A purpose-built reader of the one Encryption SDK message shape RDS sends, and the modes that
choose between it and the AWS Encryption SDK.

RDS always emits the same shape (docs/decoding.md): message format 1, suite 0x0378
(``AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384``), framed, exactly one encrypted data key from
provider ``"BC"`` with key name ``"DataKey"``, wrapped with AES-256-GCM under the 32-byte DAS data
key. The SDK spends ~0.6 ms on such a record whatever its size: ~0.32 ms verifying the ECDSA
P-384 footer, ~0.08 ms loading the verification key, the rest in its own parsing and plumbing.
The cryptography the message needs without the signature (EDK unwrap, HKDF-SHA384, three
AES-GCM operations) costs ~10 µs. ``NativeReader`` does exactly that, with ``cryptography`` only,
and checks everything the specification asks of this shape:

- header: version 1, type 0x80, suite 0x0378, a non-empty encryption context whose keys are
  strictly ascending (sorted and unique, as the spec requires) and valid UTF-8, containing the
  signing key ``aws-crypto-public-key`` as a *compressed* P-384 point; exactly one EDK,
  ``"BC"`` / ``"DataKey"``, 128-bit tag, 12-byte IV, 48 bytes; framed content, zero reserved
  bytes, IV length 12, 0 < frame length <= 1 MiB (a Kinesis record's limit);
- the EDK opens under the DAS data key with the serialized context as AAD (so the signing key
  cannot be swapped without the DAS key), the message key is HKDF-SHA384 of it, and the header
  authentication tag verifies;
- frames: sequence numbers from 1 up by one, regular frames of exactly the frame length, exactly
  one final frame (the body AAD names regular and final frames differently, so relabelling,
  truncating at a frame boundary, reordering, dropping or duplicating a frame fails a tag);
- a well-formed footer (u16 length, 1-104 signature bytes) and nothing after it.

Nothing is returned before every tag (and, when asked, the signature) has verified.

**What is authenticated, and why the signature is off by default.** The signing public key
travels inside the message's encryption context, and the only thing vouching for that context is
the AES-GCM wrap of the data key under the DAS data key, which every consumer holding
``kms:Decrypt`` receives. Whoever can pass the GCM checks therefore holds the DAS data key and can
just as well pick a fresh key pair, put it in the context, re-wrap, re-tag and re-sign (our own
``engine/das/encoder.py`` does exactly that). The signature adds no authenticity against anyone
who lacks the data key: truncation, reordering, substitution and suite downgrade are all caught
by the GCM tags. With ``verify_signature=False`` this is a DAS-specific *authenticated* reader,
not a conforming SDK decrypt (which must verify); ``verify_signature=True`` verifies the footer
natively (spec-conformant "signed data"), and ``MessageReader(mode="esdk")`` is the SDK itself.

Anything well formed but of another shape the SDK accepts (non-framed content, format 2 with the
key-committing suite 0x0578) raises ``UnsupportedShape``; ``MessageReader`` hands such a message
to the SDK and counts it, so a change on AWS's side shows up in metrics, not as lost records.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.das.errors import CiphertextInvalid, UnsupportedShape

if TYPE_CHECKING:  # the SDK is imported on first use only (cold start)
    from engine.das.crypto import MessageDecryptor

log = logging.getLogger(__name__)

SUITE_ID = 0x0378
COMMITTING_SUITE_ID = 0x0578  # format 2; the SDK path accepts it, should AWS move to it
PROVIDER_ID = b"BC"
KEY_NAME = b"DataKey"
PUBLIC_KEY_NAME = b"aws-crypto-public-key"
MAX_FRAME_LENGTH = 1 << 20  # a Kinesis record is at most 1 MiB, so no genuine frame is larger
MAX_SIGNATURE_LENGTH = 104  # DER of an ECDSA P-384 signature
FINAL_FRAME = 0xFFFFFFFF

_FRAME_AAD = b"AWSKMSEncryptionClient Frame"
_FINAL_AAD = b"AWSKMSEncryptionClient Final Frame"
# Raw AES keyring key info: key name, tag length in bits, IV length in bytes, IV.
_KEY_INFO_PREFIX = KEY_NAME + struct.pack(">II", 128, 12)
_KEY_INFO_LENGTH = len(_KEY_INFO_PREFIX) + 12
_EDK_LENGTH = 32 + 16
_HKDF_SALT = bytes(48)  # HKDF without salt: a hash-length string of zeros (RFC 5869)
_SUITE_INFO = struct.pack(">H", SUITE_ID)

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_SEQ_LEN = struct.Struct(">IQ")
# version, type, suite, message id, AAD length
_PREAMBLE = struct.Struct(">BBH16sH")
# content type, reserved, IV length, frame length
_TRAILER = struct.Struct(">BIBI")
# final frame: sequence number, IV, content length (after the 0xFFFFFFFF marker)
_FINAL = struct.Struct(">I12sI")

# Today's wording (engine/das/crypto.py), so an alert or a dead letter reads the same whichever
# reader refused the record.
AUTH_FAILED = "authentication failed (tampered ciphertext, or a different data key)"
WRONG_DATA_KEY = (
    "the data key does not open the message's encrypted data key "
    "(a different key, or not 'BC'/'DataKey')"
)
BAD_SIGNATURE = "the message signature does not verify (tampered or truncated)"


def _malformed(detail: str) -> CiphertextInvalid:
    return CiphertextInvalid(f"Encryption SDK message rejected: {detail}")


@dataclass(frozen=True, slots=True)
class Parsed:
    """Where things are in a message, as the header parse found them (offsets into it)."""

    message_id: bytes
    context: bytes  # serialized encryption context: the EDK's AAD
    public_key: bytes  # compressed P-384 point
    edk_iv: bytes
    edk: bytes
    header_end: int  # end of the header body (the header tag's AAD)
    frame_length: int


def parse_header(
    m: bytes, max_frame_length: int = MAX_FRAME_LENGTH, *, rds_edk: bool = True
) -> Parsed:
    """The header of ``m`` with every check of the shape; ``CiphertextInvalid`` if not.

    ``rds_edk=False`` skips only the check that the one EDK is RDS's ``"BC"``/``"DataKey"`` raw
    AES key: tests use it to run other implementations' published vectors, whose single EDK
    belongs to a test keyring, through everything else.
    """
    n = len(m)
    if n < 1:
        raise _malformed("empty message")
    if m[0] == 2:
        if n >= 3 and _U16.unpack_from(m, 1)[0] == COMMITTING_SUITE_ID:
            raise UnsupportedShape("message format 2 with suite 0x0578 (not what RDS sends)")
        raise _malformed("message format 2 with a suite RDS does not use")
    if n < _PREAMBLE.size:
        raise _malformed("truncated header")
    version, mtype, suite, message_id, aad_len = _PREAMBLE.unpack_from(m, 0)
    if version != 1:
        raise _malformed(f"unknown message format version {version}")
    if mtype != 0x80:
        raise _malformed(f"unknown message type 0x{mtype:02x}")
    if suite != SUITE_ID:
        raise CiphertextInvalid(f"algorithm suite 0x{suite:04x} is not one RDS uses")
    p = _PREAMBLE.size
    end = p + aad_len
    if aad_len < 2 or end > n:
        raise _malformed("no encryption context, or one longer than the message")
    (count,) = _U16.unpack_from(m, p)
    q = p + 2
    prev = b""
    public_key = b""
    for i in range(count):
        if q + 2 > end:
            raise _malformed("encryption context shorter than its pair count")
        (klen,) = _U16.unpack_from(m, q)
        key = m[q + 2 : q + 2 + klen]
        q += 2 + klen
        if q + 2 > end:
            raise _malformed("encryption context shorter than its pair count")
        (vlen,) = _U16.unpack_from(m, q)
        value = m[q + 2 : q + 2 + vlen]
        q += 2 + vlen
        if q > end:
            raise _malformed("encryption context entry runs past its length")
        if i and key <= prev:
            raise _malformed("encryption context keys are not sorted and unique")
        prev = key
        try:
            key.decode("utf-8")
            value.decode("utf-8")
        except UnicodeDecodeError:
            raise _malformed("encryption context is not UTF-8") from None
        if key == PUBLIC_KEY_NAME:
            public_key = value
    if count == 0 or q != end:
        raise _malformed("encryption context length does not match its pairs")
    if not public_key:
        raise _malformed("no signature verification key in the encryption context")
    try:
        point = base64.b64decode(public_key, validate=True)
    except (binascii.Error, ValueError):
        raise _malformed("signature verification key is not base64") from None
    if len(point) != 49 or point[0] not in (2, 3):
        raise _malformed("signature verification key is not a compressed P-384 point")
    context = m[p:end]
    p = end
    if p + 2 > n:
        raise _malformed("truncated header")
    (edks,) = _U16.unpack_from(m, p)
    if edks != 1:
        raise _malformed(f"{edks} encrypted data keys (RDS sends exactly one)")
    p += 2
    fields = []
    for _ in range(3):  # provider id, key info, encrypted key
        if p + 2 > n:
            raise _malformed("truncated header")
        (flen,) = _U16.unpack_from(m, p)
        if p + 2 + flen > n:
            raise _malformed("truncated header")
        fields.append(m[p + 2 : p + 2 + flen])
        p += 2 + flen
    provider, info, edk = fields
    if rds_edk and (
        provider != PROVIDER_ID
        or len(info) != _KEY_INFO_LENGTH
        or not info.startswith(_KEY_INFO_PREFIX)
        or len(edk) != _EDK_LENGTH
    ):
        raise CiphertextInvalid(WRONG_DATA_KEY)
    if p + _TRAILER.size > n:
        raise _malformed("truncated header")
    ctype, reserved, iv_len, frame_length = _TRAILER.unpack_from(m, p)
    if ctype == 1:
        raise UnsupportedShape("non-framed content (RDS frames its messages)")
    if ctype != 2:
        raise _malformed(f"unknown content type {ctype}")
    if reserved != 0:
        raise _malformed("reserved header bytes are not zero")
    if iv_len != 12:
        raise _malformed(f"IV length {iv_len}, not 12")
    if not 0 < frame_length <= max_frame_length:
        raise _malformed(f"frame length {frame_length} outside 1..{max_frame_length}")
    return Parsed(
        message_id=message_id,
        context=context,
        public_key=point,
        edk_iv=info[-12:],
        edk=edk,
        header_end=p + _TRAILER.size,
        frame_length=frame_length,
    )


def derive_key(message_key: bytes, message_id: bytes) -> bytes:
    """HKDF-SHA384 (no salt, info = suite id ‖ message id, 32 bytes): two HMACs."""
    prk = hmac.digest(_HKDF_SALT, message_key, "sha384")
    return hmac.digest(prk, _SUITE_INFO + message_id + b"\x01", "sha384")[:32]


def open_parsed(m: bytes, h: Parsed, message_key: bytes, *, verify_signature: bool) -> bytes:
    """Header tag, frames, footer and (optionally) signature of a parsed message."""
    n = len(m)
    aead = AESGCM(derive_key(message_key, h.message_id))
    p = h.header_end
    if p + 28 > n:
        raise _malformed("truncated header authentication")
    try:
        aead.decrypt(m[p : p + 12], m[p + 12 : p + 28], m[:p])
    except InvalidTag:
        raise CiphertextInvalid(AUTH_FAILED) from None
    p += 28
    mv = memoryview(m)
    mid = h.message_id
    flen = h.frame_length
    out: list[bytes] = []
    seq = 1
    try:
        while True:
            if p + 4 > n:
                raise _malformed("the body ends without a final frame")
            (first,) = _U32.unpack_from(m, p)
            if first == FINAL_FRAME:
                if p + 24 > n:
                    raise _malformed("truncated final frame")
                s, iv, clen = _FINAL.unpack_from(m, p + 4)
                if s != seq:
                    raise _malformed("frames out of order")
                if clen > flen:
                    raise _malformed("final frame longer than the frame length")
                start = p + 24
                stop = start + clen + 16
                if stop > n:
                    raise _malformed("truncated final frame")
                aad = mid + _FINAL_AAD + _SEQ_LEN.pack(s, clen)
                out.append(aead.decrypt(iv, mv[start:stop], aad))
                p = stop
                break
            if first != seq:
                raise _malformed("frames out of order")
            start = p + 16
            stop = start + flen + 16
            if stop > n:
                raise _malformed("truncated frame")
            aad = mid + _FRAME_AAD + _SEQ_LEN.pack(seq, flen)
            out.append(aead.decrypt(m[p + 4 : start], mv[start:stop], aad))
            p = stop
            seq += 1
    except InvalidTag:
        raise CiphertextInvalid(AUTH_FAILED) from None
    body_end = p
    if p + 2 > n:
        raise _malformed("no footer (signature missing)")
    (slen,) = _U16.unpack_from(m, p)
    if not 0 < slen <= MAX_SIGNATURE_LENGTH:
        raise _malformed(f"signature length {slen}")
    p += 2 + slen
    if p > n:
        raise _malformed("truncated footer")
    if p < n:
        raise CiphertextInvalid(f"{n - p} unexpected bytes after the end of the message")
    if verify_signature:
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), h.public_key)
            key.verify(m[body_end + 2 : p], mv[:body_end], ec.ECDSA(hashes.SHA384()))
        except (InvalidSignature, ValueError):
            raise CiphertextInvalid(BAD_SIGNATURE) from None
    return out[0] if len(out) == 1 else b"".join(out)


class NativeReader:
    """Opens RDS's message shape with ``cryptography``; one per decoder, reused across records.

    ``AESGCM`` objects of DAS data keys are kept in a bounded LRU (records share data keys); the
    message key's ``AESGCM`` is made once per message and used for the header and every frame.
    """

    def __init__(
        self,
        *,
        verify_signature: bool = False,
        cache_size: int = 256,
        max_frame_length: int = MAX_FRAME_LENGTH,
    ) -> None:
        self.verify_signature = verify_signature
        self.max_frame_length = max_frame_length
        self._cache_size = max(1, cache_size)
        self._wrappers: OrderedDict[bytes, AESGCM] = OrderedDict()
        self._lock = threading.Lock()

    def _wrapper(self, data_key: bytes) -> AESGCM:
        with self._lock:
            w = self._wrappers.get(data_key)
            if w is not None:
                self._wrappers.move_to_end(data_key)
                return w
        w = AESGCM(data_key)
        with self._lock:
            self._wrappers[data_key] = w
            while len(self._wrappers) > self._cache_size:
                self._wrappers.popitem(last=False)
        return w

    def decrypt(self, message: bytes, data_key: bytes) -> bytes:
        """The authenticated plaintext, or ``CiphertextInvalid`` / ``UnsupportedShape``."""
        m = bytes(message)
        h = parse_header(m, self.max_frame_length)
        try:
            message_key = self._wrapper(data_key).decrypt(h.edk_iv, h.edk, h.context)
        except (InvalidTag, ValueError):
            raise CiphertextInvalid(WRONG_DATA_KEY) from None
        return open_parsed(m, h, message_key, verify_signature=self.verify_signature)


class Mode(StrEnum):
    """``DASALERT_MESSAGE_READER``: which reader opens the Encryption SDK message."""

    NATIVE = "native"  # NativeReader; the SDK only for another well-formed shape
    ESDK = "esdk"  # the AWS Encryption SDK, signature verified: the path before NativeReader
    COMPARE = "compare"  # both; the SDK's answer is used, every difference logged and counted


@dataclass(slots=True)
class ReaderStats:
    """Counters for metrics: which reader opened how many messages, and what disagreed."""

    native: int = 0  # opened by NativeReader (with or without the signature)
    esdk: int = 0  # opened (or refused) by the SDK
    fallback: int = 0  # of those, handed over because NativeReader saw another shape
    mismatch: int = 0  # compare: accept/reject or plaintext differ (footer-only excluded)
    footer_mismatch: int = 0  # compare: only the SDK's signature check refused


class MessageReader:
    """The decoder's message reader: ``native`` (default), ``esdk`` or ``compare``."""

    def __init__(
        self,
        mode: Mode | str = Mode.NATIVE,
        *,
        verify_signature: bool = False,
        cache_size: int = 256,
    ) -> None:
        self.mode = Mode(mode)
        self.verify_signature = verify_signature
        self.stats = ReaderStats()
        self._cache_size = cache_size
        self._native = NativeReader(verify_signature=verify_signature, cache_size=cache_size)
        self._sdk: MessageDecryptor | None = None

    def esdk(self) -> MessageDecryptor:
        """The SDK decryptor, imported and built on first use (it costs ~60 ms of cold start)."""
        if self._sdk is None:
            from engine.das.crypto import MessageDecryptor

            self._sdk = MessageDecryptor(cache_size=self._cache_size)
        return self._sdk

    def decrypt(self, message: bytes, data_key: bytes) -> bytes:
        """The plaintext of ``message``, or ``CiphertextInvalid`` saying why not."""
        if self.mode is Mode.NATIVE:
            try:
                out = self._native.decrypt(message, data_key)
            except UnsupportedShape:
                self.stats.fallback += 1
                self.stats.esdk += 1
                return self.esdk().decrypt(message, data_key)
            self.stats.native += 1
            return out
        if self.mode is Mode.ESDK:
            self.stats.esdk += 1
            return self.esdk().decrypt(message, data_key)
        return self._compare(message, data_key)

    def _compare(self, message: bytes, data_key: bytes) -> bytes:
        native: bytes | CiphertextInvalid
        try:
            native = self._native.decrypt(message, data_key)
            self.stats.native += 1
        except UnsupportedShape as exc:
            self.stats.fallback += 1
            native = exc
        except CiphertextInvalid as exc:
            native = exc
        self.stats.esdk += 1
        try:
            sdk = self.esdk().decrypt(message, data_key)
        except CiphertextInvalid as exc:
            if isinstance(native, bytes):
                if exc.message == BAD_SIGNATURE and not self.verify_signature:
                    self.stats.footer_mismatch += 1
                    log.warning(
                        "message readers differ: only the SDK's signature check refused the "
                        "message (the native reader does not verify it)"
                    )
                else:
                    self._mismatch(f"native accepted, SDK refused: {exc.message}")
            raise
        if isinstance(native, UnsupportedShape):
            pass
        elif isinstance(native, CiphertextInvalid):
            self._mismatch(f"native refused ({native.message}), SDK accepted")
        elif native != sdk:
            self._mismatch("both accepted, plaintexts differ")
        return sdk

    def _mismatch(self, what: str) -> None:
        self.stats.mismatch += 1
        log.warning("message readers differ: %s", what)
