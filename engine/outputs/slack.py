"""The Slack output: Block Kit messages through an incoming webhook or a bot token.

Two transports, one behaviour. An incoming webhook (URL from Secrets Manager, or from the
environment for development) posts to the one channel it was made for; a bot token
(``chat.postMessage``) posts to a channel chosen by severity (``SLACK_CHANNELS``). Alerts of one
rule in one batch become one message (see :mod:`engine.outputs.slack_blocks`).

Responses are checked, because ``WebhookClient`` does not raise: only HTTP 200 with body ``ok``
counts as delivered. 429 waits ``Retry-After``, 5xx backs off, both only while the deadline
allows (:mod:`engine.outputs.retry`); any other 4xx (``no_service``, ``invalid_token``, …) is
permanent. slack-sdk gets its own logger at WARNING, because at DEBUG it logs the webhook URL,
and the secret redactor is attached to it as a second line of defence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from engine.alerts import Alert
from engine.alerts.model import SEVERITIES
from engine.outputs.base import Deadline, DeliveryReport, Output, Status, register
from engine.outputs.retry import Outcome, RetryPolicy
from engine.outputs.secrets import REDACTOR, SecretError, install_redactor
from engine.outputs.slack_blocks import group_by_rule, render_group

if TYPE_CHECKING:
    from engine.outputs.routing import OutputContext

SDK_LOGGER = logging.getLogger("dasalert.slack_sdk")
SDK_LOGGER.setLevel(logging.WARNING)  # slack-sdk checks logger.level <= DEBUG before logging URLs
DEFAULT_API_URL = "https://slack.com/api/"
RETRYABLE_API_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)
DEFAULT_RETRY_AFTER_S = 1.0


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for k, v in (headers or {}).items():
        if k.lower() == name.lower():
            return v[0] if isinstance(v, list) and v else str(v)
    return None


def _retry_after(headers: Mapping[str, Any] | None) -> float:
    raw = _header(headers, "Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else DEFAULT_RETRY_AFTER_S
    except ValueError:
        return DEFAULT_RETRY_AFTER_S


def classify_http(status: int, body: str, headers: Mapping[str, Any] | None) -> Outcome:
    """Outcome of one webhook response (also used for Web API HTTP errors)."""
    text = REDACTOR.redact((body or "").strip())[:200]
    if status == 200 and text == "ok":
        return Outcome.delivered()
    if status == 429:
        return Outcome.retryable(f"HTTP 429 {text or 'rate_limited'}", _retry_after(headers))
    if status >= 500:
        return Outcome.retryable(f"HTTP {status} {text}".strip())
    if 400 <= status < 500:
        return Outcome.permanent(f"HTTP {status} {text}".strip())
    return Outcome.retryable(f"unexpected response HTTP {status} {text!r}")


def _connection_error(exc: Exception) -> Outcome:
    return Outcome.retryable(
        f"cannot reach Slack: {type(exc).__name__}: {REDACTOR.redact(str(exc))}"
    )


def _secret_outcome(exc: SecretError) -> Outcome:
    reason = f"Slack credentials unavailable: {exc}"
    return Outcome.retryable(reason) if exc.retryable else Outcome.permanent(reason)


class Transport(Protocol):
    def post(self, payload: dict[str, Any], channel: str | None) -> Outcome: ...


class _ClientPerSecret:
    """A slack-sdk client for the current value of a secret, rebuilt only when it changes.

    The secret (webhook URL or bot token) is read on every post, so a rotation takes effect
    without a cold start; it is registered with the log redactor before any client can log it.
    """

    def __init__(self, secret: Callable[[], str], build: Callable[[str], Any]) -> None:
        self._secret = secret
        self._build = build
        self._client: Any = None
        self._value: str | None = None

    def get(self) -> Any:
        value = self._secret()
        REDACTOR.add(value)
        if self._client is None or value != self._value:
            self._client = self._build(value)
            self._value = value
        return self._client


class WebhookTransport:
    """Posts to an incoming webhook; ``url`` is called per post (the secret cache decides)."""

    def __init__(self, url: Callable[[], str], timeout: int = 10) -> None:
        def build(value: str) -> Any:
            from slack_sdk.webhook import WebhookClient

            return WebhookClient(value, timeout=timeout, logger=SDK_LOGGER, retry_handlers=[])

        self._clients = _ClientPerSecret(url, build)

    def post(self, payload: dict[str, Any], channel: str | None) -> Outcome:
        try:
            client = self._clients.get()
        except SecretError as exc:
            return _secret_outcome(exc)
        try:
            resp = client.send(
                text=payload["text"],
                blocks=payload["blocks"],
                unfurl_links=False,
                unfurl_media=False,
            )
        except Exception as exc:  # connection refused, timeout, TLS: transient
            return _connection_error(exc)
        return classify_http(resp.status_code, resp.body, resp.headers)


class BotTransport:
    """Posts with ``chat.postMessage`` and a bot token to the channel it is given."""

    def __init__(
        self, token: Callable[[], str], base_url: str = DEFAULT_API_URL, timeout: int = 10
    ) -> None:
        def build(value: str) -> Any:
            from slack_sdk import WebClient

            return WebClient(
                token=value,
                base_url=base_url,
                timeout=timeout,
                logger=SDK_LOGGER,
                retry_handlers=[],
            )

        self._clients = _ClientPerSecret(token, build)

    def post(self, payload: dict[str, Any], channel: str | None) -> Outcome:
        from slack_sdk.errors import SlackApiError

        try:
            client = self._clients.get()
        except SecretError as exc:
            return _secret_outcome(exc)
        try:
            client.chat_postMessage(
                channel=channel,
                text=payload["text"],
                blocks=payload["blocks"],
                unfurl_links=False,
                unfurl_media=False,
                parse="none",
                link_names=False,
            )
        except SlackApiError as exc:
            resp = exc.response
            status = getattr(resp, "status_code", 0) or 0
            data = getattr(resp, "data", None)
            error = data.get("error", "") if isinstance(data, dict) else str(data or "")[:100]
            error = REDACTOR.redact(str(error))
            if status == 429 or error in {"ratelimited", "rate_limited"}:
                return Outcome.retryable(f"HTTP 429 {error}", _retry_after(resp.headers))
            if status >= 500 or error in RETRYABLE_API_ERRORS:
                return Outcome.retryable(f"HTTP {status} {error}".strip())
            return Outcome.permanent(f"HTTP {status} {error}".strip())
        except Exception as exc:
            return _connection_error(exc)
        return Outcome.delivered()


@dataclass(frozen=True)
class ChannelMap:
    """Severity → channel. An alert goes to the channel of its severity, else of the nearest
    lower configured severity, else ``default``, else the lowest configured channel."""

    by_severity: Mapping[str, str]
    default: str | None = None

    @classmethod
    def parse(cls, raw: str, variable: str = "SLACK_CHANNELS") -> ChannelMap:
        from engine.pipeline.env import ConfigError

        by: dict[str, str] = {}
        default = None
        for item in (p.strip() for p in raw.split(",")):
            if not item:
                continue
            key, sep, channel = item.partition("=")
            if not sep:
                key, channel = "default", key
            key, channel = key.strip().lower(), channel.strip()
            if not channel:
                raise ConfigError(variable, f"empty channel in {item!r}")
            if key in {"default", "*"}:
                default = channel
            elif key in SEVERITIES:
                by[key] = channel
            else:
                raise ConfigError(
                    variable, f"unknown severity {key!r}; use {', '.join(SEVERITIES)} or default"
                )
        if not by and not default:
            raise ConfigError(variable, "no channel given, e.g. high=#sec-alerts,default=#sec-feed")
        return cls(by, default)

    def channel_for(self, severity: str) -> str:
        rank = SEVERITIES.index(severity) if severity in SEVERITIES else 0
        for sev in reversed(SEVERITIES[: rank + 1]):
            if sev in self.by_severity:
                return self.by_severity[sev]
        if self.default:
            return self.default
        return next(self.by_severity[s] for s in SEVERITIES if s in self.by_severity)


@register(
    "slack",
    enabled_by=("SLACK_WEBHOOK_SECRET_ARN", "SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN_SECRET_ARN"),
    min_severity="medium",
)
class SlackOutput(Output):
    """Sends each rule's alerts as one Block Kit message; reports every alert."""

    def __init__(
        self,
        transport: Transport,
        *,
        channels: ChannelMap | None = None,
        policy: RetryPolicy | None = None,
        buttons: bool = False,
        region: str | None = None,
        here_from: str | None = None,
        finding_links: bool = False,
    ) -> None:
        install_redactor()
        self.transport = transport
        self.channels = channels
        self.buttons = buttons  # responder buttons: bot-token mode (an app with interactivity)
        self.region = region  # shown in "Where" when an alert does not carry its own
        self.here_from = here_from  # @here from this severity up (None: never)
        self.finding_links = finding_links  # Security Hub is on: link each alert's finding
        self.policy = policy or RetryPolicy()

    @classmethod
    def from_env(cls, env: Mapping[str, str], ctx: OutputContext) -> SlackOutput:
        from engine.outputs.routing import env_severity
        from engine.pipeline.env import ConfigError, env_bool, env_str

        policy = RetryPolicy(sleeper=ctx.sleeper)
        region = env_str(env, "AWS_REGION") or env_str(env, "AWS_DEFAULT_REGION")
        here_from = env_severity(env, "SLACK_HERE_SEVERITY", "") or None
        links = env_bool(env, "SECURITYHUB_ENABLED")
        bot_arn = env_str(env, "SLACK_BOT_TOKEN_SECRET_ARN")
        bot_token = env_str(env, "SLACK_BOT_TOKEN")
        if bot_arn or bot_token:
            raw = env_str(env, "SLACK_CHANNELS")
            if not raw:
                raise ConfigError(
                    "SLACK_CHANNELS",
                    "the bot token needs channels, e.g. critical=#sec-page,default=#sec-alerts",
                )
            channels = ChannelMap.parse(raw)
            base_url = env_str(env, "SLACK_API_URL") or DEFAULT_API_URL
            if bot_arn:
                _check_arn("SLACK_BOT_TOKEN_SECRET_ARN", bot_arn, ConfigError)
                token = _secret(ctx, bot_arn, ("token", "bot_token"))
            else:
                REDACTOR.add(bot_token or "")
                token = _const(bot_token or "")
            return cls(
                BotTransport(token, base_url),
                channels=channels,
                policy=policy,
                buttons=True,
                region=region,
                here_from=here_from,
                finding_links=links,
            )
        hook_arn = env_str(env, "SLACK_WEBHOOK_SECRET_ARN")
        hook_url = env_str(env, "SLACK_WEBHOOK_URL")
        if hook_arn:
            _check_arn("SLACK_WEBHOOK_SECRET_ARN", hook_arn, ConfigError)
            return cls(
                WebhookTransport(_secret(ctx, hook_arn, ("url", "webhook_url"))),
                policy=policy,
                region=region,
                here_from=here_from,
                finding_links=links,
            )
        if hook_url:
            if not hook_url.startswith(("https://", "http://")):
                # never echo the value: it is the secret
                raise ConfigError("SLACK_WEBHOOK_URL", "not an http(s) URL")
            REDACTOR.add(hook_url)
            return cls(
                WebhookTransport(_const(hook_url)),
                policy=policy,
                region=region,
                here_from=here_from,
                finding_links=links,
            )
        raise ConfigError(
            "SLACK_WEBHOOK_SECRET_ARN",
            "the slack output is enabled but not configured: set SLACK_WEBHOOK_SECRET_ARN (or "
            "SLACK_WEBHOOK_URL for development), or SLACK_BOT_TOKEN_SECRET_ARN and SLACK_CHANNELS",
        )

    def _messages(self, alerts: Sequence[Alert]) -> list[tuple[str | None, list[Alert]]]:
        if self.channels is None:
            return [(None, g) for g in group_by_rule(alerts)]
        by_channel: dict[str, list[Alert]] = {}
        for a in alerts:
            by_channel.setdefault(self.channels.channel_for(a.severity), []).append(a)
        return [(ch, g) for ch, batch in by_channel.items() for g in group_by_rule(batch)]

    def send(self, alerts: Sequence[Alert], deadline: Deadline | None = None) -> DeliveryReport:
        report = DeliveryReport(self.name)
        deadline = deadline or Deadline()
        for channel, group in self._messages(alerts):
            try:
                payload = render_group(
                    group,
                    actions=self.buttons,
                    region=self.region,
                    here_from=self.here_from,
                    finding_links=self.finding_links,
                )
            except Exception as exc:  # a renderer bug must not lose the rest of the batch
                for a in group:
                    report.add(a.id, Status.PERMANENT, f"cannot render: {type(exc).__name__}")
                continue
            outcome = self.policy.call(partial(self.transport.post, payload, channel), deadline)
            for a in group:
                report.add(a.id, outcome.status, outcome.reason)
        return report


def _const(value: str) -> Callable[[], str]:
    return lambda: value


def _secret(ctx: OutputContext, arn: str, keys: tuple[str, ...]) -> Callable[[], str]:
    return lambda: ctx.secrets.get(arn, keys)


def _check_arn(variable: str, arn: str, error: type[Exception]) -> None:
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "secretsmanager":
        raise error(variable, f"not a Secrets Manager ARN: {arn!r}")
