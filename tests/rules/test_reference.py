"""The functions reference in docs/rules.md is generated from the function table and current."""

from __future__ import annotations

import re
from pathlib import Path

from engine.rules.lang.expr import check_functions, compile_expr
from engine.rules.lang.loader import load_rules
from engine.rules.reference import BEGIN, END, entries, functions_markdown, replace_block
from engine.rules.runtime.functions import DasFunctions

ROOT = Path(__file__).resolve().parents[2]


def test_docs_hold_the_generated_reference() -> None:
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    assert replace_block(text, functions_markdown()) == text, (
        "docs/rules.md's function reference is stale: run "
        "`python -m engine.rules.reference --write`"
    )


def test_every_function_has_an_example_and_a_description() -> None:
    names = [name for name, *_ in entries()]
    assert names == sorted(DasFunctions.FUNCTION_TABLE)
    for name, example, what, _ in entries():
        assert "UNDOCUMENTED" not in what, (
            f"add an example for {name}() in engine/rules/reference.py"
        )
        assert example.startswith(f"{name}(") or f"{name}(" in example, (name, example)


def test_every_example_is_a_valid_expression_with_the_shipped_lists() -> None:
    loaded = load_rules(ROOT / "rules")
    for name, example, _, _ in entries():
        expr = compile_expr(example)
        # a list the example names but the pack does not define is a stand-in, not an error
        lists = dict(loaded.lists)
        for quoted in re.findall(r"'([A-Za-z_][A-Za-z0-9_]*)'", example):
            lists.setdefault(quoted, ["x"])
        problems = check_functions(expr.compiled, lists, loaded.params)
        assert not problems, (name, example, problems)
