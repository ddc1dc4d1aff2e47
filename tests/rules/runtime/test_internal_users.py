"""AWS's internal users are exempt only on the engine that has them, in that engine's exact
spelling; ``in_list_ci`` folds ASCII case only, so a Unicode look-alike is another name."""

from __future__ import annotations

import pytest

from engine.events import base_event, normalize
from engine.rules.lang.expr import compile_expr
from engine.rules.runtime.functions import AWS_INTERNAL_USERS, make_options

OPTIONS = make_options({"admins": ["rdsadmin", "RDSADMIN", "RDSSEC", "rdsa", "dba"]}, {})


def jp(expr: str, event: object) -> object:
    return compile_expr(expr).compiled.search(event, options=OPTIONS)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("DBA", True),
        ("Dba", True),
        ("rd\u017fadmin", False),  # long s: str.casefold() makes it "rsdadmin"'s twin
        ("\uff32\uff24\uff33\uff21\uff24\uff2d\uff29\uff2e", False),  # fullwidth RDSADMIN
        ("rdsadmin\u200b", False),
        ("d\u0130a".lower(), False),  # dotted capital I lowers to two code points
        ("\u212aelvin", False),  # Kelvin sign folds to k
    ],
)
def test_in_list_ci_folds_ascii_case_only(value: str, expected: bool) -> None:
    assert jp("in_list_ci(v, 'admins')", {"v": value}) is expected


def _event(engine: str, user: object, host: str = "10.0.0.5") -> dict:
    raw = base_event(engine)
    raw.update(dbUserName=user, remoteHost=host)
    return normalize(raw)


@pytest.mark.parametrize(
    ("engine", "user", "expected"),
    [
        ("postgres", "rdsadmin", True),
        ("postgres", "RDSADMIN", False),
        ("postgres", "RdsAdmin", False),
        ("postgres", "rd\u017fadmin", False),
        ("postgres", "rdsa", False),
        ("postgres", "RDSSEC", False),
        ("mysql", "rdsadmin", True),
        ("mysql", "rdsa", False),
        ("mysql", "RDSADMIN", False),
        ("oracle", "RDSADMIN", True),
        ("oracle", "RDSSEC", True),
        ("oracle", "rdsadmin", False),
        ("sqlserver", "rdsa", True),
        ("sqlserver", "rdsadmin", True),
        ("sqlserver", "RDSSEC", False),
        ("postgres", None, False),
        ("postgres", 42, False),
    ],
)
def test_aws_internal_user_is_scoped_per_engine_and_exact(
    engine: str, user: object, expected: bool
) -> None:
    assert jp("aws_internal_user(@)", _event(engine, user)) is expected


def test_an_unknown_engine_has_no_internal_users() -> None:
    event = {"dbUserName": "rdsadmin", "das": {"engine": "unknown"}}
    assert jp("aws_internal_user(@)", event) is False
    assert jp("aws_internal_user(@)", "rdsadmin") is False


def test_every_engine_names_its_users() -> None:
    assert set(AWS_INTERNAL_USERS) == {"postgres", "mysql", "oracle", "sqlserver"}
