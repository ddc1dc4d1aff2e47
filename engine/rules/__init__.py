"""Rules: the language a rule file is written in, and the runtime that evaluates it per event.

Four rooms, one contract:

* ``model`` — the compiled ``Rule`` and ``Problem``: what loading produces and evaluation consumes;
* ``lang`` — what a rule file may say and how it is read (load time);
* ``runtime`` — what runs per event (the hot path; imports nothing from the other rooms);
* ``testing`` — the inline-test runner and the pytest plugin;
* ``lint`` — advice on rules that load, one check per module.

Code outside this package (the pipeline, the handlers, the CLI) uses the names below rather than
reaching into the rooms, so the rooms can be reshaped without touching their callers.
"""

from engine.rules.lang.loader import LoadResult, load_rules
from engine.rules.model import Problem, Rule
from engine.rules.runtime.engine import Engine
from engine.rules.runtime.functions import make_options
from engine.rules.runtime.ruleset import RuleSet
from engine.rules.source import LiveRules
from engine.rules.wiring import RulesUnavailable, Wired, build_engine

__all__ = [
    "Engine",
    "LiveRules",
    "LoadResult",
    "Problem",
    "Rule",
    "RuleSet",
    "RulesUnavailable",
    "Wired",
    "build_engine",
    "load_rules",
    "make_options",
]
