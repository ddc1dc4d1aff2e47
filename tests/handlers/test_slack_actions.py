"""handlers/slack_actions.py through real HTTP: the state table on the moto server, replies to the
local Slack server. Requests are signed exactly as Slack signs them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from engine.outputs.slack_buttons import Action, button_value
from engine.pipeline.state_dynamodb import DynamoDBStateStore, create_table
from engine.rules.lang.expr import compile_expr
from engine.rules.model import Dedup
from engine.rules.runtime.engine import Engine
from engine.rules.runtime.ruleset import RuleSet
from handlers import _runtime, slack_actions
from handlers.kinesis import handler as kinesis_handler
from tests.handlers.conftest import Deployment
from tests.pipeline.support import FakeContext, ddl
from tests.rules.runtime.test_engine import ev, rule
from tests.support.slack_server import SlackServer

TABLE = "dasalert-state"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-bot-token-000000000000"
RESPONDER = "U0RESPOND1"


@pytest.fixture
def actions_env(aws: str, slack: SlackServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    create_table(boto3.client("dynamodb"), TABLE)
    for k, v in {
        "DASALERT_STATE_TABLE": TABLE,
        "SLACK_SIGNING_SECRET": SECRET,
        "DASALERT_RESPONDERS": f"{RESPONDER}, W0OTHER2",
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": slack.api_url,
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("SLACK_SIGNING_SECRET_ARN", raising=False)
    monkeypatch.delenv("SLACK_BOT_TOKEN_SECRET_ARN", raising=False)
    slack_actions.reset()
    yield
    slack_actions.reset()


def payload(
    action: Action = Action.MUTE_24H,
    *,
    user: str = RESPONDER,
    rule_id: str = "r",
    key: str | None = '"alice"',
    response_url: str | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": "resp"},
        "channel": {"id": "C0ALERTS"},
        "container": {"type": "message", "message_ts": "1700000000.000100"},
        "actions": [{"action_id": action.action_id, "value": button_value(rule_id, key, "a1")}],
    }
    if response_url:
        doc["response_url"] = response_url
    return doc


def form(doc: dict[str, Any]) -> str:
    return urllib.parse.urlencode({"payload": json.dumps(doc)})


def signed(
    body: str, *, ts: int | None = None, secret: str = SECRET, b64: bool = False
) -> dict[str, Any]:
    stamp = str(int(time.time()) if ts is None else ts)
    sig = (
        "v0=" + hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    )
    return {
        "version": "2.0",
        "headers": {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": sig,
        },
        "requestContext": {"http": {"method": "POST"}},
        "body": base64.b64encode(body.encode()).decode() if b64 else body,
        "isBase64Encoded": b64,
    }


def sent(req: Any) -> dict[str, Any]:
    """A Web API request's arguments (slack-sdk posts JSON or a form)."""
    if req.body.startswith(b"{"):
        return dict(req.json)
    return {k: v[0] for k, v in urllib.parse.parse_qs(req.body.decode()).items()}


def mutes() -> list:
    return DynamoDBStateStore(TABLE, boto3.client("dynamodb")).list_mutes()


def call(event: dict[str, Any]) -> int:
    return int(slack_actions.handler(event, None)["statusCode"])


def dedup_engine() -> Engine:
    r = rule("r", "`true`", dedup=Dedup(compile_expr("dbUserName"), 600))
    return Engine(RuleSet([r], {}, {}), DynamoDBStateStore(TABLE, boto3.client("dynamodb")))


def test_a_signed_mute_is_stored_replied_in_thread_and_honoured(
    actions_env: None, slack: SlackServer
) -> None:
    before = time.time()
    assert call(signed(form(payload(Action.MUTE_24H)))) == 200
    (m,) = mutes()
    assert (m.rule_id, m.key, m.who, m.kind) == ("r", '"alice"', f"slack:{RESPONDER}", "mute")
    assert before + 86400 <= m.until <= time.time() + 86400
    (req,) = slack.requests
    assert req.path == "/api/chat.postMessage"
    doc = sent(req)
    assert doc["thread_ts"] == "1700000000.000100" and doc["channel"] == "C0ALERTS"
    assert f'<@{RESPONDER}> muted `r` for key `"alice"` until <!date^{int(m.until)}^' in doc["text"]
    res = dedup_engine().process([ev(epoch=time.time(), dbUserName=u) for u in ("alice", "bob")])
    assert [a.dedup_key for a in res.alerts] == ['"bob"'] and res.muted == 1


