"""``lists.yaml``: the named lists and params that rules read with ``in_list`` and ``param``."""

from __future__ import annotations

from typing import Any

from engine.rules.lang import schema as S
from engine.rules.lang.validate import Checker, node_type
from engine.rules.lang.yamlsrc import parse_yaml
from engine.rules.model import Problem


def load_lists_text(
    text: str, file: str
) -> tuple[dict[str, list[Any]], dict[str, Any], list[Problem]]:
    """``lists: {name: [values…]}`` and ``params: {name: value}``."""
    root, problems = parse_yaml(text, file)
    lists: dict[str, list[Any]] = {}
    params: dict[str, Any] = {}
    if root is None:
        return lists, params, problems
    c = Checker(file, {}, {})
    c.problems.extend(problems)
    if not c.mapping(
        root, "lists.yaml", "lists: {admins: [rdsadmin]} and params: {large_read_rows: 100000}"
    ):
        return lists, params, c.problems
    c.keys(root, "lists.yaml", S.LISTS_FILE_KEYS)
    lnode = root.get("lists")
    if lnode is not None and c.mapping(lnode, "lists", "{admins: [rdsadmin, RDSADMIN]}"):
        for name, values in lnode.value.items():
            if not S.NAME_RE.match(name):
                c.err(
                    lnode.line_of(name),
                    f"list name `{name}` is not a plain name",
                    "use letters, digits and _",
                )
                continue
            items = c.seq(values, f"lists.{name}", "[rdsadmin, rdsproxyadmin]")
            if items is None:
                continue
            good = []
            for it in items:
                if (
                    it.kind == "scalar"
                    and isinstance(it.value, str | int | float)
                    and not isinstance(it.value, bool)
                ):
                    good.append(it.value)
                else:
                    c.err(
                        it.line, f"list `{name}` may hold strings and numbers, not {node_type(it)}"
                    )
            lists[name] = good
    pnode = root.get("params")
    if pnode is not None and c.mapping(pnode, "params", "{large_read_rows: 100000}"):
        for name, value in pnode.value.items():
            if not S.NAME_RE.match(name):
                c.err(
                    pnode.line_of(name),
                    f"param name `{name}` is not a plain name",
                    "use letters, digits and _",
                )
                continue
            params[name] = value.plain(dates_as_text=True)
    return lists, params, c.problems
