"""A realistic, reproducible Database Activity Stream for the benchmarks.

Why a generator and not a capture: a bench must be re-runnable anywhere with the same shape of
traffic, at any size, and with every knob that changes the cost visible (events per record,
data-key rotation, the engine mix, the rule-relevant share of events). The events themselves are
shaped like the AWS samples of each engine (built on ``engine.events.base_event``) and the records
are encrypted by the project's own encoder, in exactly the wire format AWS uses.

Two stages, kept apart on purpose:

* :func:`plan` is pure and deterministic for a seed: which resource each record comes from,
  which activity events it carries, how many heartbeats, and which data key epoch it belongs to.
  ``tests/bench`` proves that determinism and the requested mix.
* :func:`encode` encrypts a plan with a ``DataKeyProvider`` (KMS on moto, or a local key); its
  ciphertext is random (fresh IVs, fresh data keys) as in production.

The traffic mix follows what a busy OLTP cluster sends: about 70% reads, 20% writes, connects and
disconnects, a little DDL and role/privilege activity, and some failed logins; a small share of
reads are large (``rowCount`` above 100,000) and some sessions come from a public address, so a
realistic rule pack finds something to alert on.
"""

from __future__ import annotations

import base64
import random
import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

ENGINES: tuple[str, ...] = ("postgres", "mysql", "oracle", "sqlserver")

# Aurora is the common case; Oracle and SQL Server streams exist but are rarer.
DEFAULT_ENGINE_MIX: tuple[tuple[str, float], ...] = (
    ("postgres", 0.40),
    ("mysql", 0.30),
    ("oracle", 0.15),
    ("sqlserver", 0.15),
)

# Activity kinds and their share of *statements* (MySQL adds AUX events on top of each MAIN).
DEFAULT_ACTIVITY_MIX: tuple[tuple[str, float], ...] = (
    ("read", 0.70),
    ("write", 0.20),
    ("connect", 0.03),
    ("disconnect", 0.03),
    ("ddl", 0.015),
    ("role", 0.010),
    ("failed_login", 0.015),
)

VERSIONS = {"postgres": "1.1", "mysql": "1.2", "oracle": "1.3", "sqlserver": "1.4"}

APP_USERS = ("app", "svc_orders", "svc_billing", "reporting", "etl_loader", "api_gateway")
HUMAN_USERS = ("alice", "bob", "carol", "dave", "mallory")
ADMIN_USERS = {
    "postgres": ("rdsadmin", "postgres", "flyway"),
    "mysql": ("rdsadmin", "admin", "flyway"),
    "oracle": ("RDSADMIN", "ADMIN", "RDSSEC"),
    "sqlserver": ("rdsa", "admin", "flyway"),
}
TABLES = (
    "orders",
    "order_items",
    "customers",
    "payments",
    "invoices",
    "products",
    "inventory",
    "sessions",
    "audit_log",
    "credit_cards",
    "employees",
    "shipments",
)
SCHEMAS = {"postgres": "public", "mysql": "shop", "oracle": "SHOP", "sqlserver": "dbo"}
DATABASES = {"postgres": "shop", "mysql": "shop", "oracle": "ORCL", "sqlserver": "shopDB"}
CLIENT_APPS = {
    "postgres": ("psql", "PostgreSQL JDBC Driver", "pgAdmin 4", "orders-api", None),
    "mysql": (None, "mysql", "orders-api"),
    "oracle": ("JDBC Thin Client", "SQL*Plus", "sqldeveloper"),
    "sqlserver": (
        "Microsoft SQL Server Management Studio - Query",
        "Core Microsoft SqlClient Data Provider",
        "orders-api",
    ),
}
PUBLIC_HOSTS = ("203.0.113.7", "198.51.100.23", "192.0.2.44", "45.83.12.9")


@dataclass(frozen=True)
class Resource:
    """One DAS resource: one Aurora cluster or RDS instance, one Kinesis stream, one engine."""

    engine: str
    resource_id: str  # cluster-… (Aurora) or db-… (RDS Oracle / SQL Server)
    cluster_id: str  # "" on RDS Oracle / SQL Server, as AWS sends it
    instance_id: str
    stream_arn: str


