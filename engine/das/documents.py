"""JSON documents in a captured file, and what kind of DAS document each one is.

Every command that reads captured input (``decode``/``run`` for records, ``eval`` for events,
``jp`` for sample events) accepts the same file shapes: any number of JSON documents one after
another (pretty-printed, one per line, or concatenated). Splitting the text and recognising a
document live here, once, so the commands cannot drift apart on what a file means; each caller
keeps only its own policy (decode, normalize, or refuse) and its own error wording.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

WHITESPACE = " \t\r\n"
_decoder = json.JSONDecoder()

# document kinds (``document_kind``)
KINESIS = "kinesis"  # a Lambda Kinesis event or `aws kinesis get-records` output: Records[]
FIREHOSE = "firehose"  # a Firehose transformation event: records[]
RECORD = "record"  # one raw (encrypted) DatabaseActivityMonitoringRecords payload
ENVELOPE = "envelope"  # a decrypted DatabaseActivityMonitoringRecord: databaseActivityEventList
HEARTBEAT = "heartbeat"  # an activity event of type heartbeat
EVENT = "event"  # anything else that is a JSON object: taken as one activity event

RECORDS_TYPE = "DatabaseActivityMonitoringRecords"
ENVELOPE_TYPE = "DatabaseActivityMonitoringRecord"
# keys only a real Firehose transformation event carries besides ``records``
FIREHOSE_MARKERS = frozenset({"invocationId", "sourceKinesisStreamArn", "deliveryStreamArn"})


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed document: its value, the line it starts on and its span in the text."""

    value: Any
    line: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class NotJson:
    """Text at ``line`` that does not parse; reading resumes at the next document line."""

    error: ValueError | RecursionError
    line: int

    @property
    def message(self) -> str:
        return str(getattr(self.error, "msg", self.error))


def read_input(path: str | os.PathLike[str]) -> tuple[str, bytes]:
    """``(name, content)`` of a captured file; ``-`` is standard input, named ``<stdin>``.

    ``OSError`` propagates: each reader reports an unreadable file in its own way.
    """
    name = os.fspath(path)
    if name == "-":
        return "<stdin>", sys.stdin.buffer.read()
    with open(name, "rb") as fh:
        return name, fh.read()


def iter_documents(text: str, *, whitespace: str = WHITESPACE) -> Iterator[Document | NotJson]:
    """Every JSON document of ``text`` in order; a leading byte-order mark is skipped.

    Text that does not parse yields one ``NotJson`` and reading resumes at the next line that
    starts with ``{`` or ``[`` (a broken line in a JSON-lines file loses only that line). A
    caller that must stop at the first error simply stops iterating.
    """
    pos, line, n = 0, 1, len(text)
    if text.startswith("\ufeff"):
        pos = 1
    while True:
        start = pos
        while pos < n and text[pos] in whitespace:
            pos += 1
        line += text.count("\n", start, pos)
        if pos >= n:
            return
        try:
            doc, end = _decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            yield NotJson(exc, line)
            nxt = _next_document_line(text, pos)
            line += text.count("\n", pos, nxt)
            pos = nxt
            continue
        yield Document(doc, line, pos, end)
        line += text.count("\n", pos, end)
        pos = end


def _next_document_line(text: str, pos: int) -> int:
    """The start of the next line beginning with '{' or '[' after ``pos`` (or the end)."""
    n = len(text)
    i = text.find("\n", pos)
    while i != -1:
        if i + 1 < n and text[i + 1] in "{[":
            return i + 1
        i = text.find("\n", i + 1)
    return n


def document_kind(doc: Any) -> str | None:
    """What ``doc`` is (one of the kinds above), or None when it is not a JSON object.

    Checked in this order, so a stream event wins over anything it might also look like.
    ``FIREHOSE`` means only "has a ``records`` list": a reader that wants proof of a real
    transformation event also checks ``FIREHOSE_MARKERS``.
    """
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("Records"), list):
        return KINESIS
    if isinstance(doc.get("records"), list):
        return FIREHOSE
    kind = doc.get("type")
    if "databaseActivityEvents" in doc or kind == RECORDS_TYPE:
        return RECORD
    if "databaseActivityEventList" in doc or kind == ENVELOPE_TYPE:
        return ENVELOPE
    if kind == "heartbeat":
        return HEARTBEAT
    return EVENT
