"""The Lambda bundle `sam build` makes, built here the way SAM builds it, and the build settings.

template.yaml gives both functions ``BuildMethod: makefile``: SAM runs ``make
build-<LogicalId>`` in the repository root with ``ARTIFACTS_DIR`` set, and zips that directory.
These tests run the same target into a temporary directory. The fast test copies the code only
(``WITH_DEPS=0``: no network), which is the part that depends on the work tree and so the part
that can pick up tests, keys or caches; the opt-in slow test also downloads the locked arm64
wheels (``DASALERT_BUNDLE_DEPS=1``, needs the package index, about 10-30 s).
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("StreamFunction", "HealthFunction", "SlackActionsFunction", "ArchiveFunction")
# What may be at the top of the bundle besides the dependencies.
CODE = {"engine", "handlers", "rules"}
# Never in the bundle, at any depth.
FORBIDDEN_DIRS = {
    "tests", "bench", "docs", "samples", ".ci", "build", "dist", "__pycache__", ".hypothesis",
    ".pytest_cache", ".ruff_cache", ".mypy_cache", ".aws-sam", ".venv", ".git",
}
FORBIDDEN_SUFFIXES = (".pyc", ".key", ".pem", ".egg-info")
ELF_MACHINE_AARCH64 = 183


def _template() -> dict:
    return yaml_parse((ROOT / "template.yaml").read_text())


def _functions() -> dict[str, dict]:
    return {
        name: res
        for name, res in _template()["Resources"].items()
        if not name.startswith("Fn::ForEach::") and res["Type"] == "AWS::Serverless::Function"
    }


def _make(target: str, artifacts: Path, *extra: str) -> None:
    """Run the Makefile target as SAM does: in the CodeUri directory, ARTIFACTS_DIR set."""
    env = dict(os.environ, ARTIFACTS_DIR=str(artifacts), PYTHON=sys.executable)
    subprocess.run(
        ["make", "--no-print-directory", "--makefile", str(ROOT / "Makefile"), target, *extra],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )


def _zip(directory: Path, dest: Path) -> int:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(directory))
    return dest.stat().st_size


def _report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n  {line}")


def _assert_clean(bundle: Path) -> None:
    """The code directories hold no test, cache or key file at any depth, and the top level is
    the code plus what the installed distributions' RECORD files list - nothing else."""
    for part in CODE:
        for path in (bundle / part).rglob("*"):
            rel = path.relative_to(bundle)
            assert not (set(rel.parts) & FORBIDDEN_DIRS), f"{rel} must not ship"
            assert not path.name.endswith(FORBIDDEN_SUFFIXES), f"{rel} must not ship"
    installed = set()
    for record in bundle.glob("*.dist-info/RECORD"):
        installed |= {line.split(",")[0].split("/")[0] for line in record.read_text().splitlines()}
    unexpected = {p.name for p in bundle.iterdir()} - CODE - installed
    assert not unexpected, f"not code and not from a dependency: {sorted(unexpected)}"
    assert not (unexpected | {p.name for p in bundle.iterdir()}) & FORBIDDEN_DIRS


@pytest.fixture(scope="module")
def code_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "StreamFunction"
    _make("build-StreamFunction", out, "WITH_DEPS=0")
    return out


def test_every_function_is_built_by_the_makefile() -> None:
    functions = _functions()
    assert set(functions) == set(FUNCTIONS)
    makefile = (ROOT / "Makefile").read_text()
    for name, res in functions.items():
        assert res["Metadata"] == {"BuildMethod": "makefile"}, name
        assert re.search(rf"^[\w -]*\bbuild-{name}\b[\w -]*:", makefile, re.M), name
    assert _template()["Globals"]["Function"]["CodeUri"] == "."  # where the Makefile is


