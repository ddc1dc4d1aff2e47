"""template.yaml, offline: SAM transforms it, cfn-lint finds no error, IAM is least privilege.

CloudFormation runs the template's two transforms in order: AWS::LanguageExtensions expands
``Fn::ForEach`` (one event source mapping per listed database) with the deployed parameter values,
then the SAM transform runs on the result. ``_expand_foreach`` does the first step for the one
shape the template uses, and the SAM translator then runs exactly as `sam deploy` would run it
(after `sam package` replaced ``CodeUri`` with an S3 URI), with a managed-policy loader that needs
no AWS account: the template names no AWS managed policy, so an empty map is the truth, not a stub
that hides something. cfn-lint also lints the source template itself, expanding ``Fn::ForEach``
on its own, as `sam validate --lint` does.
"""

from __future__ import annotations

import copy
import json
import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint  # type: ignore[import-untyped]
from samtranslator.translator.transform import transform  # type: ignore[import-untyped]
from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent

CLUSTER_PARAMS = {
    "ResourceIds": "cluster-ABCDEFGHIJ",
    "KmsKeyArns": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "SlackWebhookSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack-AbCdEf",
    "AlertEmail": "secops@example.com",
}
# Twenty databases of both kinds under two keys: one stack for all of them.
MANY_IDS = [f"cluster-{i:02d}AURORA" for i in range(12)] + [f"db-{i:02d}ORACLE" for i in range(8)]
MANY_PARAMS = dict(
    CLUSTER_PARAMS,
    ResourceIds=",".join(MANY_IDS),
    KmsKeyArns="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab,"
    "arn:aws:kms:us-east-1:123456789012:key/9234abcd-12ab-34cd-56ef-1234567890ab",
)
# Every optional resource switched on: customer keys for the stream, queues and logs, a Slack bot.
FULL_PARAMS = dict(
    CLUSTER_PARAMS,
    StreamEncryptionKeyArn="arn:aws:kms:us-east-1:123456789012:key/2234abcd-12ab-34cd-56ef-1234567890ab",
    DataEncryptionKeyArn="arn:aws:kms:us-east-1:123456789012:key/3234abcd-12ab-34cd-56ef-1234567890ab",
    SlackBotTokenSecretArn="arn:aws:secretsmanager:us-east-1:123456789012:secret:bot-AbCdEf",
    SlackChannels="critical=#sec-page,default=#sec-feed",
    SlackSigningSecretArn="arn:aws:secretsmanager:us-east-1:123456789012:secret:sign-AbCdEf",
    SlackResponders="U0123ABC,W0456DEF",
    OpsEmail="oncall@example.com",
    ArchiveBucket="create",
)


class NoManagedPolicies:
    """The loader SAM asks for AWS managed policy ARNs; the template uses none."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return yaml_parse((ROOT / "template.yaml").read_text())


FOREACH = re.compile(r"^Fn::ForEach::\w+$")


def _substitute(node: Any, name: str, value: str) -> Any:
    """The loop variable's value in a fragment: ``Ref`` to it and ``${name}`` in ``Fn::Sub``."""
    if isinstance(node, list):
        return [_substitute(item, name, value) for item in node]
    if not isinstance(node, dict):
        return node
    if node == {"Ref": name}:
        return value
    out = {k: _substitute(v, name, value) for k, v in node.items()}
    if isinstance(out.get("Fn::Sub"), str):
        out["Fn::Sub"] = out["Fn::Sub"].replace("${" + name + "}", value)
    return out