def test_false_positive_and_acknowledge(actions_env: None, slack: SlackServer) -> None:
    assert call(signed(form(payload(Action.ACK)))) == 200
    assert mutes() == []
    assert "acknowledged this alert" in sent(slack.requests[-1])["text"]
    assert call(signed(form(payload(Action.FALSE_POSITIVE, key=None)))) == 200
    (m,) = mutes()
    assert (m.key, m.kind) == (None, "false_positive")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda b: {**signed(b), "headers": {}}, id="unsigned"),
        pytest.param(lambda b: signed(b, secret="not-the-secret-at-all"), id="wrong-secret"),
        pytest.param(lambda b: signed(b, ts=int(time.time()) - 301), id="stale"),
        pytest.param(lambda b: signed(b, ts=int(time.time()) + 301), id="future"),
        pytest.param(lambda b: {**signed(b), "body": b.replace("alice", "mallory")}, id="tampered"),
        pytest.param(
            lambda b: {
                **signed(b),
                "headers": {**signed(b)["headers"], "x-slack-request-timestamp": "soon"},
            },
            id="bad-timestamp",
        ),
    ],
)
def test_anything_not_signed_right_is_401_and_changes_nothing(
    actions_env: None, slack: SlackServer, make
) -> None:
    resp = slack_actions.handler(make(form(payload())), None)
    assert resp["statusCode"] == 401 and "mute" not in resp["body"]
    assert mutes() == [] and slack.requests == []


def test_a_replayed_request_is_refused(actions_env: None, slack: SlackServer) -> None:
    event = signed(form(payload(Action.MUTE_1H)))
    assert call(event) == 200
    slack_actions.reset()  # another container: the replay marker is in the table
    assert call(event) == 401
    assert len(mutes()) == 1 and len(slack.requests) == 1


def test_only_responders_may_act(actions_env: None, slack: SlackServer) -> None:
    assert call(signed(form(payload(user="U0SOMEONE")))) == 403
    assert mutes() == [] and slack.requests == []
    assert call(signed(form(payload(user="W0OTHER2")))) == 200  # the second listed responder


@pytest.mark.parametrize(
    "body",
    [
        "payload=not-json",
        "nothing=here",
        form({"type": "view_submission", "user": {"id": RESPONDER}}),
        form({**payload(), "actions": [{"action_id": "dasalert_mute_forever", "value": "{}"}]}),
        form({**payload(), "actions": [{"action_id": "dasalert_mute_1h", "value": "[1]"}]}),
        form(payload(rule_id="Not A Rule")),
        form({**payload(), "user": None}),
    ],
)
def test_a_malformed_signed_payload_is_400_and_changes_nothing(
    actions_env: None, slack: SlackServer, body: str
) -> None:
    assert call(signed(body)) == 400
    assert mutes() == [] and slack.requests == []


def test_base64_bodies_are_verified_as_decoded(actions_env: None) -> None:
    assert call(signed(form(payload()), b64=True)) == 200
    assert len(mutes()) == 1


