"""``engine.alerts`` exports the helpers outputs and the engine build alerts with."""

from __future__ import annotations

import subprocess
import sys

import engine.alerts
from engine.alerts import ids, redact, render


def test_the_package_exports_the_alert_helpers():
    assert engine.alerts.alert_id is ids.alert_id
    assert engine.alerts.redact_event is redact.redact_event
    assert engine.alerts.redact_sql is redact.redact_sql
    assert engine.alerts.render_title is render.render_title
    assert set(engine.alerts.__all__) >= {"alert_id", "redact_event", "redact_sql", "render_title"}


def test_each_alerts_module_imports_first_without_a_cycle():
    for module in ("model", "ids", "redact", "render", "sqllex"):
        code = f"import engine.alerts.{module}"
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
