"""Configuration: typed, validated once, and every error names the variable to fix."""

from __future__ import annotations

import pytest

from engine.pipeline.config import DEFAULT_MAX_SILENCE_S, Config, parse_seconds
from engine.pipeline.env import ConfigError


def test_defaults_from_an_empty_environment() -> None:
    cfg = Config.from_env({})
    assert cfg.rules == "rules" and cfg.rules_refresh_s == 300
    assert cfg.state_table is None and cfg.dlq_url is None and cfg.resource_id is None
    assert cfg.heartbeat_max_silence_s == DEFAULT_MAX_SILENCE_S
    assert cfg.expected_resources == () and cfg.firehose_alerts is False


def test_values_from_the_template_environment() -> None:
    cfg = Config.from_env(
        {
            "DASALERT_RULES": "/var/task/rules",
            "DASALERT_RESOURCE_ID": "cluster-ABC",
            "DASALERT_STATE_TABLE": "t",
            "DASALERT_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/1/q",
            "LOG_LEVEL": "debug",
            "DASALERT_HEARTBEAT_MAX_SILENCE": "15m",
            "DASALERT_EXPECTED_RESOURCES": "cluster-ABC, db-XYZ;cluster-ABC",
            "DASALERT_FIREHOSE_ALERTS": "yes",
            "DASALERT_KMS_CACHE_SIZE": "64",
        }
    )
    assert cfg.rules == "/var/task/rules" and cfg.resource_id == "cluster-ABC"
    assert cfg.log_level == "DEBUG" and cfg.heartbeat_max_silence_s == 900
    assert cfg.expected_resources == ("cluster-ABC", "db-XYZ")
    assert cfg.firehose_alerts is True and cfg.kms_cache_size == 64


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DASALERT_RESOURCE_ID", "aws-rds-das-cluster-ABC"),
        ("DASALERT_EXPECTED_RESOURCES", "cluster-A,mydb"),
        ("DASALERT_HEARTBEAT_MAX_SILENCE", "ten minutes"),
        ("DASALERT_HEARTBEAT_MAX_SILENCE", "0"),
        ("LOG_LEVEL", "LOUD"),
        ("DASALERT_FIREHOSE_ALERTS", "maybe"),
        ("DASALERT_KMS_CACHE_SIZE", "-1"),
    ],
)
def test_a_wrong_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        Config.from_env({variable: value})
    assert err.value.variable == variable
    assert str(err.value).startswith(f"{variable}: ")


@pytest.mark.parametrize(
    ("raw", "seconds"), [("600", 600), ("90s", 90), ("10m", 600), ("2h", 7200)]
)
def test_durations(raw: str, seconds: int) -> None:
    assert parse_seconds("X", raw) == seconds


def test_rules_keep_an_s3_location_as_written_and_the_refresh_interval_is_checked() -> None:
    # a Path would fold s3://bucket into s3:/bucket and lose the location
    cfg = Config.from_env(
        {
            "DASALERT_RULES": "/var/task/rules:s3://b/site.tar.gz",
            "DASALERT_RULES_REFRESH_MINUTES": "2",
        }
    )
    assert cfg.rules == "/var/task/rules:s3://b/site.tar.gz" and cfg.rules_refresh_s == 120
    for bad in ("0", "1441", "5m", "-1"):
        with pytest.raises(ConfigError, match="DASALERT_RULES_REFRESH_MINUTES"):
            Config.from_env({"DASALERT_RULES_REFRESH_MINUTES": bad})