def test_reply_through_response_url_without_a_bot_token(
    actions_env: None, slack: SlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    slack_actions.reset()
    url = slack.base_url + "/actions/T000/1/abc"
    assert call(signed(form(payload(response_url=url)))) == 200
    (req,) = slack.requests
    assert req.path == "/actions/T000/1/abc"
    assert req.json["replace_original"] is False and "muted" in req.json["text"]


def test_a_forged_response_url_is_never_called(
    actions_env: None, slack: SlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    monkeypatch.delenv("SLACK_API_URL")
    slack_actions.reset()
    url = slack.base_url + "/actions/T000/1/abc"  # not Slack's host: not allowed now
    assert call(signed(form(payload(response_url=url)))) == 200  # the mute is still stored
    assert slack.requests == [] and len(mutes()) == 1


def test_signing_secret_from_secrets_manager(
    actions_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = boto3.client("secretsmanager").create_secret(
        Name="dasalert/slack-signing", SecretString=json.dumps({"signing_secret": SECRET})
    )["ARN"]
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    monkeypatch.setenv("SLACK_SIGNING_SECRET_ARN", arn)
    slack_actions.reset()
    assert call(signed(form(payload()))) == 200
    assert call(signed(form(payload(key='"bob"')), secret="guess")) == 401


def test_configuration_errors_answer_500(
    actions_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    slack_actions.reset()
    assert call(signed(form(payload()))) == 500
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("DASALERT_RESPONDERS", "X0NOTANID")  # neither a user nor a group
    slack_actions.reset()
    assert call(signed(form(payload()))) == 500
    assert mutes() == []


def test_nothing_secret_reaches_a_log(actions_env: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    call(signed(form(payload())))
    call(signed(form(payload()), secret="wrong-secret-value"))
    call(signed(form(payload(user="U0NOBODY"))))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records and SECRET not in text and TOKEN not in text
    assert "v0=" not in text  # no signature either


def test_a_button_on_a_real_alert_mutes_the_next_batch(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole loop: an alert in bot-token mode carries buttons; pressing Mute 1h stores a
    mute; the stream function's next batch drops that rule's alert."""
    slack = deployment.slack
    monkeypatch.delenv("SLACK_WEBHOOK_SECRET_ARN")
    for k, v in {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_CHANNELS": "default=#sec-alerts",
        "SLACK_API_URL": slack.api_url,
        "SLACK_SIGNING_SECRET": SECRET,
        "DASALERT_RESPONDERS": RESPONDER,
        "DASALERT_OUTPUTS": "slack",
    }.items():
        monkeypatch.setenv(k, v)
    _runtime.reset()
    slack_actions.reset()
    assert kinesis_handler(deployment.event([ddl("alice", 1)]), FakeContext()) == {
        "batchItemFailures": []
    }
    (post,) = slack.requests
    blocks = sent(post)["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    by_id = {e["action_id"]: e for e in actions["elements"]}
    assert set(by_id) == {a.action_id for a in Action}
    assert by_id[Action.MUTE_1H.action_id]["text"]["text"] == "Mute rule 1h"  # no dedup key
    assert TOKEN not in json.dumps(blocks) and SECRET not in json.dumps(blocks)
    click = payload(Action.MUTE_1H)
    click["actions"] = [{"action_id": Action.MUTE_1H.action_id,
                         "value": by_id[Action.MUTE_1H.action_id]["value"]}]  # fmt: skip
    assert call(signed(form(click))) == 200
    slack.reset()
    _runtime.reset()  # a fresh container reads the mute too
    kinesis_handler(deployment.event([ddl("alice", 5, n=2)], first=2000), FakeContext())
    assert slack.requests == []


def test_a_hostile_key_arrives_in_the_reply_as_text(actions_env: None, slack) -> None:
    key = '"<!channel> ` <https://evil|x>"'
    assert call(signed(form(payload(key=key)))) == 200
    (m,) = mutes()
    assert m.key == key  # stored exactly, so it matches the alerts that carry it
    text = sent(slack.requests[-1])["text"]
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text and '`"&lt;!channel&gt; \u02cb' in text


def submission(view: dict[str, Any], reason: str, user: str = RESPONDER) -> dict[str, Any]:
    """What Slack posts when the responder submits the reason modal."""
    return {
        "type": "view_submission",
        "user": {"id": user},
        "view": {
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "state": {"values": {"reason": {"reason": {"type": "plain_text_input",
                                                       "value": reason}}}},
        },
    }  # fmt: skip


def test_a_mute_asks_for_a_reason_then_stores_it(actions_env: None, slack: SlackServer) -> None:
    click = payload(Action.MUTE_7D)
    click["trigger_id"] = "13345224609.738474920.8088930838d88f008e0"
    assert call(signed(form(click))) == 200
    assert mutes() == []  # nothing until the reason is given
    (opened,) = slack.requests
    assert opened.path == "/api/views.open"
    args = sent(opened)
    view = json.loads(args["view"]) if isinstance(args["view"], str) else args["view"]
    assert args["trigger_id"] == click["trigger_id"]
    assert view["title"]["text"] == "Mute 7d"
    assert view["blocks"][0]["text"]["text"] == 'Mute 7d: `r` for key `"alice"`'
    assert TOKEN not in json.dumps(view) and SECRET not in json.dumps(view)
    assert call(signed(form(submission(view, "pen test <!channel> until Friday")))) == 200
    (m,) = mutes()
    assert (m.key, m.reason, m.who) == (
        '"alice"',
        "pen test <!channel> until Friday",
        f"slack:{RESPONDER}",
    )
    assert 7 * 86400 - 600 < m.until - time.time() <= 7 * 86400
    reply = sent(slack.requests[-1])
    assert reply["thread_ts"] == "1700000000.000100" and reply["channel"] == "C0ALERTS"
    assert "Reason: pen test &lt;!channel&gt; until Friday" in reply["text"]


def test_a_submission_is_checked_like_a_click(actions_env: None, slack: SlackServer) -> None:
    click = payload(Action.FALSE_POSITIVE)
    click["trigger_id"] = "1.2.3"
    call(signed(form(click)))
    view = sent(slack.requests[0])["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert call(signed(form(submission(view, "benign", user="U0INTRUDER")))) == 403
    assert call(signed(form(submission(view, "benign")), secret="forged-secret-xx")) == 401
    forged = submission(view, "benign")
    forged["view"]["callback_id"] = "someone_else"
    assert call(signed(form(forged))) == 400
    assert mutes() == []
    assert call(signed(form(submission(view, "batch job, ticket 42")))) == 200
    (m,) = mutes()
    assert m.kind == "false_positive" and m.reason == "batch job, ticket 42"


def test_when_the_modal_cannot_open_the_mute_is_stored_at_once(
    actions_env: None, slack: SlackServer
) -> None:
    from tests.support.slack_server import SlackResponse

    slack.script(SlackResponse(200, {"ok": False, "error": "expired_trigger_id"}))
    click = payload(Action.MUTE_1H)
    click["trigger_id"] = "1.2.3"
    assert call(signed(form(click))) == 200
    (m,) = mutes()
    assert m.reason.startswith("Mute 1h from Slack")


def test_members_of_a_responder_group_may_act(
    actions_env: None, slack: SlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.slack_server import SlackResponse

    monkeypatch.setenv("DASALERT_RESPONDERS", "S0ONCALL")
    slack_actions.reset()
    slack.script(SlackResponse(200, {"ok": True, "users": ["U0MEMBER1", "U0MEMBER2"]}))
    assert call(signed(form(payload(user="U0MEMBER2")))) == 200
    assert slack.requests[0].path == "/api/usergroups.users.list"
    assert sent(slack.requests[0])["usergroup"] == "S0ONCALL"
    assert call(signed(form(payload(user="U0OUTSIDER", key='"bob"')))) == 403  # cached members
    assert [r.path for r in slack.requests].count("/api/usergroups.users.list") == 1
    assert [m.key for m in mutes()] == ['"alice"']


def test_a_group_that_cannot_be_read_admits_nobody(
    actions_env: None, slack: SlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.slack_server import SlackResponse

    monkeypatch.setenv("DASALERT_RESPONDERS", "S0ONCALL")
    slack_actions.reset()
    slack.script(SlackResponse(200, {"ok": False, "error": "missing_scope"}))
    assert call(signed(form(payload(user="U0MEMBER1")))) == 403
    assert mutes() == []
