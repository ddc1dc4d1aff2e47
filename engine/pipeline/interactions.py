"""Slack interactivity: a responder's button press on an alert, verified, authorized and applied.

Slack posts a button press (``block_actions``) to the app's interactivity URL — here a Lambda
Function URL in front of ``handlers/slack_actions.py``. Anyone on the internet can reach that URL,
so nothing is believed before it is proved:

1. **Signature.** Slack signs ``v0:{X-Slack-Request-Timestamp}:{raw body}`` with HMAC-SHA256 and
   the app's signing secret; ``X-Slack-Signature`` is ``v0=`` and the hex digest. It is compared
   in constant time (``hmac.compare_digest``). A timestamp more than 5 minutes from now is stale.
   Anything unsigned, wrongly signed or stale is answered 401 and changes nothing.
2. **Replay.** A correctly signed request captured by someone could be sent again within those
   5 minutes: each signature is recorded once in the state table (``add_once``, shared by every
   container); a second sighting is answered 401.
3. **Responder.** Only Slack user ids listed in ``DASALERT_RESPONDERS`` may act (403 otherwise).
4. **Action.** Acknowledge (a reply only), Mute 1 h / 24 h / 7 d, Mark false positive (a 7-day
   mute of kind ``false_positive``). Mutes are validated by ``engine.pipeline.mutes.make_mute`` —
   the same validation as ``dasalert mute`` — and stored in the state table; the engine honours
   them from its next batch.
5. **Reply.** Who did what until when, in the alert's thread (bot token) or through the request's
   ``response_url``; a reply that fails is logged, the mute stays.

Slack wants the HTTP answer within 3 seconds. The state table is called with short timeouts and
no retries, and the reply gets what is left of a 2.5 s budget, so a slow dependency produces a
logged failure, not a Slack timeout (and a retried request would be refused as a replay anyway).

Button values carry the rule id, the alert's key and its id — never a secret. The reply text is
escaped like every alert (the key comes from the database: an attacker may have chosen it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.outputs.slack_blocks import BACKTICK_LOOKALIKE, escape, fit, slack_date
from engine.outputs.slack_buttons import ACTION_PREFIX, Action
from engine.pipeline.env import ConfigError, env_str
from engine.pipeline.mutes import MuteError, MuteRequest, make_mute, store_mute
from engine.pipeline.state import StateError, StateStore

log = logging.getLogger("dasalert.interactions")

MAX_AGE_S = 300  # Slack's own recommendation: refuse requests older than 5 minutes
BUDGET_S = 2.5  # of Slack's 3 s
MAX_BODY = 64 * 1024  # a block_actions payload is a few KiB
SLACK_HOOKS = "https://hooks.slack.com/"


@dataclass(frozen=True)
class Response:
    status: int
    body: str = ""

    def to_lambda(self) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "headers": {"Content-Type": "text/plain; charset=utf-8"},
            "body": self.body,
        }


class Refused(Exception):
    """A request answered with an error status; ``reason`` is for the log, not the caller."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    for k, v in headers.items():
        if str(k).lower() == name:
            return str(v)
    return None


