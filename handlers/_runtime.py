"""Per-container singletons: configuration, rules, clients and the pipeline, built once.

A warm Lambda container serves many invocations; compiling the rules, creating boto3 clients,
fetching the Slack secret and warming the KMS data-key cache must happen once, not per batch.
``runtime(kind)`` builds lazily on the first invocation (so importing a handler touches neither
the network nor the environment) and caches per kind; ``reset()`` is for tests that change the
environment between cases.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.das.decoder import Decoder
from engine.das.keys import KmsKeyProvider
from engine.pipeline.batch import Pipeline
from engine.pipeline.config import Config
from engine.pipeline.dlq import DeadLetters, SqsDeadLetters
from engine.pipeline.env import ConfigError
from engine.pipeline.state import MemoryStateStore, StateStore

log = logging.getLogger("dasalert.runtime")

KINESIS, FIREHOSE, HEALTH = "kinesis", "firehose", "health"


@dataclass
class Runtime:
    config: Config
    pipeline: Pipeline
    state: StateStore
    rules: int = 0
    rule_problems: int = 0
    # engine.rules.source.LiveRules when DASALERT_RULES names an S3 bundle: re-checked here
    live: Any = None


_cache: dict[str, Runtime] = {}
_lock = threading.Lock()
# Monotonic seconds for the rule pack's refresh interval (tests move it instead of sleeping).
RULES_CLOCK: Callable[[], float] = time.monotonic


def runtime(kind: str, env: Mapping[str, str] | None = None) -> Runtime:
    with _lock:
        rt = _cache.get(kind)
        if rt is None:
            rt = _cache[kind] = build(kind, os.environ if env is None else env)
        elif rt.live is not None and rt.live.due():  # a clock read unless the interval passed
            _refresh_rules(rt)
        return rt


def _refresh_rules(rt: Runtime) -> None:
    """Swap in a changed S3 rule pack, or keep the running one and carry the reason as a
    rule-load problem (the pipeline alerts on it, once per hour by the alert's id)."""
    live = rt.live
    try:
        live.refresh()
    except Exception as exc:  # a bug here must cost the refresh, never the running pack
        log.error("rule pack refresh failed: %s: %s", type(exc).__name__, exc)
        return
    rt.pipeline.engine = live.wired.engine
    rt.pipeline.rule_problems = tuple(live.problems)
    rt.rules, rt.rule_problems = live.wired.rule_count, len(live.problems)


def reset() -> None:
    with _lock:
        _cache.clear()


def _client(service: str) -> Any:
    import boto3
    from botocore.config import Config as BotoConfig

    # Short timeouts and botocore's standard retries (with backoff) for state and dead letters:
    # these calls are small, and a Lambda has seconds, not minutes.
    return boto3.client(
        service,
        config=BotoConfig(
            connect_timeout=3, read_timeout=5, retries={"mode": "standard", "max_attempts": 3}
        ),
    )


def build(kind: str, env: Mapping[str, str]) -> Runtime:
    from engine.outputs.routing import Router

    config = Config.from_env(env)
    state = _state(config, kind)
    dead_letters: DeadLetters = (
        SqsDeadLetters(config.dlq_url, _client("sqs")) if config.dlq_url else DeadLetters()
    )
    keys = KmsKeyProvider(cache_size=config.kms_cache_size)
    # DESIGN: DASALERT_RESOURCE_ID overrides the id derived from the stream ARN.
    decoder = Decoder(
        keys,
        override_resource_id=config.resource_id,
        reader=config.message_reader,
        verify_signature=config.verify_signature,
    )
    evaluate = kind == KINESIS or (kind == FIREHOSE and config.firehose_alerts)
    engine, n_rules, problems, live = _engine(config, state) if evaluate else (None, 0, [], None)
    router = Router.from_env(env) if (evaluate or kind == HEALTH) else None
    resources = _resources(env) if router is not None else None
    pipeline = Pipeline(
        decoder,
        state=state,
        engine=engine,
        router=router,
        dead_letters=dead_letters,
        can_retry=kind != FIREHOSE,
        rule_problems=problems,
        resources=resources,
    )
    log.info(
        "dasalert %s runtime ready: %d rules (%d load problems), state %s, dead letters %s",
        kind,
        n_rules,
        len(problems),
        "dynamodb" if config.state_table else "memory",
        "sqs" if config.dlq_url else "log",
    )
    return Runtime(config, pipeline, state, n_rules, len(problems), live)


def _resources(env: Mapping[str, str]) -> Any:
    """Names the database of each alert (RDS Describe*, cached; overrides from the env)."""
    from engine.pipeline.resources import ResourceResolver

    return ResourceResolver.from_env(env, ResourceResolver.default_client)


def _state(config: Config, kind: str) -> StateStore:
    if config.state_table:
        from engine.pipeline.state_dynamodb import DynamoDBStateStore

        return DynamoDBStateStore(config.state_table, _client("dynamodb"))
    if kind == HEALTH:
        raise ConfigError(
            "DASALERT_STATE_TABLE",
            "the heartbeat watchdog needs the state table the stream function writes to",
        )
    return MemoryStateStore()


def _engine(config: Config, state: StateStore) -> tuple[Any, int, list[Any], Any]:
    """Load and compile the rules once. A rule that fails to load is logged (by file, line and
    rule id), skipped, and returned so the pipeline raises a pipeline alert about it (a broken
    rule must not silently stop detecting); no rule at all is a configuration error, because a
    pipeline that alerts on nothing must not look healthy. With an S3 bundle among the rules
    (engine.rules.source), the ``LiveRules`` that refreshes it is returned too; a bundle that
    cannot be fetched or read at cold start is a missing folder: a configuration error."""
    from engine.rules import LiveRules, RulesUnavailable

    try:
        live = LiveRules(
            config.rules,
            state,
            client=lambda: _client("s3"),
            refresh_s=config.rules_refresh_s,
            keep_params=config.keep_params,
            clock=lambda: RULES_CLOCK(),
        )
        wired = live.start()
    except (RulesUnavailable, ValueError) as exc:
        raise ConfigError("DASALERT_RULES", str(exc)) from exc
    for problem in wired.loaded.problems:
        (log.error if problem.level == "error" else log.warning)("rule problem: %s", problem)
    return wired.engine, wired.rule_count, live.problems, live if live.refreshes else None


def observability() -> tuple[Any, Any]:
    """The powertools Logger and Metrics every handler shares (created once per container).

    The Logger is named ``dasalert``: the library's ``dasalert.*`` loggers propagate into it, so
    every log line is JSON with the request id. Nothing logs a secret, an SQL text or an event:
    log calls pass reasons, ids and counts only.
    """
    global _obs
    if _obs is None:
        from aws_lambda_powertools import Logger, Metrics

        quiet_sdk_loggers()

        logger = Logger(service="dasalert", level=os.environ.get("LOG_LEVEL", "INFO").upper())
        metrics = Metrics(
            service="dasalert",
            namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "dasalert",
        )
        _obs = (logger, metrics)
    return _obs


_obs: tuple[Any, Any] | None = None

# At DEBUG the AWS SDK logs whole request and response bodies: KMS Decrypt's Plaintext (the data
# key of the activity stream), SNS messages and Security Hub findings (alert bodies). They are
# pinned to WARNING whatever LOG_LEVEL says; a logger set more quietly than that stays so.
SDK_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer", "aws_encryption_sdk")


def quiet_sdk_loggers() -> None:
    """Pin the AWS SDK's loggers to WARNING so no log level can make them log bodies."""
    for name in SDK_LOGGERS:
        sdk = logging.getLogger(name)
        if sdk.level < logging.WARNING:
            sdk.setLevel(logging.WARNING)
