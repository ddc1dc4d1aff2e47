"""The one splitter and classifier of captured input that decode, run, eval and jp share."""

from __future__ import annotations

import json

import pytest

from engine.das.documents import (
    ENVELOPE,
    EVENT,
    FIREHOSE,
    HEARTBEAT,
    KINESIS,
    RECORD,
    Document,
    NotJson,
    document_kind,
    iter_documents,
    read_input,
)


def test_documents_lines_and_spans_with_a_broken_line_in_between():
    text = '\ufeff{"a": 1}\n{broken\n\n[1, 2]\n  {"b":\n 2}'
    docs = list(iter_documents(text))
    assert [type(d) for d in docs] == [Document, NotJson, Document, Document]
    assert [d.line for d in docs] == [1, 2, 4, 5]
    first = docs[0]
    assert isinstance(first, Document) and text[first.start : first.end] == '{"a": 1}'
    assert docs[1].message.startswith("Expecting property name")
    assert docs[2].value == [1, 2] and docs[3].value == {"b": 2}


def test_a_byte_order_mark_between_documents_is_whitespace_only_when_asked():
    text = '{"a": 1}\n\ufeff{"b": 2}'
    assert isinstance(list(iter_documents(text))[1], NotJson)
    values = [d.value for d in iter_documents(text, whitespace=" \n\ufeff")]
    assert values == [{"a": 1}, {"b": 2}]


def test_document_kinds():
    assert document_kind({"Records": []}) == KINESIS
    assert document_kind({"records": [], "invocationId": "x"}) == FIREHOSE
    assert document_kind({"type": "DatabaseActivityMonitoringRecords"}) == RECORD
    assert document_kind({"databaseActivityEventList": []}) == ENVELOPE
    assert document_kind({"type": "heartbeat"}) == HEARTBEAT
    assert document_kind({"commandText": "select 1"}) == EVENT
    assert document_kind([]) is None and document_kind(json.loads("5")) is None


def test_read_input_names_the_file_and_leaves_errors_to_the_reader(tmp_path):
    path = tmp_path / "events.json"
    path.write_bytes(b'{"a": 1}\n')
    assert read_input(path) == (str(path), b'{"a": 1}\n')
    with pytest.raises(FileNotFoundError):
        read_input(tmp_path / "missing.json")
