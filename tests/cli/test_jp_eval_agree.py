"""``dasalert jp`` and ``dasalert eval`` read every sample file into the same events.

A rule author checks an expression with ``jp`` and then a rule with ``eval``: if the two read a
file differently (AWS's documentation prints the outer ``DatabaseActivityMonitoringRecords``
with the payload already decrypted; ``jp`` once took it for one empty event while ``eval``
rejected it), what ``jp`` shows is not what the rule sees.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.cli.events_input import read_events
from engine.cli.jp_input import SampleError, prepare, read_samples

EVENTS = Path(__file__).resolve().parents[1] / "events"
# every file; the ones published as invalid JSON are checked to be refused by both
SAMPLES = sorted(
    p for folder in ("aws_samples", "real_events") for p in (EVENTS / folder).glob("*.json")
)


def _parses(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return False
    return True


def _jp_events(path: Path) -> list[dict]:
    return [prepare(s) for s in read_samples(path.read_text(encoding="utf-8"), str(path))]


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_jp_and_eval_read_the_same_events(path: Path) -> None:
    if not _parses(path):  # published as invalid JSON: both refuse, neither guesses
        with pytest.raises(SampleError):
            _jp_events(path)
        assert read_events([str(path)]).problems
        return
    result = read_events([str(path)])
    assert result.problems == []
    jp = _jp_events(path)
    assert jp, "every sample holds at least one activity event"
    assert jp == result.events
    assert all(e["das"]["engine"] is not None for e in jp)


OUTER = sorted(
    p for p in SAMPLES if _parses(p) and "databaseActivityEvents" in json.loads(p.read_text())
)


def test_the_documentation_outer_records_are_among_the_samples() -> None:
    assert len(OUTER) >= 3


@pytest.mark.parametrize("path", OUTER, ids=lambda p: p.name)
def test_an_outer_record_reads_as_the_record_it_holds(path: Path, capsys) -> None:
    outer = json.loads(path.read_text(encoding="utf-8"))
    inner = outer["databaseActivityEvents"]
    assert _jp_events(path) == read_events([str(path)]).events
    got = read_events([str(path)]).events
    assert [e["das"]["clusterId"] for e in got] == [inner["clusterId"]] * len(got)
    assert [e["das"]["instanceId"] for e in got] == [inner["instanceId"]] * len(got)
    # the payload as JSON text (a decrypt step that left it a string) reads the same
    as_text = dict(outer, databaseActivityEvents=json.dumps(inner))
    assert read_events_text(as_text) == got
    assert main(["jp", "das.action", str(path)]) == 0
    assert capsys.readouterr().out.strip() == json.dumps(got[0]["das"]["action"])
    assert main(["eval", "--rules", str(EVENTS.parents[1] / "rules"), str(path)]) == 0


def read_events_text(doc: dict) -> list[dict]:
    from engine.cli.events_input import EventReader

    reader = EventReader()
    reader.read_text(json.dumps(doc), "t")
    assert reader.result.problems == []
    jp = [prepare(s) for s in read_samples(json.dumps(doc), "t")]
    assert jp == reader.result.events
    return jp


def test_an_encrypted_outer_record_is_refused_by_jp_and_needs_a_key_in_eval() -> None:
    record = {
        "type": "DatabaseActivityMonitoringRecords",
        "version": "1.1",
        "databaseActivityEvents": base64.b64encode(b"\x00" * 32).decode(),
        "key": base64.b64encode(b"\x01" * 32).decode(),
    }
    text = json.dumps(record)
    with pytest.raises(SampleError, match="decode it first"):
        read_samples(text, "t")
    from engine.cli.events_input import EventReader

    reader = EventReader()
    reader.read_text(text, "t")
    assert reader.result.events == []
    assert any("need a key" in p for p in reader.result.problems)
