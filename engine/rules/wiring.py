"""One way to turn rule paths into a ready ``Engine``: the CLI, the handlers, tests and benches.

Loading, compiling and wiring the engine used to be written out by every caller, and the copies
drifted (one forgot ``lists_path``, another ``keep_params``). Callers differ only in what they do
when a path is missing or nothing loads — a CLI flag error, a Lambda configuration error — so
this module reports those cases as ``RulesUnavailable`` and leaves the wording of the failure to
the caller, which knows the name the user set (``--rules`` or ``DASALERT_RULES``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.pipeline.state import MemoryStateStore, StateStore
from engine.rules.lang.loader import LoadResult, load_rules, split_paths
from engine.rules.runtime.engine import Engine
from engine.rules.runtime.ruleset import RuleSet


class RulesUnavailable(ValueError):
    """No rule can run: a path does not exist, or not one rule under it loaded."""


@dataclass(frozen=True)
class Wired:
    """A ready engine and what loading it said (problems are the caller's to show)."""

    engine: Engine
    loaded: LoadResult

    @property
    def ruleset(self) -> RuleSet:
        return self.engine.ruleset

    @property
    def rule_count(self) -> int:
        return len(self.loaded.rules)


def build_engine(
    paths: str | Path | Iterable[str | Path],
    state: StateStore | None = None,
    *,
    lists_path: str | Path | None = None,
    keep_params: bool = False,
    require_rules: bool = True,
) -> Wired:
    """Load every rule under ``paths``, compile the ``RuleSet`` and wire an ``Engine``.

    A rule that fails to load is skipped and reported in ``loaded.problems`` (the others still
    run: one broken file must not stop detection). ``require_rules`` raises ``RulesUnavailable``
    when a path does not exist or nothing loaded, because an engine that can alert on nothing
    must not look healthy. ``state`` defaults to a fresh in-memory store (CLI, tests).
    """
    if _names_s3(paths):  # `rules:s3://bucket/pack.tar.gz`: fetched once (CLI, replay)
        return _from_s3(paths, state, keep_params=keep_params)
    path_list = split_paths(paths)  # `rules:/opt/our-rules` or several paths: layered folders
    if require_rules:
        for p in path_list:
            if not Path(p).exists():
                raise RulesUnavailable(f"{p} does not exist")
    loaded = load_rules(path_list, lists_path=lists_path)
    if require_rules and not loaded.rules:
        where = ", ".join(str(p) for p in path_list)
        raise RulesUnavailable(f"no valid rule under {where}")
    ruleset = RuleSet(loaded.rules, loaded.lists, loaded.params)
    engine = Engine(
        ruleset, state if state is not None else MemoryStateStore(), keep_params=keep_params
    )
    return Wired(engine, loaded)


def _names_s3(paths: str | Path | Iterable[str | Path]) -> bool:
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    return any(isinstance(p, str) and "s3://" in p for p in items)


def _from_s3(
    paths: str | Path | Iterable[str | Path], state: StateStore | None, *, keep_params: bool
) -> Wired:
    """Rule paths that name an S3 bundle (engine.rules.source): fetched, verified and loaded
    once with the caller's credentials; the Lambda runtime keeps its ``LiveRules`` to refresh."""
    import boto3

    from engine.rules.source import FetchError, LiveRules

    try:
        live = LiveRules(
            paths,
            state if state is not None else MemoryStateStore(),
            client=lambda: boto3.client("s3"),
            keep_params=keep_params,
        )
        return live.start()
    except (FetchError, ValueError) as exc:
        raise RulesUnavailable(str(exc)) from exc
