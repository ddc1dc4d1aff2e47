"""The bench's stream generator: deterministic for a seed, and the mix it promises."""

from __future__ import annotations

import json

import pytest

from bench import streamgen as sg
from engine.das.decoder import Decoder
from engine.das.keys import LocalKeyProvider
from engine.das.sources import records_from_kinesis_event
from engine.events import normalize


def _dump(p: sg.Plan) -> str:
    return json.dumps(
        [(r.resource.resource_id, r.heartbeats, r.key_epoch, r.events) for r in p.records],
        sort_keys=True,
    )


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    spec = sg.StreamSpec(records=30, events_per_record=7, seed=42)
    assert _dump(sg.plan(spec)) == _dump(sg.plan(spec))
    assert _dump(sg.plan(spec)) != _dump(sg.plan(sg.StreamSpec(records=30, events_per_record=7)))


def test_requested_shape_and_mix() -> None:
    p = sg.plan(sg.StreamSpec(records=400, events_per_record=25, records_per_key=10))
    assert all(len(r.events) == 25 for r in p.records)
    assert p.event_count == 400 * 25
    counts = sg.mix(p)
    assert set(counts["engines"]) == set(sg.ENGINES)
    share = {k: v / p.event_count for k, v in counts["activities"].items()}
    # MySQL adds an AUX event to each read and write statement, so shares drift a little.
    assert 0.62 <= share["read"] <= 0.80
    assert 0.15 <= share["write"] <= 0.28
    for kind in ("connect", "disconnect", "ddl", "role", "failed_login"):
        assert 0 < share[kind] < 0.06, kind
    # The derived action agrees with the generator's own classification.
    actions = {
        normalize(ev)["das"]["action"]
        for r in p.records
        for ev in r.events
        if sg.activity_of(r.resource.engine, ev) == "failed_login"
    }
    assert actions == {"LOGIN_FAILED"}


def test_resources_and_key_rotation() -> None:
    p = sg.plan(sg.StreamSpec(records=120, events_per_record=2, records_per_key=5))
    for engine, res in p.resources.items():
        aurora = engine in ("postgres", "mysql")
        assert res.resource_id.startswith("cluster-" if aurora else "db-")
        assert res.cluster_id == (res.resource_id if aurora else "")
        assert res.stream_arn.endswith(f"aws-rds-das-{res.resource_id}")
        epochs = [r.key_epoch for r in p.records if r.resource is res]
        assert epochs == [i // 5 for i in range(len(epochs))]


def test_encoded_records_decode_to_the_plan_in_single_stream_batches() -> None:
    keys = LocalKeyProvider(bytes(range(32)))
    p = sg.plan(sg.StreamSpec(records=12, events_per_record=3, records_per_key=2, seed=7))
    encoded = sg.encode(p, keys)
    events = sg.kinesis_events(encoded, batch_size=2)
    decoder = Decoder(keys)
    decoded = []
    for ev in events:
        assert len({r["eventSourceARN"] for r in ev["Records"]}) == 1
        decoded += [decoder.decode(r) for r in records_from_kinesis_event(ev)]
    by_events = sorted(json.dumps(d.events, sort_keys=True) for d in decoded)
    assert by_events == sorted(json.dumps(r.events, sort_keys=True) for r in p.records)
    assert sum(d.heartbeats for d in decoded) == sum(r.heartbeats for r in p.records)
    # 12 records over four streams, a new data key every 2 records of a stream
    blobs = {json.loads(e.payload)["key"] for e in encoded}
    assert len(blobs) == sum((n + 1) // 2 for n in _per_stream(p).values())


def _per_stream(p: sg.Plan) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in p.records:
        out[r.resource.engine] = out.get(r.resource.engine, 0) + 1
    return out


def test_bad_spec_is_refused() -> None:
    with pytest.raises(ValueError, match="records_per_key"):
        sg.plan(sg.StreamSpec(records=1, records_per_key=0))
    with pytest.raises(ValueError, match="unknown engine"):
        sg.plan(sg.StreamSpec(records=1, engines=(("db2", 1.0),)))
