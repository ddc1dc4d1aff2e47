"""YAML with line numbers: the raw material of error messages that name a line.

PyYAML's ``safe_load`` forgets where each value came from, and silently keeps the last of two
duplicate keys. Rule authors need "file:line" in every problem, so we compose the node graph
(which keeps marks) and build a small tree of ``YNode`` that remembers the line of every key and
value. Nothing here raises on bad input: a YAML error, a second document, a duplicate key or an
alias bomb becomes a ``Problem`` and the caller decides what to do.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.rules.model import Problem

# libyaml's parser (same node marks, ~10x faster) when PyYAML was built with it
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_NODES = 20_000  # an alias bomb expands past this; a real rule file is a few hundred nodes
MAX_DEPTH = 64


@dataclass
class YNode:
    """One YAML value and where it starts.

    ``kind`` is ``map`` (``value``: dict of str key -> YNode), ``seq`` (list of YNode) or
    ``scalar`` (the constructed Python value: str, int, float, bool, None, date…).
    ``key_lines`` gives, for a map, the line of each key (what an "unknown key" points at).
    """

    kind: str
    value: Any
    line: int
    key_lines: dict[str, int] = field(default_factory=dict)
    src: str | None = None  # a scalar's text as written (``2020-05-22 18:07:13+00``)

    def get(self, key: str) -> YNode | None:
        return self.value.get(key) if self.kind == "map" else None

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)

    def plain(self, *, dates_as_text: bool = False) -> Any:
        """The value as plain Python data (dicts, lists, scalars).

        ``dates_as_text`` keeps unquoted timestamps as written: in a test event,
        ``logTime: 2020-05-22 18:07:13.267214+00`` must stay the string DAS sends, not become
        the datetime YAML makes of it.
        """
        if self.kind == "map":
            return {k: v.plain(dates_as_text=dates_as_text) for k, v in self.value.items()}
        if self.kind == "seq":
            return [v.plain(dates_as_text=dates_as_text) for v in self.value]
        if dates_as_text and isinstance(self.value, dt.date) and self.src is not None:
            return self.src
        return self.value


class _TooBig(Exception):
    pass


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


class _Builder:
    def __init__(self, file: str, text: str = "") -> None:
        self.file = file
        self.text = text
        self.count = 0
        self.problems: list[Problem] = []
        self._ctor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, depth: int = 0) -> YNode:
        self.count += 1
        if self.count > MAX_NODES or depth > MAX_DEPTH:
            raise _TooBig
        if isinstance(node, yaml.MappingNode):
            return self._map(node, depth)
        if isinstance(node, yaml.SequenceNode):
            return YNode("seq", [self.build(n, depth + 1) for n in node.value], _line(node))
        try:
            value = self._ctor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:  # an unknown tag (`!foo`) and the like
            msg = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            tag = node.tag if isinstance(node.tag, str) and node.tag.startswith("!") else None
            # `when: !das.failed` is a JMESPath `!`, which YAML read as a tag: keep what the
            # author wrote (so no "empty expression" follows) and give the quoted line to write
            value = f"{tag} {node.value}".strip() if tag else node.value
            self.problems.append(
                Problem(
                    self.file,
                    _line(node),
                    None,
                    f"cannot read the value {value!r}: {msg}"
                    + (" (YAML reads a value that starts with ! as a tag)" if tag else ""),
                    quote_hint(self.text, node.start_mark.line)
                    if tag
                    else "quote it to make it a plain string",
                )
            )
        except (ValueError, TypeError, OverflowError):
            # looks like a date or number but is not one (2027-02-30): keep the text, and let
            # the schema say what it expected there
            value = node.value
        if isinstance(value, bytes | set):  # !!binary, !!set: not rule material
            value = str(node.value)
        return YNode("scalar", value, _line(node), src=node.value)

    def _map(self, node: yaml.MappingNode, depth: int) -> YNode:
        out: dict[str, YNode] = {}
        key_lines: dict[str, int] = {}
        try:
            self._ctor.flatten_mapping(node)  # resolve `<<:` merge keys
        except yaml.YAMLError as exc:
            self.problems.append(Problem(self.file, _line(node), None, f"bad merge key: {exc}"))
        for knode, vnode in node.value:
            key_node = self.build(knode, depth + 1)
            if key_node.kind != "scalar":
                self.problems.append(
                    Problem(
                        self.file,
                        _line(knode),
                        None,
                        "a mapping key must be a plain name, not a list or mapping",
                    )
                )
                continue
            key = key_node.value
            key = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
            if key in out:
                self.problems.append(
                    Problem(
                        self.file,
                        _line(knode),
                        None,
                        f"duplicate key `{key}` (first at line {key_lines[key]})",
                        "YAML keeps only the last one; remove or merge the duplicate",
                    )
                )
            key_lines[key] = _line(knode)
            out[key] = self.build(vnode, depth + 1)
        return YNode("map", out, _line(node), key_lines)


def _char_at(text: str, mark: Any) -> str:
    try:
        return text.splitlines()[mark.line][mark.column]
    except (IndexError, AttributeError, TypeError):
        return ""


def excerpt(text: str, line0: int | None, column: int | None) -> str:
    """The source line (0-based ``line0``) with a caret under ``column``, indented: what a YAML
    error shows so the author sees *where* without opening the file."""
    lines = text.splitlines()
    if line0 is None or not 0 <= line0 < len(lines):
        return ""
    src = lines[line0].replace("\t", " ")
    col = max(0, min(column or 0, len(src)))
    return f"\n    | {src}\n    | {' ' * col}^"


_KEY_VALUE = re.compile(r"^(\s*(?:-\s+)?[A-Za-z_][\w.-]*:\s*)(\S.*?)\s*$")


def quote_hint(text: str, line0: int | None) -> str:
    """For ``key: !…`` / ``key: `…``` (a JMESPath value YAML cannot read bare): the line to write.

    Double quotes when they are safe; a block scalar when the value holds a quote or a backslash
    (YAML double quotes would need those escaped, and a regex's backslashes would be doubled).
    """
    lines = text.splitlines()
    if line0 is None or not 0 <= line0 < len(lines):
        return "quote the value"
    m = _KEY_VALUE.match(lines[line0])
    if not m:
        return "quote the value"
    key, value = m.group(1).rstrip(), m.group(2)
    if '"' in value or "\\" in value:
        pad = " " * (len(key) - len(key.lstrip()) + 2)
        return f"write it as a block scalar:\n    {key} >-\n    {pad}{value}"
    return f'quote it: {key} "{value}"'


_ID_LINE = re.compile(r"""^id:\s*["']?([A-Za-z0-9_.-]+)["']?\s*(?:#.*)?$""", re.MULTILINE)


def guess_rule_id(text: str) -> str | None:
    """The ``id:`` of a file YAML cannot parse, read from the text, so its errors name the rule."""
    m = _ID_LINE.search(text)
    return m.group(1) if m else None


def yaml_error_problem(file: str, exc: yaml.YAMLError, text: str = "") -> Problem:
    """A YAML syntax error as a Problem: the rule id, the hints that cover the usual JMESPath
    clashes, and the source line with a caret."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    ctx_mark = getattr(exc, "context_mark", None)
    if context and ctx_mark is not None and mark is not None and ctx_mark.line != mark.line:
        context = f"{context} started at line {ctx_mark.line + 1}"
    text_msg = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    char = _char_at(text, mark)
    hint = "check indentation and quoting"
    line0 = mark.line if mark is not None else None
    column = mark.column if mark is not None else None
    if context == "while scanning a tag" or (
        ctx_mark is not None and _char_at(text, ctx_mark) == "!"
    ):
        text_msg += ": YAML reads a value that starts with ! as a tag"
        if ctx_mark is not None:  # point at the `!`, not where the tag scanner gave up
            line0, column = ctx_mark.line, ctx_mark.column
            line = line0 + 1
        hint = quote_hint(text, line0)
    elif char == "`" or "'`'" in problem:
        hint = 'a value that starts with ` must be quoted, e.g. when: "`true`"'
        hint = quote_hint(text, line0) if _KEY_VALUE.match(_src(text, line0)) else hint
    elif char in ("@", "%") and "cannot start any token" in problem:
        hint = f"a value that starts with {char} must be quoted"
    elif "mapping values are not allowed" in problem:
        hint = "a value containing ': ' must be quoted or written as a block scalar (when: >-)"
    elif "expected '-' indicator" in problem or "expected <block end>" in problem:
        hint = "check the indentation: this line is not aligned with the ones around it"
    hint += excerpt(text, line0, column)
    return Problem(file, line, guess_rule_id(text), text_msg, hint)


def _src(text: str, line0: int | None) -> str:
    lines = text.splitlines()
    return lines[line0] if line0 is not None and 0 <= line0 < len(lines) else ""


def parse_yaml(text: str, file: str) -> tuple[YNode | None, list[Problem]]:
    """Parse one YAML document into a YNode tree; (None, problems) when it cannot be read."""
    try:
        docs = list(yaml.compose_all(text, Loader=_LOADER))
    except yaml.YAMLError as exc:
        return None, [yaml_error_problem(file, exc, text)]
    except (RecursionError, ValueError, TypeError) as exc:  # pathological input
        return None, [Problem(file, None, None, f"cannot read YAML: {type(exc).__name__}")]
    docs = [d for d in docs if d is not None]
    if not docs:
        return None, [Problem(file, 1, None, "the file is empty", "write one rule per file")]
    builder = _Builder(file, text)
    problems: list[Problem] = []
    if len(docs) > 1:
        problems.append(
            Problem(
                file,
                _line(docs[1]),
                None,
                "more than one YAML document (`---`) in the file",
                "write one rule per file; move the next rule to its own file",
            )
        )
    try:
        root = builder.build(docs[0])
    except (_TooBig, RecursionError):
        return None, [
            Problem(
                file,
                _line(docs[0]),
                None,
                f"the document is too large or too deeply nested (more than {MAX_NODES} "
                f"values or {MAX_DEPTH} levels once aliases are expanded)",
                "remove the anchors/aliases that expand it",
            )
        ]
    return root, problems + builder.problems
