"""Which alert goes to which output, configured once per container from the environment.

Routing is a pure function of the alert and the configuration: the rule's own ``outputs`` when it
names enabled outputs, otherwise every enabled output whose minimum severity the alert reaches;
experimental rules only to the staging route; pipeline and rule-error alerts to the ops route.
Everything that talks to the outside world (boto3 clients, the sleeper, the console stream, the
clock) goes through :class:`OutputContext`, so tests and the pipeline inject their own.

A wrongly configured output fails :meth:`Router.from_env` with a :class:`ConfigError` that names
the variable, at start-up, rather than losing alerts at the first incident.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from engine.alerts import Alert
from engine.alerts.model import SEVERITIES, severity_rank
from engine.outputs.base import Deadline, DeliveryReport, Output, OutputSpec, specs
from engine.pipeline.env import ConfigError

log = logging.getLogger("dasalert.outputs")

OPS_KINDS = frozenset({"pipeline", "rule_error"})


def env_list(env: Mapping[str, str], name: str) -> list[str] | None:
    raw = env.get(name)
    if raw is None:
        return None
    return [p.strip().lower() for p in raw.replace(";", ",").split(",") if p.strip()]


def env_severity(env: Mapping[str, str], name: str, default: str) -> str:
    value = (env.get(name) or "").strip().lower()
    if not value:
        return default
    if value not in SEVERITIES:
        raise ConfigError(name, f"unknown severity {value!r}; use one of {', '.join(SEVERITIES)}")
    return value


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def default_client_factory(session: Any = None) -> Callable[[str], Any]:
    """boto3 clients without botocore's own retries: our retry honours the Lambda deadline,
    botocore's would sleep past it. Created once per service and reused."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=3,
        read_timeout=10,
    )
    cache: dict[str, Any] = {}

    def factory(service: str) -> Any:
        if service not in cache:
            from botocore.exceptions import NoRegionError

            s = session or boto3.session.Session()
            # Lambda sets AWS_REGION, which botocore alone does not read: the same region the
            # data keys use (engine.das.keys), else the profile's
            region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or None
            try:
                cache[service] = s.client(service, config=config, region_name=region)
            except NoRegionError as exc:
                hint = f"no AWS region for {service}: set AWS_REGION or a profile's region"
                raise ConfigError("AWS_REGION", hint) from exc
        return cache[service]

    return factory


@dataclass
class OutputContext:
    """The edges an output may touch, injected (clients, sleeper, clock, console stream)."""

    client_factory: Callable[[str], Any] = field(default_factory=default_client_factory)
    sleeper: Callable[[float], None] = time.sleep
    clock: Callable[[], dt.datetime] = _utcnow
    stream: TextIO | None = None
    _secrets: Any = None

    def client(self, service: str) -> Any:
        return self.client_factory(service)

    @property
    def secrets(self) -> Any:
        if self._secrets is None:
            from engine.outputs.secrets import SecretSource

            self._secrets = SecretSource(lambda: self.client("secretsmanager"))
        return self._secrets

    @property
    def out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stdout


def _configured(env: Mapping[str, str], known: Mapping[str, OutputSpec]) -> list[str]:
    """The outputs whose configuration is present, when ``DASALERT_OUTPUTS`` is not set: each
    output's own ``enabled_by`` variables decide; the fallback output(s) when none is on."""
    on = [name for name, spec in known.items() if spec.enabled(env)]
    return on or [name for name, spec in known.items() if spec.fallback]


def _unknown(variable: str, name: str, known: Mapping[str, OutputSpec]) -> ConfigError:
    return ConfigError(variable, f"unknown output {name!r}; known: {', '.join(sorted(known))}")


def build_output(name: str, env: Mapping[str, str], ctx: OutputContext) -> Output:
    """One configured output instance by its registered name (``ConfigError`` if wrong)."""
    known = specs()
    spec = known.get(name)
    if spec is None:
        raise _unknown("DASALERT_OUTPUTS", name, known)
    return spec.build(env, ctx)


