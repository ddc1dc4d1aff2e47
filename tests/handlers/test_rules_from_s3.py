"""Rules without rebuilds, end to end on the moto server: ``dasalert publish`` uploads a pack,
the Kinesis handler loads it at cold start, picks up a new one after the refresh interval, and
keeps the last good pack (with one rule-load alert per hour) when the object in S3 is broken or
S3 cannot be reached. The refresh clock is injected; nothing sleeps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig

from engine.cli import main
from engine.pipeline.env import ConfigError
from engine.rules.source_bundle import build_bundle
from handlers import _runtime
from handlers.kinesis import handler
from tests.handlers.conftest import Deployment
from tests.pipeline.support import DDL_RULE, FakeContext, ddl
from tests.support.clock import Clock

BUCKET = "dasalert-rules"
LOCATION = f"s3://{BUCKET}/site/rules.tar.gz"
RULE_LOAD = "dasalert-rule-load-error"


def site_rule(title: str, rule_id: str = "site-ddl") -> str:
    return f"""\
id: {rule_id}
title: "{title} by {{dbUserName}}"
description: Every DDL statement.
severity: high
runbook: https://wiki.example.com/runbooks/ddl
when: das.action == 'DDL'
tests:
  - name: a table is created
    engine: postgres
    event: {{class: DDL, command: CREATE TABLE, commandText: "CREATE TABLE t (x int)"}}
    expect: {{match: true}}
  - name: a read is not DDL
    engine: postgres
    event: {{dbUserName: app}}
    expect: {{match: false}}