@dataclass(frozen=True)
class StreamSpec:
    """Every knob of the generated stream. Same spec (seed included) → same events."""

    records: int = 1000
    events_per_record: int = 50
    engines: tuple[tuple[str, float], ...] = DEFAULT_ENGINE_MIX
    activities: tuple[tuple[str, float], ...] = DEFAULT_ACTIVITY_MIX
    records_per_key: int = 100  # data-key rotation: a new data key every N records of a stream
    heartbeat_every: int = 10  # one heartbeat in every Nth record (0 = none)
    seed: int = 1
    start: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    events_per_second: float = 2000.0  # spacing of logTime
    region: str = "us-east-1"
    account: str = "123456789012"


@dataclass
class PlannedRecord:
    """One record to encrypt: its resource, activity events, heartbeats and data-key epoch."""

    index: int
    resource: Resource
    events: list[dict[str, Any]]
    heartbeats: int
    key_epoch: int  # records of one resource with the same epoch share one data key


@dataclass
class EncodedRecord:
    """A planned record after encryption: ``payload`` is the Kinesis record data."""

    planned: PlannedRecord
    payload: bytes

    @property
    def resource(self) -> Resource:
        return self.planned.resource


@dataclass
class Plan:
    spec: StreamSpec
    resources: dict[str, Resource]
    records: list[PlannedRecord] = field(default_factory=list)

    @property
    def event_count(self) -> int:
        return sum(len(r.events) for r in self.records)


def _rid(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(26))


def make_resources(spec: StreamSpec, rng: random.Random) -> dict[str, Resource]:
    """One resource per engine of the mix, with ids shaped like the real ones."""
    out: dict[str, Resource] = {}
    for engine, _ in spec.engines:
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
        instance = _rid(rng, "db-")
        if engine in ("postgres", "mysql"):
            resource = cluster = _rid(rng, "cluster-")
        else:
            resource, cluster = instance, ""
        arn = f"arn:aws:kinesis:{spec.region}:{spec.account}:stream/aws-rds-das-{resource}"
        out[engine] = Resource(engine, resource, cluster, instance, arn)
    return out


def _weighted(rng: random.Random, mix: Sequence[tuple[str, float]]) -> str:
    r = rng.random() * sum(w for _, w in mix)
    for name, weight in mix:
        r -= weight
        if r < 0:
            return name
    return mix[-1][0]


def _log_time(engine: str, when: datetime) -> str:
    """``logTime`` in each engine's own form (docs/events.md lists them per engine)."""
    base = when.strftime("%Y-%m-%d %H:%M:%S")
    if engine == "oracle":
        return f"{base}.{when.microsecond:06d}"
    if engine == "sqlserver":
        return f"{base}.{when.microsecond:06d}0+00"
    return f"{base}.{when.microsecond:06d}+00"


