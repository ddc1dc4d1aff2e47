"""Routing: rule outputs, minimum severities, staging and ops routes, start-up errors."""

from __future__ import annotations

import io

import pytest

from engine.outputs.console import ConsoleOutput
from engine.outputs.routing import Router
from engine.pipeline.env import ConfigError
from tests.outputs.factory import make_alert

HOOK = "http://127.0.0.1:9/services/T/B/secretpart"
ENV = {
    "DASALERT_OUTPUTS": "slack,sns,securityhub,console",
    "SLACK_WEBHOOK_URL": HOOK,
    "SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
}


@pytest.fixture
def router(aws) -> Router:
    return Router.from_env(ENV)


def test_severity_minimums(router: Router) -> None:
    assert router.min_severity == {
        "slack": "medium",
        "sns": "info",
        "securityhub": "low",
        "console": "info",
    }
    assert router.targets(make_alert(severity="info")) == ("sns", "console")
    assert router.targets(make_alert(severity="low")) == ("sns", "securityhub", "console")
    assert router.targets(make_alert(severity="medium")) == (
        "slack",
        "sns",
        "securityhub",
        "console",
    )
    assert set(router.targets(make_alert(severity="critical"))) == set(router.enabled)


def test_minimums_from_env(aws) -> None:
    r = Router.from_env({**ENV, "SLACK_MIN_SEVERITY": "critical", "SNS_MIN_SEVERITY": "HIGH"})
    assert r.targets(make_alert(severity="high")) == ("sns", "securityhub", "console")
    with pytest.raises(ConfigError, match="SLACK_MIN_SEVERITY: unknown severity 'urgent'"):
        Router.from_env({**ENV, "SLACK_MIN_SEVERITY": "urgent"})


def test_rule_outputs_override_severity(router: Router) -> None:
    assert router.targets(make_alert(severity="info", outputs=("slack",))) == ("slack",)
    # a rule naming only outputs this deployment does not have falls back to severity routing
    assert router.targets(make_alert(severity="info", outputs=("pagerduty",))) == ("sns", "console")


def test_experimental_rules_go_to_staging_only(aws) -> None:
    r = Router.from_env({**ENV, "DASALERT_STAGING_OUTPUTS": "sns"})
    alert = make_alert(severity="critical", status="experimental", outputs=("slack",))
    assert r.targets(alert) == ("sns",)
    default = Router.from_env({"SNS_TOPIC_ARN": ENV["SNS_TOPIC_ARN"]})
    assert default.targets(alert) == ("console",) and "console" in default.outputs


def test_ops_kinds_go_to_the_ops_route(aws) -> None:
    r = Router.from_env(ENV)
    for kind in ("pipeline", "rule_error"):
        assert r.targets(make_alert(kind=kind, severity="info")) == ("slack", "sns", "console")
    r = Router.from_env({**ENV, "DASALERT_OPS_OUTPUTS": "sns"})
    assert r.targets(make_alert(kind="pipeline")) == ("sns",)


def test_route_groups_alerts_per_output(router: Router) -> None:
    a, b = make_alert(1, severity="info"), make_alert(2, severity="high")
    routes = router.route([a, b])
    assert routes["sns"] == [a, b] and routes["slack"] == [b]
    assert routes["securityhub"] == [b]


def test_send_uses_console_stream(aws) -> None:
    buf = io.StringIO()
    r = Router.from_env({"CONSOLE_FORMAT": "table"}, stream=buf)
    reports = r.send([make_alert()])
    assert list(reports) == ["console"] and reports["console"].delivered
    assert "ddl-by-non-admin" in buf.getvalue()
    assert isinstance(r.outputs["console"], ConsoleOutput)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DASALERT_OUTPUTS": "slak"}, "DASALERT_OUTPUTS: unknown output 'slak'"),
        ({"DASALERT_OUTPUTS": "slack"}, "SLACK_WEBHOOK_SECRET_ARN: the slack output is enabled"),
        ({"SLACK_WEBHOOK_SECRET_ARN": "hooks"}, "SLACK_WEBHOOK_SECRET_ARN: not a Secrets Manager"),
        ({"SLACK_WEBHOOK_URL": "hooks.slack.com/x"}, "SLACK_WEBHOOK_URL: not an http"),
        (
            {"SLACK_BOT_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:x"},
            "SLACK_CHANNELS: the bot token needs channels",
        ),
        ({"DASALERT_STAGING_OUTPUTS": "nope"}, "DASALERT_STAGING_OUTPUTS: unknown output"),
        ({"DASALERT_OPS_OUTPUTS": "nope"}, "DASALERT_OPS_OUTPUTS: unknown output"),
        ({"CONSOLE_FORMAT": "xml"}, "CONSOLE_FORMAT: use one of table, json"),
        (
            {"SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:1:t", "SNS_FIFO_GROUP_BY": "user"},
            "SNS_FIFO_GROUP_BY",
        ),
    ],
)
def test_wrong_configuration_names_the_variable(aws, env: dict, variable: str) -> None:
    with pytest.raises(ConfigError) as err:
        Router.from_env(env)
    assert str(err.value).startswith(variable)


def test_webhook_url_never_appears_in_a_config_error(aws) -> None:
    with pytest.raises(ConfigError) as err:
        Router.from_env({"SLACK_WEBHOOK_URL": "hooks.slack.com/services/T/B/secretpart"})
    assert "secretpart" not in str(err.value)


def test_nothing_configured_means_console(aws) -> None:
    r = Router.from_env({})
    assert r.enabled == ("console",)
