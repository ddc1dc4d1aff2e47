"""Every complete rule of the "Rule types" section of docs/rules.md (a YAML block starting with
`id:`) loads and passes its own tests: the worked examples cannot drift from the engine."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from engine.rules.lang.loader import load_lists_text, load_rule_text
from engine.rules.testing.runner import run_tests

REPO = Path(__file__).resolve().parents[2]
TEXT = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
DOC = TEXT[TEXT.index("\n## Rule types\n") : TEXT.index("\n## Tuning without forking\n")]
BLOCKS = [
    b
    for b in (textwrap.dedent(raw) for raw in re.findall(r"```yaml\n(.*?)```", DOC, re.S))
    if b.startswith("id:")
]
LISTS, PARAMS, _ = load_lists_text((REPO / "rules" / "lists.yaml").read_text(), "lists.yaml")


def test_the_rule_types_have_worked_examples() -> None:
    ids = {b.split("\n", 1)[0].split(":", 1)[1].strip() for b in BLOCKS}
    assert {
        "password-spray",
        "login-success-after-failures",
        "new-user-network",
        "payments-read-off-hours",
    } <= ids


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.split("\n", 1)[0])
def test_worked_example_loads_and_passes_its_tests(block: str) -> None:
    rule, problems, _ = load_rule_text(block, str(REPO / "docs" / "rules.md"), LISTS, PARAMS)
    assert rule is not None, [str(p) for p in problems]
    report = run_tests([rule], LISTS, PARAMS)
    assert report.outcomes and report.failed == 0, report.render()