class _EventFactory:
    """Builds activity events for one engine from its realistic base event."""

    def __init__(self, engine: str, rng: random.Random) -> None:
        from engine.events import base_event

        self.engine = engine
        self.rng = rng
        self.base = base_event(engine)
        self.statement = 0
        self.session = rng.randrange(1000, 90000)

    # -- common fields ----------------------------------------------------------------------
    def _user(self, kind: str) -> str:
        rng = self.rng
        pool: Sequence[str]
        if kind in ("ddl", "role"):
            pool = ADMIN_USERS[self.engine] if rng.random() < 0.6 else HUMAN_USERS + APP_USERS
        elif kind in ("connect", "disconnect", "failed_login"):
            pool = APP_USERS + HUMAN_USERS + ADMIN_USERS[self.engine][:1]
        else:
            pool = APP_USERS if rng.random() < 0.85 else HUMAN_USERS
        user = rng.choice(pool)
        return user.upper() if self.engine == "oracle" else user

    def _host(self) -> str:
        rng = self.rng
        if rng.random() < 0.02:
            return rng.choice(PUBLIC_HOSTS)
        return f"10.{rng.randrange(0, 4)}.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}"

    def _new(self, kind: str, when: datetime) -> dict[str, Any]:
        rng = self.rng
        ev = dict(self.base)
        if isinstance(ev.get("engineNativeAuditFields"), dict):
            ev["engineNativeAuditFields"] = dict(ev["engineNativeAuditFields"])
        self.statement += 1
        if rng.random() < 0.05:
            self.session += 1
        ts = _log_time(self.engine, when)
        ev.update(
            logTime=ts,
            dbUserName=self._user(kind),
            databaseName=DATABASES[self.engine],
            remoteHost=self._host(),
            remotePort=str(rng.randrange(1024, 65535)),
            clientApplication=rng.choice(CLIENT_APPS[self.engine]),
            statementId=self.statement,
            substatementId=1,
            errorMessage=None,
        )
        if "startTime" in ev and ev["startTime"] is not None:
            ev["startTime"] = ts
        if self.engine == "postgres":
            ev["sessionId"] = f"{self.session:x}.{rng.randrange(4096, 65535):x}"
            ev["pid"] = rng.randrange(1000, 40000)
            ev["exitCode"] = None
            ev["paramList"] = []
        elif self.engine == "mysql":
            ev["sessionId"] = str(self.session)
            ev["exitCode"] = "0"
            ev["errorMessage"] = ""
            ev["endTime"] = ts
            ev["class"] = "MAIN"
        elif self.engine == "oracle":
            ev["sessionId"] = self.session
            ev["exitCode"] = 0
            ev["rowCount"] = None
            if rng.random() < 0.1:  # Oracle events may have no type: it means a record
                ev.pop("type", None)
        else:
            ev["sessionId"] = self.session % 32000
            ev["exitCode"] = 1
            ev["statementId"] = f"0x{rng.getrandbits(128):032x}"
        return ev

    # -- SQL text ------------------------------------------------------------------------------
    def _table(self) -> str:
        return self.rng.choice(TABLES)

    def _qualified(self, table: str) -> str:
        return f"{SCHEMAS[self.engine]}.{table}"

    def _select(self, table: str) -> str:
        rng = self.rng
        q = self._qualified(table)
        n = rng.randrange(1, 10**6)
        shapes = (
            f"SELECT * FROM {q} WHERE id = {n}",
            f"SELECT id, status, total FROM {q} "
            f"WHERE customer_id = {n % 10**5} ORDER BY created_at DESC LIMIT 50",
            f"SELECT count(*) FROM {q} WHERE created_at > now() - interval '1 day'",
            f"SELECT o.id, c.email FROM {self._qualified('orders')} o JOIN "
            f"{self._qualified('customers')} c ON c.id = o.customer_id WHERE o.id = {n}",
        )
        return rng.choice(shapes)

    def _write(self, table: str) -> tuple[str, str]:
        rng = self.rng
        verb = rng.choices(("INSERT", "UPDATE", "DELETE"), weights=(5, 4, 1))[0]
        q = self._qualified(table)
        n = rng.randrange(1, 10**6)
        if verb == "INSERT":
            sql = (
                f"INSERT INTO {q} (customer_id, status, total) "
                f"VALUES ({n % 10**5}, 'new', {n % 999}.99)"
            )
        elif verb == "UPDATE":
            sql = f"UPDATE {q} SET status = 'shipped', updated_at = now() WHERE id = {n}"
        else:
            sql = f"DELETE FROM {q} WHERE id = {n}"
        return verb, sql

    def _ddl(self) -> tuple[str, str, str]:
        rng = self.rng
        t = f"tmp_{rng.randrange(1, 999)}" if rng.random() < 0.5 else self._table()
        q = self._qualified(t)
        choice = rng.choice(("CREATE TABLE", "DROP TABLE", "ALTER TABLE"))
        sql = {
            "CREATE TABLE": f"CREATE TABLE {q} (id bigint primary key, payload text)",
            "DROP TABLE": f"DROP TABLE {q}",
            "ALTER TABLE": f"ALTER TABLE {q} ADD COLUMN note text",
        }[choice]
        return choice, sql, t

    def _secret(self) -> str:
        return "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(14))

    # -- activities ----------------------------------------------------------------------------
    def events(self, kind: str, when: datetime) -> list[dict[str, Any]]:
        """The event(s) of one statement: MySQL emits a MAIN and AUX rows for its objects."""
        return getattr(self, f"_{self.engine}")(kind, when)

    def _postgres(self, kind: str, when: datetime) -> list[dict[str, Any]]:
        rng = self.rng
        ev = self._new(kind, when)
        if kind == "read":
            table = self._table()
            large = rng.random() < 0.005
            ev.update(
                {"class": "READ", "command": "SELECT", "objectType": "TABLE"},
                objectName=self._qualified(table),
                commandText=self._select(table),
                rowCount=rng.randrange(100_001, 2_000_000) if large else rng.randrange(0, 200),
            )
        elif kind == "write":
            table = self._table()
            verb, sql = self._write(table)
            ev.update(
                {"class": "WRITE", "command": verb, "objectType": "TABLE"},
                objectName=self._qualified(table),
                commandText=sql,
                rowCount=0,
                paramList=[str(rng.randrange(1, 10**5)), "new"] if rng.random() < 0.3 else [],
            )
        elif kind in ("connect", "disconnect"):
            ev.update(
                {"class": "MISC", "command": kind.upper(), "objectType": None},
                objectName=None,
                commandText=None,
                rowCount=None,
            )
        elif kind == "ddl":
            verb, sql, table = self._ddl()
            ev.update(
                {"class": "DDL", "command": verb, "objectType": "TABLE"},
                objectName=self._qualified(table),
                commandText=sql,
                rowCount=None,
            )
        elif kind == "role":
            user = rng.choice(HUMAN_USERS + APP_USERS)
            verb, sql = rng.choice(
                (
                    ("GRANT", f"GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO {user}"),
                    ("ALTER ROLE", f"ALTER ROLE {user} WITH PASSWORD '{self._secret()}'"),
                    ("CREATE ROLE", f"CREATE ROLE {user}_ro LOGIN PASSWORD '{self._secret()}'"),
                    ("GRANT", f"GRANT rds_superuser TO {user}"),
                )
            )
            ev.update(
                {"class": "ROLE", "command": verb, "objectType": None},
                objectName=None,
                commandText=sql,
                rowCount=None,
            )
        else:  # failed login
            ev.update(
                {"class": "MISC", "command": "AUTH FAILURE", "objectType": None},
                objectName=None,
                commandText=None,
                rowCount=None,
                exitCode="28P01",
                errorMessage=f'password authentication failed for user "{ev["dbUserName"]}"',
            )
        return [ev]

    def _mysql(self, kind: str, when: datetime) -> list[dict[str, Any]]:
        rng = self.rng
        ev = self._new(kind, when)
        aux: list[tuple[str, str]] = []  # (command, object)
        if kind == "read":
            table = self._table()
            large = rng.random() < 0.005
            ev.update(
                command="QUERY",
                objectType="TABLE",
                objectName=table,
                commandText=self._select(table),
                rowCount=rng.randrange(100_001, 2_000_000) if large else rng.randrange(0, 200),
            )
            aux.append(("READ", table))
        elif kind == "write":
            table = self._table()
            verb, sql = self._write(table)
            ev.update(
                command="QUERY", objectType="TABLE", objectName=table, commandText=sql, rowCount=1
            )
            aux.append(("WRITE", table))
        elif kind in ("connect", "disconnect"):
            ev.update(
                command=kind.upper(),
                objectType="TABLE",
                objectName="",
                commandText="",
                rowCount=0,
                statementId=0,
            )
        elif kind == "ddl":
            verb, sql, table = self._ddl()
            ev.update(
                command="QUERY", objectType="TABLE", objectName=table, commandText=sql, rowCount=0
            )
            aux.append((verb.split()[0], table))
        elif kind == "role":
            user = rng.choice(HUMAN_USERS + APP_USERS)
            sql = rng.choice(
                (
                    f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%'",
                    f"CREATE USER '{user}_ro'@'%' IDENTIFIED BY '{self._secret()}'",
                    f"SET PASSWORD FOR '{user}'@'%' = '{self._secret()}'",
                )
            )
            ev.update(command="QUERY", objectType="", objectName="", commandText=sql, rowCount=0)
        else:
            ev.update(
                command="FAILED_CONNECT",
                objectType="TABLE",
                objectName="",
                commandText="",
                rowCount=0,
                statementId=0,
                exitCode="1045",
                errorMessage=(
                    f"Access denied for user '{ev['dbUserName']}'@'{ev['remoteHost']}' "
                    "(using password: YES)"
                ),
            )
        out = [ev]
        for i, (command, obj) in enumerate(aux, start=2):
            a = dict(ev)
            a.update(
                {"class": "AUX", "command": command},
                commandText=obj,
                objectName=obj,
                substatementId=i,
                exitCode="",
                rowCount=0,
            )
            out.append(a)
        return out

    def _oracle(self, kind: str, when: datetime) -> list[dict[str, Any]]:
        rng = self.rng
        ev = self._new(kind, when)
        ev["class"] = "Standard"
        schema = SCHEMAS["oracle"]
        if kind == "read":
            table = self._table().upper()
            ev.update(
                command="SELECT",
                objectType=schema,
                objectName=table,
                commandText=f"SELECT * FROM {schema}.{table} WHERE ID = :1",
            )
        elif kind == "write":
            table = self._table().upper()
            verb, _ = self._write(table)
            ev.update(
                command=verb,
                objectType=schema,
                objectName=table,
                commandText=f"{verb} {schema}.{table} /* bind :1 :2 */",
            )
        elif kind in ("connect", "disconnect"):
            ev.update(
                command="LOGON" if kind == "connect" else "LOGOFF",
                objectType=None,
                objectName=None,
                commandText=None,
            )
        elif kind == "ddl":
            verb, sql, table = self._ddl()
            ev.update(command=verb, objectType=schema, objectName=table.upper(), commandText=sql)
        elif kind == "role":
            user = rng.choice(HUMAN_USERS + APP_USERS).upper()
            verb, sql = rng.choice(
                (
                    ("GRANT", f"GRANT DBA TO {user}"),
                    ("ALTER USER", f"ALTER USER {user} IDENTIFIED BY {self._secret()}"),
                    ("CREATE USER", f'CREATE USER {user}_RO IDENTIFIED BY "{self._secret()}"'),
                )
            )
            ev.update(command=verb, objectType=None, objectName=None, commandText=sql)
        else:
            ev.update(
                command="LOGON", objectType=None, objectName=None, commandText=None, exitCode=1017
            )
        return [ev]

    def _sqlserver(self, kind: str, when: datetime) -> list[dict[str, Any]]:
        rng = self.rng
        ev = self._new(kind, when)
        if kind == "read":
            table = self._table()
            ev.update(
                {"class": "TABLE", "command": "SELECT", "objectType": "TABLE"},
                objectName=table,
                commandText=self._select(table).replace("now() - interval '1 day'", "GETDATE()-1"),
                rowCount=rng.randrange(0, 200),
            )
        elif kind == "write":
            table = self._table()
            verb, sql = self._write(table)
            ev.update(
                {"class": "TABLE", "command": verb, "objectType": "TABLE"},
                objectName=table,
                commandText=sql.replace("now()", "GETDATE()"),
                rowCount=1,
            )
        elif kind in ("connect", "disconnect"):
            ev.update(
                {"class": "LOGIN", "objectType": "LOGIN"},
                command="LOGIN SUCCEEDED" if kind == "connect" else "LOGOUT",
                objectName="",
                commandText="",
                rowCount=0,
            )
        elif kind == "ddl":
            verb, sql, table = self._ddl()
            ev.update(
                {"class": "SCHEMA", "command": verb.split()[0], "objectType": "SCHEMA"},
                objectName="dbo",
                commandText=sql.replace(
                    "bigint primary key, payload text", "int, note nvarchar(50)"
                ),
                rowCount=0,
            )
        elif kind == "role":
            user = rng.choice(HUMAN_USERS + APP_USERS)
            secret = self._secret()
            cls, verb, sql = rng.choice(
                (
                    (
                        "SERVER_ROLE",
                        "ADD MEMBER",
                        f"ALTER SERVER ROLE sysadmin ADD MEMBER [{user}]",
                    ),
                    ("LOGIN", "CREATE", f"CREATE LOGIN [{user}_ro] WITH PASSWORD = '{secret}'"),
                    ("LOGIN", "ALTER", f"ALTER LOGIN [{user}] WITH PASSWORD = '{secret}'"),
                )
            )
            ev.update(
                {"class": cls, "command": verb, "objectType": "LOGIN"},
                objectName=user,
                commandText=sql,
                rowCount=0,
            )
        else:
            user = ev["dbUserName"]
            ev.update(
                {"class": "LOGIN", "command": "LOGIN FAILED", "objectType": "LOGIN"},
                objectName="",
                databaseName="",
                commandText=(
                    f"Login failed for user '{user}'. Reason: Password did not match that for "
                    "the login provided. [CLIENT: local-machine]"
                ),
                rowCount=0,
                exitCode=0,
            )
        return [ev]