def test_makefile_targets_the_template_runtime_and_architecture() -> None:
    fn = _template()["Globals"]["Function"]
    makefile = (ROOT / "Makefile").read_text()
    version = re.search(r"^LAMBDA_PYTHON_VERSION := (\S+)$", makefile, re.M)
    platforms = re.search(r"^LAMBDA_PLATFORMS := (.+)$", makefile, re.M)
    assert version and platforms
    assert fn["Runtime"] == f"python{version.group(1)}"
    arch = {"arm64": "aarch64", "x86_64": "x86_64"}[fn["Architectures"][0]]
    assert all(p.endswith(arch) for p in platforms.group(1).split())


def test_bundle_holds_only_the_code_and_the_rule_pack(
    code_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert {p.name for p in code_bundle.iterdir()} == CODE
    _assert_clean(code_bundle)
    # The work tree's files arrive unchanged: every module and rule file (minus caches).
    for part in CODE:
        source = {
            p.relative_to(ROOT)
            for p in (ROOT / part).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")
        }
        shipped = {p.relative_to(code_bundle) for p in (code_bundle / part).rglob("*")}
        assert source <= shipped, sorted(source - shipped)[:5]
    size = _zip(code_bundle, code_bundle.parent / "code.zip")
    _report(capsys, f"bundle, code part (engine, handlers, rules): {size / 1024:.0f} KiB zipped")


def test_bundle_rule_pack_is_where_the_function_looks(code_bundle: Path) -> None:
    env = _template()["Globals"]["Function"]["Environment"]["Variables"]
    rules = env["DASALERT_RULES"]
    if isinstance(rules, dict):  # RulesLocation set: the bundled pack, then the S3 pack over it
        _, with_s3, rules = rules["Fn::If"]
        assert with_s3 == {"Fn::Sub": rules + ":${RulesLocation}"}
    assert rules.startswith("/var/task/")  # /var/task is the bundle root in Lambda
    rules_dir = code_bundle / rules.removeprefix("/var/task/")
    assert rules_dir.is_dir()
    assert list(rules_dir.glob("*.yaml")), "the bundle ships no rule"


def test_bundle_handlers_import_from_the_bundle_alone(code_bundle: Path) -> None:
    """Each handler imports with the bundle first on the path and the work tree out of it (the
    dependencies come from this environment): nothing the code needs was left behind."""
    handlers = [res["Properties"]["Handler"] for res in _functions().values()]
    script = (
        "import importlib, sys\n"
        f"for h in {handlers!r}:\n"
        "    mod, _, attr = h.rpartition('.')\n"
        "    m = importlib.import_module(mod)\n"
        "    assert callable(getattr(m, attr)), h\n"
        f"    assert m.__file__.startswith({str(code_bundle)!r}), m.__file__\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(code_bundle)
    subprocess.run(
        [sys.executable, "-c", script], cwd=code_bundle.parent, env=env, check=True, timeout=120
    )


def test_every_function_handler_exists() -> None:
    for name, res in _functions().items():
        module, _, attr = res["Properties"]["Handler"].rpartition(".")
        path = ROOT / (module.replace(".", "/") + ".py")
        assert path.is_file(), f"{name}: {path} missing"
        assert callable(getattr(importlib.import_module(module), attr)), name


@pytest.mark.skipif(
    os.environ.get("DASALERT_BUNDLE_DEPS") != "1",
    reason="downloads the locked arm64 wheels: set DASALERT_BUNDLE_DEPS=1 (needs the index)",
)
def test_full_bundle_with_locked_arm64_dependencies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "StreamFunction"
    _make("build-StreamFunction", bundle)
    _assert_clean(bundle)
    assert {p.name for p in bundle.iterdir()} >= CODE
    # Exactly the locked versions were installed, each checked against the lock's hashes.
    installed = {
        m.group(1).lower().replace("_", "-"): m.group(2)
        for d in bundle.glob("*.dist-info")
        if (m := re.fullmatch(r"(.+)-([^-]+)\.dist-info", d.name))
    }
    assert installed == _locked()
    # Every native extension is an arm64 ELF object (Lambda's Architectures: arm64).
    objects = list(bundle.rglob("*.so"))
    assert objects
    for obj in objects:
        header = obj.read_bytes()[:20]
        assert header[:4] == b"\x7fELF", obj
        assert int.from_bytes(header[18:20], "little") == ELF_MACHINE_AARCH64, obj
    size = _zip(bundle, tmp_path / "bundle.zip")
    unzipped = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    _report(
        capsys,
        f"bundle with dependencies: {unzipped / 2**20:.1f} MiB unzipped, "
        f"{size / 2**20:.1f} MiB zipped",
    )


# ---------------------------------------------------------------- locked dependencies


def _lock_lines() -> list[str]:
    """requirements.txt's requirement lines, continuation lines (hashes) joined."""
    text = (ROOT / "requirements.txt").read_text().replace("\\\n", " ")
    return [
        " ".join(line.split())
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _name(req: str) -> str:
    return Requirement(req).name.lower().replace("_", "-")


def _locked() -> dict[str, str]:
    pins = {}
    for line in _lock_lines():
        req = Requirement(line.split(" --hash")[0].strip())
        (spec,) = req.specifier
        pins[_name(str(req))] = spec.version
    return pins


def _direct() -> set[str]:
    """The packages requirements.txt says it locked because pyproject.toml asks for them."""
    direct, current = set(), ""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            current = _name(line.split(" ")[0])
        elif "dasalert (pyproject.toml)" in line:
            direct.add(current)
    return direct


def test_requirements_txt_is_a_hashed_lock_made_by_make_lock() -> None:
    text = (ROOT / "requirements.txt").read_text()
    assert "#    make lock" in text  # uv's header names the command that regenerates it
    for line in _lock_lines():
        name = line.split("==")[0]
        assert re.fullmatch(r"[A-Za-z0-9._-]+==\S+ (--hash=sha256:[0-9a-f]{64} ?)+", line), name
    assert "make lock" in (ROOT / "Makefile").read_text()


def test_requirements_txt_covers_pyproject_runtime_dependencies() -> None:
    """Every runtime dependency is locked at a version its range allows, and the lock's direct
    dependencies are exactly pyproject's: adding or dropping one there means `make lock`."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locked = _locked()
    for dep in project["dependencies"]:
        req = Requirement(dep)
        name = _name(dep)
        assert name in locked, f"{name} is a dependency but not in requirements.txt"
        assert req.specifier.contains(locked[name], prereleases=True), (name, locked[name])
    assert _direct() == {_name(dep) for dep in project["dependencies"]}


def test_samconfig_builds_without_a_container_and_acknowledges_iam() -> None:
    cfg = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]
    build = cfg["build"]["parameters"]
    assert build.get("use_container", False) is False
    # make runs in the repository root, as the tests above run it (no copy of .venv and .git)
    assert build["build_in_source"] is True
    deploy = cfg["deploy"]["parameters"]
    assert {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"} <= set(deploy["capabilities"].split())
    # SAM CLI expands Fn::ForEach only when asked (build, validate, package, deploy), and
    # `sam build` / `sam package` take no parameter values: the list it loops over needs a default.
    assert cfg["global"]["parameters"]["language_extensions"] is True
    assert "parameter_overrides" not in build
    assert _template()["Parameters"]["ResourceIds"]["Default"] == ""
    tags = dict(pair.split("=", 1) for pair in deploy["tags"].split())
    assert tags["app"] == '"dasalert"'  # stack tags, copied to every taggable resource


# ---------------------------------------------------------------- package metadata


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_file_is_the_one_the_metadata_declares() -> None:
    project = _project()["project"]
    assert project["license"] == "Apache-2.0"  # PEP 639 SPDX expression
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    # a license expression and a license classifier together are rejected by PyPI
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]


def test_version_is_written_once_and_the_cli_reports_it() -> None:
    import engine

    pyproject = _project()
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "engine.__version__"}
    out = subprocess.run(
        [sys.executable, "-m", "engine", "--version"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    )
    assert out.stdout.strip() == f"dasalert {engine.__version__}"


def test_classifiers_name_every_supported_python_including_lambdas() -> None:
    from packaging.specifiers import SpecifierSet

    project = _project()["project"]
    runtime = _template()["Globals"]["Function"]["Runtime"].removeprefix("python")
    listed = {
        c.rsplit(" :: ", 1)[1]
        for c in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert runtime in listed
    assert all(SpecifierSet(project["requires-python"]).contains(v) for v in listed)


def test_extras_never_reach_the_lambda_bundle() -> None:
    """Tools (tests, lint, bench, the pytest plugin) are extras; the bundle installs the lock,
    which is made from [project] dependencies only."""
    project = _project()["project"]
    extras = {_name(req) for reqs in project["optional-dependencies"].values() for req in reqs}
    assert {"pytest", "moto", "cfn-lint", "aws-sam-translator"} <= extras
    assert not extras & set(_locked())
    assert "uv" not in _locked()  # the lock's tool is not in the lock


# ---------------------------------------------------------------- the CLI without a checkout


def _rule_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.suffix in (".yaml", ".md")}


def test_cli_default_pack_is_local_rules_else_the_installed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine
    from engine.cli.pack import default_rules_path

    monkeypatch.chdir(ROOT)
    assert default_rules_path() == "rules"
    monkeypatch.chdir(tmp_path)  # a checkout run elsewhere: nothing to guess, the error says rules
    assert default_rules_path() == "rules"
    # an installed package: engine/starter_rules/ beside engine/__init__.py
    installed = tmp_path / "site" / "engine"
    (installed / "starter_rules").mkdir(parents=True)
    (installed / "starter_rules" / "failed-login.yaml").write_text("id: x\n")
    monkeypatch.setattr(engine, "__file__", str(installed / "__init__.py"))
    assert default_rules_path() == str((installed / "starter_rules").resolve())
    (tmp_path / "rules").mkdir()  # ./rules always wins
    assert default_rules_path() == "rules"


@pytest.mark.skipif(
    os.environ.get("DASALERT_BUNDLE_DEPS") != "1",
    reason="builds a wheel (setuptools from the package index): set DASALERT_BUNDLE_DEPS=1",
)
def test_wheel_ships_the_starter_pack_and_the_installed_cli_finds_it(tmp_path: Path) -> None:
    import shutil

    src = tmp_path / "src"
    shutil.copytree(
        ROOT, src,
        ignore=shutil.ignore_patterns(".git", ".venv", ".aws-sam", "build", "dist", "*.egg-info",
                                      "__pycache__", ".*_cache", ".hypothesis"),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
         str(src)],
        check=True, capture_output=True, timeout=600,
    )
    (wheel,) = (tmp_path / "dist").glob("dasalert-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    shipped = {n.removeprefix("engine/starter_rules/") for n in names
               if n.startswith("engine/starter_rules/")}
    assert shipped == _rule_files(ROOT / "rules")
    assert not [n for n in names if n.startswith(("tests/", "bench/", "rules/", "samples/"))]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    # installed without a checkout: the wheel's own engine, run where there is no rules/
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
         str(wheel)],
        check=True, capture_output=True, timeout=300,
    )
    env = dict(os.environ, PYTHONPATH=str(site))
    where = tmp_path / "elsewhere"
    where.mkdir()
    probe = "import engine.cli.pack as p; print(p.__file__); print(p.default_rules_path())"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=where, env=env, capture_output=True, text=True,
        check=True, timeout=60,
    ).stdout.split()
    assert out[0].startswith(str(site)) and out[1].startswith(str(site))
    lint = subprocess.run(
        [sys.executable, "-m", "engine", "lint"], cwd=where, env=env, capture_output=True,
        text=True, timeout=120,
    )
    assert "no such file" not in (lint.stdout + lint.stderr).lower()