def verify(secret: str, headers: Mapping[str, Any], body: bytes, now: float) -> str:
    """Check Slack's signature of ``body``; the signature on success, :class:`Refused` (401)."""
    stamp = _header(headers, "x-slack-request-timestamp")
    signature = _header(headers, "x-slack-signature")
    if not stamp or not signature:
        raise Refused(401, "unsigned")
    try:
        ts = int(stamp)
    except ValueError:
        raise Refused(401, "bad timestamp") from None
    if abs(now - ts) > MAX_AGE_S:
        raise Refused(401, "stale timestamp")
    base = b"v0:" + stamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise Refused(401, "bad signature")
    return signature


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The request body exactly as Slack signed it (Function URLs may base64-encode it)."""
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise Refused(400, "no body")
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise Refused(400, "bad base64 body") from None
    else:
        data = body.encode()
    if len(data) > MAX_BODY:
        raise Refused(413, "body too large")
    return data


@dataclass(frozen=True)
class Click:
    """One button press, parsed from a signed ``block_actions`` payload."""

    user: str
    action: Action
    rule_id: str
    key: str | None
    alert_id: str | None
    channel: str | None
    message_ts: str | None
    response_url: str | None
    trigger_id: str | None = None  # a button press: a modal may be opened with it
    reason: str | None = None  # from the reason modal
    submitted: bool = False  # the reason modal's submission (the mute is stored now)


VIEW_CALLBACK = "dasalert_reason"
METADATA_MAX = 3000  # Slack's limit for a view's private_metadata


def parse(body: bytes) -> Click:
    """A dasalert button press (``block_actions``) or the submission of its reason modal
    (``view_submission``); :class:`Refused` (400) for anything else."""
    try:
        form = urllib.parse.parse_qs(body.decode(), strict_parsing=True)
        payload = json.loads(form["payload"][0])
        kind_of = payload.get("type")
        user = payload["user"]["id"]
        reason = None
        if kind_of == "block_actions":
            action = next(
                a
                for a in payload["actions"]
                if str(a.get("action_id", "")).startswith(ACTION_PREFIX)
            )
            kind = Action(action["action_id"][len(ACTION_PREFIX) :])
            value = json.loads(action["value"])
            container = payload.get("container") or {}
            channel = (payload.get("channel") or {}).get("id") or container.get("channel_id")
            ts = container.get("message_ts") or (payload.get("message") or {}).get("ts")
            response_url = payload.get("response_url")
            trigger = payload.get("trigger_id")
        elif kind_of == "view_submission":
            view = payload["view"]
            if view.get("callback_id") != VIEW_CALLBACK:
                raise Refused(400, "not a dasalert view")
            value = json.loads(view["private_metadata"])
            kind = Action(value["act"])
            channel, ts, response_url, trigger = value.get("c"), value.get("t"), None, None
            reason = view["state"]["values"]["reason"]["reason"]["value"]
            if not isinstance(reason, str):
                raise Refused(400, "malformed payload: reason")
        else:
            raise Refused(400, f"unsupported interaction {str(kind_of)[:40]!r}")
        rule_id, key, alert = value["r"], value.get("k"), value.get("a")
    except Refused:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, StopIteration, UnicodeDecodeError):
        raise Refused(400, "malformed payload") from None
    for name, v in (("user", user), ("rule", rule_id)):
        if not isinstance(v, str) or not v:
            raise Refused(400, f"malformed payload: {name}")
    if key is not None and not isinstance(key, str):
        raise Refused(400, "malformed payload: key")
    return Click(
        user=user,
        action=kind,
        rule_id=rule_id,
        key=key,
        alert_id=alert if isinstance(alert, str) else None,
        channel=channel if isinstance(channel, str) else None,
        message_ts=ts if isinstance(ts, str) else None,
        response_url=response_url if isinstance(response_url, str) else None,
        trigger_id=trigger if isinstance(trigger, str) and trigger else None,
        reason=reason,
        submitted=kind_of == "view_submission",
    )


def reason_view(click: Click) -> dict[str, Any] | None:
    """The modal asking why (None when the click's data does not fit in it)."""
    meta = json.dumps(
        {"r": click.rule_id, "k": click.key, "a": click.alert_id, "act": click.action.value,
         "c": click.channel, "t": click.message_ts},
        separators=(",", ":"),
    )  # fmt: skip
    if len(meta) > METADATA_MAX:
        return None
    key = fit(escape(click.key, oneline=True).replace("`", BACKTICK_LOOKALIKE), 300)
    scope = f" for key `{key}`" if click.key else " (every key)"
    text = f"{click.action.label}: `{escape(click.rule_id)}`{scope}"
    return {
        "type": "modal",
        "callback_id": VIEW_CALLBACK,
        "title": {"type": "plain_text", "text": click.action.label},
        "submit": {"type": "plain_text", "text": "Mute"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": meta,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}},
            {
                "type": "input",
                "block_id": "reason",
                "label": {"type": "plain_text", "text": "Reason (the next responder reads it)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "reason",
                    "min_length": 3,
                    "max_length": 500,
                },
            },
        ],
    }


def reply_text(click: Click, until: float | None) -> str:
    who = f"<@{escape(click.user)}>"
    rule = f"`{escape(click.rule_id)}`"
    # the key comes from the database (an attacker may have chosen it): escaped, no backtick
    key = fit(escape(click.key, oneline=True).replace("`", BACKTICK_LOOKALIKE), 300)
    scope = f" for key `{key}`" if click.key else ""
    if click.action is Action.ACK or until is None:
        return f":eyes: {who} acknowledged this alert ({rule})."
    what = "marked a false positive and muted" if click.action is Action.FALSE_POSITIVE else "muted"
    why = f" Reason: {fit(escape(click.reason, oneline=True), 500)}" if click.reason else ""
    return f":mute: {who} {what} {rule}{scope} until {slack_date(until)}.{why}"


class Replier:
    """Posts the reply: in the alert's thread with the bot token, else to ``response_url``.

    ``response_url`` is accepted only on Slack's own host (or ``allowed_prefix``, the local
    Slack server of tests and development): a forged URL must not make this function call
    anywhere else.
    """

    def __init__(
        self,
        token: Callable[[], str] | None,
        api_url: str,
        allowed_prefix: str | None = None,
    ) -> None:
        self._token = token
        self._api_url = api_url
        self._prefixes = tuple(p for p in (SLACK_HOOKS, allowed_prefix) if p)

    def reply(self, click: Click, text: str, timeout_s: float) -> bool:
        timeout = max(0.2, timeout_s)
        try:
            if self._token is not None and click.channel and click.message_ts:
                return self._thread(click, text, timeout)
            if click.response_url and click.response_url.startswith(self._prefixes):
                return self._respond(click.response_url, text, timeout)
            log.warning("no way to reply: no bot token and no acceptable response_url")
            return False
        except Exception as exc:  # the action is done; a lost reply is logged, never raised
            log.warning("Slack reply failed: %s", type(exc).__name__)
            return False

    def can_open_views(self) -> bool:
        return self._token is not None

    def open_view(self, click: Click, view: dict[str, Any], timeout_s: float) -> bool:
        """Open the reason modal; False (logged) when Slack refuses or is too slow."""
        if self._token is None or click.trigger_id is None:
            return False
        try:
            self._client(timeout_s).views_open(trigger_id=click.trigger_id, view=view)
            return True
        except Exception as exc:
            log.warning("Slack views.open failed: %s", type(exc).__name__)
            return False

    def group_members(self, group: str, timeout_s: float) -> frozenset[str] | None:
        """The user ids of a user group (``usergroups:read``); None when they cannot be read."""
        if self._token is None:
            return None
        try:
            resp = self._client(timeout_s).usergroups_users_list(usergroup=group)
            users = resp.get("users") or []
            return frozenset(u for u in users if isinstance(u, str))
        except Exception as exc:
            log.warning("Slack usergroups.users.list failed: %s", type(exc).__name__)
            return None

    def _client(self, timeout: float) -> Any:
        from slack_sdk import WebClient

        from engine.outputs.slack import SDK_LOGGER

        assert self._token is not None
        return WebClient(
            token=self._token(),
            base_url=self._api_url,
            timeout=max(1, int(timeout)),
            logger=SDK_LOGGER,
            retry_handlers=[],
        )

    def _thread(self, click: Click, text: str, timeout: float) -> bool:
        assert self._token is not None and click.channel is not None
        client = self._client(timeout)
        client.chat_postMessage(
            channel=click.channel,
            thread_ts=click.message_ts,
            text=text,
            unfurl_links=False,
            unfurl_media=False,
            link_names=False,
        )
        return True

    def _respond(self, url: str, text: str, timeout: float) -> bool:
        doc = {"response_type": "in_channel", "replace_original": False, "text": text}
        req = urllib.request.Request(
            url,
            data=json.dumps(doc).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        # the URL's prefix was checked by ``reply``: Slack's host or the configured local server
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return 200 <= int(resp.status) < 300


class Interactions:
    """The whole decision for one request (the handler only translates the Lambda event)."""

    def __init__(
        self,
        *,
        secret: Callable[[], str],
        responders: frozenset[str],
        state: StateStore,
        replier: Replier,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self.responders = responders
        self.groups = sorted(r for r in responders if r.startswith("S"))
        self.state = state
        self.replier = replier
        self.clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    def _allowed(self, user: str, started: float) -> bool:
        """A listed user, or a member of a listed user group (members read with the bot token,
        cached 5 minutes per container; a group that cannot be read admits nobody)."""
        if user in self.responders:
            return True
        for group in self.groups:
            cached = self._members.get(group)
            if cached is None or cached[0] < time.monotonic():
                left = BUDGET_S - (time.monotonic() - started)
                members = self.replier.group_members(group, left)
                if members is None:
                    continue  # fail closed, and ask again next time
                cached = (time.monotonic() + GROUP_CACHE_S, members)
                self._members[group] = cached
            if user in cached[1]:
                return True
        return False

    def handle(self, event: Mapping[str, Any]) -> Response:
        started = time.monotonic()
        try:
            return self._handle(event, started)
        except Refused as exc:
            log.warning("interaction refused (%d): %s", exc.status, exc.reason)
            return Response(exc.status, "refused" if exc.status in (401, 403) else exc.reason)

    def _handle(self, event: Mapping[str, Any], started: float) -> Response:
        method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "POST")
        if str(method).upper() != "POST":
            raise Refused(405, "POST only")
        headers = event.get("headers") or {}
        body = raw_body(event)
        now = self.clock()
        signature = verify(self._secret(), headers, body, now)
        marker = "slack-req:" + hashlib.sha256(signature.encode()).hexdigest()
        try:
            first = self.state.add_once(marker, expires_at=now + 2 * MAX_AGE_S)
        except StateError as exc:
            log.error("state table unavailable for the replay check: %s", type(exc).__name__)
            return Response(503, "state table unavailable")
        if not first:
            raise Refused(401, "replayed request")
        click = parse(body)
        if not self._allowed(click.user, started):
            raise Refused(403, "not a responder")
        until: float | None = None
        if click.action is not Action.ACK:
            view = reason_view(click) if not click.submitted else None
            if view is not None and click.trigger_id and self.replier.can_open_views():
                left = BUDGET_S - (time.monotonic() - started)
                if self.replier.open_view(click, view, left):
                    log.info("interaction: reason asked", extra={"rule": click.rule_id})
                    return Response(200)  # the mute is stored when the reason is submitted
            kind = "false_positive" if click.action is Action.FALSE_POSITIVE else "mute"
            reason = click.reason or f"{click.action.label} from Slack" + (
                f" (alert {click.alert_id})" if click.alert_id else ""
            )
            req = MuteRequest(
                click.rule_id, click.key, click.action.duration_s, f"slack:{click.user}",
                reason, kind,
            )  # fmt: skip
            try:
                mute = make_mute(req, now)
                store_mute(self.state, mute)
            except MuteError as exc:
                raise Refused(400, f"invalid mute: {exc}") from None
            except StateError as exc:
                log.error("cannot store the mute: %s", type(exc).__name__)
                return Response(503, "state table unavailable")
            until = mute.until
        log.info(
            "interaction",
            extra={"action": click.action.value, "rule": click.rule_id, "user": click.user},
        )
        left = BUDGET_S - (time.monotonic() - started)
        self.replier.reply(click, reply_text(click, until), left)
        return Response(200)


_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,20}$")
GROUP_CACHE_S = 300.0


def parse_responders(raw: str | None) -> frozenset[str]:
    """``DASALERT_RESPONDERS``: Slack user ids (``U…``/``W…``) and user group ids (``S…``),
    comma or space separated.

    Empty means nobody may act: buttons then only ever answer 403, which is safer than letting
    everyone in the workspace mute a security alert.
    """
    ids = [p for p in re.split(r"[\s,;]+", raw or "") if p]
    for one in ids:
        if not (_USER_ID.match(one) or _GROUP_ID.match(one)):
            raise ConfigError(
                "DASALERT_RESPONDERS",
                f"{one[:40]!r} is neither a Slack user id (U…, W…) nor a user group id (S…)",
            )
    return frozenset(ids)


def from_env(env: Mapping[str, str], client: Callable[[str], Any]) -> Interactions:
    """Build from the function's environment; ``client(service)`` gives boto3 clients.

    Raises :class:`ConfigError` naming the variable, at the first request of a container.
    """
    from engine.outputs.secrets import REDACTOR, SecretSource
    from engine.outputs.slack import DEFAULT_API_URL
    from engine.pipeline.state_dynamodb import DynamoDBStateStore

    table = env_str(env, "DASALERT_STATE_TABLE")
    if not table:
        raise ConfigError("DASALERT_STATE_TABLE", "mutes are stored in the state table: set it")
    secrets = SecretSource(lambda: client("secretsmanager"))
    secret_arn = env_str(env, "SLACK_SIGNING_SECRET_ARN")
    plain = env_str(env, "SLACK_SIGNING_SECRET")
    if secret_arn:
        arn = secret_arn

        def secret() -> str:
            return secrets.get(arn, ("signing_secret", "secret"))
    elif plain:
        REDACTOR.add(plain)
        value = plain

        def secret() -> str:
            return value
    else:
        raise ConfigError(
            "SLACK_SIGNING_SECRET_ARN",
            "the Slack app's signing secret is needed to verify requests",
        )
    token: Callable[[], str] | None = None
    token_arn = env_str(env, "SLACK_BOT_TOKEN_SECRET_ARN")
    token_plain = env_str(env, "SLACK_BOT_TOKEN")
    if token_arn:
        tarn = token_arn

        def token() -> str:
            return secrets.get(tarn, ("token", "bot_token"))
    elif token_plain:
        REDACTOR.add(token_plain)
        tvalue = token_plain

        def token() -> str:
            return tvalue

    api_url = env_str(env, "SLACK_API_URL")
    local = None
    if api_url:
        parts = urllib.parse.urlsplit(api_url)
        local = f"{parts.scheme}://{parts.netloc}/"
    return Interactions(
        secret=secret,
        responders=parse_responders(env.get("DASALERT_RESPONDERS")),
        state=DynamoDBStateStore(table, client("dynamodb")),
        replier=Replier(token, api_url or DEFAULT_API_URL, local),
    )