def plan(spec: StreamSpec) -> Plan:
    """The deterministic content of the stream: same spec → same records and events."""
    if spec.records < 0 or spec.events_per_record < 0:
        raise ValueError("records and events_per_record must be >= 0")
    if spec.records_per_key < 1:
        raise ValueError("records_per_key must be >= 1")
    rng = random.Random(spec.seed)
    resources = make_resources(spec, rng)
    factories = {e: _EventFactory(e, random.Random(rng.random())) for e in resources}
    seen: dict[str, int] = dict.fromkeys(resources, 0)
    step = timedelta(seconds=1.0 / spec.events_per_second)
    when = spec.start
    out = Plan(spec, resources)
    for index in range(spec.records):
        engine = _weighted(rng, spec.engines)
        fac = factories[engine]
        events: list[dict[str, Any]] = []
        while len(events) < spec.events_per_record:
            kind = _weighted(rng, spec.activities)
            for ev in fac.events(kind, when):
                if len(events) < spec.events_per_record:
                    events.append(ev)
            when += step
        hb = 1 if spec.heartbeat_every and index % spec.heartbeat_every == 0 else 0
        epoch = seen[engine] // spec.records_per_key
        seen[engine] += 1
        out.records.append(PlannedRecord(index, resources[engine], events, hb, epoch))
    return out