@dataclass
class Router:
    """Routes alerts to output instances. ``outputs`` holds every instance any route uses."""

    outputs: dict[str, Output]
    enabled: tuple[str, ...]
    min_severity: dict[str, str] = field(default_factory=dict)
    staging: tuple[str, ...] = ("console",)
    ops: tuple[str, ...] = ()
    _warned: set[str] = field(default_factory=set, repr=False)

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        session: Any = None,
        client_factory: Callable[[str], Any] | None = None,
        sleeper: Callable[[float], None] = time.sleep,
        clock: Callable[[], dt.datetime] | None = None,
        stream: TextIO | None = None,
        only: Sequence[str] | None = None,
    ) -> Router:
        """Build every configured output once (per container). ``only`` restricts the enabled
        outputs (``send-test --output``) and skips the staging/ops routes' extra outputs."""
        ctx = OutputContext(
            client_factory=client_factory or default_client_factory(session),
            sleeper=sleeper,
            clock=clock or _utcnow,
            stream=stream,
        )
        known = specs()
        listed = env_list(env, "DASALERT_OUTPUTS")
        enabled = list(only) if only is not None else (listed or _configured(env, known))
        for n in enabled:
            if n not in known:
                raise _unknown("DASALERT_OUTPUTS", n, known)
        staging_env = env_list(env, "DASALERT_STAGING_OUTPUTS")
        # experimental rules: by default only where nothing pages (the fallback output, console)
        fallback = [n for n, spec in known.items() if spec.fallback]
        staging = staging_env if staging_env is not None else fallback
        ops_env = env_list(env, "DASALERT_OPS_OUTPUTS")
        ops = ops_env if ops_env is not None else [n for n in enabled if known[n].ops]
        if only is not None:
            staging, ops = [n for n in staging if n in enabled], [n for n in ops if n in enabled]
        for var, names in (("DASALERT_STAGING_OUTPUTS", staging), ("DASALERT_OPS_OUTPUTS", ops)):
            for n in names:
                if n not in known:
                    raise _unknown(var, n, known)
        outputs: dict[str, Output] = {}
        for n in dict.fromkeys([*enabled, *staging, *ops]):
            outputs[n] = known[n].build(env, ctx)
        min_sev = {
            n: env_severity(env, known[n].min_severity_variable, known[n].min_severity)
            for n in outputs
        }
        return cls(outputs, tuple(dict.fromkeys(enabled)), min_sev, tuple(staging), tuple(ops))

    def targets(self, alert: Alert) -> tuple[str, ...]:
        """The output names for one alert."""
        if alert.kind == "test":
            return self.enabled
        if alert.kind in OPS_KINDS:
            return self.ops
        if alert.status == "experimental":
            return self.staging
        if alert.outputs:
            chosen = tuple(n for n in alert.outputs if n in self.enabled)
            if chosen:
                return chosen
            if alert.rule_id not in self._warned:
                self._warned.add(alert.rule_id)
                log.warning(
                    "rule %s names outputs %s, none enabled here (%s): routing by severity",
                    alert.rule_id,
                    list(alert.outputs),
                    list(self.enabled),
                )
        rank = alert.severity_rank
        return tuple(
            n for n in self.enabled if rank >= severity_rank(self.min_severity.get(n, "info"))
        )

    def route(self, alerts: Sequence[Alert]) -> dict[str, list[Alert]]:
        """Alerts per output name, in input order; outputs with nothing to send are left out."""
        routes: dict[str, list[Alert]] = {}
        for alert in alerts:
            for name in self.targets(alert):
                routes.setdefault(name, []).append(alert)
        return routes

    def send(
        self, alerts: Sequence[Alert], deadline: Deadline | None = None
    ) -> dict[str, DeliveryReport]:
        """Route and send; one report per output used (convenience for the CLI and tests)."""
        return {
            name: self.outputs[name].send(batch, deadline)
            for name, batch in self.route(alerts).items()
        }
