"""The decrypted payload: gzip (inflated under a hard cap) holding one JSON document.

``gzip.decompress`` has no size limit and ``zlib.decompress`` drops every member after the first;
this inflater does neither: it reads all members like ``gzip.decompress`` (zero padding between
or after members allowed, anything else refused) and stops as soon as the output passes the cap,
so a few hundred bytes that inflate to gigabytes cost nothing.

The inflated size alone does not bound the work: 32 MiB of ``{},`` is eleven million dicts —
about 800 MiB and seconds of ``json.loads`` — before any events-per-record cap can look at them.
So ``parse_payload`` first counts the JSON containers (objects and arrays, outside strings) and
refuses a payload with more than ``MAX_JSON_CONTAINERS`` as ``TooLarge`` (a permanent, counted
decode error). Real DAS events are one object each (a few with a list or two inside), so the cap
sits well above what a record under the pipeline's events-per-record cap can hold. Counting is
one pass of ``bytes.count`` (milliseconds for 32 MiB); only a payload over the cap by that
rough count has its strings stripped for the exact count.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

from engine.das.envelope import load_typed_object
from engine.das.errors import BadJson, NotGzip, TooLarge

PAYLOAD_TYPE = "DatabaseActivityMonitoringRecord"
DEFAULT_MAX_INFLATED = 32 * 1024 * 1024
# objects + arrays of one payload: 5 per event at the pipeline's 100,000 events per record
MAX_JSON_CONTAINERS = 500_000
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_GZIP_WBITS = 31  # gzip wrapper only; zlib checks the CRC32 and length trailer


def inflate(data: bytes, max_bytes: int) -> bytes:
    """Gunzip ``data`` (all members) or raise ``NotGzip`` / ``TooLarge``."""
    if not data:
        raise NotGzip("the plaintext is empty")
    parts: list[bytes] = []
    total = 0
    rest = data
    while rest:
        d = zlib.decompressobj(wbits=_GZIP_WBITS)
        buf = rest
        while True:
            try:
                out = d.decompress(buf, max_bytes - total + 1)
            except zlib.error as exc:
                raise NotGzip(f"the plaintext is not valid gzip: {exc}") from None
            total += len(out)
            if total > max_bytes:
                raise TooLarge(f"the payload inflates to more than {max_bytes} bytes")
            parts.append(out)
            if d.eof:
                break
            tail = d.unconsumed_tail
            if not out and len(tail) == len(buf):  # no progress: input ended mid-stream
                raise NotGzip("the gzip stream is truncated")
            buf = tail
        rest = d.unused_data.lstrip(b"\x00")
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class Payload:
    cluster_id: str | None
    instance_id: str | None
    events: list[dict[str, Any]]
    heartbeats: int


def count_containers(text: bytes) -> int:
    """JSON objects and arrays in ``text``: a rough count (every brace) when it is small enough,
    else the exact one (braces inside strings not counted)."""
    rough = text.count(b"{") + text.count(b"[")
    if rough <= MAX_JSON_CONTAINERS:
        return rough
    bare = _JSON_STRING.sub(b"", text)
    return bare.count(b"{") + bare.count(b"[")


def _opt_str(doc: dict[str, Any], name: str) -> str | None:
    value = doc.get(name)
    if value is None or isinstance(value, str):
        return value
    raise BadJson(f"payload {name!r} must be a string, got {type(value).__name__}")


def parse_payload(text: bytes) -> Payload:
    """The activity events of one record, heartbeats counted and removed.

    The events are the dicts ``json.loads`` produced, untouched (no copy). An event without
    ``type`` is an activity event (Oracle sends some), and so is an unknown ``type``: dropping
    what we do not recognise would hide activity.
    """
    containers = count_containers(text)
    if containers > MAX_JSON_CONTAINERS:
        raise TooLarge(
            f"the payload holds {containers} JSON containers, more than {MAX_JSON_CONTAINERS}"
        )
    doc = load_typed_object(text, what="payload", expected_type=PAYLOAD_TYPE, error=BadJson)
    items = doc.get("databaseActivityEventList")
    if not isinstance(items, list):
        raise BadJson("the payload has no 'databaseActivityEventList' list")
    events: list[dict[str, Any]] = []
    heartbeats = 0
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadJson(
                f"databaseActivityEventList[{i}] is a {type(item).__name__}, not an object"
            )
        if item.get("type") == "heartbeat":
            heartbeats += 1
        else:
            events.append(item)
    return Payload(
        cluster_id=_opt_str(doc, "clusterId"),
        instance_id=_opt_str(doc, "instanceId"),
        events=events,
        heartbeats=heartbeats,
    )