def encode(p: Plan, keys: Any) -> list[EncodedRecord]:
    """Encrypt every planned record with the project's encoder.

    One ``Encoder`` per resource, rotating its data key every ``records_per_key`` records of that
    resource, as RDS does (each new key costs one KMS call to decode). ``keys`` is a
    ``DataKeyProvider`` (``KmsKeyProvider(key_id=…)`` on moto, or ``LocalKeyProvider``).
    """
    from engine.das.encoder import Encoder

    encoders = {
        engine: Encoder(keys, res.resource_id, records_per_key=p.spec.records_per_key)
        for engine, res in p.resources.items()
    }
    out: list[EncodedRecord] = []
    for rec in p.records:
        res = rec.resource
        payload = encoders[res.engine].encode(
            rec.events,
            cluster_id=res.cluster_id,
            instance_id=res.instance_id,
            version=VERSIONS[res.engine],
            heartbeats=rec.heartbeats,
        )
        out.append(EncodedRecord(rec, payload))
    return out


def batches(
    records: Sequence[EncodedRecord], batch_size: int = 100
) -> Iterator[list[EncodedRecord]]:
    """Split into Lambda batches as an event source mapping would: one stream per batch.

    Records of one stream keep their order; a batch never mixes streams (a mapping reads one
    shard of one stream).
    """
    by_stream: dict[str, list[EncodedRecord]] = {}
    for rec in records:
        by_stream.setdefault(rec.resource.stream_arn, []).append(rec)
    for recs in by_stream.values():
        for i in range(0, len(recs), batch_size):
            yield recs[i : i + batch_size]