"""


@pytest.fixture
def s3_rules(deployment: Deployment, tmp_path: Path) -> tuple[Deployment, Clock, Path]:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    clock = Clock()
    deployment.monkeypatch.setattr(_runtime, "RULES_CLOCK", clock)
    deployment.monkeypatch.setenv("DASALERT_RULES", LOCATION)
    deployment.monkeypatch.setenv("DASALERT_RULES_REFRESH_MINUTES", "5")
    site = tmp_path / "site"
    site.mkdir()
    return deployment, clock, site


def publish(site: Path, *extra: str) -> int:
    return main(["publish", str(site), LOCATION, *extra])


def invoke(d: Deployment, user: str, n: int) -> list[dict[str, Any]]:
    """One batch with one DDL statement; the alerts SNS received."""
    assert handler(d.event([ddl(user, n, n=n)], first=1000 + 10 * n), FakeContext()) == {
        "batchItemFailures": []
    }
    rt = _runtime.runtime(_runtime.KINESIS)
    rt.pipeline.clock = lambda: 1_800_000_000.0  # one rule-load window for the whole test
    return d.sns_messages()


def titles(messages: list[dict[str, Any]]) -> list[str]:
    return sorted(m["title"] for m in messages if m["rule_id"] != RULE_LOAD)


def rule_load(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["rule_id"] == RULE_LOAD]


def put_bundle(files: dict[str, bytes]) -> None:
    """What someone with PutObject could write without `dasalert publish`."""
    data = build_bundle(
        {"00-site": files},
        version="0.1.0",
        published_by="someone",
        published_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
    )
    boto3.client("s3").put_object(Bucket=BUCKET, Key="site/rules.tar.gz", Body=data)


def test_published_pack_loads_and_a_new_one_is_picked_up_after_the_interval(
    s3_rules: tuple[Deployment, Clock, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    d, clock, site = s3_rules
    (site / "site-ddl.yaml").write_text(site_rule("Schema change"))
    assert publish(site) == 0
    first_etag = capsys.readouterr().out.split("ETag ")[1].split()[0].strip(",")

    assert titles(invoke(d, "mallory", 1)) == ["Schema change by mallory"]
    rt = _runtime.runtime(_runtime.KINESIS)
    assert rt.live.packs[next(iter(rt.live.packs))].etag == first_etag

    (site / "site-ddl.yaml").write_text(site_rule("DDL statement"))
    assert publish(site, "--if-match", first_etag) == 0
    clock.now += 299  # within the interval: not even asked
    assert titles(invoke(d, "eve", 2)) == ["Schema change by eve"]
    clock.now += 2
    assert titles(invoke(d, "trudy", 3)) == ["DDL statement by trudy"]
    assert rt.live.reloads == 1 and rt.pipeline.rule_problems == ()


def test_a_broken_pack_keeps_the_last_good_one_and_alerts_once_per_window(
    s3_rules: tuple[Deployment, Clock, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    d, clock, site = s3_rules
    (site / "site-ddl.yaml").write_text(site_rule("Schema change"))
    assert publish(site) == 0
    assert titles(invoke(d, "mallory", 1)) == ["Schema change by mallory"]

    # `publish` refuses a pack that does not load: nothing reaches S3
    (site / "site-ddl.yaml").write_text(site_rule("Broken"))
    broken = site_rule("Typo", "site-typo").replace("severity: high", "severity: hihg")
    (site / "site-typo.yaml").write_text(broken)
    capsys.readouterr()
    assert publish(site) == 1
    out = capsys.readouterr()
    assert "site-typo.yaml:4: [site-typo] error" in out.out
    assert "refused: lint errors; nothing uploaded" in out.err
    clock.now += 301
    assert titles(invoke(d, "eve", 2)) == ["Schema change by eve"]
    assert _runtime.runtime(_runtime.KINESIS).live.reloads == 0

    # the same pack put directly: the function refuses it, keeps the good one, says so once
    put_bundle({p.name: p.read_bytes() for p in site.iterdir()})
    clock.now += 301
    messages = invoke(d, "trudy", 3)
    assert titles(messages) == ["Schema change by trudy"]
    (alert,) = rule_load(messages)
    assert LOCATION in alert["event"]["problems"][0]
    assert "keeps running" in alert["event"]["problems"][0]
    assert any(f"{LOCATION}#00-site/site-typo.yaml" in p for p in alert["event"]["problems"])
    for n in (4, 5):  # checked again (a 304 on the refused ETag), still refused: no new alert
        clock.now += 301
        messages = invoke(d, "walter", n)
        assert titles(messages) == ["Schema change by walter"] and rule_load(messages) == []
    rt = _runtime.runtime(_runtime.KINESIS)
    assert rt.pipeline.rule_problems and rt.live.reloads == 0

    # a good publish clears the problem
    (site / "site-typo.yaml").unlink()
    (site / "site-ddl.yaml").write_text(site_rule("Fixed"))
    assert publish(site) == 0
    clock.now += 301
    assert titles(invoke(d, "oscar", 6)) == ["Fixed by oscar"]
    assert rt.pipeline.rule_problems == ()


def test_a_bundle_that_is_not_one_or_escapes_its_folder_is_refused(
    s3_rules: tuple[Deployment, Clock, Path], tmp_path: Path
) -> None:
    d, clock, site = s3_rules
    (site / "site-ddl.yaml").write_text(site_rule("Schema change"))
    assert publish(site) == 0
    assert titles(invoke(d, "mallory", 1)) == ["Schema change by mallory"]

    rt = _runtime.runtime(_runtime.KINESIS)
    cases = [(b"not a bundle", "not a rule bundle (gzip)"), (_traversal_bundle(), "unsafe path")]
    for n, (body, why) in enumerate(cases, start=2):
        boto3.client("s3").put_object(Bucket=BUCKET, Key="site/rules.tar.gz", Body=body)
        clock.now += 301
        messages = invoke(d, "eve", n)
        assert titles(messages) == ["Schema change by eve"]
        (problem,) = rt.pipeline.rule_problems
        assert why in problem.message and "keeps running" in problem.message
        # one alert id per location and hour: the second refusal is not sent again
        assert len(rule_load(messages)) == (1 if n == 2 else 0)
    assert not (tmp_path.parent / "evil.yaml").exists()
    assert not Path("/tmp/evil.yaml").exists()


def _traversal_bundle() -> bytes:
    import gzip
    import hashlib
    import io
    import json
    import tarfile

    name, body = "layers/00-site/../../../../../tmp/evil.yaml", DDL_RULE.encode()
    manifest = {
        "format": "dasalert-rules/1",
        "layers": ["00-site"],
        "files": {name: {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}},
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for entry, data in (("manifest.json", json.dumps(manifest).encode()), (name, body)):
            info = tarfile.TarInfo(entry)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue())


def test_s3_unreachable_keeps_the_last_good_pack(s3_rules: tuple[Deployment, Clock, Path]) -> None:
    d, clock, site = s3_rules
    (site / "site-ddl.yaml").write_text(site_rule("Schema change"))
    assert publish(site) == 0
    assert titles(invoke(d, "mallory", 1)) == ["Schema change by mallory"]

    rt = _runtime.runtime(_runtime.KINESIS)
    # S3 stops answering: a client aimed at a closed port (real HTTP, nothing patched)
    rt.live._client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        config=BotoConfig(connect_timeout=1, retries={"total_max_attempts": 1}),
    )
    clock.now += 301
    messages = invoke(d, "eve", 2)
    assert titles(messages) == ["Schema change by eve"]
    (alert,) = rule_load(messages)
    assert "could not be checked" in alert["event"]["problems"][0]

    rt.live._client = None  # S3 is back: the next check finds the pack unchanged
    clock.now += 301
    assert titles(invoke(d, "trudy", 3)) == ["Schema change by trudy"]
    assert rt.pipeline.rule_problems == ()


def test_the_s3_pack_layers_over_a_folder_as_a_second_folder_does(
    s3_rules: tuple[Deployment, Clock, Path], tmp_path: Path
) -> None:
    d, _, site = s3_rules
    base = tmp_path / "base"
    base.mkdir()
    (base / "test-ddl.yaml").write_text(DDL_RULE)
    (site / "site-ddl.yaml").write_text(site_rule("Schema change"))
    (site / "tune.yaml").write_text(
        "tune:\n  - rule: test-ddl\n    disable: true\n    reason: replaced by site-ddl\n"
    )
    assert main(["publish", "--base", str(base), "--allow-warnings", str(site), LOCATION]) == 0
    d.monkeypatch.setenv("DASALERT_RULES", f"{base}:{LOCATION}")
    _runtime.reset()
    assert titles(invoke(d, "mallory", 1)) == ["Schema change by mallory"]  # test-ddl disabled


def test_cold_start_without_a_readable_pack_is_a_configuration_error(
    s3_rules: tuple[Deployment, Clock, Path],
) -> None:
    d, _, _ = s3_rules
    with pytest.raises(ConfigError, match=r"DASALERT_RULES.*s3://dasalert-rules/site/rules"):
        handler(d.event([ddl("mallory", 1)]), FakeContext())
    boto3.client("s3").put_object(Bucket=BUCKET, Key="site/rules.tar.gz", Body=b"garbage")
    with pytest.raises(ConfigError, match="not a rule bundle"):
        handler(d.event([ddl("mallory", 1)]), FakeContext())


def test_cold_start_with_a_partly_broken_pack_runs_what_loads_and_alerts(
    s3_rules: tuple[Deployment, Clock, Path],
) -> None:
    """As for a folder: one broken file must not stop the others detecting."""
    d, _, _ = s3_rules
    broken = site_rule("Typo", "site-typo").replace("severity: high", "severity: hihg")
    put_bundle({"site-ddl.yaml": site_rule("Schema change").encode(), "typo.yaml": broken.encode()})
    messages = invoke(d, "mallory", 1)
    assert titles(messages) == ["Schema change by mallory"]
    (alert,) = rule_load(messages)
    assert any(f"{LOCATION}#00-site/typo.yaml:4" in p for p in alert["event"]["problems"])
