"""``dasalert send-test``: one clearly marked alert through a configured output.

After a deploy, an operator runs this with the function's environment to prove the wiring
(secret readable, topic reachable, Security Hub enabled) end to end, and reads the delivery
report. Without ``--rule`` the alert is a generic test alert (``kind="test"``, TEST in its title).

With ``--rule ID --event FILE`` it is the alert that event would produce: the rule runs through
the production ``Engine`` (redaction, title, dedup key, escalation), so the message shows exactly
what a responder would read. Only its id (``dasalert-test-…``: no Security Hub finding or sent
marker of a real alert is touched) and its title (``TEST: …``) say it is a preview. An event
the rule does not alert on is an error that shows why, operand by operand (the explanation of
``dasalert test --explain``).

Failures are sentences, never tracebacks: an unknown output or rule, a missing variable, no AWS
credentials for an AWS output, a ``--timeout`` shorter than one request may take.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import difflib
import os
import sys
import textwrap
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from engine.alerts import Alert, system
from engine.outputs.base import Deadline, DeliveryReport, Status

NAME = "send-test"
HELP = "send one clearly marked test alert (or the alert an event would produce) through an output"
# The variables the outputs read; kept here so --help can list them.
ENVIRONMENT = (
    ("DASALERT_RULES", "rules for --rule without --rules (else ./rules or the pack)"),
    ("SLACK_WEBHOOK_URL / SLACK_WEBHOOK_SECRET_ARN", "slack: incoming webhook (value or secret)"),
    ("SLACK_BOT_TOKEN / SLACK_BOT_TOKEN_SECRET_ARN", "slack: bot token (value or secret)"),
    ("SLACK_CHANNELS", "slack bot mode: channel per severity"),
    ("SLACK_HERE_SEVERITY", "slack: @here from this severity up"),
    ("SLACK_API_URL", "slack: Web API base URL (a local server)"),
    ("SNS_TOPIC_ARN, SNS_FIFO_GROUP_BY", "sns: the topic (and FIFO grouping)"),
    ("SECURITYHUB_ENABLED, SECURITYHUB_ACCOUNT_ID", "securityhub: on; the account"),
    ("CONSOLE_FORMAT", "console: json or text"),
    ("AWS_REGION / AWS_DEFAULT_REGION", "AWS outputs' region, console links"),
    ("AWS_PROFILE, AWS_ACCESS_KEY_ID, …", "AWS credentials (the usual chain)"),
    ("AWS_ENDPOINT_URL", "a local AWS endpoint (moto) instead of AWS"),
    ("DASALERT_RESOURCE_NAMES", "DB identifiers by resource id (console links)"),
)
DESCRIPTION = "\n".join(
    [
        *textwrap.wrap(
            "Send one alert through an output configured from the environment, as the stream "
            "function would, and print the delivery report. Without --rule: a generic TEST "
            "alert. With --rule ID --event FILE: the alert that event would produce through the "
            "production engine (printed as plain text first), marked TEST in its title and id; "
            "an event the rule does not alert on is an error that explains why. Exit 0 "
            "delivered, 1 not delivered or no alert, 2 usage or configuration error.",
            78,
        ),
        "",
        "environment variables read:",
        *(f"  {name:<45} {what}" for name, what in ENVIRONMENT),
    ]
)
AWS_OUTPUTS = frozenset({"sns", "securityhub"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    # no ``choices``: the names come from the outputs registry, read when the command runs
    # (building the parser of every command must not import every output)
    parser.add_argument(
        "--output", required=True, help="the output to test, by name (slack, sns, console, …)"
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds allowed for retries (default 60)"
    )
    parser.add_argument("--rule", metavar="ID", help="send the alert this rule raises on --event")
    parser.add_argument(
        "--event", metavar="FILE", help="the event(s) for --rule: any form `dasalert eval` reads"
    )
    parser.add_argument(
        "--rules",
        action="append",
        metavar="PATH",
        help="rules for --rule (default: DASALERT_RULES, else ./rules, else the shipped pack)",
    )
    parser.add_argument("--lists", metavar="PATH", help="lists.yaml (default: beside the rules)")


def make_test_alert(now: dt.datetime | None = None) -> Alert:
    """A test alert that looks like a real one (fields filled) and says TEST everywhere."""
    return system.send_test_alert(now)


def format_report(report: DeliveryReport) -> str:
    lines = []
    for d in report.deliveries:
        reason = f" ({d.reason})" if d.reason else ""
        lines.append(f"{d.output}: {d.alert_id}: {d.status.value}{reason}")
    return "\n".join(lines) or f"{report.output}: nothing sent"


class SendTestError(Exception):
    """A usage or configuration problem, said in one sentence (exit 2)."""


class NoAlert(Exception):
    """The rule did not alert on the event; the message explains why (exit 1)."""


# -- the alert of a real event -------------------------------------------------------------


def rule_alerts(
    rule_id: str,
    event_file: str,
    rules: Sequence[str] | None = None,
    *,
    lists: str | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Alert]:
    """The alerts ``rule_id`` raises on the events of ``event_file``, through the production
    engine (the rule alone, fresh in-memory state), marked as previews.

    ``SendTestError`` when the rule or the file cannot be read; ``NoAlert`` (with the
    explanation) when the rule does not alert.
    """
    from engine.cli.events_input import read_events
    from engine.cli.pack import default_rules_path
    from engine.pipeline.state import MemoryStateStore
    from engine.rules.lang.loader import load_rules, split_paths
    from engine.rules.runtime.engine import Engine
    from engine.rules.runtime.ruleset import RuleSet

    env = os.environ if env is None else env
    paths = [
        str(p) for p in rules or split_paths(env.get("DASALERT_RULES") or default_rules_path())
    ]
    for path in paths:
        if not os.path.exists(path):
            raise SendTestError(f"rules: {path} does not exist")
    loaded = load_rules(paths, lists_path=lists)
    rule = next((r for r in loaded.rules if r.id == rule_id), None)
    if rule is None:
        broken = [p for p in loaded.problems if p.level == "error" and rule_id in str(p)]
        why = f" ({broken[0]})" if broken else ""
        near = difflib.get_close_matches(rule_id, [r.id for r in loaded.rules], n=3, cutoff=0.8)
        hint = f"; did you mean {', '.join(near[:5])}?" if near else ""
        raise SendTestError(
            f"no rule {rule_id!r} in {', '.join(paths)} ({len(loaded.rules)} rules loaded)"
            f"{why}{hint}"
        )
    if not os.path.isfile(event_file) and event_file != "-":
        raise SendTestError(f"--event: {event_file} is not a file")
    read = read_events([event_file])
    if read.problems:
        raise SendTestError("--event: " + "; ".join(read.problems[:3]))
    if not read.events:
        raise SendTestError(f"--event: no activity event in {event_file}")
    engine = Engine(RuleSet([rule], loaded.lists, loaded.params), MemoryStateStore())
    result = engine.process(read.events)
    if result.errors:
        raise NoAlert(f"rule {rule_id} failed on the event: {result.errors[0]}")
    alerts = [a for a in result.alerts if a.rule_id == rule_id and a.kind == "rule"]
    if not alerts:
        raise NoAlert(_why_not(rule, read.events, engine, loaded))
    return [_preview(a) for a in _with_resource(alerts, env)]


def _with_resource(alerts: list[Alert], env: Mapping[str, str]) -> list[Alert]:
    """``context["resource"]`` as the pipeline adds it before delivery, from
    ``DASALERT_RESOURCE_NAMES`` only (no RDS call from a preview): the console and Logs
    Insights links appear when the name is known, as in production."""
    try:
        from engine.pipeline.resources import ResourceResolver

        return ResourceResolver.from_env(env, None).enrich(alerts)[0]
    except Exception:  # a preview without links beats no preview
        return alerts


def _why_not(rule: Any, events: list[dict[str, Any]], engine: Any, loaded: Any) -> str:
    from engine.rules.runtime.functions import make_options
    from engine.rules.testing.explain import explain_events

    options = make_options(loaded.lists, loaded.params)
    lines = explain_events(rule, events, options, engine.ruleset.search)
    head = f"rule {rule.id} did not alert on this event"
    if any(line.strip().startswith("= match") for line in lines):
        head += " (it matched, but its threshold, sequence or first-seen condition did not fire)"
    return "\n".join([head + ":", *lines])


def _preview(alert: Alert) -> Alert:
    """The alert with a test id and a TEST title: nothing a real alert wrote is touched."""
    return dataclasses.replace(
        alert,
        id=f"dasalert-test-{uuid.uuid4().hex}",
        title=f"TEST: {alert.title}",
        context={**alert.context, "test_of": alert.id},
    )


# -- sending --------------------------------------------------------------------------------


def _check_aws(output: str) -> None:
    """An AWS output without credentials: say so before trying (botocore would only raise)."""
    if output not in AWS_OUTPUTS:
        return
    import boto3

    try:
        credentials = boto3.session.Session().get_credentials()
    except Exception as exc:  # a broken profile or config file
        raise SendTestError(f"cannot read AWS credentials: {type(exc).__name__}: {exc}") from exc
    if credentials is None:
        raise SendTestError(
            f"no AWS credentials found for the {output} output: set AWS_PROFILE or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run where a role provides them"
        )


def _check_timeout(output: str, timeout_s: float) -> None:
    from engine.outputs.retry import RetryPolicy

    need = RetryPolicy().request_timeout_s
    if output != "console" and timeout_s < need:
        raise SendTestError(
            f"--timeout {timeout_s:g}s is too short to try: one request to {output} may take "
            f"up to {need:g}s, and none is started without that much time left; "
            f"use --timeout {need:g} or more"
        )


def send_test(
    output: str,
    env: Mapping[str, str],
    *,
    out: TextIO,
    timeout_s: float = 60.0,
    alerts: Sequence[Alert] | None = None,
    **router_kwargs: object,
) -> int:
    """Send the test alert (or ``alerts``) through ``output`` configured from ``env``; 0 when
    every alert was delivered, 1 when not, 2 for a usage or configuration error."""
    from engine.outputs.base import output_names
    from engine.outputs.routing import Router
    from engine.pipeline.env import ConfigError

    known = output_names()
    if output not in known:
        return _fail(f"unknown output {output!r}; known: {', '.join(known)}")
    try:
        _check_timeout(output, timeout_s)
        router = Router.from_env(env, only=[output], stream=out, **router_kwargs)  # type: ignore[arg-type]
        _check_aws(output)
    except ConfigError as exc:
        return _fail(f"configuration error: {exc}")
    except SendTestError as exc:
        return _fail(str(exc))
    batch = list(alerts) if alerts else [make_test_alert()]
    started = dt.datetime.now(dt.UTC)

    def remaining_ms() -> int:
        spent = (dt.datetime.now(dt.UTC) - started).total_seconds()
        return int((timeout_s - spent) * 1000)

    try:
        report = router.outputs[output].send(batch, Deadline(remaining_ms, margin_s=0.0))
    except ConfigError as exc:  # an output that reads a secret or a client only when sending
        return _fail(f"configuration error: {exc}")
    print(format_report(report), file=out)
    ok = bool(report.deliveries) and all(d.status is Status.DELIVERED for d in report.deliveries)
    return 0 if ok else 1


def _fail(message: str) -> int:
    print(f"dasalert send-test: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    alerts = None
    if bool(args.rule) != bool(args.event):
        return _fail("--rule and --event go together")
    if args.rule:
        from engine.alerts.plaintext import render_text

        try:
            alerts = rule_alerts(args.rule, args.event, args.rules, lists=args.lists)
        except SendTestError as exc:
            return _fail(str(exc))
        except NoAlert as exc:
            print(f"dasalert send-test: {exc}", file=sys.stderr)
            return 1
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        for alert in alerts:
            print(render_text(alert, region=region), file=sys.stdout)
    return send_test(args.output, os.environ, out=sys.stdout, timeout_s=args.timeout, alerts=alerts)