def kinesis_events(records: Sequence[EncodedRecord], batch_size: int = 100) -> list[dict[str, Any]]:
    """Lambda Kinesis events, built with the project's ``kinesis_event``."""
    from engine.das.encoder import kinesis_event

    return [
        kinesis_event([r.payload for r in batch], batch[0].resource.stream_arn)
        for batch in batches(records, batch_size)
    ]


def payload_size(records: Iterable[EncodedRecord]) -> int:
    """Bytes of base64 record data as Lambda receives them."""
    return sum(len(base64.b64encode(r.payload)) for r in records)


def mix(p: Plan) -> dict[str, dict[str, int]]:
    """Counts of events per engine and per coarse activity kind, for the bench report."""
    engines: dict[str, int] = {}
    kinds: dict[str, int] = {}
    for rec in p.records:
        engines[rec.resource.engine] = engines.get(rec.resource.engine, 0) + len(rec.events)
        for ev in rec.events:
            k = activity_of(rec.resource.engine, ev)
            kinds[k] = kinds.get(k, 0) + 1
    return {"engines": engines, "activities": kinds}


_READ = {"SELECT", "READ"}
_WRITE = {"INSERT", "UPDATE", "DELETE", "WRITE"}


def activity_of(engine: str, ev: dict[str, Any]) -> str:
    """Classify a generated event back into its activity kind (a check on the generator)."""
    cmd = (ev.get("command") or "").upper()
    text = (ev.get("commandText") or "").lstrip().upper()
    if engine == "mysql" and cmd == "QUERY":
        cmd = text.split(" ", 1)[0] if text else cmd
        if cmd in ("CREATE", "DROP", "ALTER"):
            return "ddl"
        if cmd in ("GRANT", "SET"):
            return "role"
    if cmd in _READ:
        return "read"
    if cmd in _WRITE:
        return "write"
    if cmd in ("CONNECT", "LOGIN SUCCEEDED") or (cmd == "LOGON" and not ev.get("exitCode")):
        return "connect"
    if cmd in ("DISCONNECT", "LOGOFF", "LOGOUT"):
        return "disconnect"
    if cmd in ("AUTH FAILURE", "FAILED_CONNECT", "LOGIN FAILED", "LOGON"):
        return "failed_login"
    if cmd in ("CREATE TABLE", "DROP TABLE", "ALTER TABLE", "CREATE", "DROP", "ALTER", "RENAME"):
        if engine == "sqlserver" and ev.get("class") == "LOGIN":
            return "role"
        return "ddl"
    return "role"
