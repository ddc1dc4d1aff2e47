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

if TYPE_CHECKING:
    from engine.outputs.routing import OutputContext

FORMATS = ("table", "json")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
COLUMNS = (("SEVERITY", 8), ("RULE", 28), ("COUNT", 5), ("TIME", 26), ("TITLE", 0))


def _cell(value: object, width: int) -> str:
    text = _CONTROL.sub(" ", "" if value is None else str(value))
    if width and len(text) > width:
        text = text[: width - 1] + "…"
    return text.ljust(width) if width else text


def table_rows(alerts: Sequence[Alert]) -> list[str]:
    """Header + one line per alert (severity, rule, count, time, title)."""
    lines = ["  ".join(_cell(name, w) for name, w in COLUMNS).rstrip()]
    for a in alerts:
        when = a.last_seen or a.first_seen or a.das.get("time") or ""
        sev = a.severity.upper() if a.kind != "test" else "TEST"
        cells = (sev, a.rule_id, a.count, when, a.title)
        lines.append("  ".join(_cell(v, w) for v, (_, w) in zip(cells, COLUMNS, strict=True)))
    return lines


@register("console")
class ConsoleOutput(Output):
    """Writes alerts to ``stream`` (stdout by default); ``fmt`` is ``table`` or ``json``."""

    def __init__(self, stream: TextIO | None = None, fmt: str = "json") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"console format must be one of {FORMATS}, got {fmt!r}")
        self.stream = stream
        self.fmt = fmt

    @classmethod
    def from_env(cls, env: Mapping[str, str], ctx: OutputContext) -> ConsoleOutput:
        from engine.outputs.routing import ConfigError

        fmt = (env.get("CONSOLE_FORMAT") or "json").strip().lower()
        if fmt not in FORMATS:
            raise ConfigError("CONSOLE_FORMAT", f"use one of {', '.join(FORMATS)}, got {fmt!r}")
        return cls(ctx.stream, fmt)

    def send(self, alerts: Sequence[Alert], deadline: Deadline | None = None) -> DeliveryReport:
        report = DeliveryReport(self.name)
        out = self.stream if self.stream is not None else sys.stdout
        try:
            if self.fmt == "json":
                text = "".join(
                    json.dumps(a.to_dict(), ensure_ascii=False, default=str) + "\n" for a in alerts
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
