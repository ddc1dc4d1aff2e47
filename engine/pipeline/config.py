"""The pipeline's configuration: read from the environment once, validated once, typed.

A Lambda container reads this at its first invocation (``handlers/_runtime.py``); a wrong value
fails that invocation with an error that names the variable, instead of a record-by-record
surprise during an incident. The outputs' own variables (``SNS_TOPIC_ARN``, ``SLACK_*``,
``SECURITYHUB_ENABLED``, ``DASALERT_OUTPUTS``…) are read by ``Router.from_env``, which validates
them the same way; this module only holds what the pipeline itself needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.pipeline.env import ConfigError, env_bool, env_str

DEFAULT_RULES = "rules"
DEFAULT_MAX_SILENCE_S = 600
DEFAULT_KMS_CACHE = 1024
DEFAULT_RULES_REFRESH_MINUTES = 5
MESSAGE_READERS = ("native", "esdk", "compare")  # engine.das.message.Mode
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

__all__ = ["Config", "ConfigError", "parse_seconds"]


def parse_seconds(name: str, raw: str) -> int:
    """``600``, ``600s``, ``10m``, ``1h``, ``1d`` → seconds; ``ConfigError`` naming ``name``."""
    text = raw.strip().lower()
    unit = 1
    if text and text[-1] in _UNITS:
        unit, text = _UNITS[text[-1]], text[:-1].strip()
    if not text.isdigit() or int(text) <= 0:
        raise ConfigError(name, f"expected a duration like 600, 10m or 1h, got {raw!r}")
    return int(text) * unit


def _resource_id(name: str, raw: str) -> str:
    if not raw.startswith(("cluster-", "db-")) or len(raw) < 5:
        raise ConfigError(
            name,
            f"{raw!r} is not a DAS resource id: use the cluster resource id (cluster-…) or the "
            "instance resource id (db-…), the stream name without aws-rds-das-",
        )
    return raw


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env_str(env, name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise ConfigError(name, f"expected a whole number, got {raw!r}")
    return int(raw)


def _minutes(env: Mapping[str, str], name: str, default: int) -> int:
    minutes = _positive_int(env, name, default)
    if not 1 <= minutes <= 1440:
        raise ConfigError(name, f"expected 1 to 1440 minutes, got {minutes}")
    return minutes


@dataclass(frozen=True)
class Config:
    """Everything the pipeline and the handlers read from the environment.

    ``rules`` is ``DASALERT_RULES`` as written: files, directories and ``s3://`` bundles,
    ``os.pathsep``-separated (engine.rules.source; a ``Path`` would fold ``s3://`` into ``s3:/``),
    re-checked every ``rules_refresh_s`` seconds when a bundle is in S3; ``state_table`` None
    means in-memory state (it lasts one container); ``dlq_url`` None means dead letters are only
    logged (local runs).
    """

    rules: str | Path
    resource_id: str | None = None
    state_table: str | None = None
    dlq_url: str | None = None
    log_level: str = "INFO"
    heartbeat_max_silence_s: int = DEFAULT_MAX_SILENCE_S
    expected_resources: tuple[str, ...] = ()
    firehose_alerts: bool = False
    # Firehose answers carry partition keys for the S3 archive's dynamic partitioning
    firehose_partition_keys: bool = False
    keep_params: bool = False
    kms_cache_size: int = DEFAULT_KMS_CACHE
    # How the Encryption SDK message is opened (docs/decoding.md, "What is authenticated"):
    # native (GCM-authenticated, the default), esdk (the SDK, signature verified), compare.
    message_reader: str = "native"
    verify_signature: bool = False  # native reader: also verify the ECDSA footer
    rules_refresh_s: int = DEFAULT_RULES_REFRESH_MINUTES * 60

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        rid = env_str(env, "DASALERT_RESOURCE_ID")
        level = (env_str(env, "LOG_LEVEL") or "INFO").upper()
        if level not in LOG_LEVELS:
            raise ConfigError("LOG_LEVEL", f"use one of {', '.join(LOG_LEVELS)}, got {level!r}")
        silence = env_str(env, "DASALERT_HEARTBEAT_MAX_SILENCE")
        reader = (env_str(env, "DASALERT_MESSAGE_READER") or "native").lower()
        if reader not in MESSAGE_READERS:
            raise ConfigError(
                "DASALERT_MESSAGE_READER",
                f"use one of {', '.join(MESSAGE_READERS)}, got {reader!r}",
            )
        expected = [
            _resource_id("DASALERT_EXPECTED_RESOURCES", part.strip())
            for part in (env.get("DASALERT_EXPECTED_RESOURCES") or "").replace(";", ",").split(",")
            if part.strip()
        ]
        return cls(
            rules=env_str(env, "DASALERT_RULES") or DEFAULT_RULES,
            resource_id=_resource_id("DASALERT_RESOURCE_ID", rid) if rid else None,
            state_table=env_str(env, "DASALERT_STATE_TABLE"),
            dlq_url=env_str(env, "DASALERT_DLQ_URL"),
            log_level=level,
            heartbeat_max_silence_s=(
                parse_seconds("DASALERT_HEARTBEAT_MAX_SILENCE", silence)
                if silence
                else DEFAULT_MAX_SILENCE_S
            ),
            expected_resources=tuple(dict.fromkeys(expected)),
            firehose_alerts=env_bool(env, "DASALERT_FIREHOSE_ALERTS"),
            firehose_partition_keys=env_bool(env, "DASALERT_FIREHOSE_PARTITION_KEYS"),
            keep_params=env_bool(env, "DASALERT_KEEP_PARAMS"),
            kms_cache_size=_positive_int(env, "DASALERT_KMS_CACHE_SIZE", DEFAULT_KMS_CACHE),
            message_reader=reader,
            verify_signature=env_bool(env, "DASALERT_VERIFY_SIGNATURE"),
            rules_refresh_s=60
            * _minutes(env, "DASALERT_RULES_REFRESH_MINUTES", DEFAULT_RULES_REFRESH_MINUTES),
        )
