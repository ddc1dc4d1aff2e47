"""Package layout that pyproject.toml alone cannot express (everything else is in pyproject.toml).

The starter rule pack lives at the repository's top level (``rules/``, where `sam build` and the
CLI in a checkout read it), but an installed wheel needs it inside a package: it ships as
``engine.starter_rules``, which ``engine/cli/pack.py`` finds when there is no ``./rules``.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["engine*", "handlers*"]), "engine.starter_rules"],
    package_dir={"engine.starter_rules": "rules"},
    package_data={"engine.starter_rules": ["*.yaml", "runbooks/*.md"]},
)
