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

**Escalation updates** (``alert.escalation``: the alert's dedup window grew in a way a responder
must see; delivery hands each step to this output once):

* bot token: when an alert is posted, the message's channel id and ``ts`` are kept in the state
  table (``slack:msg:<alert id>``, three days), so a later batch or a cold start finds it. A step
  then updates the parent in place (``chat.update``, re-rendered by ``slack_blocks.render_one``
  with the new count, severity and folded values) and replies in its thread
  (``slack_updates.render_reply``); a new verb or a higher severity is broadcast to the channel
  too (``reply_broadcast``), the rest stay in the thread. The update comes first: it is
  idempotent, so a reply that fails and is retried repeats nothing visible. A parent posted for
  several alerts at once (one message per rule and batch) is not edited — one alert's rendering
  would erase the others — and gets the thread reply only. When the parent is unknown (posted
  before this feature, expired, deleted: ``message_not_found`` and the like) the alert is posted
  again as a new message that says it is an update (``slack_updates.render_orphan``), and that
  message becomes the parent of the next steps.
* incoming webhook: one follow-up message per step, at most one per alert per
  ``follow_up_every_s`` (10 minutes) — except a step with a new verb or a higher severity, which
  is never held. A held step is reported delivered and its reasons are kept
  (``slack:fu:<alert id>``) and listed first in the alert's next follow-up.

Every call goes through the same retry policy as a post (``Retry-After``, back-off, never past
the deadline); a step that cannot be delivered is reported retryable or permanent like any
alert, so delivery retries or dead-letters it — never drops it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from engine.alerts import Alert
from engine.alerts.model import SEVERITIES
from engine.outputs.base import Deadline, DeliveryReport, Output, Status, register
from engine.outputs.retry import Outcome, RetryPolicy
from engine.outputs.secrets import REDACTOR, SecretError, install_redactor
from engine.outputs.slack_blocks import group_by_rule, render_group, render_one
from engine.outputs.slack_updates import reasons_of, render_orphan, render_reply

if TYPE_CHECKING:
    from engine.outputs.routing import OutputContext
    from engine.pipeline.state import StateStore

