"""The rooms stay honest: who may import whom, read from the source with ``ast``.

The layout only shows the architecture if the imports follow it. These rules are the ones a
reader relies on when they change a room:

* ``engine.rules.runtime`` (the per-event hot path) imports nothing from ``engine.rules.lang``,
  ``engine.rules.testing`` or ``engine.rules.lint`` — load-time code cannot leak into it;
* ``engine.outputs`` never imports ``engine.rules`` — outputs deliver alerts, whatever made them;
* the Lambda core (``engine.pipeline``) and the entry points (``handlers``) reach rules only
  through the package's API, ``engine.rules`` itself, never a room inside it;
* nothing in the product imports the test suite or the benches.

Imports inside functions count too (they are still dependencies), and so do ``TYPE_CHECKING``
blocks: a type-only import of a room is still a coupling a reader has to know about.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted (``from a import b`` counts as ``a.b``)
    line: int


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path) -> Iterator[Import]:
    """Every import in a file, with relative imports resolved against its package."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield Import(
                    module, f"{base}.{alias.name}" if alias.name != "*" else base, node.lineno
                )


def all_imports(root: Path, packages: tuple[str, ...] = ("engine", "handlers")) -> list[Import]:
    found: list[Import] = []
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            found.extend(imports_of(path, root))
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(imports: list[Import]) -> list[str]:
    """The broken rules, each said as ``module:line imports target — why``."""
    bad: list[str] = []

    def say(i: Import, why: str) -> None:
        bad.append(f"{i.module}:{i.line} imports {i.target} — {why}")

    for i in imports:
        if _within(i.module, "engine.rules.runtime"):
            for room in ("engine.rules.lang", "engine.rules.testing", "engine.rules.lint"):
                if _within(i.target, room):
                    say(i, "the runtime (per-event path) must not depend on " + room)
            if i.target in ("engine.rules",) or _within(i.target, "engine.rules.wiring"):
                say(i, "the runtime must not import the rules API, which loads the language")
        if _within(i.module, "engine.outputs") and _within(i.target, "engine.rules"):
            say(i, "outputs deliver alerts and must not know about rules")
        if _within(i.module, "engine.pipeline") or _within(i.module, "handlers"):
            rooms = ("lang", "runtime", "testing", "lint", "model", "wiring", "jpast")
            inside = any(_within(i.target, f"engine.rules.{room}") for room in rooms)
            if inside and not _is_api_name(i.target):
                say(i, "the pipeline and handlers reach rules only through engine.rules")
        if _within(i.target, "tests") or _within(i.target, "bench"):
            say(i, "the product must not import the tests or the benches")
    return bad


def _is_api_name(target: str) -> bool:
    """``from engine.rules import Engine`` resolves to ``engine.rules.Engine``: the API."""
    rest = target.removeprefix("engine.rules.")
    return ("." not in rest and rest[:1].isupper()) or rest in _API_FUNCTIONS


_API_FUNCTIONS = {"build_engine", "load_rules", "make_options"}


def test_the_rooms_import_only_what_they_may() -> None:
    assert violations(all_imports(ROOT)) == []


def test_the_rules_api_names_exist() -> None:
    import engine.rules as api

    for name in api.__all__:
        assert hasattr(api, name), name
    assert set(api.__all__) >= _API_FUNCTIONS


# -- the checker itself must catch a room broken on purpose -----------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for pkg in ("engine", "handlers"):
        (tmp_path / pkg).mkdir(exist_ok=True)
    return tmp_path


@pytest.mark.parametrize(
    ("rel", "text", "why"),
    [
        (
            "engine/rules/runtime/ruleset.py",
            "from engine.rules.lang.schema import ACTIONS\n",
            "must not depend on engine.rules.lang",
        ),
        (
            "engine/rules/runtime/engine.py",
            "def f():\n    import engine.rules.lint.run\n",
            "must not depend on engine.rules.lint",
        ),
        (
            "engine/rules/runtime/suppress.py",
            "from ..testing import runner\n",
            "must not depend on engine.rules.testing",
        ),
        (
            "engine/outputs/slack.py",
            "from engine.rules.model import Rule\n",
            "must not know about rules",
        ),
        (
            "engine/pipeline/batch.py",
            "from engine.rules.runtime.engine import Engine\n",
            "only through engine.rules",
        ),
        (
            "handlers/kinesis.py",
            "from engine.rules.lang import loader\n",
            "only through engine.rules",
        ),
        (
            "engine/das/decoder.py",
            "from tests.support import slack_server\n",
            "tests or the benches",
        ),
    ],
)
def test_a_room_broken_on_purpose_is_reported(
    tmp_path: Path, rel: str, text: str, why: str
) -> None:
    root = _tree(tmp_path, {rel: text})
    found = violations(all_imports(root))
    assert len(found) == 1 and why in found[0], found
    assert found[0].startswith(_module_name(root / rel, root) + ":")


def test_allowed_imports_are_not_reported(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "engine/pipeline/batch.py": "from engine.rules import Engine, build_engine\n",
            "handlers/_runtime.py": "def f():\n    from engine.rules import RulesUnavailable\n",
            "engine/rules/lang/loader.py": "from engine.rules.runtime.index import actions\n",
            "engine/rules/runtime/ruleset.py": "from engine.rules.jpast import walk\n",
            "engine/outputs/sns.py": "from engine.alerts.model import Alert\n",
        },
    )
    assert violations(all_imports(root)) == []
