"""The console output: alerts as a readable table or as JSON lines, on a stream passed in.

Used by the CLI (``dasalert run``/``eval``) and as the default staging route in Lambda, where
stdout is CloudWatch Logs and JSON lines are what Logs Insights queries. Control characters are
removed from table cells so a hostile user name cannot rewrite the terminal.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

from engine.alerts import Alert
from engine.outputs.base import Deadline, DeliveryReport, Output, Status, register
from engine.pipeline.env import ConfigError, env_bool

if TYPE_CHECKING:
    from engine.outputs.routing import OutputContext

FORMATS = ("table", "json")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
COLUMNS = ("SEVERITY", "RULE", "COUNT", "FIRST SEEN", "LAST SEEN", "SERVER", "TITLE")
RULE_WIDTH_MAX = 40
SERVER_WIDTH_MAX = 40


SQL_FIELDS = ("commandText", "paramList", "errorMessage")


def without_sql(event: dict) -> dict:
    """The event without the fields that carry SQL text or bind values (kept: who, where, what)."""
    out = {k: v for k, v in event.items() if k not in SQL_FIELDS}
    das = out.get("das")
    if isinstance(das, dict) and "sql" in das:
        out["das"] = {k: v for k, v in das.items() if k != "sql"}
    return out


def _clean(value: object) -> str:
    return _CONTROL.sub(" ", "" if value is None else str(value))


def _fit(text: str, width: int) -> str:
    return text[: width - 1] + "…" if len(text) > width else text


def _compact_time(value: object) -> str:
    """``2026-11-20T09:01:10.123456Z`` -> ``2026-11-20 09:01:10Z``: seconds are enough to read."""
    text = _clean(value)
    if len(text) >= 19 and text[10] == "T":
        return f"{text[:10]} {text[11:19]}Z"
    return text


def alert_order(alerts: Sequence[Alert]) -> list[Alert]:
    """The order every command prints alerts in: first seen, then rule id, then alert id.

    ``dasalert run`` (the Lambda's pipeline, per batch) and ``dasalert eval`` (one pass over a
    capture) emit the same alerts in different orders; sorting on what the alert says rather
    than on when the code happened to build it makes their output comparable line for line.
    """
    return sorted(alerts, key=lambda a: (a.first_seen or a.last_seen or "", a.rule_id, a.id))


def server(alert: Alert) -> str:
    """Where it happened: the Aurora cluster id, else the RDS instance id, else the server."""
    das = alert.das
    return str(
        das.get("clusterId") or das.get("instanceId") or alert.event.get("serverHost") or "-"
    )


def table_rows(alerts: Sequence[Alert]) -> list[str]:
    """Header + one line per alert, in ``alert_order``: severity, rule, count, first seen, last
    seen, server, title; columns sized to fit."""
    rows = []
    for a in alert_order(alerts):
        first = a.first_seen or a.das.get("time") or ""
        last = a.last_seen or first
        sev = a.severity.upper() if a.kind != "test" else "TEST"
        kind = "" if a.kind in ("rule", "test") else f"[{a.kind}] "
        rows.append(
            (
                sev,
                _fit(_clean(a.rule_id), RULE_WIDTH_MAX),
                str(a.count),
                _compact_time(first) or "-",
                _compact_time(last) or "-",
                _fit(_clean(server(a)), SERVER_WIDTH_MAX),
                kind + _clean(a.title),
            )
        )
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(COLUMNS[:-1])]
    lines = []
    for cells in [COLUMNS, *rows]:
        head = "  ".join(
            c.rjust(w) if i == 2 else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells[:-1], widths, strict=True))
        )
        lines.append(f"{head}  {cells[-1]}".rstrip())
    return lines


@register("console", min_severity="info", fallback=True)
class ConsoleOutput(Output):
    """Writes alerts to ``stream`` (stdout by default); ``fmt`` is ``table`` or ``json``."""

    def __init__(
        self, stream: TextIO | None = None, fmt: str = "json", *, include_sql: bool = True
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"console format must be one of {FORMATS}, got {fmt!r}")
        self.stream = stream
        self.fmt = fmt
        # In Lambda the console is CloudWatch Logs, which must carry no SQL literal (even
        # redacted SQL holds customer values): template.yaml sets CONSOLE_INCLUDE_SQL=false.
        self.include_sql = include_sql

    @classmethod
    def from_env(cls, env: Mapping[str, str], ctx: OutputContext) -> ConsoleOutput:
        fmt = (env.get("CONSOLE_FORMAT") or "json").strip().lower()
        if fmt not in FORMATS:
            raise ConfigError("CONSOLE_FORMAT", f"use one of {', '.join(FORMATS)}, got {fmt!r}")
        return cls(ctx.stream, fmt, include_sql=env_bool(env, "CONSOLE_INCLUDE_SQL", True))

    def _doc(self, alert: Alert) -> dict:
        doc = alert.to_dict()
        if not self.include_sql:
            doc["event"] = without_sql(doc["event"])
        return doc

    def send(self, alerts: Sequence[Alert], deadline: Deadline | None = None) -> DeliveryReport:
        report = DeliveryReport(self.name)
        out = self.stream if self.stream is not None else sys.stdout
        try:
            if self.fmt == "json":
                text = "".join(
                    json.dumps(self._doc(a), ensure_ascii=False, default=str) + "\n"
                    for a in alert_order(alerts)
                )
            else:
                text = "\n".join(table_rows(alerts)) + "\n" if alerts else ""
            out.write(text)
            out.flush()
        except (OSError, ValueError) as exc:  # closed pipe or file, full disk: say so per alert
            for a in alerts:
                report.add(a.id, Status.RETRYABLE, f"cannot write to console: {exc}")
            return report
        for a in alerts:
            report.add(a.id, Status.DELIVERED)
        return report
