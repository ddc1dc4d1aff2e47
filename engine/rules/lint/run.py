"""``dasalert lint``: loader problems plus the advice of every registered check.

The loader says what cannot run (errors); the checks in ``engine/rules/lint`` say what runs but
is probably wrong (warnings: an expired exception, a comparison that cannot match on MySQL, a
rule without a negative test…). Pure: the date and the known outputs are passed in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.rules.lang.loader import LoadResult, load_rules
from engine.rules.lint import LintContext, all_checks
from engine.rules.model import Problem


@dataclass
class LintReport:
    result: LoadResult
    problems: list[Problem]
    # rule files whose errors stopped them loading: the warning checks could not run on them
    unchecked: list[str] = field(default_factory=list)
    checks: int = 0  # warning checks run per loaded rule

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level != "error"]

    def summary(self) -> str:
        files = len(self.result.files)
        rules = len(self.result.rules)
        e, w = len(self.errors), len(self.warnings)
        text = (
            f"{files} file{'s' * (files != 1)}, {rules} rule{'s' * (rules != 1)} loaded: "
            f"{e} error{'s' * (e != 1)}, {w} warning{'s' * (w != 1)}"
        )
        tuned = self.result.tunes
        if tuned:
            applied = sum(t.status == "applied" for t in tuned)
            text += (
                f"; {applied} of {len(tuned)} tune entr{'ies' if len(tuned) != 1 else 'y'} "
                f"applied, {len(self.result.disabled)} rule(s) disabled"
            )
        return text + (f"\n{self.skipped_note()}" if self.unchecked else "")

    def skipped_note(self) -> str:
        """Warnings are advice on a rule that loads; a file with errors has no rule to advise
        on, so say how much was not checked rather than let "0 warnings" mislead."""
        n = len(self.unchecked)
        files = "file" if n == 1 else "files"
        return (
            f"{self.checks} warning checks skipped on {n} {files} with errors "
            f"({', '.join(self.unchecked)}) — fix the errors and lint again to see its warnings"
            if n == 1
            else f"{self.checks} warning checks skipped on each of {n} {files} with errors "
            f"({', '.join(self.unchecked)}) — fix the errors and lint again to see their warnings"
        )


def known_outputs() -> frozenset[str]:
    """The output names the outputs registry declares (imported here, when lint runs, so that
    loading rules never imports the outputs). Empty when an output module fails to import:
    the ``unknown-output`` check then stays silent rather than call every name unknown."""
    try:
        from engine.outputs.base import output_names

        return frozenset(output_names())
    except Exception:  # an output module that fails to import must not break lint
        return frozenset()


def derived_fields() -> frozenset[str]:
    """The ``das.*`` names engine.events.normalize produces (empty if it is not there yet)."""
    try:
        from engine.events import base_event, normalize

        return frozenset(normalize(base_event("postgres")).get("das") or {})
    except Exception:
        return frozenset()


def _sort_key(p: Problem) -> tuple[str, int, str]:
    return (p.file, p.line or 0, p.message)


def lint_result(
    result: LoadResult,
    *,
    today: dt.date,
    outputs: Iterable[str] | None = None,
    das_fields: Iterable[str] | None = None,
    checks: Iterable[str] | None = None,
) -> LintReport:
    """Run the checks over an already loaded rule set."""
    ctx = LintContext(
        today=today,
        outputs=frozenset(outputs) if outputs is not None else known_outputs(),
        key_lines=result.key_lines,
        lists=result.lists,
        params=result.params,
        das_fields=frozenset(das_fields) if das_fields is not None else derived_fields(),
    )
    registered = all_checks()
    selected = [registered[n] for n in (checks or sorted(registered))]
    problems = list(result.problems)
    for rule in result.rules:
        for fn in selected:
            try:
                problems.extend(fn(rule, ctx))
            except Exception as exc:  # a broken check is a finding, not a crash
                name = getattr(fn, "check_name", fn.__name__)
                problems.append(
                    Problem(rule.file, rule.line, rule.id, f"lint check {name} failed: {exc!r}")
                )
    loaded = {rule.file for rule in result.rules}
    broken = {p.file for p in result.problems if p.level == "error"}
    unchecked = []
    for file in result.files:
        if file not in broken or file in loaded:
            continue
        advice = _advice_despite_errors(file, result, ctx, selected)
        if advice is None:
            unchecked.append(file)
        else:
            problems.extend(advice)
    return LintReport(result, sorted(problems, key=_sort_key), unchecked, len(selected))


# Optional keys whose errors can be set aside to advise on the rest, and the checks that read
# them (their advice would be wrong without the key: "no test" when the tests have a typo).
_SET_ASIDE: dict[str, frozenset[str]] = {
    "tests": frozenset({"test-coverage", "test-event-fields"}),
    "unless": frozenset({"expired-unless", "internal-users"}),
    "runbook": frozenset({"runbook"}),
    "outputs": frozenset({"unknown-output"}),
    "dedup": frozenset(),
    "threshold": frozenset(),
    "escalate": frozenset(),
    "tags": frozenset(),
    "references": frozenset(),
    "description": frozenset(),
    "status": frozenset(),
}


def _advice_despite_errors(
    file: str, result: LoadResult, ctx: LintContext, selected: list[Any]
) -> list[Problem] | None:
    """Warnings for a rule file that has errors, or None when they cannot be computed.

    An error in an optional key (a typo in a test, an unknown key, a bad runbook path) should not
    hide what lint would say about the predicate and the title. The keys whose lines hold an
    error are blanked (line numbers kept), the rest is loaded again, and the checks that do not
    read a blanked key run on it; each warning says what was set aside. An error in `id`,
    `title`, `severity` or `when`, or one lint cannot place, leaves the file unchecked.
    """
    from engine.rules.lang.loader import load_rule_text
    from engine.rules.lang.yamlsrc import parse_yaml

    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    root, _ = parse_yaml(text, file)
    if root is None or root.kind != "map":
        return None
    starts = sorted((line, key) for key, line in root.key_lines.items())
    n_lines = len(text.splitlines())
    spans = {
        key: (line, (starts[i + 1][0] - 1) if i + 1 < len(starts) else n_lines)
        for i, (line, key) in enumerate(starts)
    }
    drop: set[str] = set()
    for p in result.problems:
        if p.file != file or p.level != "error":
            continue
        owner = next((k for k, (a, b) in spans.items() if p.line and a <= p.line <= b), None)
        if owner is None:
            return None
        drop.add(owner)
    if not drop or any(k not in _SET_ASIDE and k in spans and _known(k) for k in drop):
        return None
    lines = text.splitlines()
    for key in drop:
        a, b = spans[key]
        for i in range(a - 1, b):
            lines[i] = ""
    rule, problems, key_lines = load_rule_text("\n".join(lines) + "\n", file, ctx.lists, ctx.params)
    if rule is None:
        return None
    skip = frozenset().union(*(_SET_ASIDE.get(k, frozenset()) for k in drop))
    aside = ", ".join(f"`{k}`" for k in sorted(drop))
    sub = dataclasses.replace(ctx, key_lines={**ctx.key_lines, rule.id: key_lines})
    out = []
    for fn in selected:
        if getattr(fn, "check_name", "") in skip:
            continue
        try:
            found = list(fn(rule, sub))
        except Exception:  # advice on a broken file is best effort
            continue
        for w in found:
            if w.level == "error":  # already reported as errors, or follows from them
                continue
            out.append(
                dataclasses.replace(w, message=f"{w.message} (checked with {aside} set aside)")
            )
    out += [
        dataclasses.replace(p, message=f"{p.message} (checked with {aside} set aside)")
        for p in problems
        if p.level != "error"
    ]
    return out


def _known(key: str) -> bool:
    """A key the schema knows (the required ones cannot be set aside; unknown keys can)."""
    from engine.rules.lang import schema as S

    return key in S.RULE_KEYS


def lint(
    paths: str | Path | Iterable[str | Path],
    *,
    lists_path: str | Path | None = None,
    today: dt.date,
    outputs: Iterable[str] | None = None,
    das_fields: Iterable[str] | None = None,
) -> LintReport:
    return lint_result(
        load_rules(paths, lists_path=lists_path),
        today=today,
        outputs=outputs,
        das_fields=das_fields,
    )
