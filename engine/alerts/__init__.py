"""Alerts: the model every output consumes, built once (and redacted once) from a match."""

from engine.alerts.model import SEVERITIES, Alert, severity_rank

__all__ = ["SEVERITIES", "Alert", "severity_rank"]
