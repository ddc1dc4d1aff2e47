"""Outputs declare themselves; routing, lint and send-test read the declarations.

A test output registered here (and only for the test) is enabled by its own variable, gets its
own default minimum severity, is known to lint and can be sent a test alert — without any other
module listing it.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import io
import pkgutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

import engine.outputs as outputs_pkg
from engine.cli.send_test import send_test
from engine.outputs import base
from engine.outputs.base import (
    Deadline,
    DeliveryReport,
    Output,
    Status,
    output_names,
    register,
    specs,
)
from engine.outputs.routing import Router
from engine.pipeline.env import ConfigError
from engine.rules.lang.loader import LoadResult, load_rule_text
from engine.rules.lint.run import known_outputs, lint_result
from tests.outputs.factory import make_alert

SNS = "arn:aws:sns:us-east-1:123456789012:alerts"


def test_the_four_outputs_declare_themselves() -> None:
    declared = {
        n: (s.enabled_by, s.flag, s.min_severity, s.ops, s.fallback) for n, s in specs().items()
    }
    assert declared == {
        "console": ((), False, "info", True, True),
        "securityhub": (("SECURITYHUB_ENABLED",), True, "low", False, False),
        "slack": (
            ("SLACK_WEBHOOK_SECRET_ARN", "SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN_SECRET_ARN"),
            False,
            "medium",
            True,
            False,
        ),
        "sns": (("SNS_TOPIC_ARN",), False, "info", True, False),
    }
    assert output_names() == ("console", "securityhub", "slack", "sns")  # name order


def test_every_output_class_in_the_package_is_registered() -> None:
    registered = {s.cls for s in specs().values()}
    found = set()
    for mod in pkgutil.iter_modules(outputs_pkg.__path__):
        module = importlib.import_module(f"engine.outputs.{mod.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Output) and cls is not Output and cls.__module__ == module.__name__:
                found.add(cls)
    assert found and found == registered


def test_a_name_is_registered_once_and_severities_are_checked(
    temp_registry: None,
) -> None:
    with pytest.raises(ValueError, match="registered twice"):

        @register("console")
        class Other(Output):
            def send(self, alerts: Any, deadline: Any = None) -> DeliveryReport:
                raise NotImplementedError

    with pytest.raises(ValueError, match="unknown min_severity 'urgent'"):
        register("x", min_severity="urgent")


# -- a new output, registered for one test -------------------------------------------------


@pytest.fixture
def temp_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Registrations made during the test are forgotten after it."""
    specs()  # the real outputs first
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))
    yield


class PagerOutput(Output):
    """Keeps what it was sent; built from ``PAGER_URL``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sent: list[Any] = []

    @classmethod
    def from_env(cls, env: Mapping[str, str], ctx: Any) -> PagerOutput:
        url = env.get("PAGER_URL") or ""
        if not url.startswith("https://"):
            raise ConfigError("PAGER_URL", "not an https URL")
        return cls(url)

    def send(self, alerts: Sequence[Any], deadline: Deadline | None = None) -> DeliveryReport:
        report = DeliveryReport(self.name)
        for a in alerts:
            self.sent.append(a)
            report.add(a.id, Status.DELIVERED)
        return report


@pytest.fixture
def pager(temp_registry: None) -> type[PagerOutput]:
    register("pager", enabled_by=("PAGER_URL",), min_severity="high", ops=False)(PagerOutput)
    return PagerOutput


def test_routing_enables_builds_and_thresholds_a_new_output_from_its_declaration(
    pager: type[PagerOutput],
) -> None:
    env = {"PAGER_URL": "https://pager.example.com/hook", "SNS_TOPIC_ARN": SNS}
    r = Router.from_env(env, client_factory=lambda service: None)
    assert r.enabled == ("pager", "sns")  # name order
    assert isinstance(r.outputs["pager"], PagerOutput)
    assert r.min_severity["pager"] == "high"
    assert r.targets(make_alert(severity="medium")) == ("sns",)
    assert r.targets(make_alert(severity="high")) == ("pager", "sns")
    assert r.targets(make_alert(kind="pipeline")) == ("sns",)  # declared ops=False
    lowered = Router.from_env({**env, "PAGER_MIN_SEVERITY": "low"}, client_factory=lambda s: None)
    assert lowered.targets(make_alert(severity="medium")) == ("pager", "sns")
    with pytest.raises(ConfigError, match="PAGER_URL: not an https URL"):
        Router.from_env({"PAGER_URL": "pager.example.com"}, client_factory=lambda s: None)


def test_lint_knows_a_new_output_as_soon_as_it_registers(temp_registry: None) -> None:
    text = textwrap.dedent(
        """\
        id: r
        title: "Read by {dbUserName}"
        severity: low
        when: das.action == 'READ'
        outputs: [pager]
        """
    )
    rule, problems, lines = load_rule_text(text, "r.yaml", {}, {})
    assert rule is not None, problems
    result = LoadResult([rule], {}, {}, problems, ["r.yaml"], {rule.id: lines})

    def unknown() -> list[str]:
        report = lint_result(result, today=dt.date(2026, 11, 27))
        return [p.message for p in report.problems if "unknown output" in p.message]

    assert unknown() == ["unknown output `pager`"]
    register("pager", enabled_by=("PAGER_URL",))(PagerOutput)
    assert "pager" in known_outputs()
    assert unknown() == []


def test_send_test_takes_its_names_from_the_registry(pager: type[PagerOutput], capsys) -> None:
    env = {"PAGER_URL": "https://pager.example.com/hook"}
    buf = io.StringIO()
    assert send_test("pager", env, out=buf, client_factory=lambda s: None) == 0
    assert "pager: dasalert-test-" in buf.getvalue() and "delivered" in buf.getvalue()
    assert send_test("pagr", env, out=buf) == 2
    assert "unknown output 'pagr'; known: console, pager, securityhub, slack, sns" in (
        capsys.readouterr().err
    )


def test_loading_rules_imports_no_output() -> None:
    """Rule loading (the Lambda's cold start, `dasalert test`) stays free of the outputs: lint
    reads the registry only when it runs."""
    code = (
        "import sys, engine.rules, engine.rules.lint.run\n"
        "print(sorted(m for m in sys.modules if m.startswith('engine.outputs')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
