"""Where records come from: a Kinesis Lambda event, a Firehose transformation event, or a file.

Sources never raise for one bad record: a record whose transport wrapping is broken (bad base64,
missing ``data``) becomes an ``UndecodableRecord`` that the decoder turns into the typed error,
with its id, so the rest of the batch goes on and nothing is silently dropped.
"""

from __future__ import annotations

import binascii
import json
import os
from base64 import b64decode
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.das.documents import (
    FIREHOSE,
    FIREHOSE_MARKERS,
    KINESIS,
    RECORD,
    NotJson,
    document_kind,
    iter_documents,
    read_input,
)
from engine.das.errors import BadBase64, BadEnvelope, DecodeError
from engine.das.records import RawRecord

STREAM_PREFIX = "aws-rds-das-"


@dataclass(frozen=True, slots=True)
class UndecodableRecord(RawRecord):
    """A record the source could not unwrap; decoding it raises ``error_type(error_message)``."""

    error_type: type[DecodeError] = BadEnvelope
    error_message: str = ""


def resource_id_from_arn(arn: str | None) -> str | None:
    """``cluster-…``/``db-…`` from ``arn:aws:kinesis:…:stream/aws-rds-das-<id>``, else None."""
    if not arn or not isinstance(arn, str):
        return None
    name = arn.rsplit("/", 1)[-1] if ":stream/" in arn else arn
    if not name.startswith(STREAM_PREFIX):
        return None
    rid = name[len(STREAM_PREFIX) :]
    return rid if rid.startswith(("cluster-", "db-")) and len(rid) > 4 else None


def _b64_data(value: Any) -> bytes:
    if not isinstance(value, str):
        raise BadEnvelope(f"'data' must be a base64 string, got {type(value).__name__}")
    try:
        return b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadBase64(f"the record's 'data' is not valid base64: {exc}") from None


def _record(record_id: str, data: Any, arn: str | None, position: str | None) -> RawRecord:
    try:
        raw = _b64_data(data)
    except DecodeError as exc:
        return UndecodableRecord(
            record_id=record_id,
            data=b"",
            stream_arn=arn,
            position=position,
            error_type=type(exc),
            error_message=exc.message,
        )
    return RawRecord(record_id=record_id, data=raw, stream_arn=arn, position=position)


def records_from_kinesis_event(event: dict[str, Any], *, where: str = "") -> list[RawRecord]:
    """RawRecords of a Lambda Kinesis event; ids are the ``sequenceNumber``s.

    Also accepts the output of ``aws kinesis get-records`` (``Records[].Data``), which is how
    people capture a stream by hand.
    """
    out: list[RawRecord] = []
    items = event.get("Records")
    if not _is_list(items):
        return [_not_a_list(f"{where}Records", items, None)]
    for i, item in enumerate(items or []):
        pos = f"{where}Records[{i}]"
        if not isinstance(item, dict):
            out.append(_broken(pos, pos, None, "the Kinesis record is not an object"))
            continue
        arn = item.get("eventSourceARN")
        arn = arn if isinstance(arn, str) else None
        kin = item.get("kinesis")
        if isinstance(kin, dict):
            seq, data = kin.get("sequenceNumber"), kin.get("data")
        else:
            seq, data = item.get("SequenceNumber"), item.get("Data")
        rid = str(seq) if seq else pos
        if data is None:
            out.append(_broken(rid, pos, arn, "the Kinesis record has no 'data'"))
            continue
        out.append(_record(rid, data, arn, pos))
    return out


def records_from_firehose_event(event: dict[str, Any], *, where: str = "") -> list[RawRecord]:
    """RawRecords of a Firehose transformation event; ids are the ``recordId``s."""
    arn = event.get("sourceKinesisStreamArn")
    arn = arn if isinstance(arn, str) else None
    out: list[RawRecord] = []
    items = event.get("records")
    if not _is_list(items):
        return [_not_a_list(f"{where}records", items, arn)]
    for i, item in enumerate(items or []):
        pos = f"{where}records[{i}]"
        if not isinstance(item, dict):
            out.append(_broken(pos, pos, arn, "the Firehose record is not an object"))
            continue
        rid = item.get("recordId")
        rid = str(rid) if rid else pos
        if "data" not in item:
            out.append(_broken(rid, pos, arn, "the Firehose record has no 'data'"))
            continue
        out.append(_record(rid, item["data"], arn, pos))
    return out


def _is_list(items: Any) -> bool:
    return items is None or isinstance(items, list)


def _not_a_list(name: str, items: Any, arn: str | None) -> UndecodableRecord:
    """An event whose record list is something else (``{"Records": 5}``): one typed error for
    the whole list — never a TypeError, nor a bogus record per character or key."""
    return _broken(
        name, name, arn, f"'{name.split()[-1]}' must be a list, got {type(items).__name__}"
    )


def _broken(record_id: str, position: str, arn: str | None, message: str) -> UndecodableRecord:
    return UndecodableRecord(
        record_id=record_id,
        data=b"",
        stream_arn=arn,
        position=position,
        error_type=BadEnvelope,
        error_message=message,
    )


# --- files ----------------------------------------------------------------------------------


def iter_records_from_text(text: str, name: str) -> Iterator[RawRecord]:
    """Records from the text of a file: any number of JSON documents, one after another.

    Each document may be a Kinesis Lambda event, a Firehose transformation event, a raw record
    payload (the ``DatabaseActivityMonitoringRecords`` JSON, one per line in a JSON-lines file),
    or a JSON array of those. A document that cannot be parsed becomes one error record and
    reading resumes at the next line that starts a document.
    """
    for doc in iter_documents(text):
        here = f"{name}:{doc.line}"
        if isinstance(doc, NotJson):
            yield _broken(here, here, None, f"not JSON: {doc.message}")
            continue
        value = doc.value
        if isinstance(value, list):
            for j, item in enumerate(value):
                yield from _records_of_document(item, None, f"{here}[{j}]", f"{here} [{j}].")
        else:
            yield from _records_of_document(value, text[doc.start : doc.end], here, f"{here} ")


def _records_of_document(
    item: Any, raw_text: str | None, rid: str, where: str
) -> Iterator[RawRecord]:
    """Records of one document; ``raw_text`` is its exact text when it stands alone."""
    kind = document_kind(item)
    if kind == FIREHOSE and FIREHOSE_MARKERS.isdisjoint(item):
        kind = None  # a bare ``records`` list is not enough to call a file a Firehose event
    if kind == KINESIS:
        yield from records_from_kinesis_event(item, where=where)
    elif kind == FIREHOSE:
        yield from records_from_firehose_event(item, where=where)
    elif kind == RECORD:
        data = raw_text if raw_text is not None else json.dumps(item)
        yield RawRecord(record_id=rid, data=data.encode("utf-8"), position=rid)
    else:
        yield _broken(
            rid,
            rid,
            None,
            "not a Kinesis Lambda event, a Firehose event or a DAS record payload",
        )


def iter_records_from_file(path: str | os.PathLike[str]) -> Iterator[RawRecord]:
    """Records from a file (``-`` is standard input); positions are ``FILE:LINE``."""
    name, raw = read_input(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield _broken(name, name, None, f"the file is not UTF-8 text: {exc}")
        return
    yield from iter_records_from_text(text, name)
