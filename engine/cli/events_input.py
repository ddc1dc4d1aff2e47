"""Reading activity events from files for ``dasalert eval``, whatever shape they were captured in.

A rule author has events in many forms: one event copied from the docs, JSON lines written by
``dasalert decode`` or the Firehose transformation, a decrypted ``DatabaseActivityMonitoringRecord``
(the envelope with ``databaseActivityEventList``), or the encrypted stream itself (a Kinesis
Lambda event, a Firehose transformation event, or raw record payloads). A file may hold any
number of JSON documents one after another (pretty-printed or one per line) and a document may be
an array of any of these. Encrypted documents are decoded exactly as ``dasalert decode`` does
(engineer D's ``engine.das.sources`` and ``engine.das.decoder``).

Nothing is dropped silently: every document, record or event that cannot be used becomes a
``problem`` naming its place (``FILE:LINE``) and the reading goes on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.das.documents import (
    ENVELOPE,
    FIREHOSE,
    KINESIS,
    RECORD,
    NotJson,
    document_kind,
    iter_documents,
    read_input,
)

# fields every DAS activity event carries at least one of (docs/events.md)
_EVENT_FIELDS = frozenset(
    {"logTime", "command", "commandText", "dbUserName", "class", "databaseName", "sessionId"}
)


def plaintext_envelope(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The decrypted envelope inside an outer record whose payload is not encrypted, else None.

    The AWS documentation prints its sample records as the outer
    ``DatabaseActivityMonitoringRecords`` with ``databaseActivityEvents`` already decrypted: a
    JSON object (or its JSON text) where the stream carries base64. Rule authors paste exactly
    those samples, so ``eval`` and ``jp`` both read such a record as the envelope it holds; a
    base64 string (a real, encrypted record) gives None and is decoded instead.
    """
    inner = doc.get("databaseActivityEvents")
    if isinstance(inner, str) and inner.lstrip().startswith("{"):
        try:
            inner = json.loads(inner)
        except ValueError:
            return None
    if isinstance(inner, dict) and document_kind(inner) == ENVELOPE:
        return inner
    return None


@dataclass
class ReadResult:
    events: list[dict[str, Any]] = field(default_factory=list)  # normalized
    problems: list[str] = field(default_factory=list)  # "FILE:LINE: what is wrong"
    records: int = 0  # encrypted records decoded (or attempted)
    heartbeats: int = 0


