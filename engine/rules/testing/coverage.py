"""What a rule pack covers: the ATT&CK technique × engine matrix, proved by the pack's own tests.

A rule's ``tags`` say which techniques it is about; they do not say on which engines it works.
That is what its inline tests show: a rule counts for an engine only if one of its positive tests
(``expect: {match: true}``, or alerts expected) runs on that engine *and passes*. A rule whose
positive test fails, or that has none on an engine, leaves that cell empty — so the matrix is a
claim the test suite backs, not a list of intentions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.events import ENGINES
from engine.rules.model import Rule
from engine.rules.testing.runner import is_positive, run_test

_TECHNIQUE = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$")
# The names of the techniques a database pack is likely to tag (MITRE ATT&CK Enterprise).
TECHNIQUE_NAMES: dict[str, str] = {
    "T1003": "OS Credential Dumping",
    "T1005": "Data from Local System",
    "T1020": "Automated Exfiltration",
    "T1021": "Remote Services",
    "T1036": "Masquerading",
    "T1048": "Exfiltration Over Alternative Protocol",
    "T1053": "Scheduled Task/Job",
    "T1059": "Command and Scripting Interpreter",
    "T1059.003": "Windows Command Shell",
    "T1068": "Exploitation for Privilege Escalation",
    "T1070": "Indicator Removal",
    "T1071": "Application Layer Protocol",
    "T1078": "Valid Accounts",
    "T1078.004": "Cloud Accounts",
    "T1082": "System Information Discovery",
    "T1083": "File and Directory Discovery",
    "T1087": "Account Discovery",
    "T1098": "Account Manipulation",
    "T1110": "Brute Force",
    "T1110.001": "Password Guessing",
    "T1110.003": "Password Spraying",
    "T1133": "External Remote Services",
    "T1134": "Access Token Manipulation",
    "T1136": "Create Account",
    "T1136.001": "Local Account",
    "T1187": "Forced Authentication",
    "T1190": "Exploit Public-Facing Application",
    "T1213": "Data from Information Repositories",
    "T1485": "Data Destruction",
    "T1505": "Server Software Component",
    "T1505.001": "SQL Stored Procedures",
    "T1505.003": "Web Shell",
    "T1530": "Data from Cloud Storage",
    "T1537": "Transfer Data to Cloud Account",
    "T1546": "Event Triggered Execution",
    "T1547": "Boot or Logon Autostart Execution",
    "T1555": "Credentials from Password Stores",
    "T1556": "Modify Authentication Process",
    "T1562": "Impair Defenses",
    "T1562.001": "Disable or Modify Tools",
    "T1562.008": "Disable or Modify Cloud Logs",
    "T1565": "Data Manipulation",
    "T1565.001": "Stored Data Manipulation",
    "T1567": "Exfiltration Over Web Service",
    "T1567.002": "Exfiltration to Cloud Storage",
    "T1648": "Serverless Execution",
}


@dataclass
class Coverage:
    """Rule ids per (technique, engine), from passing positive tests only."""

    engines: tuple[str, ...]
    cells: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # rule id -> engines a passing positive test proves
    proven: dict[str, set[str]] = field(default_factory=dict)
    experimental: set[str] = field(default_factory=set)
    # rules that tag a technique but prove no engine (no passing positive test)
    unproven: list[str] = field(default_factory=list)

    @property
    def techniques(self) -> list[str]:
        return sorted(self.cells, key=_technique_key)

    def rules_in(self, technique: str, engine: str) -> list[str]:
        return self.cells.get(technique, {}).get(engine, [])

    def render_table(self) -> str:
        """A terminal table: the number of rules per cell."""
        width = max([len(_label(t)) for t in self.techniques] + [9])
        head = f"{'technique':{width}}  " + "  ".join(f"{e:>9}" for e in self.engines)
        lines = [head, "-" * len(head)]
        for tech in self.techniques:
            counts = [len(self.rules_in(tech, e)) for e in self.engines]
            lines.append(f"{_label(tech):{width}}  " + "  ".join(f"{c or '-':>9}" for c in counts))
        lines.append("")
        lines.append(self.summary())
        return "\n".join(lines)

    def render_markdown(self) -> str:
        """A Markdown table: the rules per cell (experimental ones marked)."""
        lines = [
            "| technique | " + " | ".join(self.engines) + " |",
            "|---|" + "---|" * len(self.engines),
        ]
        for tech in self.techniques:
            cells = []
            for engine in self.engines:
                rules = self.rules_in(tech, engine)
                cells.append(
                    "<br>".join(f"`{r}`" + ("\\*" if r in self.experimental else "") for r in rules)
                    or "–"
                )
            lines.append(f"| {_label(tech)} | " + " | ".join(cells) + " |")
        lines.append("")
        lines.append(
            "\\* experimental rule: some of its event shapes are inferred from the engines' "
            "documentation, not seen in a capture; its alerts go to the staging route."
        )
        lines.append("")
        lines.append(self.summary())
        if self.unproven:
            lines.append("")
            lines.append("No passing positive test, so in no cell: " + ", ".join(self.unproven))
        return "\n".join(lines)

    def summary(self) -> str:
        per_engine = ", ".join(
            f"{e} {sum(1 for t in self.techniques if self.rules_in(t, e))}" for e in self.engines
        )
        return (
            f"{len(self.techniques)} techniques, {len(self.proven)} rules with a passing positive "
            f"test; techniques covered per engine: {per_engine}"
        )


def _technique_key(tech: str) -> tuple[int, int]:
    main, _, sub = tech[1:].partition(".")
    return int(main), int(sub or 0)


def _label(tech: str) -> str:
    name = TECHNIQUE_NAMES.get(tech)
    return f"{tech} {name}" if name else tech


def techniques_of(rule: Rule) -> list[str]:
    """``attack.t1059.003`` → ``T1059.003``; tactics and other tags are not techniques."""
    out = []
    for tag in rule.tags:
        found = _TECHNIQUE.match(tag)
        if found:
            out.append(found.group(1).upper())
    return out


def build_coverage(
    rules: Iterable[Rule],
    lists: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    engines: tuple[str, ...] = ENGINES,
) -> Coverage:
    """Run every positive test of every rule and fill the matrix from the ones that pass."""
    coverage = Coverage(engines=engines)
    for rule in rules:
        techniques = techniques_of(rule)
        if not techniques:
            continue
        if rule.status == "experimental":
            coverage.experimental.add(rule.id)
        proven: set[str] = set()
        for test in rule.tests:
            engine = test.engine or "postgres"  # a test without `engine:` runs on PostgreSQL
            if engine in proven or not is_positive(test):
                continue
            if run_test(rule, test, lists, params).passed:
                proven.add(engine)
        if not proven:
            coverage.unproven.append(rule.id)
            continue
        coverage.proven[rule.id] = proven
        for tech in techniques:
            row = coverage.cells.setdefault(tech, {})
            for engine in engines:
                if engine in proven:
                    row.setdefault(engine, []).append(rule.id)
    for row in coverage.cells.values():
        for ids in row.values():
            ids.sort()
    return coverage


DOCUMENT_HEAD = """# Detection coverage

Generated by `dasalert coverage --format markdown rules/ > docs/coverage.md`; a test keeps it
current, so do not edit it by hand. Rows are the MITRE ATT&CK techniques the shipped rules are
tagged with; a rule appears under an engine only if one of its positive inline tests runs on that
engine and passes. A rule that is not in the table has no passing positive test yet.
"""


def markdown_document(coverage: Coverage) -> str:
    """docs/coverage.md: a short explanation, then the matrix."""
    return DOCUMENT_HEAD + "\n" + coverage.render_markdown() + "\n"
