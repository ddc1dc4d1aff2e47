"""A record whose payload names another database than its stream is flagged, and evaluated as the
stream's: KMS binds the data key to the stream's resource id, nothing binds the payload's ids."""

from __future__ import annotations

from engine.alerts import system
from engine.das.decoder import Decoder
from engine.das.encoder import Encoder
from engine.das.keys import LocalKeyProvider
from engine.das.records import RawRecord
from engine.outputs.routing import Router
from engine.pipeline.batch import OK, Pipeline, summarize
from engine.pipeline.state import MemoryStateStore
from engine.rules import build_engine
from tests.pipeline.support import (
    ARN,
    CLUSTER,
    INSTANCE,
    ListDeadLetters,
    ScriptedOutput,
    ddl,
    write_rules,
)

KEY = bytes(range(32))
NOW = 1_800_000_000.0
VICTIM = "cluster-VICTIMAAAAAAAAAAAAAAAAAAAAAA"


def _run(tmp_path, claimed: str) -> tuple[object, ScriptedOutput]:
    keys = LocalKeyProvider(KEY)
    enc = Encoder(keys, CLUSTER)
    data = enc.encode([ddl("mallory", 1)], cluster_id=claimed, instance_id=INSTANCE)
    honest = enc.encode([ddl("alice", 2, n=2)], cluster_id=CLUSTER, instance_id=INSTANCE)
    state = MemoryStateStore()
    output = ScriptedOutput()
    router = Router({"fake": output}, ("fake",), {"fake": "info"}, ("fake",), ("fake",))
    engine = build_engine(write_rules(tmp_path / "rules"), state).engine
    p = Pipeline(
        Decoder(keys),
        state=state,
        engine=engine,
        router=router,
        dead_letters=ListDeadLetters(),
        clock=lambda: NOW,
    )
    records = [RawRecord("1", data, stream_arn=ARN), RawRecord("2", honest, stream_arn=ARN)]
    return p.run(records), output


def test_a_record_claiming_another_cluster_is_flagged_and_counted(tmp_path) -> None:
    result, output = _run(tmp_path, VICTIM)
    assert [o.status for o in result.outcomes] == [OK, OK]
    assert result.resource_mismatches == 1 and summarize(result)["resource_mismatches"] == 1
    [flag] = [a for a in result.alerts if a.rule_id == system.MISMATCH_RULE]
    assert flag.event["claimed"] == [VICTIM] and flag.event["records"] == ["1"]
    assert flag.kind == "pipeline"
    # the DDL alert names the stream's cluster, never the claimed one
    ddl_alerts = [a for a in result.alerts if a.rule_id != system.MISMATCH_RULE]
    assert ddl_alerts and all(VICTIM not in repr(a.event) for a in ddl_alerts)
    assert any(a.rule_id == system.MISMATCH_RULE for a in output.sent)


def test_an_honest_record_raises_nothing(tmp_path) -> None:
    result, _ = _run(tmp_path, CLUSTER)
    assert result.resource_mismatches == 0
    assert not [a for a in result.alerts if a.rule_id == system.MISMATCH_RULE]