class EventReader:
    """Reads files into normalized events; the decoder is built only if a file is encrypted.

    ``keys`` builds the ``DataKeyProvider`` (a local key or KMS) on first need, so evaluating a
    plain JSON file never touches AWS.
    """

    def __init__(
        self,
        keys: Callable[[], Any] | None = None,
        *,
        resource_id: str | None = None,
        decoder_options: dict[str, Any] | None = None,
    ) -> None:
        from engine.events import normalize

        self._normalize = normalize
        self._keys_factory = keys
        self._resource_id = resource_id
        self._decoder_options = decoder_options or {}  # Decoder(reader=…, verify_signature=…)
        self._decoder: Any = None
        self.result = ReadResult()

    # -- files and text ----------------------------------------------------------------------

    def read_file(self, path: str | os.PathLike[str]) -> None:
        try:
            name, raw = read_input(path)
        except OSError as exc:
            self.result.problems.append(f"{os.fspath(path)}: cannot read: {exc.strerror or exc}")
            return
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            self.result.problems.append(f"{name}: not UTF-8 text: {exc}")
            return
        self.read_text(text, name)

    def read_text(self, text: str, name: str) -> None:
        for doc in iter_documents(text):
            where = f"{name}:{doc.line}"
            if isinstance(doc, NotJson):
                self._problem(where, f"not JSON: {doc.message}")
            elif isinstance(doc.value, list):
                for i, item in enumerate(doc.value):
                    self._document(item, f"{where}[{i}]")
            else:
                self._document(doc.value, where)

    # -- one document ------------------------------------------------------------------------

    def _document(self, doc: Any, where: str) -> None:
        kind = document_kind(doc)
        if kind is None:
            self._problem(where, f"expected a JSON object, found {type(doc).__name__}")
        elif kind == KINESIS:
            from engine.das.sources import records_from_kinesis_event

            self._decode_all(lambda: records_from_kinesis_event(doc, where=f"{where} "), where)
        elif kind == FIREHOSE:
            from engine.das.sources import records_from_firehose_event

            self._decode_all(lambda: records_from_firehose_event(doc, where=f"{where} "), where)
        elif kind == RECORD and (envelope := plaintext_envelope(doc)) is not None:
            self._envelope(envelope, f"{where} databaseActivityEvents")
        elif kind == RECORD:
            from engine.das.records import RawRecord

            data = json.dumps(doc).encode("utf-8")
            self._decode_all(lambda: [RawRecord(where, data, position=where)], where)
        elif kind == ENVELOPE:
            self._envelope(doc, where)
        else:  # an event or a heartbeat
            self._event(doc, where, None, None)

    def _envelope(self, doc: dict[str, Any], where: str) -> None:
        events = doc.get("databaseActivityEventList")
        if not isinstance(events, list):
            self._problem(where, "databaseActivityEventList is missing or not a list")
            return
        cluster, instance = doc.get("clusterId"), doc.get("instanceId")
        for i, raw in enumerate(events):
            self._event(raw, f"{where} databaseActivityEventList[{i}]", cluster, instance)

    def _event(self, raw: Any, where: str, cluster: Any, instance: Any) -> None:
        if not isinstance(raw, dict):
            self._problem(
                where, f"an activity event must be a JSON object, not {type(raw).__name__}"
            )
            return
        if raw.get("type") == "heartbeat":
            self.result.heartbeats += 1
            return
        if not (_EVENT_FIELDS & raw.keys()) and "das" not in raw:
            keys = ", ".join(sorted(raw)[:6]) or "no keys"
            self._problem(where, f"not a DAS activity event, a record or a stream event ({keys})")
            return
        self.result.events.append(
            self._normalize(
                raw,
                cluster_id=cluster if isinstance(cluster, str) else None,
                instance_id=instance if isinstance(instance, str) else None,
            )
        )

    def _decode_all(self, records: Callable[[], list[Any]], where: str) -> None:
        from engine.das.errors import DecodeError

        decoder = self._get_decoder(where)
        if decoder is None:
            return
        for rec in records():
            self.result.records += 1
            try:
                decoded = decoder.decode(rec)
            except DecodeError as exc:
                place = rec.position or rec.record_id
                kind = "transient" if exc.transient else "permanent"
                self._problem(place.strip(), f"{exc.reason} ({kind}): {exc.message}")
                continue
            self.result.heartbeats += decoded.heartbeats
            for i, raw in enumerate(decoded.events):
                place = f"{(rec.position or rec.record_id).strip()} event {i}"
                self._event(raw, place, decoded.cluster_id, decoded.instance_id)

    def _get_decoder(self, where: str) -> Any:
        if self._decoder is None:
            if self._keys_factory is None:
                self._problem(
                    where, "encrypted records need a key: pass --local-key or use AWS KMS"
                )
                return None
            from engine.das.decoder import Decoder

            try:
                self._decoder = Decoder(
                    self._keys_factory(),
                    default_resource_id=self._resource_id,
                    **self._decoder_options,
                )
            except (OSError, ValueError) as exc:
                self._problem(where, f"cannot set up decryption: {exc}")
                self._keys_factory = None
                return None
        return self._decoder

    def _problem(self, where: str, message: str) -> None:
        self.result.problems.append(f"{where}: {message}")


def read_events(
    paths: list[str],
    *,
    keys: Callable[[], Any] | None = None,
    resource_id: str | None = None,
    decoder_options: dict[str, Any] | None = None,
) -> ReadResult:
    """All events of ``paths`` (``-`` is stdin), normalized, with every problem found."""
    reader = EventReader(keys, resource_id=resource_id, decoder_options=decoder_options)
    for path in paths:
        reader.read_file(path)
    return reader.result
