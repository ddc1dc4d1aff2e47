"""``dasalert send-test``: one clearly marked test alert through a configured output.

After a deploy, an operator runs this with the function's environment to prove the wiring
(secret readable, topic reachable, Security Hub enabled) end to end, and reads the delivery
report. The alert has ``kind="test"`` and says TEST in its title, so nobody mistakes it for an
incident.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Mapping
from typing import TextIO

from engine.alerts import Alert, system
from engine.outputs.base import Deadline, DeliveryReport, Status

NAME = "send-test"
HELP = "send one clearly marked test alert through an output and print the delivery report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # no ``choices``: the names come from the outputs registry, read when the command runs
    # (building the parser of every command must not import every output)
    parser.add_argument(
        "--output", required=True, help="the output to test, by name (slack, sns, console, …)"
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds allowed for retries (default 60)"
    )


def make_test_alert(now: dt.datetime | None = None) -> Alert:
    """A test alert that looks like a real one (fields filled) and says TEST everywhere."""
    return system.send_test_alert(now)


def format_report(report: DeliveryReport) -> str:
    lines = []
    for d in report.deliveries:
        reason = f" ({d.reason})" if d.reason else ""
        lines.append(f"{d.output}: {d.alert_id}: {d.status.value}{reason}")
    return "\n".join(lines) or f"{report.output}: nothing sent"


def send_test(
    output: str,
    env: Mapping[str, str],
    *,
    out: TextIO,
    timeout_s: float = 60.0,
    **router_kwargs: object,
) -> int:
    """Send the test alert through ``output`` configured from ``env``; 0 when delivered."""
    from engine.outputs.base import output_names
    from engine.outputs.routing import Router
    from engine.pipeline.env import ConfigError

    known = output_names()
    if output not in known:
        print(
            f"dasalert send-test: unknown output {output!r}; known: {', '.join(known)}",
            file=sys.stderr,
        )
        return 2
    try:
        router = Router.from_env(env, only=[output], stream=out, **router_kwargs)  # type: ignore[arg-type]
    except ConfigError as exc:
        print(f"dasalert send-test: configuration error: {exc}", file=sys.stderr)
        return 2
    alert = make_test_alert()
    started = dt.datetime.now(dt.UTC)

    def remaining_ms() -> int:
        spent = (dt.datetime.now(dt.UTC) - started).total_seconds()
        return int((timeout_s - spent) * 1000)

    report = router.outputs[output].send([alert], Deadline(remaining_ms, margin_s=0.0))
    print(format_report(report), file=out)
    ok = bool(report.deliveries) and all(d.status is Status.DELIVERED for d in report.deliveries)
    return 0 if ok else 1


def run(args: argparse.Namespace) -> int:
    return send_test(args.output, os.environ, out=sys.stdout, timeout_s=args.timeout)
