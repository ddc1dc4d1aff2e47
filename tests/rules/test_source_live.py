"""LiveRules on the moto server: what stays on /tmp, and a /tmp that cannot take the new pack."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import boto3

from engine.pipeline.state import MemoryStateStore
from engine.rules.source import LiveRules
from engine.rules.source_bundle import build_bundle
from tests.pipeline.support import DDL_RULE, THRESHOLD_RULE

BUCKET, KEY = "rules", "pack.tar.gz"


def _put(files: dict[str, str]) -> None:
    data = build_bundle(
        {"00-site": {k: v.encode() for k, v in files.items()}},
        version="0.1.0",
        published_by="test",
        published_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
    )
    boto3.client("s3").put_object(Bucket=BUCKET, Key=KEY, Body=data)


def test_a_reload_replaces_the_extracted_pack_and_a_full_tmp_keeps_the_running_one(
    aws: str, tmp_path: Path
) -> None:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    _put({"ddl.yaml": DDL_RULE})
    now = [0.0]
    work = tmp_path / "work"
    work.mkdir()
    live = LiveRules(
        f"s3://{BUCKET}/{KEY}",
        MemoryStateStore(),
        client=lambda: boto3.client("s3"),
        refresh_s=60,
        clock=lambda: now[0],
        workdir=work,
    )
    assert [r.id for r in live.start().loaded.rules] == ["test-ddl"]
    assert not live.refresh()  # not due: no request at all

    _put({"ddl.yaml": DDL_RULE, "logins.yaml": THRESHOLD_RULE})
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    live.workdir = blocked  # extraction fails as on a full or read-only /tmp
    now[0] += 60
    assert not live.refresh()
    assert live.wired is not None and [r.id for r in live.wired.loaded.rules] == ["test-ddl"]
    (problem,) = live.problems
    assert "cannot extract the bundle" in problem.message and problem.file == f"s3://{BUCKET}/{KEY}"

    live.workdir = work
    now[0] += 60
    assert live.refresh()
    assert sorted(r.id for r in live.wired.loaded.rules) == ["test-ddl", "test-failed-logins"]
    assert live.problems == []
    assert len(list(work.iterdir())) == 1  # the previous pack's folder is gone
