"""Secrets for outputs (Slack webhook URL, bot token): fetched, cached, and kept out of logs.

The values come from Secrets Manager through the Powertools Parameters utility, which caches them
for ``max_age`` seconds (one fetch per warm container, not one per batch) and finds moto through
``AWS_ENDPOINT_URL`` like any boto3 client. A secret is either the bare string or a JSON object
with the value under one of a few keys (``url``/``webhook_url`` or ``token``/``bot_token``).

Keeping the secret out of logs takes more than not logging it ourselves: botocore logs the
response body of ``GetSecretValue`` at DEBUG, and slack-sdk logs the webhook URL at DEBUG.
:data:`REDACTOR` is a logging filter installed on exactly those loggers that replaces every secret
value it has seen with ``[redacted]``, whatever the log level.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

SECRET_LOGGERS = (
    "botocore.parsers",
    "botocore.endpoint",
    "botocore.httpsession",
    "botocore.hooks",
    "aws_lambda_powertools",
    "slack_sdk",
    "slack_sdk.webhook.client",
    "slack_sdk.web.base_client",
    "dasalert.slack_sdk",
)
PERMANENT_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "AccessDeniedException",
        "AccessDenied",
        "InvalidRequestException",
        "InvalidParameterException",
        "DecryptionFailure",
        "UnrecognizedClientException",
    }
)


class SecretRedactor(logging.Filter):
    """Replaces known secret values in log records (message and arguments) by ``[redacted]``."""

    def __init__(self) -> None:
        super().__init__("")
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._local = threading.local()

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """Drop every record of these loggers in this thread, e.g. while a secret is fetched
        (the value is not known yet, so it cannot be redacted)."""
        depth = getattr(self._local, "quiet", 0)
        self._local.quiet = depth + 1
        try:
            yield
        finally:
            self._local.quiet = depth

    def add(self, *values: str) -> None:
        with self._lock:
            for v in values:
                if v and len(v) >= 8:  # short strings would redact ordinary words
                    self._secrets.add(v)
                    self._secrets.add(json.dumps(v)[1:-1])  # as it appears inside JSON

    def redact(self, text: str) -> str:
        for s in sorted(self._secrets, key=len, reverse=True):
            if s in text:
                text = text.replace(s, "[redacted]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(self._local, "quiet", 0):
            return False
        if not self._secrets:
            return True
        try:
            msg = record.getMessage()
        except Exception:  # a broken format string: leave it to logging
            return True
        clean = self.redact(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        return True


REDACTOR = SecretRedactor()
_installed = False


def install_redactor(names: Iterable[str] = SECRET_LOGGERS) -> None:
    """Attach :data:`REDACTOR` to the loggers that can print a secret (idempotent)."""
    global _installed
    if _installed:
        return
    for name in names:
        logger = logging.getLogger(name)
        if REDACTOR not in logger.filters:
            logger.addFilter(REDACTOR)
    _installed = True


class SecretError(Exception):
    """A secret could not be read; ``retryable`` says whether trying later may help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def _error_code(exc: BaseException) -> str:
    seen: BaseException | None = exc
    while seen is not None:
        resp = getattr(seen, "response", None)
        if isinstance(resp, dict):
            return str(resp.get("Error", {}).get("Code", ""))
        seen = seen.__cause__ or seen.__context__
    return ""


def pick(value: Any, keys: tuple[str, ...]) -> str:
    """The secret string: the bare value, or the first of ``keys`` in a JSON object."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("{"):
            try:
                value = json.loads(stripped)
            except ValueError:
                return stripped
        else:
            return stripped
    if isinstance(value, dict):
        for k in keys:
            if isinstance(value.get(k), str) and value[k].strip():
                return value[k].strip()
        raise SecretError(
            f"secret is a JSON object without any of the keys {list(keys)}", retryable=False
        )
    raise SecretError("secret has no string value", retryable=False)


class SecretSource:
    """Reads secrets by ARN through Powertools, with its cache (``max_age`` seconds)."""

    def __init__(
        self, client_factory: Callable[[], Any] | None = None, *, max_age: int = 300
    ) -> None:
        self._factory = client_factory
        self._max_age = max_age
        self._provider: Any = None
        install_redactor()

    def _get_provider(self) -> Any:
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            client = self._factory() if self._factory else None
            self._provider = SecretsProvider(boto3_client=client)
        return self._provider

    def get(self, arn: str, keys: tuple[str, ...]) -> str:
        """The secret's value; :class:`SecretError` (never containing the value) otherwise."""
        try:
            with REDACTOR.quiet():
                raw = self._get_provider().get(arn, max_age=self._max_age)
        except Exception as exc:
            code = _error_code(exc)
            raise SecretError(
                f"cannot read secret {arn}: {code or type(exc).__name__}",
                retryable=code not in PERMANENT_CODES,
            ) from None
        value = pick(raw, keys)
        REDACTOR.add(value)
        return value
