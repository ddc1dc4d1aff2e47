"""``dasalert base-event ENGINE``: the event a rule test's partial event is merged over.

A test writes only the fields it is about; the rest comes from this event. Its values show up in
titles (``{databaseName}`` is ``testDB`` on SQL Server) and decide near misses (``rowCount`` is 10),
so an author must be able to see it without reading the source.
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "base-event"
HELP = "print the base event that a rule test's partial event is merged over"
DESCRIPTION = (
    "Print, as JSON, the realistic raw activity event of ENGINE (postgres, mysql, oracle, "
    "sqlserver) that fills in every field a rule test does not give. --normalized adds the "
    "`das` fields the rule sees. Exit 2 for an unknown engine."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("engine", metavar="ENGINE", help="postgres, mysql, oracle or sqlserver")
    parser.add_argument(
        "--normalized",
        action="store_true",
        help="normalize it as a test does, adding the derived `das` fields",
    )
    parser.add_argument("--compact", action="store_true", help="one line instead of indented")


def run(args: argparse.Namespace) -> int:
    from engine.events import UnknownEngineError, base_event, normalize

    try:
        event = base_event(args.engine)
    except UnknownEngineError as exc:
        print(f"dasalert base-event: {exc}", file=sys.stderr)
        return 2
    if args.normalized:
        event = normalize(event)
    indent = None if args.compact else 2
    print(json.dumps(event, indent=indent, ensure_ascii=False, default=str))
    return 0