log = logging.getLogger("dasalert.outputs.slack")

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
# Web API errors that mean the parent message cannot be edited or replied to any more: the
# escalation is posted as a new message instead.
PARENT_LOST_ERRORS = frozenset(
    {
        "message_not_found",
        "cant_update_message",
        "thread_not_found",
        "channel_not_found",
        "is_archived",
        "edit_window_closed",
    }
)
PARENT_TTL_S = 3 * 86400  # longer than a dedup window plus the stream's retention
FOLLOW_UP_EVERY_S = 600.0  # webhook mode: at most one follow-up per alert per 10 minutes


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

    def call(self, method: str, **kwargs: Any) -> tuple[Outcome, dict[str, Any]]:
        """One Web API call (``chat_postMessage``, ``chat_update``): its outcome, and the
        response's data (``channel``, ``ts``) when delivered or ``{"error": code}`` when not."""
        from slack_sdk.errors import SlackApiError

        try:
            client = self._clients.get()
        except SecretError as exc:
            return _secret_outcome(exc), {}
        try:
            resp = getattr(client, method)(**kwargs)
        except SlackApiError as exc:
            resp = exc.response
            status = getattr(resp, "status_code", 0) or 0
            data = getattr(resp, "data", None)
            error = data.get("error", "") if isinstance(data, dict) else str(data or "")[:100]
            error = REDACTOR.redact(str(error))
            if status == 429 or error in {"ratelimited", "rate_limited"}:
                outcome = Outcome.retryable(f"HTTP 429 {error}", _retry_after(resp.headers))
            elif status >= 500 or error in RETRYABLE_API_ERRORS:
                outcome = Outcome.retryable(f"HTTP {status} {error}".strip())
            else:
                outcome = Outcome.permanent(f"HTTP {status} {error}".strip())
            return outcome, {"error": error}
        except Exception as exc:
            return _connection_error(exc), {}
        data = getattr(resp, "data", None)
        return Outcome.delivered(), data if isinstance(data, dict) else {}

    def post_message(
        self,
        payload: dict[str, Any],
        channel: str | None,
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
    ) -> tuple[Outcome, dict[str, Any]]:
        """``chat.postMessage``; in the thread of ``thread_ts`` when given (``broadcast``: shown
        in the channel too)."""
        extra: dict[str, Any] = {}
        if thread_ts is not None:
            extra = {"thread_ts": thread_ts, "reply_broadcast": broadcast}
        return self.call(
            "chat_postMessage",
            channel=channel,
            text=payload["text"],
            blocks=payload["blocks"],
            unfurl_links=False,
            unfurl_media=False,
            parse="none",
            link_names=False,
            **extra,
        )

    def update(
        self, channel: str, ts: str, payload: dict[str, Any]
    ) -> tuple[Outcome, dict[str, Any]]:
        """``chat.update`` of the message ``ts`` in ``channel`` (a channel id)."""
        return self.call(
            "chat_update",
            channel=channel,
            ts=ts,
            text=payload["text"],
            blocks=payload["blocks"],
            parse="none",
            link_names=False,
        )

    def post(self, payload: dict[str, Any], channel: str | None) -> Outcome:
        return self.post_message(payload, channel)[0]


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
        clock: Callable[[], float] = time.time,
        follow_up_every_s: float = FOLLOW_UP_EVERY_S,
    ) -> None:
        install_redactor()
        self.transport = transport
        self.channels = channels
        self.buttons = buttons  # responder buttons: bot-token mode (an app with interactivity)
        self.region = region  # shown in "Where" when an alert does not carry its own
        self.here_from = here_from  # @here from this severity up (None: never)
        self.finding_links = finding_links  # Security Hub is on: link each alert's finding
        self.policy = policy or RetryPolicy()
        self.clock = clock  # wall clock: the parent record's expiry, the follow-up rate limit
        self.follow_up_every_s = follow_up_every_s
        self.state: StateStore | None = None  # bound by the Deliverer (None: nothing kept)

    def bind_state(self, state: StateStore) -> None:
        self.state = state

    @classmethod
    def from_env(cls, env: Mapping[str, str], ctx: OutputContext) -> SlackOutput:
        from engine.outputs.routing import env_severity
        from engine.pipeline.env import ConfigError, env_bool, env_str

        policy = RetryPolicy(sleeper=ctx.sleeper)
        clock = _epoch_clock(ctx)
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
                clock=clock,
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
                clock=clock,
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
                clock=clock,
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

    def _render_kwargs(self) -> dict[str, Any]:
        return {
            "actions": self.buttons,
            "region": self.region,
            "here_from": self.here_from,
            "finding_links": self.finding_links,
        }

    def send(self, alerts: Sequence[Alert], deadline: Deadline | None = None) -> DeliveryReport:
        report = DeliveryReport(self.name)
        deadline = deadline or Deadline()
        fresh = [a for a in alerts if a.escalation is None]
        for channel, group in self._messages(fresh):
            try:
                payload = render_group(group, **self._render_kwargs())
            except Exception as exc:  # a renderer bug must not lose the rest of the batch
                for a in group:
                    report.add(a.id, Status.PERMANENT, f"cannot render: {type(exc).__name__}")
                continue
            outcome, data = self._post(payload, channel, deadline)
            if outcome.status is Status.DELIVERED:
                self._remember_parent(group, data)
            for a in group:
                report.add(a.id, outcome.status, outcome.reason)
        for alert in alerts:
            if alert.escalation is None:
                continue
            try:
                if isinstance(self.transport, BotTransport):
                    outcome = self._escalate_bot(self.transport, alert, deadline)
                else:
                    outcome = self._escalate_webhook(alert, deadline)
            except Exception as exc:  # a bug here must not lose the rest of the batch
                log.exception("slack escalation of %s failed", alert.id)
                outcome = Outcome.retryable(f"escalation failed: {type(exc).__name__}")
            report.add(alert.id, outcome.status, outcome.reason)
        return report

    # -- posting with the retry policy ----------------------------------------------------

    def _retried(
        self, call: Callable[[], tuple[Outcome, dict[str, Any]]], deadline: Deadline
    ) -> tuple[Outcome, dict[str, Any]]:
        """``call`` under the retry policy, keeping the last response's data."""
        box: dict[str, dict[str, Any]] = {"data": {}}

        def attempt() -> Outcome:
            outcome, box["data"] = call()
            return outcome

        return self.policy.call(attempt, deadline), box["data"]

    def _post(
        self, payload: dict[str, Any], channel: str | None, deadline: Deadline
    ) -> tuple[Outcome, dict[str, Any]]:
        transport = self.transport
        if isinstance(transport, BotTransport):
            return self._retried(partial(transport.post_message, payload, channel), deadline)
        return self.policy.call(partial(transport.post, payload, channel), deadline), {}

    # -- the parent message of each alert (bot token) ------------------------------------

    def _remember_parent(self, group: Sequence[Alert], data: Mapping[str, Any]) -> None:
        """Keep where the message of these alerts is, for their escalations (a later batch, a
        cold start). A failure only costs the thread: the next step posts a new parent."""
        channel, ts = data.get("channel"), data.get("ts")
        if self.state is None or not isinstance(channel, str) or not isinstance(ts, str):
            return
        record = json.dumps({"channel": channel, "ts": ts, "n": len(group)})
        expires = self.clock() + PARENT_TTL_S
        try:
            self.state.put_values({f"slack:msg:{a.id}": (record, expires) for a in group})
        except Exception as exc:
            log.warning("could not keep the Slack message of an alert: %s", type(exc).__name__)

    def _parent(self, alert_id: str) -> tuple[str, str, int] | None:
        if self.state is None:
            return None
        key = f"slack:msg:{alert_id}"
        try:
            item = self.state.get_values([key]).get(key)
            doc = json.loads(item[0]) if item is not None else None
        except Exception as exc:  # unreadable: post a new parent rather than lose the step
            log.warning("could not read the Slack message of an alert: %s", type(exc).__name__)
            return None
        if not isinstance(doc, dict):
            return None
        channel, ts, n = doc.get("channel"), doc.get("ts"), doc.get("n", 1)
        if isinstance(channel, str) and isinstance(ts, str) and isinstance(n, int):
            return channel, ts, n
        return None

    def _escalate_bot(self, transport: BotTransport, alert: Alert, deadline: Deadline) -> Outcome:
        """Update the parent in place, then reply in its thread; a new parent when lost."""
        parent = self._parent(alert.id)
        if parent is not None:
            channel, ts, n = parent
            if n == 1:
                full = render_one(alert, **self._render_kwargs())
                outcome, data = self._retried(
                    partial(transport.update, channel, ts, full), deadline
                )
                if outcome.status is Status.RETRYABLE:
                    return outcome  # nothing visible happened yet: the retry starts over
                if outcome.status is Status.PERMANENT:
                    if data.get("error") not in PARENT_LOST_ERRORS:
                        return outcome
                    parent = None
        if parent is not None:
            channel, ts, _ = parent
            reply = render_reply(alert)
            post = partial(
                transport.post_message, reply, channel, thread_ts=ts, broadcast=_urgent(alert)
            )
            outcome, data = self._retried(post, deadline)
            if not (outcome.status is Status.PERMANENT and data.get("error") in PARENT_LOST_ERRORS):
                return outcome
        # The parent is unknown or gone: the whole alert again, saying it is an update.
        where = self.channels.channel_for(alert.severity) if self.channels else None
        payload = render_orphan(alert, render_one(alert, **self._render_kwargs()))
        outcome, data = self._post(payload, where, deadline)
        if outcome.status is Status.DELIVERED:
            self._remember_parent([alert], data)
        return outcome

    # -- follow-ups (incoming webhook) -------------------------------------------------------

    def _escalate_webhook(self, alert: Alert, deadline: Deadline) -> Outcome:
        """One follow-up per step, at most one per alert per ``follow_up_every_s`` unless the
        step is urgent; a held step's reasons lead the next follow-up."""
        key = f"slack:fu:{alert.id}"
        now = self.clock()
        last: float | None = None
        held: list[str] = []
        if self.state is not None:
            try:
                item = self.state.get_values([key]).get(key)
                doc = json.loads(item[0]) if item is not None else {}
                last = float(doc["at"]) if "at" in doc else None
                held = [str(r) for r in doc.get("held", [])]
            except Exception as exc:  # unreadable: send (a repeat beats a hidden escalation)
                log.warning("slack follow-up state unreadable: %s", type(exc).__name__)
        expires = now + PARENT_TTL_S
        if (
            self.state is not None
            and last is not None
            and now - last < self.follow_up_every_s
            and not _urgent(alert)
        ):
            doc = {"at": last, "held": [*held, *reasons_of(alert)]}
            try:
                self.state.put_values({key: (json.dumps(doc), expires)})
                return Outcome(Status.DELIVERED, "held by the follow-up rate limit")
            except Exception as exc:  # cannot keep it for later: send it now
                log.warning("slack follow-up not held: %s", type(exc).__name__)
        payload = render_reply(alert, held=held, webhook=True)
        outcome = self.policy.call(partial(self.transport.post, payload, None), deadline)
        if outcome.status is Status.DELIVERED and self.state is not None:
            try:
                self.state.put_values({key: (json.dumps({"at": now, "held": []}), expires)})
            except Exception as exc:  # only the rate limit is lost
                log.warning("slack follow-up time not kept: %s", type(exc).__name__)
        return outcome


def _urgent(alert: Alert) -> bool:
    """A step a responder must see at once: a new verb or a higher severity (never held, and
    broadcast from the thread to the channel)."""
    esc = alert.escalation or {}
    reasons = esc.get("reasons")
    if not isinstance(reasons, list):
        return False
    return any(str(r).startswith(("new verb", "severity ")) for r in reasons)


def _epoch_clock(ctx: OutputContext) -> Callable[[], float]:
    return lambda: ctx.clock().timestamp()


def _const(value: str) -> Callable[[], str]:
    return lambda: value


def _secret(ctx: OutputContext, arn: str, keys: tuple[str, ...]) -> Callable[[], str]:
    return lambda: ctx.secrets.get(arn, keys)


def _check_arn(variable: str, arn: str, error: type[Exception]) -> None:
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "secretsmanager":
        raise error(variable, f"not a Secrets Manager ARN: {arn!r}")
