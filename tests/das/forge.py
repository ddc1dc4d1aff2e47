"""A test-only writer of 0x0378 Encryption SDK messages, every field under the test's control.

It needs nothing but the DAS data key, which is the point of several tests: whoever holds that
key (every consumer with ``kms:Decrypt``) can produce a message that passes every check, the
ECDSA signature included. It also builds the shapes RDS never sends (two EDKs, an uncompressed
signing key, unsorted context, non-zero reserved bytes) so the readers' refusals are tested on
messages that are otherwise perfectly valid.
"""

from __future__ import annotations

import base64
import os
import struct
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.das.message import derive_key

U16 = struct.Struct(">H")


@dataclass
class Forged:
    message: bytes
    message_key: bytes
    header_end: int  # end of header body + authentication (where the body starts)
    body_end: int  # where the footer starts


@dataclass
class Spec:
    frame_length: int = 4096
    suite: int = 0x0378
    extra_context: dict[bytes, bytes] = field(default_factory=dict)
    sort_context: bool = True
    uncompressed_key: bool = False
    provider: bytes = b"BC"
    key_name: bytes = b"DataKey"
    edks: int = 1
    reserved: int = 0
    header_iv: bytes = bytes(12)
    message_id: bytes | None = None
    message_key: bytes | None = None
    signing_key: ec.EllipticCurvePrivateKey | None = None


def context_bytes(pairs: list[tuple[bytes, bytes]]) -> bytes:
    out = [U16.pack(len(pairs))]
    for k, v in pairs:
        out += [U16.pack(len(k)), k, U16.pack(len(v)), v]
    return b"".join(out)


def forge(plaintext: bytes, das_key: bytes, spec: Spec | None = None) -> Forged:
    s = spec or Spec()
    priv = s.signing_key or ec.generate_private_key(ec.SECP384R1())
    fmt = (
        serialization.PublicFormat.UncompressedPoint
        if s.uncompressed_key
        else serialization.PublicFormat.CompressedPoint
    )
    point = priv.public_key().public_bytes(serialization.Encoding.X962, fmt)
    pairs = [(b"aws-crypto-public-key", base64.b64encode(point)), *s.extra_context.items()]
    if s.sort_context:
        pairs.sort()
    ctx = context_bytes(pairs)
    mid = s.message_id or os.urandom(16)
    mk = s.message_key or os.urandom(32)
    edk_iv = os.urandom(12)
    wrapped = AESGCM(das_key).encrypt(edk_iv, mk, ctx)
    info = s.key_name + struct.pack(">II", 128, 12) + edk_iv
    edk = U16.pack(len(s.provider)) + s.provider + U16.pack(len(info)) + info
    edk += U16.pack(len(wrapped)) + wrapped
    header = struct.pack(">BBH16sH", 1, 0x80, s.suite, mid, len(ctx)) + ctx
    header += U16.pack(s.edks) + edk * s.edks
    header += struct.pack(">BIBI", 2, s.reserved, 12, s.frame_length)
    aead = AESGCM(derive_key(mk, mid) if s.suite == 0x0378 else _derive_any(mk, mid, s.suite))
    header += s.header_iv + aead.encrypt(s.header_iv, b"", header)
    header_end = len(header)
    body = frames(plaintext, aead, mid, s.frame_length)
    signed = header + body
    sig = priv.sign(signed, ec.ECDSA(hashes.SHA384()))
    return Forged(signed + U16.pack(len(sig)) + sig, mk, header_end, len(signed))


def _derive_any(mk: bytes, mid: bytes, suite: int) -> bytes:
    import hmac

    prk = hmac.digest(bytes(48), mk, "sha384")
    return hmac.digest(prk, struct.pack(">H", suite) + mid + b"\x01", "sha384")[:32]


def frames(plaintext: bytes, aead: AESGCM, mid: bytes, frame_length: int) -> bytes:
    """Regular frames of ``frame_length`` and one final frame (possibly empty)."""
    out = []
    seq = 1
    pos = 0
    while len(plaintext) - pos > frame_length:
        iv = seq.to_bytes(12, "big")
        aad = mid + b"AWSKMSEncryptionClient Frame" + struct.pack(">IQ", seq, frame_length)
        out.append(struct.pack(">I", seq) + iv)
        out.append(aead.encrypt(iv, plaintext[pos : pos + frame_length], aad))
        pos += frame_length
        seq += 1
    rest = plaintext[pos:]
    iv = seq.to_bytes(12, "big")
    aad = mid + b"AWSKMSEncryptionClient Final Frame" + struct.pack(">IQ", seq, len(rest))
    out.append(struct.pack(">II", 0xFFFFFFFF, seq) + iv + struct.pack(">I", len(rest)))
    out.append(aead.encrypt(iv, rest, aad))
    return b"".join(out)


def segments(m: bytes) -> list[tuple[str, int, int]]:
    """The regions of a valid framed 0x0378 message: header, auth, each frame's parts, footer."""
    from engine.das.message import parse_header

    h = parse_header(m)
    out = [("header", 0, h.header_end), ("header_auth", h.header_end, h.header_end + 28)]
    p = h.header_end + 28
    while True:
        (first,) = struct.unpack_from(">I", m, p)
        if first == 0xFFFFFFFF:
            (clen,) = struct.unpack_from(">I", m, p + 20)
            out += [
                ("final_marker", p, p + 4),
                ("final_seq", p + 4, p + 8),
                ("final_iv", p + 8, p + 20),
                ("final_len", p + 20, p + 24),
                ("final_body", p + 24, p + 24 + clen + 16),
            ]
            p += 24 + clen + 16
            break
        out += [
            ("frame_seq", p, p + 4),
            ("frame_iv", p + 4, p + 16),
            ("frame_body", p + 16, p + 16 + h.frame_length + 16),
        ]
        p += 16 + h.frame_length + 16
    out += [("footer_len", p, p + 2), ("signature", p + 2, len(m))]
    return out


def body_end(m: bytes) -> int:
    """Where the footer of a valid message starts: everything before it is signed."""
    return segments(m)[-2][1]
