"""Where the CLI finds the rule pack when no path is given.

In a checkout the pack is ``./rules``. An installed wheel ships the starter pack as
``engine/starter_rules/`` (setup.py maps it from ``rules/``), so ``dasalert test`` and
``dasalert lint`` work after ``pip install`` with no checkout at all. A checkout (or an editable
install) has no such directory: run elsewhere, the commands still say that ``rules`` is missing
rather than guess which checkout was meant.
"""

from __future__ import annotations

from pathlib import Path

import engine

LOCAL = "rules"


def packaged_pack() -> Path | None:
    """The starter pack installed with the package (``engine/starter_rules/``, a data-only
    directory, so it is found beside ``engine`` rather than imported), or None in a checkout."""
    path = Path(engine.__file__).resolve().parent / "starter_rules"
    return path if path.is_dir() and any(path.glob("*.yaml")) else None


def default_rules_path() -> str:
    """``./rules`` if it exists, else the installed starter pack; ``rules`` when neither exists,
    so the error names what was looked for."""
    if Path(LOCAL).is_dir():
        return LOCAL
    found = packaged_pack()
    return str(found) if found else LOCAL
