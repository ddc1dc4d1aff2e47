"""Every ``dasalert`` shell example in README.md and docs/*.md runs as written.

Examples are the lines of ```console blocks that start with ``$ dasalert`` and the lines of
```sh blocks that start with ``dasalert`` (a trailing ``\\`` continues a line). Each runs with
bash against the shipped rules and samples, and must exit 0. The working directory is a fresh
one holding links to the repository's ``rules/`` and ``samples/``, so an example that writes
(``dasalert new … --rules my-rules``) writes there, never into the repository.

A block can say otherwise with an HTML comment on the line before its fence:

* ``<!-- doc-test: skip needs AWS -->`` — not run (it needs an account, a deployed stack, Slack…);
  the reason is required and the skipped examples are counted in this test's output;
* ``<!-- doc-test: exit 1 -->`` — every example of the block must exit with that code (an example
  that shows an error on purpose).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(
    r"(?:<!--\s*doc-test:\s*(?P<marker>[^>]*?)\s*-->\s*\n)?```(?P<lang>console|sh)\n(?P<body>.*?)```",
    re.S,
)


@dataclass(frozen=True)
class Example:
    doc: str
    line: int
    command: str
    skip: str | None
    exit_code: int

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def _commands(lang: str, body: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        line, start = lines[i], i
        text = None
        if lang == "console" and line.startswith("$ dasalert"):
            text = line[2:]
        elif lang == "sh" and line.startswith("dasalert"):
            text = line
        i += 1
        if text is None:
            continue
        while text.rstrip().endswith("\\") and i < len(lines):
            text = text.rstrip()[:-1] + " " + lines[i].strip()
            i += 1
        out.append((start, text))
    return out


def examples() -> list[Example]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            marker = (m.group("marker") or "").strip()
            skip = (
                marker[len("skip") :].strip() or "no reason given"
                if marker.startswith("skip")
                else None
            )
            code = int(marker.split()[1]) if marker.startswith("exit ") else 0
            first = text[: m.start("body")].count("\n") + 1
            for offset, command in _commands(m.group("lang"), m.group("body")):
                found.append(
                    Example(str(doc.relative_to(ROOT)), first + offset, command, skip, code)
                )
    return found


ALL = examples()


def test_the_docs_have_examples_and_every_skip_gives_a_reason(capsys) -> None:
    assert len(ALL) >= 20
    skipped = [e for e in ALL if e.skip]
    assert all(e.skip != "no reason given" for e in skipped), [e.id for e in skipped]
    with capsys.disabled():
        print(f"\n{len(ALL)} doc examples, {len(skipped)} skipped (need AWS or a deployment)")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory like the repository root to the examples: ``rules`` and ``samples``."""
    work = tmp_path_factory.mktemp("docs-work")
    for name in ("rules", "samples"):
        (work / name).symlink_to(ROOT / name, target_is_directory=True)
    return work


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The venv's ``dasalert`` first on PATH; no AWS credentials or region, so an example that
    reaches AWS by mistake fails instead of touching an account."""
    bin_dir = Path(sys.executable).parent
    assert shutil.which("dasalert", path=str(bin_dir)), "install the package: pip install -e ."
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DASALERT_"))}
    home = tmp_path_factory.mktemp("home")
    return {
        **keep,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.mark.parametrize("example", [e for e in ALL if not e.skip], ids=lambda e: e.id)
def test_doc_example_runs(example: Example, env: dict[str, str], workdir: Path) -> None:
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", example.command],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == example.exit_code, (
        f"{example.id}: `{example.command}` exited {proc.returncode}\n"
        f"stdout:\n{proc.stdout[-2000:]}\nstderr:\n{proc.stderr[-2000:]}"
    )
