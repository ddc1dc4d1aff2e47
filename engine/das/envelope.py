"""The outer Kinesis record: ``{"type", "version", "databaseActivityEvents", "key", …}``.

Parsed as JSON (whitespace and field order vary), checked strictly (a record that is almost right
is a bug or an attack, not something to guess at), and unknown fields are kept because AWS adds
fields without notice.
"""

from __future__ import annotations

import binascii
import json
import re
from base64 import b64decode
from dataclasses import dataclass, field
from typing import Any

from engine.das.errors import BadBase64, BadEnvelope, DecodeError, UnsupportedType

RECORDS_TYPE = "DatabaseActivityMonitoringRecords"
KNOWN_VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4")

# Versions 1.0-1.4 are documented; later 1.x versions only *add* fields (AWS's compatibility
# promise), so refusing them would blind the pipeline the day AWS ships one. A new major is not
# something we can read safely.
_VERSION = re.compile(r"1\.[0-9]{1,3}")
_KNOWN_FIELDS = frozenset({"type", "version", "databaseActivityEvents", "key"})


@dataclass(frozen=True, slots=True)
class Envelope:
    """The decoded outer record. ``ciphertext`` and ``key_blob`` are the base64-decoded fields."""

    version: str
    ciphertext: bytes
    key_blob: bytes
    extra: dict[str, Any] = field(default_factory=dict)


def _b64(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise BadEnvelope(f"{name!r} must be a base64 string, got {type(value).__name__}")
    if not value:
        raise BadBase64(f"{name!r} is empty")
    try:
        raw = b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadBase64(f"{name!r} is not valid base64: {exc}") from None
    if not raw:
        raise BadBase64(f"{name!r} decodes to nothing")
    return raw


def load_typed_object(
    data: bytes | str, *, what: str, expected_type: str, error: type[DecodeError]
) -> dict[str, Any]:
    """A JSON object whose ``type`` is ``expected_type``, or a typed error naming ``what``.

    Both layers of a DAS record (the outer envelope and the decrypted payload) start this way;
    ``error`` is the layer's own error class, a wrong ``type`` is always ``UnsupportedType``.
    """
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise error(f"the {what} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise error(f"the {what} is a JSON {type(doc).__name__}, expected an object")
    dtype = doc.get("type")
    if dtype is None:
        raise error(f"the {what} has no 'type'")
    if dtype != expected_type:
        raise UnsupportedType(f"{what} type {_short(dtype)}, expected {expected_type!r}")
    return doc


def parse_envelope(data: bytes | str) -> Envelope:
    """Parse one Kinesis record's data into an ``Envelope`` or raise a typed error."""
    doc = load_typed_object(data, what="record", expected_type=RECORDS_TYPE, error=BadEnvelope)
    version = doc.get("version")
    if not isinstance(version, str):
        raise BadEnvelope("the record has no string 'version'")
    if not _VERSION.fullmatch(version):
        raise UnsupportedType(f"record version {_short(version)}, expected 1.x (1.0-1.4 known)")
    if "databaseActivityEvents" not in doc:
        raise BadEnvelope("the record has no 'databaseActivityEvents'")
    if "key" not in doc:
        raise BadEnvelope("the record has no 'key'")
    ciphertext = _b64(doc["databaseActivityEvents"], "databaseActivityEvents")
    key_blob = _b64(doc["key"], "key")
    extra = {k: v for k, v in doc.items() if k not in _KNOWN_FIELDS}
    return Envelope(version=version, ciphertext=ciphertext, key_blob=key_blob, extra=extra)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
