"""Every single-byte flip, truncation, deletion and insertion of a small and of a multi-frame
message, then structure-aware random edits: the SDK (the oracle) and the native reader both
refuse, except where the native reader does not verify the signature and only the footer
changed; there it must return the genuine plaintext, never anything else.

Exhaustive loops run on two small messages (one frame of a one-event record; three 128-byte
frames): about 3,000 cases each, a few seconds in all. Larger messages have the same structure
(more frames of the same kind), so the random, structure-aware edits sample those instead;
``DAS_FUZZ_EXAMPLES=200000`` runs a long randomized hunt.
"""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.das.crypto import MessageDecryptor, encrypt_message
from engine.das.encoder import payload_json
from engine.das.errors import CiphertextInvalid
from engine.das.message import NativeReader
from tests.das.forge import body_end, segments

KEY = bytes(range(96, 128))
ESDK = MessageDecryptor()
NATIVE = NativeReader()
VERIFY = NativeReader(verify_signature=True)
REJECT = "reject"

SMALL_PT = gzip.compress(
    payload_json([{"type": "record", "command": "SELECT"}], cluster_id="c", instance_id="i")
)
SMALL = encrypt_message(SMALL_PT, KEY)
MULTI_PT = bytes(range(256)) + b"tail of the final frame" * 3
MULTI = encrypt_message(MULTI_PT, KEY, frame_length=128)
MESSAGES = {"small": (SMALL, SMALL_PT), "multi-frame": (MULTI, MULTI_PT)}


def outcome(reader: MessageDecryptor | NativeReader, m: bytes) -> bytes | str:
    try:
        return reader.decrypt(m, KEY)
    except CiphertextInvalid as exc:
        assert exc.reason == "ciphertext_invalid" and exc.message
        return REJECT


def expected_native(original: bytes, plaintext: bytes, mutated: bytes) -> bytes | str:
    """What the non-verifying reader must answer: the genuine plaintext if and only if every
    signed byte is unchanged and the footer is still well formed; otherwise a refusal."""
    signed = body_end(original)
    if mutated[:signed] != original[:signed]:
        return REJECT
    footer = mutated[signed:]
    if len(footer) < 2:
        return REJECT
    (n,) = struct.unpack_from(">H", footer)
    return plaintext if 0 < n <= 104 and len(footer) == 2 + n else REJECT


def check(original: bytes, plaintext: bytes, mutated: bytes) -> bool:
    """Asserts the three readers' outcomes; True when the native reader accepted."""
    assert mutated != original
    assert outcome(ESDK, mutated) == REJECT
    native = outcome(NATIVE, mutated)
    assert native == expected_native(original, plaintext, mutated)
    if native != REJECT:  # verification only ever refuses more
        assert outcome(VERIFY, mutated) == REJECT
    return native != REJECT


def flips(m: bytes) -> Iterator[bytes]:
    for i in range(len(m)):
        yield m[:i] + bytes([m[i] ^ 0x01]) + m[i + 1 :]


def truncations(m: bytes) -> Iterator[bytes]:
    for i in range(len(m)):
        yield m[:i]


def deletions(m: bytes) -> Iterator[bytes]:
    for i in range(len(m)):
        yield m[:i] + m[i + 1 :]


def insertions(m: bytes) -> Iterator[bytes]:
    for i in range(len(m) + 1):  # the last one appends
        yield m[:i] + bytes([m[i - 1] if i else 0]) + m[i:]


@pytest.mark.parametrize(
    "kind", [flips, truncations, deletions, insertions], ids=lambda f: f.__name__
)
@pytest.mark.parametrize("which", list(MESSAGES))
def test_exhaustive(which: str, kind: Callable[[bytes], Iterator[bytes]]) -> None:
    m, pt = MESSAGES[which]
    assert outcome(ESDK, m) == outcome(NATIVE, m) == outcome(VERIFY, m) == pt
    cases = accepted = 0
    for mutated in kind(m):
        if mutated == m:  # an inserted copy of its neighbour can leave the message unchanged
            continue
        cases += 1
        accepted += check(m, pt, mutated)
    assert cases >= len(m) - 2
    sig = len(m) - body_end(m) - 2
    if kind is flips:
        assert accepted == sig  # each signature byte; never a flip before the footer
    elif kind is truncations:
        assert accepted == 0
    # deletions/insertions inside the signature break the footer length: refused


# --- structure-aware random edits ------------------------------------------------------------
_LONG = os.environ.get("DAS_FUZZ_EXAMPLES")
SETTINGS = settings(max_examples=int(_LONG or 300), deadline=None, derandomize=not _LONG)
BIG_PT = os.urandom(3000)
BIG = encrypt_message(BIG_PT, KEY, frame_length=512)  # six regular frames and a final one
ALL = {**MESSAGES, "six frames": (BIG, BIG_PT)}
INTERESTING = [0, 1, 2, 12, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0xFFFFFFFE, 0xFFFFFFFF]


@st.composite
def structured_edit(draw: st.DrawFn) -> tuple[bytes, bytes, bytes]:
    name = draw(st.sampled_from(sorted(ALL)))
    m, pt = ALL[name]
    segs = segments(m)
    _, a, b = draw(st.sampled_from(segs))
    op = draw(st.sampled_from(["replace", "resize", "delete", "duplicate", "swap", "int", "bytes"]))
    if op == "replace":  # same length, random content
        new = m[:a] + draw(st.binary(min_size=b - a, max_size=b - a)) + m[b:]
    elif op == "resize":
        new = m[:a] + draw(st.binary(max_size=2 * (b - a) + 4)) + m[b:]
    elif op == "delete":
        new = m[:a] + m[b:]
    elif op == "duplicate":
        new = m[:b] + m[a:b] + m[b:]
    elif op == "swap":
        _, c, d = draw(st.sampled_from(segs))
        if c < a:
            a, b, c, d = c, d, a, b
        new = m[:a] + m[c:d] + m[b:c] + m[a:b] + m[d:] if b <= c else m
    elif op == "int":  # a length, count or sequence field set to an edge value
        width = draw(st.sampled_from([1, 2, 4]))
        at = draw(st.integers(a, max(a, b - width)))
        value = draw(st.sampled_from(INTERESTING)) % (1 << (8 * width))
        new = m[:at] + value.to_bytes(width, "big") + m[at + width :]
    else:  # a few random bytes written anywhere in the segment
        at = draw(st.integers(a, b))
        new = m[:at] + draw(st.binary(min_size=1, max_size=8)) + m[at + 8 :]
    return m, pt, new


@SETTINGS
@given(structured_edit())
def test_structure_aware_edits(case: tuple[bytes, bytes, bytes]) -> None:
    original, pt, mutated = case
    if mutated == original:
        return
    check(original, pt, mutated)
