"""The Lambda bundle `sam build` makes from template.yaml has what the code needs.

SAM's Python builder installs ``requirements.txt`` from ``CodeUri`` and copies the directory;
pyproject.toml is what pip and the CLI use. Two lists drift unless a test holds them together,
and a bundle without ``rules/`` would deploy a function that alerts on nothing.
"""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent


def _requirements(lines: list[str]) -> dict[str, Requirement]:
    reqs = [Requirement(line) for line in lines]
    return {r.name.lower().replace("_", "-"): r for r in reqs}


def _template() -> dict:
    return yaml_parse((ROOT / "template.yaml").read_text())


def test_requirements_txt_equals_pyproject_runtime_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    from_txt = _requirements(lines)
    from_toml = _requirements(project["dependencies"])
    assert len(from_txt) == len(lines), "a package is listed twice in requirements.txt"
    assert sorted(from_txt) == sorted(from_toml)
    for name, req in from_toml.items():
        assert from_txt[name].specifier == req.specifier, name
        assert from_txt[name].extras == req.extras, name


def test_bundle_ships_the_code_and_the_rules() -> None:
    """CodeUri is the repository root, so engine/, handlers/ and rules/ are all copied."""
    tpl = _template()
    fn_globals = tpl["Globals"]["Function"]
    code_root = ROOT / fn_globals["CodeUri"]
    assert (code_root / "requirements.txt").is_file()
    assert (code_root / "engine" / "__init__.py").is_file()
    rules_env = fn_globals["Environment"]["Variables"]["DASALERT_RULES"]
    assert rules_env == "/var/task/rules"  # /var/task is the bundle root in Lambda
    rules_dir = code_root / "rules"
    assert rules_dir.is_dir()
    assert list(rules_dir.glob("*.yaml")), "rules/ ships no rule"


def test_every_function_handler_exists_in_the_bundle() -> None:
    tpl = _template()
    functions = {
        name: res
        for name, res in tpl["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
    }
    assert functions
    for name, res in functions.items():
        module, _, attr = res["Properties"]["Handler"].rpartition(".")
        path = ROOT / (module.replace(".", "/") + ".py")
        assert path.is_file(), f"{name}: {path} missing"
        assert callable(getattr(importlib.import_module(module), attr)), name


def test_samconfig_builds_in_a_container_and_acknowledges_iam() -> None:
    """The template creates IAM roles (CAPABILITY_IAM) and cryptography needs arm64 wheels."""
    cfg = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]
    assert cfg["build"]["parameters"]["use_container"] is True
    assert cfg["deploy"]["parameters"]["capabilities"] == "CAPABILITY_IAM"
