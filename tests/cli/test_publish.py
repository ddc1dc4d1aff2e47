"""``dasalert publish`` on the moto server: what it uploads, what it refuses, and how it says so."""

from __future__ import annotations

import hashlib
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from engine.cli import main
from engine.cli.publish import _explain
from engine.rules.source import S3Location
from engine.rules.source_bundle import read_bundle
from tests.handlers.test_rules_from_s3 import site_rule

BUCKET = "rules-bucket"
KEY = "dasalert/site.tar.gz"
TARGET = f"s3://{BUCKET}/{KEY}"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "site-ddl.yaml").write_text(site_rule("Schema change"))
    return folder


def _etag(out: str) -> str:
    return out.split("ETag ")[1].split()[0].rstrip(",")


def test_the_uploaded_object_is_the_checked_pack(
    aws: str, site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    assert main(["publish", "--published-by", "ci@pipeline", str(site), TARGET]) == 0
    out = capsys.readouterr().out
    assert "lint: 1 file, 1 rule loaded: 0 errors, 0 warnings" in out
    assert "test: 2 passed" in out
    etag = _etag(out)
    obj = s3.get_object(Bucket=BUCKET, Key=KEY)
    assert obj["ETag"] == etag and obj["ContentType"] == "application/gzip"
    data = obj["Body"].read()
    bundle = read_bundle(data)
    assert bundle.manifest["published_by"] == "ci@pipeline"
    assert bundle.layers == [("00-site", {"site-ddl.yaml": (site / "site-ddl.yaml").read_bytes()})]
    digest = hashlib.sha256(data).hexdigest()
    assert obj["Metadata"]["dasalert-sha256"] == digest and f"sha256 {digest[:16]}" in out


def test_if_match_refuses_to_overwrite_a_concurrent_publish(
    aws: str, site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    assert main(["publish", "--if-absent", str(site), TARGET]) == 0
    mine = _etag(capsys.readouterr().out)
    assert main(["publish", "--if-absent", str(site), TARGET]) == 1
    assert "already exists (--if-absent); nothing was overwritten" in capsys.readouterr().err

    (site / "site-ddl.yaml").write_text(site_rule("Theirs"))
    assert main(["publish", "--if-match", mine, str(site), TARGET]) == 0  # theirs lands
    theirs = _etag(capsys.readouterr().out)
    (site / "site-ddl.yaml").write_text(site_rule("Mine, stale"))
    assert main(["publish", "--if-match", mine, str(site), TARGET]) == 1
    assert "someone published since" in capsys.readouterr().err
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=KEY)
    assert body["ETag"] == theirs


def test_a_missing_bucket_is_named(
    aws: str, site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["publish", str(site), "s3://no-such-bucket/k.tar.gz"]) == 1
    assert "bucket no-such-bucket does not exist" in capsys.readouterr().err


def test_no_credentials_is_said_plainly(
    site: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never reached
    assert main(["publish", str(site), TARGET]) == 1
    assert "no AWS credentials found" in capsys.readouterr().err
    # a dry run needs no credentials: it checks and bundles only
    assert main(["publish", "--dry-run", str(site), TARGET]) == 0
    assert f"dry run: nothing uploaded to {TARGET}" in capsys.readouterr().out


def test_access_denied_names_the_permission() -> None:
    exc = ClientError(
        {
            "Error": {"Code": "AccessDenied", "Message": "Access Denied"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        },
        "PutObject",
    )
    text = _explain(exc, S3Location(BUCKET, KEY), _Args())
    assert f"may not s3:PutObject on arn:aws:s3:::{BUCKET}/{KEY}" in text


class _Args:
    if_match = None
    if_absent = False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["site"], "the last argument must be the bundle's S3 object"),
        (["s3://b/k.tar.gz"], "name at least one rule folder"),
        (["site", "s3://bucket-only"], "name the bundle object"),
        (["missing-dir", "s3://b/k.tar.gz"], "missing-dir does not exist"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], site: Path
) -> None:
    argv = [str(site) if a == "site" else a for a in argv]
    assert main(["publish", *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_pack_with_warnings_is_refused_unless_allowed(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (site / "site-ddl.yaml").write_text(
        site_rule("Schema change").replace("runbook: https://wiki.example.com/runbooks/ddl\n", "")
    )
    assert main(["publish", "--dry-run", str(site), TARGET]) == 1
    captured = capsys.readouterr()
    assert "has no runbook" in captured.out and "lint warnings" in captured.err
    assert main(["publish", "--dry-run", "--allow-warnings", str(site), TARGET]) == 0


def test_a_failing_inline_test_is_refused(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = site_rule("Schema change").replace("== 'DDL'", "== 'DDL' && dbUserName == 'x'")
    (site / "site-ddl.yaml").write_text(text)
    assert main(["publish", "--dry-run", str(site), TARGET]) == 1
    captured = capsys.readouterr()
    assert "1 failed" in captured.out and "refused: failing tests" in captured.err


def test_cli_commands_read_the_published_pack_too(
    aws: str, site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dasalert run --rules rules --rules s3://…` and `dasalert replay` build their engine
    with build_engine: an S3 layer is fetched once, layered as in the function."""
    from engine.rules import RulesUnavailable, build_engine
    from tests.pipeline.support import DDL_RULE

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    base = tmp_path / "base"
    base.mkdir()
    (base / "test-ddl.yaml").write_text(DDL_RULE)
    assert main(["publish", str(site), TARGET]) == 0
    wired = build_engine([str(base), TARGET])
    assert sorted(r.id for r in wired.loaded.rules) == ["site-ddl", "test-ddl"]
    assert [r.id for r in build_engine(f"{base}:{TARGET}").loaded.rules] == [
        "test-ddl",
        "site-ddl",
    ]
    with pytest.raises(RulesUnavailable, match="NoSuchKey"):
        build_engine(f"s3://{BUCKET}/missing.tar.gz")
