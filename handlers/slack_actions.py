"""Lambda entry point behind a Function URL: Slack's interactivity requests (alert buttons).

Thin on purpose: ``engine.pipeline.interactions`` verifies the signature, refuses stale and
replayed requests and non-responders, stores mutes and replies. This module builds that object
once per container from the environment and turns its answer into a Function URL response.
A configuration error answers 500 (and is logged by name); nothing in a request is logged.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from engine.pipeline.env import ConfigError
from engine.pipeline.interactions import Interactions, Response, from_env
from handlers._runtime import quiet_sdk_loggers

log = logging.getLogger("dasalert.slack_actions")

_lock = threading.Lock()
_built: Interactions | None = None


def _client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    # Slack waits 3 s for the answer: short timeouts, no retries (a retry would be too late).
    return boto3.client(
        service,
        config=Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1}),
    )


def interactions() -> Interactions:
    global _built
    with _lock:
        if _built is None:
            quiet_sdk_loggers()
            _built = from_env(os.environ, _client)
        return _built


def reset() -> None:
    """Forget the per-container object (tests change the environment between cases)."""
    global _built
    with _lock:
        _built = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        it = interactions()
    except ConfigError as exc:
        log.error("slack actions not configured: %s", exc)
        return Response(500, "not configured").to_lambda()
    return it.handle(event).to_lambda()
