"""Which database an alert is about: the DB identifier and ARN behind a DAS resource id.

Activity events name their database by *resource id* (``cluster-ABC…`` for an Aurora cluster,
``db-XYZ…`` for an RDS instance): stable across renames, but not what a responder types or what
the RDS console's URL takes. The console needs the DB *identifier*, Security Hub wants the ARN.
Before delivery the pipeline asks this module, and every alert about a database carries
``alert.context["resource"]``::

    {"id": "cluster-…", "kind": "cluster", "name": "orders-prod" | None,
     "arn": "arn:aws:rds:eu-west-1:123456789012:cluster:orders-prod" | None,
     "account": "123456789012" | None, "region": "eu-west-1" | None}

(an Aurora event that also names its instance adds ``"instance": {"id", "name", "arn"}``).

**How.** RDS ``DescribeDBClusters`` with the ``db-cluster-resource-id`` filter, or
``DescribeDBInstances`` with ``dbi-resource-id``; a service that refuses the cluster filter
(older endpoints, test doubles) is answered by listing the clusters once (a few pages at most).
``DASALERT_RESOURCE_NAMES`` (JSON ``{"cluster-…": "orders-prod"}``) names resources without any
call, for accounts that do not grant ``rds:Describe*``.

**Never fatal, never slow.** Names are cached for the container's life (an hour, then asked
again: an identifier can be renamed), failures too, briefly (a few minutes; a throttled or
unreachable RDS one minute), and an access-denied answer stops all lookups for a quarter of an
hour. Lookups share a per-batch budget of seconds and stop when the invocation's deadline is
near; what was not resolved has ``name``/``arn`` None (the message then shows no console link,
never a broken one), is counted in the batch (metric ``ResourcesUnresolved``) and logged with
the error code, never with a secret.

**Account and region.** A resolved ARN carries both. Otherwise the account is the Lambda
function's (from the invocation's ARN, else STS ``GetCallerIdentity`` once) and the region
``AWS_REGION``: a DAS stream and its function share both.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.alerts import Alert
from engine.outputs.base import Deadline
from engine.pipeline.env import ConfigError, env_str

log = logging.getLogger("dasalert.resources")

NAMES_ENV = "DASALERT_RESOURCE_NAMES"
CLUSTER, INSTANCE = "cluster", "instance"
RESOURCE_ID = re.compile(r"^(cluster|db)-[A-Za-z0-9]{1,64}$")
# RDS identifiers: a letter, then letters, digits and single hyphens, at most 63 characters
IDENTIFIER = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?!-)){0,62}$")
ACCOUNT = re.compile(r"^\d{12}$")
POSITIVE_TTL_S = 3600.0
NOT_FOUND_TTL_S = 300.0
ERROR_TTL_S = 60.0
DENIED_TTL_S = 900.0
BATCH_BUDGET_S = 2.0  # lookups of one batch together; then the rest go unresolved this batch
DEADLINE_RESERVE_S = 8.0  # no lookup when less than this is left before the margin
MAX_CACHE = 2048  # ids remembered; the payload's instance id is not vouched for by KMS
MAX_SCAN_PAGES = 5  # listing clusters when the filter is refused: 500 clusters at most
_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
    }
)
_FILTER_REFUSED = frozenset({"InvalidParameterValue", "InvalidParameterCombination"})


def kind_of(resource_id: str) -> str:
    return CLUSTER if resource_id.startswith("cluster-") else INSTANCE


def partition_of(region: str | None) -> str:
    if region and region.startswith("cn-"):
        return "aws-cn"
    if region and region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def rds_arn(partition: str, region: str, account: str, kind: str, name: str) -> str:
    return f"arn:{partition}:rds:{region}:{account}:{'cluster' if kind == CLUSTER else 'db'}:{name}"


@dataclass(frozen=True)
class Resource:
    """What is known of one resource id (``name``/``arn`` None when it could not be resolved)."""

    id: str
    kind: str
    name: str | None = None
    arn: str | None = None
    account: str | None = None
    region: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class _Entry:
    name: str | None
    arn: str | None
    until: float
    error: str | None = None  # why name is None (error code, "not_found", "budget")


@dataclass
class ResolverStats:
    lookups: int = 0  # RDS calls made
    failures: int = 0  # lookups that ended without a name (error, denied, not found)


def parse_names(raw: str | None) -> dict[str, str]:
    """``DASALERT_RESOURCE_NAMES``: a JSON object of resource id → DB identifier."""
    if not raw or not raw.strip():
        return {}
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(NAMES_ENV, f"not JSON: {exc.msg}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(NAMES_ENV, 'expected a JSON object {"cluster-…": "identifier"}')
    out: dict[str, str] = {}
    for rid, name in doc.items():
        if not isinstance(rid, str) or not RESOURCE_ID.match(rid):
            raise ConfigError(NAMES_ENV, f"{rid!r} is not a resource id (cluster-… or db-…)")
        if not isinstance(name, str) or not IDENTIFIER.match(name):
            raise ConfigError(NAMES_ENV, f"{name!r} (for {rid}) is not a DB identifier")
        out[rid] = name
    return out


def _code(exc: BaseException) -> str:
    resp = getattr(exc, "response", None)
    if isinstance(resp, Mapping):
        code = (resp.get("Error") or {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


class ResourceResolver:
    """Resource id → :class:`Resource`, cached per container (see the module docstring).

    ``rds`` and ``sts`` are factories (a client is only made when a lookup is needed); ``rds``
    None resolves from the override map only, without any network (the CLI).
    """

    def __init__(
        self,
        rds: Callable[[], Any] | None = None,
        *,
        region: str | None = None,
        account: str | None = None,
        sts: Callable[[], Any] | None = None,
        names: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        budget_s: float = BATCH_BUDGET_S,
    ) -> None:
        self._rds_factory = rds
        self._rds: Any = None
        self._sts = sts
        self.region = region
        self._account = account if account and ACCOUNT.match(account) else None
        self._account_tried = self._account is not None
        self.partition = partition_of(region)
        self.names = dict(names or {})
        self.clock = clock
        self.budget_s = budget_s
        self._cache: dict[str, _Entry] = {}
        self._denied_until = 0.0
        self._cluster_filter = True  # False once RDS refused db-cluster-resource-id
        self.stats = ResolverStats()

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        client: Callable[[str], Any] | None,
        *,
        account: str | None = None,
    ) -> ResourceResolver:
        """The Lambda's resolver (``client`` makes boto3 clients; None: overrides only)."""
        region = env_str(env, "AWS_REGION") or env_str(env, "AWS_DEFAULT_REGION")
        names = parse_names(env.get(NAMES_ENV))
        if client is None:
            return cls(region=region, names=names, account=account)
        make = client
        return cls(
            lambda: make("rds"),
            sts=lambda: make("sts"),
            region=region,
            names=names,
            account=account,
        )

    @staticmethod
    def default_client(service: str) -> Any:
        """A client with short timeouts and a single attempt: a name is a nicety, and a slow
        RDS must not hold the batch (the next batch asks again)."""
        import boto3
        from botocore.config import Config as BotoConfig

        return boto3.client(
            service,
            config=BotoConfig(
                connect_timeout=1,
                read_timeout=2,
                retries={"mode": "standard", "total_max_attempts": 1},
            ),
        )

    # -- account ---------------------------------------------------------------------------
    def use_function_arn(self, arn: object) -> None:
        """Take the account (and partition) from the invoked function's ARN, once."""
        if self._account is not None or not isinstance(arn, str):
            return
        parts = arn.split(":")
        if len(parts) >= 5 and parts[0] == "arn" and ACCOUNT.match(parts[4]):
            self._account, self._account_tried = parts[4], True
            self.partition = parts[1] or self.partition
            self.region = self.region or parts[3] or None

    def account(self) -> str | None:
        if not self._account_tried:
            self._account_tried = True  # asked once per container, even when it fails
            if self._sts is not None:
                try:
                    self._account = str(self._sts().get_caller_identity()["Account"])
                except Exception as exc:
                    log.warning("cannot determine the AWS account: %s", _code(exc))
        return self._account

    # -- resolving -------------------------------------------------------------------------
    def resolve(self, resource_id: str, *, allowed: bool = True) -> Resource:
        """The facts for one id; asks RDS only when ``allowed`` and nothing is cached."""
        kind = kind_of(resource_id)
        now = self.clock()
        name: str | None
        arn: str | None
        if resource_id in self.names:
            name, arn = self.names[resource_id], None
        else:
            entry = self._cache.get(resource_id)
            if entry is None or entry.until <= now:
                entry = self._lookup(resource_id, kind, now) if allowed else None
            name, arn = (entry.name, entry.arn) if entry else (None, None)
        account, region = None, self.region
        if arn:
            parts = arn.split(":")
            region, account = parts[3] or region, parts[4] or None
        else:
            account = self.account() if (name or self._sts is not None) else self._account
            if name and account and region:
                arn = rds_arn(self.partition, region, account, kind, name)
        return Resource(resource_id, kind, name, arn, account, region)

    def _remember(self, rid: str, entry: _Entry) -> _Entry:
        if len(self._cache) >= MAX_CACHE and rid not in self._cache:
            now = self.clock()
            for k in [k for k, e in self._cache.items() if e.until <= now] or list(self._cache):
                del self._cache[k]
                if len(self._cache) < MAX_CACHE // 2:
                    break
        self._cache[rid] = entry
        return entry

    def _lookup(self, rid: str, kind: str, now: float) -> _Entry | None:
        if self._rds_factory is None or not RESOURCE_ID.match(rid):
            return None
        if now < self._denied_until:
            return _Entry(None, None, self._denied_until, "denied")
        self.stats.lookups += 1
        try:
            if self._rds is None:
                self._rds = self._rds_factory()
            found = self._describe(rid, kind)
        except Exception as exc:
            self.stats.failures += 1
            code = _code(exc)
            if code in _DENIED:
                self._denied_until = now + DENIED_TTL_S
                log.warning(
                    "resource names: RDS refused %s (%s); alerts show resource ids only for "
                    "%d minutes (grant rds:DescribeDBClusters/DescribeDBInstances or set %s)",
                    "DescribeDBClusters" if kind == CLUSTER else "DescribeDBInstances",
                    code,
                    DENIED_TTL_S // 60,
                    NAMES_ENV,
                )
                return self._remember(rid, _Entry(None, None, now + DENIED_TTL_S, code))
            log.warning("resource names: could not resolve %s: %s", rid, code)
            return self._remember(rid, _Entry(None, None, now + ERROR_TTL_S, code))
        if found is None:
            self.stats.failures += 1
            log.warning("resource names: RDS knows no %s %s in this region", kind, rid)
            return self._remember(rid, _Entry(None, None, now + NOT_FOUND_TTL_S, "not_found"))
        return self._remember(rid, _Entry(found[0], found[1], now + POSITIVE_TTL_S))

    def _describe(self, rid: str, kind: str) -> tuple[str, str | None] | None:
        if kind == INSTANCE:
            resp = self._rds.describe_db_instances(
                Filters=[{"Name": "dbi-resource-id", "Values": [rid]}]
            )
            for db in resp.get("DBInstances", []):
                if db.get("DbiResourceId") == rid and db.get("DBInstanceIdentifier"):
                    return str(db["DBInstanceIdentifier"]), db.get("DBInstanceArn")
            return None
        if self._cluster_filter:
            try:
                resp = self._rds.describe_db_clusters(
                    Filters=[{"Name": "db-cluster-resource-id", "Values": [rid]}]
                )
                return self._cluster_in(resp, rid)
            except Exception as exc:
                if _code(exc) not in _FILTER_REFUSED:
                    raise
                self._cluster_filter = False
                log.info("resource names: RDS refused the cluster filter; listing clusters")
        return self._scan_clusters(rid)

    def _cluster_in(self, resp: Mapping[str, Any], rid: str) -> tuple[str, str | None] | None:
        """The match for ``rid``; every other cluster in the page is cached on the way."""
        hit = None
        until = self.clock() + POSITIVE_TTL_S
        for c in resp.get("DBClusters", []):
            other, name = c.get("DbClusterResourceId"), c.get("DBClusterIdentifier")
            if not other or not name:
                continue
            if other == rid:
                hit = (str(name), c.get("DBClusterArn"))
            elif other not in self._cache:
                self._remember(str(other), _Entry(str(name), c.get("DBClusterArn"), until))
        return hit

    def _scan_clusters(self, rid: str) -> tuple[str, str | None] | None:
        marker: str | None = None
        for _ in range(MAX_SCAN_PAGES):
            kwargs: dict[str, Any] = {"MaxRecords": 100}
            if marker:
                kwargs["Marker"] = marker
            resp = self._rds.describe_db_clusters(**kwargs)
            hit = self._cluster_in(resp, rid)
            if hit is not None:
                return hit
            marker = resp.get("Marker")
            if not marker:
                return None
        return None

    # -- alerts ----------------------------------------------------------------------------
    def enrich(
        self, alerts: Sequence[Alert], deadline: Deadline | None = None
    ) -> tuple[list[Alert], int]:
        """Alerts with ``context["resource"]`` set; and how many are left without a name.

        Lookups stop when the batch's budget is spent or the deadline is near; ids not asked
        this batch are asked again the next one (nothing is cached for them).
        """
        started = self.clock()
        out: list[Alert] = []
        unresolved: set[str] = set()
        memo: dict[str, Resource] = {}

        def facts(rid: str) -> Resource:
            if rid not in memo:
                allowed = self.clock() - started < self.budget_s and (
                    deadline is None or deadline.allows(DEADLINE_RESERVE_S)
                )
                memo[rid] = self.resolve(rid, allowed=allowed)
            return memo[rid]

        for alert in alerts:
            ids = _ids(alert)
            if not ids:
                out.append(alert)
                continue
            primary = facts(ids[0])
            doc = primary.to_dict()
            if primary.name is None:
                unresolved.add(primary.id)
            if len(ids) > 1:
                inst = facts(ids[1])
                doc["instance"] = {"id": inst.id, "name": inst.name, "arn": inst.arn}
            out.append(dataclasses.replace(alert, context={**alert.context, "resource": doc}))
        return out, len(unresolved)


def _ids(alert: Alert) -> list[str]:
    """The alert's resource ids: the cluster first (the stream's resource), then the instance."""
    das = alert.das
    out = []
    for key, prefix in (("clusterId", "cluster-"), ("instanceId", "db-")):
        value = das.get(key)
        if isinstance(value, str) and value.startswith(prefix) and RESOURCE_ID.match(value):
            out.append(value)
    return out