def _expand_foreach(tpl: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    """AWS::LanguageExtensions' expansion of ``Fn::ForEach`` in Resources, for a collection that
    is a CommaDelimitedList parameter: ``&{name}`` in a logical id is the value without its
    non-alphanumeric characters, ``${name}`` the value itself."""
    out = copy.deepcopy(tpl)
    resources: dict[str, Any] = {}
    for key, value in out["Resources"].items():
        if not FOREACH.match(key):
            resources[key] = value
            continue
        name, collection, fragment = value
        items = [item.strip() for item in params[collection["Ref"]].split(",")]
        for item in items:
            for id_template, body in fragment.items():
                logical_id = id_template.replace("&{" + name + "}", re.sub(r"\W|_", "", item))
                logical_id = logical_id.replace("${" + name + "}", item)
                assert logical_id not in resources, f"duplicate logical id {logical_id}"
                resources[logical_id] = _substitute(body, name, item)
    out["Resources"] = resources
    transforms = out["Transform"]
    assert transforms[0] == "AWS::LanguageExtensions", "expansion runs first"
    out["Transform"] = transforms[1]
    return out


def _transform(source: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    tpl = _expand_foreach(source, params)
    tpl["Globals"]["Function"]["CodeUri"] = "s3://dasalert-artifacts/dasalert.zip"  # sam package
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")  # SAM resolves AWS::Region offline from it
        return transform(tpl, params, NoManagedPolicies())


@pytest.fixture(scope="module")
def transformed(source: dict[str, Any]) -> dict[str, Any]:
    return _transform(source, CLUSTER_PARAMS)


def _resources(tpl: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in tpl["Resources"].items() if v["Type"] == rtype}


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["Statement"]


def test_sam_transforms_and_cfn_lint_finds_no_error(transformed: dict[str, Any]) -> None:
    matches = lint(json.dumps(transformed), regions=["us-east-1"])
    errors = [str(m) for m in matches if m.rule.id.startswith("E")]
    assert errors == []
    warnings = [str(m) for m in matches if m.rule.id.startswith("W")]
    assert warnings == []


def test_every_optional_resource_on_transforms_and_lints_clean(source: dict[str, Any]) -> None:
    out = _transform(source, FULL_PARAMS)
    assert [str(m) for m in lint(json.dumps(out), regions=["us-east-1"])] == []


def test_instance_resource_ids_transform_too(source: dict[str, Any]) -> None:
    params = dict(
        CLUSTER_PARAMS,
        ResourceIds="db-ABCDEFGHIJ",
        SlackWebhookSecretArn="",
        AlertEmail="",
        SecurityHubEnabled="false",
    )
    out = _transform(source, params)
    assert [str(m) for m in lint(json.dumps(out), regions=["us-east-1"])] == []


def test_function_runtime_and_kinesis_event_source(transformed: dict[str, Any]) -> None:
    fn = transformed["Resources"]["StreamFunction"]["Properties"]
    assert fn["Runtime"] == "python3.12"
    assert fn["Architectures"] == ["arm64"]
    assert fn["Handler"] == "handlers.kinesis.handler"
    env = fn["Environment"]["Variables"]
    for var in (
        "DASALERT_RULES",
        "SNS_TOPIC_ARN",
        "SLACK_WEBHOOK_SECRET_ARN",
        "SECURITYHUB_ENABLED",
        "DASALERT_STATE_TABLE",
        "DASALERT_DLQ_URL",
        "LOG_LEVEL",
    ):
        assert var in env, var
    # each record's stream ARN names its database: no stack-wide resource id
    assert "DASALERT_RESOURCE_ID" not in env
    (esm,) = _resources(transformed, "AWS::Lambda::EventSourceMapping").values()
    p = esm["Properties"]
    assert p["FunctionName"] == {"Ref": "StreamFunction"}
    assert p["EventSourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}"
        ":stream/aws-rds-das-cluster-ABCDEFGHIJ"
    }
    assert p["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert p["BisectBatchOnFunctionError"] is True
    assert p["StartingPosition"] == {"Ref": "StartingPosition"}
    assert p["MaximumRetryAttempts"] >= 1
    assert p["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["FailedBatchBucket", "Arn"]
    }
    for key in ("BatchSize", "MaximumBatchingWindowInSeconds"):
        assert key in p


def _kms_statements(source: dict[str, Any]) -> list[dict[str, Any]]:
    role = source["Resources"]["StreamFunctionRole"]["Properties"]
    stmts = _statements(role["Policies"][0]["PolicyDocument"])
    return [s for s in stmts if s.get("Sid", "").startswith("Decrypt") and "DataKeys" in s["Sid"]]


def _allows(stmt: dict[str, Any], context: dict[str, str], ids: list[str]) -> bool:
    """IAM's verdict on one statement's condition for a request's encryption context, with
    ``Ref: ResourceIds`` bound to ``ids``: keys and operators are ANDed, a list is any-of, and
    a key missing from the request fails StringEquals/StringLike."""

    def values(v: Any) -> list[str]:
        if v == {"Ref": "ResourceIds"}:
            return ids
        return v if isinstance(v, list) else [v]

    for op, conds in stmt["Condition"].items():
        for key, wanted in conds.items():
            got = context.get(key.removeprefix("kms:EncryptionContext:"))
            if got is None:
                return False
            match = (lambda a, b: a == b) if op == "StringEquals" else fnmatchcase
            assert op in ("StringEquals", "StringLike"), op
            if not any(match(got, w) for w in values(wanted)):
                return False
    return True


@pytest.mark.parametrize("ids", [["cluster-ABCDEFGHIJ"], ["db-ABCDEFGHIJ"], MANY_IDS])
def test_kms_decrypt_exactly_under_the_listed_encryption_contexts(
    source: dict[str, Any], ids: list[str]
) -> None:
    stmts = _kms_statements(source)
    assert len(stmts) == 2
    for stmt in stmts:
        assert stmt["Action"] == "kms:Decrypt"
        assert stmt["Resource"] == {"Ref": "KmsKeyArns"}
    # every context RDS could use for a listed or an unlisted database, each kind of key
    others = ["cluster-OTHER", "db-OTHER"]
    allowed = set()
    for key in ("aws:rds:dbc-id", "aws:rds:db-id"):
        for rid in ids + others:
            if any(_allows(s, {key: rid}, ids) for s in stmts):
                allowed.add((key, rid))
    expected = {
        ("aws:rds:dbc-id" if rid.startswith("cluster-") else "aws:rds:db-id", rid) for rid in ids
    }
    assert allowed == expected
    assert not any(_allows(s, {}, ids) for s in stmts)  # no context, no decrypt


def test_no_wildcard_resource_or_action_in_function_permissions(
    transformed: dict[str, Any],
) -> None:
    docs = []
    for role in _resources(transformed, "AWS::IAM::Role").values():
        docs += [p["PolicyDocument"] for p in role["Properties"].get("Policies", [])]
    for pol in _resources(transformed, "AWS::IAM::ManagedPolicy").values():
        docs.append(pol["Properties"]["PolicyDocument"])
    flat = json.dumps(docs)
    assert '"*"' not in flat
    # The only patterns: the activity streams of this account and region (their names are
    # fixed by RDS), and the kind of resource id each KMS context key takes.
    streams = "arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/aws-rds-das-*"
    patterns = set(re.findall(r'"([^"]*\*[^"]*)"', flat))
    # and the archive's objects, in the bucket the stack made or was given
    objects = {"${ArchiveBucketStore.Arn}/*", "arn:${AWS::Partition}:s3:::${ArchiveBucket}/*"}
    objects.add("${FailedBatchBucket.Arn}/*")  # Lambda writes exhausted batches there
    # RDS Describe* filtered by resource id is authorized on the identifier wildcard
    rds = {
        f"arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:{kind}:*"
        for kind in ("cluster", "db")
    }
    assert patterns == {streams, "cluster-*", "db-*", *objects, *rds}


def test_each_output_permission_names_exactly_one_resource(source: dict[str, Any]) -> None:
    stmts = _statements(source["Resources"]["OutputsPolicy"]["Properties"]["PolicyDocument"])
    plain = {s["Sid"]: s for s in stmts if "Sid" in s}
    conditional = {s["Fn::If"][1]["Sid"]: s["Fn::If"] for s in stmts if "Fn::If" in s}
    assert plain["PublishAlerts"]["Action"] == "sns:Publish"
    assert plain["PublishAlerts"]["Resource"] == {"Ref": "AlertTopic"}
    assert plain["DeadLetter"]["Action"] == "sqs:SendMessage"
    assert plain["DeadLetter"]["Resource"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert plain["StateTable"]["Resource"] == {"Fn::GetAtt": ["StateTable", "Arn"]}
    assert "dynamodb:Scan" not in plain["StateTable"]["Action"]
    assert "dynamodb:DeleteTable" not in plain["StateTable"]["Action"]
    cond, secret, absent = conditional["SlackWebhookSecret"]
    assert (cond, absent) == ("HasSlack", {"Ref": "AWS::NoValue"})
    assert secret["Action"] == "secretsmanager:GetSecretValue"
    assert secret["Resource"] == {"Ref": "SlackWebhookSecretArn"}
    names = plain["NameTheDatabases"]  # read-only, this account's and region's databases
    assert names["Action"] == ["rds:DescribeDBClusters", "rds:DescribeDBInstances"]
    assert [r["Fn::Sub"].split(":")[-2:] for r in names["Resource"]] == [
        ["cluster", "*"],
        ["db", "*"],
    ]
    assert all("${AWS::AccountId}" in r["Fn::Sub"] for r in names["Resource"])
    cond, hub, absent = conditional["ImportFindings"]
    assert (cond, absent) == ("SecurityHubOn", {"Ref": "AWS::NoValue"})
    assert hub["Action"] == "securityhub:BatchImportFindings"
    assert hub["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}"
        ":product/${AWS::AccountId}/default"
    }


def test_encryption_ttl_alarms_and_retention(transformed: dict[str, Any]) -> None:
    res = transformed["Resources"]
    assert res["AlertTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlertTopicKey"}
    table = res["StateTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    alarms = {
        a["Properties"]["MetricName"]
        for a in _resources(transformed, "AWS::CloudWatch::Alarm").values()
    }
    assert {"IteratorAge", "Errors", "ApproximateNumberOfMessagesVisible"} <= alarms
    for group in _resources(transformed, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    (rule,) = _resources(transformed, "AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"].startswith("rate(")
    health = res["HealthFunction"]["Properties"]
    assert health["Handler"] == "handlers.health.handler"
    health_env = health["Environment"]["Variables"]
    assert "DASALERT_HEARTBEAT_MAX_SILENCE" in health_env
    # merged with the Globals: the watchdog reads the table and alerts through the same outputs
    assert {"DASALERT_STATE_TABLE", "SNS_TOPIC_ARN", "DASALERT_DLQ_URL"} <= set(health_env)


def test_lambda_console_output_carries_no_sql(transformed: dict[str, Any]) -> None:
    """Experimental rules' alerts go to the console (CloudWatch Logs) by default: the function is
    configured so those lines hold no SQL text."""
    from engine.outputs.console import ConsoleOutput
    from engine.outputs.routing import Router

    env = transformed["Resources"]["StreamFunction"]["Properties"]["Environment"]["Variables"]
    assert env["CONSOLE_INCLUDE_SQL"] == "false"
    assert "DASALERT_STAGING_OUTPUTS" not in env  # default staging route: the console
    router = Router.from_env({"CONSOLE_INCLUDE_SQL": env["CONSOLE_INCLUDE_SQL"]})
    console = router.outputs["console"]
    assert router.staging == ("console",) and isinstance(console, ConsoleOutput)
    assert console.include_sql is False


def _store_calls_reachable_from_the_functions() -> tuple[set[str], set[str], str]:
    """The DynamoDB calls of the state store that the Lambda functions can reach, and those only
    operators' CLI commands reach (with the operator's own credentials, not the roles).

    A store method is reachable when code outside engine/cli (and outside the store) calls it,
    or a reachable method calls it; its ``self._ddb.<call>`` calls are what the roles need."""
    import ast

    store = ROOT / "engine" / "pipeline" / "state_dynamodb.py"
    code = store.read_text()
    methods: dict[str, tuple[set[str], set[str]]] = {}  # name -> (ddb calls, self calls)
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.FunctionDef):
            ddb, own = set(), set()
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
                    target = ast.unparse(call.func.value)
                    if target == "self._ddb":
                        ddb.add(call.func.attr)
                    elif target == "self":
                        own.add(call.func.attr)
            calls, own_calls = methods.setdefault(node.name, (set(), set()))
            calls |= ddb
            own_calls |= own
    runtime = [
        p.read_text()
        for p in [*(ROOT / "engine").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")]
        if "cli" not in p.relative_to(ROOT).parts and p != store
    ]
    reachable = {m for m in methods if m.startswith("__") or any(f".{m}(" in t for t in runtime)}
    frontier = list(reachable)
    while frontier:
        for callee in methods[frontier.pop()][1]:
            if callee in methods and callee not in reachable:
                reachable.add(callee)
                frontier.append(callee)

    def actions(names: set[str]) -> set[str]:
        return {
            "dynamodb:" + "".join(part.title() for part in call.split("_"))
            for name in names
            for call in methods[name][0]
        }

    needed = actions(reachable)
    return needed, actions(set(methods) - reachable) - needed, code


def test_state_table_actions_are_exactly_what_the_functions_call(source: dict[str, Any]) -> None:
    """Least privilege, checked against the code: every DynamoDB call the functions can make
    through the store is allowed, and nothing else is (operator-only calls, such as deleting a
    mute, run with the operator's credentials)."""
    needed, operator_only, code = _store_calls_reachable_from_the_functions()
    policy = source["Resources"]["OutputsPolicy"]["Properties"]["PolicyDocument"]
    (stmt,) = [s for s in _statements(policy) if s.get("Sid") == "StateTable"]
    assert set(stmt["Action"]) == needed
    assert not operator_only & set(stmt["Action"])
    # nothing the functions run may delete state: BatchWriteItem stays puts only
    assert "dynamodb:DeleteItem" not in needed
    assert "DeleteRequest" not in code


def test_alarm_key_grant_is_limited_to_this_account(source: dict[str, Any]) -> None:
    policy = source["Resources"]["AlertTopicKey"]["Properties"]["KeyPolicy"]
    (stmt,) = [s for s in _statements(policy) if s.get("Sid") == "CloudWatchAlarmsPublish"]
    assert stmt["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


# ---------------------------------------------------------------- operations and hardening


def _if(value: Any, condition: str) -> tuple[Any, Any]:
    """The (then, else) of an ``Fn::If`` on ``condition``."""
    cond, then, other = value["Fn::If"]
    assert cond == condition
    return then, other


NO_VALUE = {"Ref": "AWS::NoValue"}


def test_alarms_notify_the_ops_topic_not_the_alert_topic(transformed: dict[str, Any]) -> None:
    alarms = _resources(transformed, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 8
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": "OpsTopic"}], name
        assert props.get("OKActions", [{"Ref": "OpsTopic"}]) == [{"Ref": "OpsTopic"}], name
    res = transformed["Resources"]
    assert res["OpsTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlertTopicKey"}


def test_throttles_and_a_stopped_watchdog_raise_alarms(transformed: dict[str, Any]) -> None:
    alarms = [a["Properties"] for a in _resources(transformed, "AWS::CloudWatch::Alarm").values()]

    def on(metric: str, function: str) -> list[dict[str, Any]]:
        dims = [{"Name": "FunctionName", "Value": {"Ref": function}}]
        return [a for a in alarms if a["MetricName"] == metric and a["Dimensions"] == dims]

    for function in ("StreamFunction", "HealthFunction"):
        (throttles,) = on("Throttles", function)
        assert throttles["ComparisonOperator"] == "GreaterThanThreshold"
        assert throttles["Threshold"] == 0
    # the dead-man's switch: fewer than 1 run per 15 min, and no data at all, both alarm
    (stopped,) = on("Invocations", "HealthFunction")
    assert stopped["Statistic"] == "Sum"
    assert stopped["Period"] * stopped["EvaluationPeriods"] == 900
    assert (stopped["ComparisonOperator"], stopped["Threshold"]) == ("LessThanThreshold", 1)
    assert stopped["TreatMissingData"] == "breaching"
    (rule,) = _resources(transformed, "AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"  # 3 runs per period


def test_functions_log_json_at_the_chosen_level(
    source: dict[str, Any], transformed: dict[str, Any]
) -> None:
    from engine.pipeline.config import LOG_LEVELS

    for name in ("StreamFunction", "HealthFunction"):
        logging = transformed["Resources"][name]["Properties"]["LoggingConfig"]
        assert logging["LogFormat"] == "JSON", name
        assert logging["ApplicationLogLevel"] == {
            "Fn::FindInMap": ["LambdaLogLevel", {"Ref": "LogLevel"}, "Level"]
        }
        assert logging["LogGroup"]["Ref"].endswith("LogGroup")
    # every allowed LogLevel is one the code accepts and maps to one Lambda accepts
    lambda_levels = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
    mapping = source["Mappings"]["LambdaLogLevel"]
    for level in source["Parameters"]["LogLevel"]["AllowedValues"]:
        assert level in LOG_LEVELS
        assert mapping[level]["Level"] in lambda_levels


def test_logs_queues_and_state_are_kept_when_the_stack_goes(source: dict[str, Any]) -> None:
    res = source["Resources"]
    kept = [
        n
        for n, r in res.items()
        if not FOREACH.match(n)
        and r["Type"] in ("AWS::Logs::LogGroup", "AWS::SQS::Queue", "AWS::DynamoDB::Table")
    ]
    assert len(kept) == 7  # + the optional Slack buttons and archive log groups
    for name in kept:
        assert res[name]["DeletionPolicy"] == "Retain", name
        assert res[name]["UpdateReplacePolicy"] == "Retain", name
        # a kept resource with a fixed name would block re-creating a stack of the same name
        assert not {"LogGroupName", "QueueName", "TableName"} & set(res[name]["Properties"])
    table = res["StateTable"]["Properties"]
    assert table["DeletionProtectionEnabled"] is True
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_queues_and_logs_use_the_customer_key_when_given(source: dict[str, Any]) -> None:
    res = source["Resources"]
    key = {"Ref": "DataEncryptionKeyArn"}
    for name in ("DeadLetterQueue",):
        props = res[name]["Properties"]
        assert _if(props["KmsMasterKeyId"], "HasDataKey") == (key, NO_VALUE)
        assert _if(props["SqsManagedSseEnabled"], "HasDataKey") == (NO_VALUE, True)
    for name in ("StreamLogGroup", "HealthLogGroup", "SlackActionsLogGroup"):
        assert _if(res[name]["Properties"]["KmsKeyId"], "HasDataKey") == (key, NO_VALUE)
    stmts = _statements(res["OutputsPolicy"]["Properties"]["PolicyDocument"])
    (queues,) = [s["Fn::If"] for s in stmts if "Fn::If" in s and s["Fn::If"][0] == "HasDataKey"]
    stmt = queues[1]
    assert stmt["Resource"] == key
    assert set(stmt["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert stmt["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"}}
    }


def test_encrypted_stream_key_is_usable_only_through_kinesis(source: dict[str, Any]) -> None:
    role = source["Resources"]["StreamFunctionRole"]["Properties"]
    stmts = _statements(role["Policies"][0]["PolicyDocument"])
    (stream_key,) = [
        s["Fn::If"] for s in stmts if "Fn::If" in s and s["Fn::If"][0] == "HasStreamKey"
    ]
    stmt, absent = stream_key[1], stream_key[2]
    assert absent == NO_VALUE
    assert (stmt["Action"], stmt["Resource"]) == ("kms:Decrypt", {"Ref": "StreamEncryptionKeyArn"})
    assert stmt["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "kinesis.${AWS::Region}.amazonaws.com"}},
        "StringLike": {
            "kms:EncryptionContext:aws:kinesis:arn": {
                "Fn::Sub": "arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}"
                ":stream/aws-rds-das-*"
            }
        },
    }


def test_only_the_functions_publish_alerts_and_only_alarms_publish_to_ops(
    source: dict[str, Any],
) -> None:
    res = source["Resources"]
    roles = [
        {"Fn::GetAtt": ["StreamFunctionRole", "Arn"]},
        {"Fn::GetAtt": ["HealthFunctionRole", "Arn"]},
        {"Fn::GetAtt": ["ReplayRole", "Arn"]},  # `dasalert replay` delivers what they could not
    ]
    (deny,) = _statements(res["AlertTopicPolicy"]["Properties"]["PolicyDocument"])
    assert (deny["Effect"], deny["Action"]) == ("Deny", "sns:Publish")
    assert deny["Condition"] == {"StringNotEquals": {"aws:PrincipalArn": roles}}
    assert res["AlertTopicPolicy"]["Properties"]["Topics"] == [{"Ref": "AlertTopic"}]
    allow, deny = _statements(res["OpsTopicPolicy"]["Properties"]["PolicyDocument"])
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert (deny["Effect"], deny["Action"]) == ("Deny", "sns:Publish")
    assert deny["Condition"] == {"Bool": {"aws:PrincipalIsAWSService": "false"}}


def test_parameters_reach_the_event_source_and_the_environment(
    transformed: dict[str, Any],
) -> None:
    (esm,) = _resources(transformed, "AWS::Lambda::EventSourceMapping").values()
    p = esm["Properties"]
    assert p["ParallelizationFactor"] == {"Ref": "ParallelizationFactor"}
    assert p["MaximumBatchingWindowInSeconds"] == {"Ref": "BatchingWindowSeconds"}
    assert p["BatchSize"] == {"Ref": "BatchSize"}
    env = transformed["Resources"]["StreamFunction"]["Properties"]["Environment"]["Variables"]
    for var, param in (
        ("SLACK_MIN_SEVERITY", "SlackMinSeverity"),
        ("SLACK_CHANNELS", "SlackChannels"),
        ("SLACK_BOT_TOKEN_SECRET_ARN", "SlackBotTokenSecretArn"),
        ("DASALERT_MESSAGE_READER", "MessageReader"),
        ("DASALERT_VERIFY_SIGNATURE", "VerifySignature"),
    ):
        assert env[var] == {"Ref": param}, var


def test_decoder_parameters_match_what_the_code_accepts(source: dict[str, Any]) -> None:
    from engine.das.message import Mode

    params = source["Parameters"]
    assert set(params["MessageReader"]["AllowedValues"]) == {m.value for m in Mode}
    assert params["MessageReader"]["Default"] == Mode.NATIVE.value
    assert set(params["VerifySignature"]["AllowedValues"]) == {"true", "false"}
    assert set(params["SlackMinSeverity"]["AllowedValues"]) == {
        "info",
        "low",
        "medium",
        "high",
        "critical",
    }


# ---------------------------------------------------------------- many streams, one stack


def test_one_event_source_mapping_per_listed_database(source: dict[str, Any]) -> None:
    out = _transform(source, MANY_PARAMS)
    assert [str(m) for m in lint(json.dumps(out), regions=["us-east-1"])] == []
    esms = _resources(out, "AWS::Lambda::EventSourceMapping")
    arns = {
        e["Properties"]["EventSourceArn"]["Fn::Sub"].rsplit("aws-rds-das-", 1)[1]
        for e in esms.values()
    }
    assert arns == set(MANY_IDS)
    assert len(esms) == len(MANY_IDS)
    for esm in esms.values():
        p = esm["Properties"]
        assert p["FunctionName"] == {"Ref": "StreamFunction"}
        assert p["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert p["ParallelizationFactor"] == {"Ref": "ParallelizationFactor"}
    # one function, one watchdog (and the optional Slack buttons function), one table, one
    # topic for all twenty
    functions = _resources(out, "AWS::Lambda::Function").values()
    assert len([f for f in functions if "Condition" not in f]) == 2
    assert len(_resources(out, "AWS::DynamoDB::Table")) == 1


def test_each_stream_arn_names_its_database_for_the_decoder(source: dict[str, Any]) -> None:
    """The function has no stack-wide resource id: the decoder takes each record's database from
    the stream ARN the mapping reads, which must therefore have the name RDS gives it."""
    from engine.das.sources import resource_id_from_arn

    out = _transform(source, MANY_PARAMS)
    for esm in _resources(out, "AWS::Lambda::EventSourceMapping").values():
        arn = esm["Properties"]["EventSourceArn"]["Fn::Sub"]
        arn = arn.replace("${AWS::Partition}", "aws").replace("${AWS::Region}", "us-east-1")
        arn = arn.replace("${AWS::AccountId}", "123456789012")
        assert resource_id_from_arn(arn) in MANY_IDS


def test_watchdog_expects_every_listed_database(source: dict[str, Any]) -> None:
    from engine.pipeline.config import Config

    env = source["Resources"]["HealthFunction"]["Properties"]["Environment"]["Variables"]
    assert env["DASALERT_EXPECTED_RESOURCES"] == {"Fn::Join": [",", {"Ref": "ResourceIds"}]}
    joined = ",".join(MANY_IDS)  # what CloudFormation's Fn::Join makes of the list
    config = Config.from_env({"DASALERT_RULES": "rules", "DASALERT_EXPECTED_RESOURCES": joined})
    assert list(config.expected_resources) == MANY_IDS


@pytest.mark.parametrize("ids", ["cluster-ABCDEFGHIJ", ",".join(MANY_IDS)])
def test_cfn_lint_expands_and_accepts_the_source_template(ids: str) -> None:
    """What `sam validate --lint` runs: cfn-lint on the template as written, expanding
    Fn::ForEach itself, for one database and for twenty."""
    text = (ROOT / "template.yaml").read_text()
    params = [{**CLUSTER_PARAMS, "ResourceIds": ids}]
    matches = lint(text, regions=["us-east-1"], config=ManualArgs(parameters=params))
    assert [str(m) for m in matches] == []


def test_cfn_lint_checks_inside_the_loop() -> None:
    """The test above would pass if cfn-lint skipped Fn::ForEach: an error in the loop's body
    must be found."""
    text = (ROOT / "template.yaml").read_text()
    broken = text.replace("          BatchSize: !Ref BatchSize", '          BatchSize: "many"')
    assert broken != text
    matches = lint(broken, regions=["us-east-1"], config=ManualArgs(parameters=[CLUSTER_PARAMS]))
    assert any(m.rule.id == "E3012" for m in matches)


@pytest.mark.parametrize(
    ("ids", "accepted"),
    [
        ("", False),  # the default: only there for SAM CLI's offline expansion
        ("cluster-A1,,db-B2", False),
        ("cluster-A1,", False),
        ("cluster-A1", True),
        (",".join(MANY_IDS), True),
    ],
)
def test_deploying_without_resource_ids_is_refused(
    source: dict[str, Any], transformed: dict[str, Any], ids: str, accepted: bool
) -> None:
    """CloudFormation's Rules run before any change; this one is Not(Contains(list, ""))."""
    (assertion,) = source["Rules"]["ResourceIdsGiven"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Contains": [{"Ref": "ResourceIds"}, ""]}]}
    values = ids.split(",")  # how CloudFormation splits a CommaDelimitedList
    assert ("" not in values) is accepted
    pattern = source["Parameters"]["ResourceIds"]["AllowedPattern"]
    assert all(re.fullmatch(pattern, v) for v in values)  # the pattern alone lets "" through
    assert transformed["Rules"] == source["Rules"]  # the transforms keep the rule


def test_slack_actions_function_is_optional_and_least_privilege(source: dict[str, Any]) -> None:
    """The buttons' function exists only with a signing secret, can write state items and read
    the Slack secrets, nothing else; what it writes is what engine/pipeline/interactions.py
    calls (add_once, put_mute: PutItem in the store)."""
    out = _transform(source, FULL_PARAMS)["Resources"]
    for name in ("SlackActionsFunction", "SlackActionsRole", "SlackActionsLogGroup"):
        assert out[name]["Condition"] == "HasSlackActions", name
    assert source["Conditions"]["HasSlackActions"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "SlackSigningSecretArn"}, ""]}]
    }
    fn = out["SlackActionsFunction"]["Properties"]
    assert fn["Handler"] == "handlers.slack_actions.handler"
    env = fn["Environment"]["Variables"]
    assert env["SLACK_SIGNING_SECRET_ARN"] == {"Ref": "SlackSigningSecretArn"}
    assert env["DASALERT_RESPONDERS"] == {"Ref": "SlackResponders"}
    assert env["DASALERT_STATE_TABLE"] == {"Ref": "StateTable"}
    (url,) = [r for r in out.values() if r["Type"] == "AWS::Lambda::Url"]
    assert url["Properties"]["AuthType"] == "NONE"  # Slack's signature is checked in code
    role = source["Resources"]["SlackActionsRole"]["Properties"]
    assert "ManagedPolicyArns" not in role  # not the outputs policy: no SNS, SQS, Security Hub
    stmts = _statements(role["Policies"][0]["PolicyDocument"])
    plain = {s["Sid"]: s for s in stmts if "Sid" in s}
    assert (plain["StateTable"]["Action"], plain["StateTable"]["Resource"]) == (
        "dynamodb:PutItem",
        {"Fn::GetAtt": ["StateTable", "Arn"]},
    )
    assert plain["SlackSigningSecret"]["Resource"] == {"Ref": "SlackSigningSecretArn"}
    (bot,) = [s["Fn::If"] for s in stmts if "Fn::If" in s]
    assert bot[0] == "HasSlackBot" and bot[1]["Resource"] == {"Ref": "SlackBotTokenSecretArn"}
    assert set(plain) == {"WriteOwnLogs", "StateTable", "SlackSigningSecret"}
    code = (ROOT / "engine" / "pipeline" / "interactions.py").read_text()
    calls = ("add_once", "put_mute", "store_mute", "list_mutes", "delete_mute", "incr")
    used = {m for m in calls if f".{m}(" in code or f"{m}(self.state" in code}
    assert used == {"add_once", "store_mute"}  # store_mute -> put_mute -> PutItem


@pytest.mark.parametrize("bucket", ["create", "my-existing-archive"])
def test_the_archive_transforms_and_lints_clean_with_a_new_or_given_bucket(
    source: dict[str, Any], bucket: str
) -> None:
    for params in (
        dict(CLUSTER_PARAMS, ArchiveBucket=bucket),
        dict(MANY_PARAMS, ArchiveBucket=bucket),
    ):
        out = _transform(source, params)
        assert [str(m) for m in lint(json.dumps(out), regions=["us-east-1"])] == []
    streams = _resources(out, "AWS::KinesisFirehose::DeliveryStream")
    assert len(streams) == len(MANY_IDS)  # one delivery stream per listed database


def test_the_archive_is_partitioned_as_the_reader_expects(source: dict[str, Any]) -> None:
    from engine.pipeline.archive import PREFIX_EXPRESSION

    out = _expand_foreach(source, dict(CLUSTER_PARAMS, ArchiveBucket="create"))
    (stream,) = _resources(out, "AWS::KinesisFirehose::DeliveryStream").values()
    dest = stream["Properties"]["ExtendedS3DestinationConfiguration"]
    assert dest["Prefix"] == "archive/" + PREFIX_EXPRESSION
    assert dest["DynamicPartitioningConfiguration"]["Enabled"] is True
    assert dest["CompressionFormat"] == "GZIP"
    assert dest["ErrorOutputPrefix"].startswith("errors/")
    (processor,) = dest["ProcessingConfiguration"]["Processors"]
    params = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert params["LambdaArn"] == {"Fn::GetAtt": ["ArchiveFunction", "Arn"]}
    assert params["BufferSizeInMBs"] == "1"
    fn = out["Resources"]["ArchiveFunction"]["Properties"]
    assert fn["Handler"] == "handlers.firehose.handler"
    env = fn["Environment"]["Variables"]
    assert env["DASALERT_FIREHOSE_PARTITION_KEYS"] == "true"
    assert env["DASALERT_STATE_TABLE"] == "" and env["DASALERT_OUTPUTS"] == "console"


def test_the_archive_bucket_is_private_encrypted_and_expires(source: dict[str, Any]) -> None:
    res = source["Resources"]
    bucket = res["ArchiveBucketStore"]
    props = bucket["Properties"]
    assert bucket["Condition"] == "CreateArchiveBucket" and bucket["DeletionPolicy"] == "Retain"
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["archive"]["ExpirationInDays"] == {"Ref": "ArchiveRetentionDays"}
    assert rules["errors"]["ExpirationInDays"] == 30
    (deny,) = res["ArchiveBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    # the archive function decodes only: no state table, queue, topic or secret in its role
    role = json.dumps(res["ArchiveFunctionRole"]["Properties"]["Policies"])
    assert "dynamodb" not in role and "sqs" not in role and "sns" not in role
    assert "secretsmanager" not in role
