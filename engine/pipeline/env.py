"""Configuration variables: the error that names a wrong one, and the readers every part shares.

The pipeline's own settings (``engine.pipeline.config``) and the outputs'
(``engine.outputs.routing``) are read from the same environment and must fail the same way, with a
``ConfigError`` naming the variable; this neutral module lets both use it without the pipeline
depending on routing.
"""

from __future__ import annotations

from collections.abc import Mapping

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})


class ConfigError(ValueError):
    """A configuration variable is missing or wrong; the message names the variable."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable


def env_str(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    return value or None


def env_bool(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ConfigError(name, f"expected true or false, got {raw!r}")
