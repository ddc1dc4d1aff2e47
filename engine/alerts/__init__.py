"""Alerts: the model every output consumes, built once (and redacted once) from a match."""

from engine.alerts.ids import alert_id
from engine.alerts.model import SEVERITIES, Alert, severity_rank
from engine.alerts.redact import redact_event, redact_sql
from engine.alerts.render import render_title

__all__ = [
    "SEVERITIES",
    "Alert",
    "alert_id",
    "redact_event",
    "redact_sql",
    "render_title",
    "severity_rank",
]
