"""template.yaml's rule pack in S3 (``RulesLocation``): set or unset, the template transforms and
lints clean; set, the stream function may read exactly that object and its environment names it
after the bundled pack; unset, no S3 permission exists at all.

The intrinsic functions of these few values are evaluated here the way CloudFormation does
(``_resolve``), so the test checks the ARN the deployed policy will hold, not the template text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.pipeline.config import Config
from engine.rules.source import S3Location, split_sources
from tests.test_template import CLUSTER_PARAMS, MANY_IDS, ROOT, _transform

LOCATION = "s3://acme-security/dasalert/site-rules.tar.gz"
SET = dict(CLUSTER_PARAMS, RulesLocation=LOCATION, RulesRefreshMinutes="2")


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

    return yaml_parse((ROOT / "template.yaml").read_text())


def _resolve(node: Any, params: dict[str, str]) -> Any:
    """CloudFormation's reading of Ref, Fn::Sub, Fn::Select, Fn::Split and Fn::If on
    HasRulesLocation, with the pseudo parameters of us-east-1."""
    pseudo = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::NoValue": None}
    values = {**pseudo, **params}
    if isinstance(node, list):
        return [_resolve(n, params) for n in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        return values[node["Ref"]]
    if "Fn::Sub" in node:
        arg = node["Fn::Sub"]
        text, local = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        local = {k: _resolve(v, params) for k, v in local.items()}
        return re.sub(r"\$\{([^}]+)\}", lambda m: str({**values, **local}[m.group(1)]), text)
    if "Fn::Select" in node:
        index, items = node["Fn::Select"]
        return _resolve(items, params)[int(index)]
    if "Fn::Split" in node:
        sep, text = node["Fn::Split"]
        return _resolve(text, params).split(sep)
    if "Fn::If" in node:
        cond, then, other = node["Fn::If"]
        assert cond == "HasRulesLocation"
        return _resolve(then if params.get("RulesLocation", "") != "" else other, params)
    return {k: _resolve(v, params) for k, v in node.items()}


def _rule_pack_statements(source: dict[str, Any], params: dict[str, str]) -> list[Any]:
    role = source["Resources"]["StreamFunctionRole"]["Properties"]
    (policy,) = role["Policies"]
    stmts = policy["PolicyDocument"]["Statement"]
    mine = [s for s in stmts if "Fn::If" in s and s["Fn::If"][0] == "HasRulesLocation"]
    assert len(mine) == 1
    return [s for s in (_resolve(mine[0], params),) if s is not None]


def _all_statements(source: dict[str, Any]) -> str:
    return json.dumps(source["Resources"])


def test_set_the_stream_function_reads_exactly_that_object(source: dict[str, Any]) -> None:
    (stmt,) = _rule_pack_statements(source, SET)
    assert stmt["Action"] == "s3:GetObject"
    assert stmt["Resource"] == "arn:aws:s3:::acme-security/dasalert/site-rules.tar.gz"
    assert source["Conditions"]["HasRulesLocation"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "RulesLocation"}, ""]}]
    }
    # only the stream function's role reads it (the watchdog and Slack buttons evaluate no rule),
    # and ReplayRole, which runs the same pipeline for `dasalert replay`
    assert _all_statements(source).count("RulesLocation}//") == 2


def test_unset_there_is_no_s3_permission(source: dict[str, Any]) -> None:
    assert _rule_pack_statements(source, CLUSTER_PARAMS) == []
    assert source["Parameters"]["RulesLocation"]["Default"] == ""


@pytest.mark.parametrize(("params", "expected"), [(SET, True), (CLUSTER_PARAMS, False)])
def test_the_environment_names_the_bundled_pack_then_the_s3_one(
    source: dict[str, Any], params: dict[str, str], expected: bool
) -> None:
    env = source["Globals"]["Function"]["Environment"]["Variables"]
    rules = _resolve(env["DASALERT_RULES"], params)
    minutes = _resolve(env["DASALERT_RULES_REFRESH_MINUTES"], {"RulesRefreshMinutes": "2"})
    wanted = [Path("/var/task/rules"), *([S3Location.parse(LOCATION)] if expected else [])]
    assert split_sources(rules) == wanted
    config = Config.from_env({"DASALERT_RULES": rules, "DASALERT_RULES_REFRESH_MINUTES": minutes})
    assert config.rules == rules and config.rules_refresh_s == 120


@pytest.mark.parametrize("params", [SET, dict(SET, ResourceIds=",".join(MANY_IDS))])
def test_set_it_transforms_and_lints_clean(source: dict[str, Any], params: dict[str, str]) -> None:
    out = _transform(source, params)
    assert [str(m) for m in lint(json.dumps(out), regions=["us-east-1"])] == []
    text = (ROOT / "template.yaml").read_text()
    matches = lint(text, regions=["us-east-1"], config=ManualArgs(parameters=[params]))
    assert [str(m) for m in matches] == []


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("", True),
        (LOCATION, True),
        ("s3://my.bucket-1/rules.tar.gz", True),
        ("s3://bucket", False),
        ("s3://bucket/", False),
        ("s3://bucket/folder/", False),
        ("s3://bucket/a//b.tar.gz", False),  # the policy splits on //
        ("s3://bucket/a:b.tar.gz", False),  # : separates DASALERT_RULES's layers
        ("s3://bucket/*", False),  # a wildcard would widen the permission
        ("s3://Bucket/k", False),
        ("https://bucket.s3.amazonaws.com/k", False),
    ],
)
def test_the_parameter_accepts_one_object(source: dict[str, Any], value: str, ok: bool) -> None:
    pattern = source["Parameters"]["RulesLocation"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is ok


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_every_accepted_location_is_one_the_function_reads_and_the_policy_names(
    source: dict[str, Any], data: st.DataObject
) -> None:
    pattern = source["Parameters"]["RulesLocation"]["AllowedPattern"]
    value = data.draw(st.from_regex(pattern, fullmatch=True))
    if value == "":
        return
    location = S3Location.parse(value)
    assert split_sources(f"/var/task/rules:{value}") == [Path("/var/task/rules"), location]
    (stmt,) = _rule_pack_statements(source, dict(CLUSTER_PARAMS, RulesLocation=value))
    assert stmt["Resource"] == f"arn:aws:s3:::{location.bucket}/{location.key}"
