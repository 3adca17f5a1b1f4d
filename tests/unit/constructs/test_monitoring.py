"""Alarms, dashboard and optional email notices for the events table."""

from __future__ import annotations

import json
from typing import Any

from cdk_app.envelope import EVENTS_MAX
from tests.helpers import Deployment, one, resources


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """By metric name; an alarm on metric math under "math"."""
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm")]
    return {a.get("MetricName", "math"): a for a in alarms}


def test_four_alarms_on_the_table_and_one_on_the_event_counter(dev: Deployment) -> None:
    alarms = _alarms(dev.data)
    table_alarms = {"ThrottledRequests", "SystemErrors", "UserErrors", "ConsumedWriteCapacityUnits"}
    assert set(alarms) == table_alarms | {"math"}
    for name in ("ThrottledRequests", "SystemErrors"):
        dims = {d["Name"]: d["Value"] for d in alarms[name]["Dimensions"]}
        assert dims["Operation"] == "PutItem" and "TableName" in dims
        assert alarms[name]["Threshold"] == 1
    for name in table_alarms:
        assert alarms[name]["Namespace"] == "AWS/DynamoDB"
        assert alarms[name]["DatapointsToAlarm"] == 2
    for alarm in alarms.values():
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"


def test_one_failing_minute_of_the_event_counter_alarms(dev: Deployment) -> None:
    """After its retries a failing batch is skipped: without this alarm its events would go uncounted silently.
    It fails in two ways: the function crashes (Lambda's Errors), or it reports a record as failed, which Lambda
    counts as a success (PutOnly/CounterFailures)."""
    alarm = _alarms(dev.data)["math"]
    assert (alarm["Threshold"], alarm["DatapointsToAlarm"]) == (1, 1)
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    assert queries["expr_1"]["Expression"] == "FILL(errors, 0) + FILL(failures, 0)"
    assert queries["expr_1"].get("ReturnData", True) is True
    watched = {
        q["Id"]: (*(m["Metric"][k] for k in ("Namespace", "MetricName", "Dimensions")), m["Stat"], m["Period"])
        for q in alarm["Metrics"]
        if (m := q.get("MetricStat"))
    }
    assert all(q.get("ReturnData") is False for q in alarm["Metrics"] if q["Id"] in watched)
    function_id = next(k for k, v in dev.data["Resources"].items() if v["Type"] == "AWS::Lambda::Function")
    table_id = next(k for k, v in dev.data["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table")
    assert watched == {
        "errors": ("AWS/Lambda", "Errors", [{"Name": "FunctionName", "Value": {"Ref": function_id}}], "Sum", 60),
        "failures": ("PutOnly", "CounterFailures", [{"Name": "TableName", "Value": {"Ref": table_id}}], "Sum", 60),
    }


def test_write_alarm_sits_below_the_cap(dev: Deployment, prod: Deployment) -> None:
    for deployment in (dev, prod):
        alarm = _alarms(deployment.data)["ConsumedWriteCapacityUnits"]
        assert alarm["Statistic"] == "Sum" and alarm["Period"] == 60
        assert alarm["Threshold"] == 0.8 * deployment.settings.write_cap_units * 60


def test_without_an_email_there_is_no_topic(dev: Deployment) -> None:
    assert resources(dev.data, "AWS::SNS::Topic") == []
    for alarm in resources(dev.data, "AWS::CloudWatch::Alarm"):
        assert "AlarmActions" not in alarm["Properties"]


def test_email_notices_through_an_encrypted_tls_only_topic(with_domain: Deployment) -> None:
    topic_id = next(k for k, v in with_domain.data["Resources"].items() if v["Type"] == "AWS::SNS::Topic")
    topic = with_domain.data["Resources"][topic_id]["Properties"]
    # A key CloudWatch may use: with the AWS-managed alias/aws/sns key, CloudWatch cannot publish at all.
    (key_id,) = [k for k, v in with_domain.data["Resources"].items() if v["Type"] == "AWS::KMS::Key"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    key = with_domain.data["Resources"][key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    (statement,) = [s for s in key["KeyPolicy"]["Statement"] if s.get("Sid") == "CloudWatchAlarmsPublish"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    subscription = one(with_domain.data, "AWS::SNS::Subscription")["Properties"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "ops@example.com")
    policy = one(with_domain.data, "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy)
    # The topic policy replaces SNS's default one: CloudWatch must be let in explicitly, this account's alarms only.
    (publish,) = [s for s in policy if s["Effect"] == "Allow"]
    assert (publish["Principal"], publish["Action"]) == ({"Service": "cloudwatch.amazonaws.com"}, "sns:Publish")
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert ":cloudwatch:" in json.dumps(publish["Condition"]["ArnLike"]["aws:SourceArn"])
    assert json.dumps(publish["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(':alarm:*"]]}')
    for alarm in resources(with_domain.data, "AWS::CloudWatch::Alarm"):
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    assert "AlarmTopicArn" in with_domain.data["Outputs"]


def test_dashboard_shows_events_envelopes_write_units_errors_and_alarms(dev: Deployment) -> None:
    body = json.dumps(one(dev.data, "AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"])
    for text in ("Events and envelopes stored per minute", "Write units per minute", "Errors per minute", "Alarms"):
        assert text in body
    assert '\\"PutOnly\\",\\"Events\\"' in body  # the event counter's metric
    for metric in ("SuccessfulRequestLatency", "ConsumedWriteCapacityUnits", "ThrottledRequests", "SystemErrors"):
        assert metric in body
    assert "DashboardName" in dev.data["Outputs"]


def test_event_counter_only_reads_the_stream_and_writes_its_logs(dev: Deployment) -> None:
    (policy,) = resources(dev.data, "AWS::IAM::Policy")
    actions = {
        a
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert actions == {
        "logs:CreateLogStream", "logs:PutLogEvents",
        "dynamodb:ListStreams", "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
    }  # fmt: skip
    table = one(dev.data, "AWS::DynamoDB::Table")["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    mapping = one(dev.data, "AWS::Lambda::EventSourceMapping")["Properties"]
    assert mapping["StartingPosition"] == "LATEST" and mapping["MaximumRetryAttempts"] == 2
    role = one(dev.data, "AWS::IAM::Role")["Properties"]
    assert "ManagedPolicyArns" not in role


def test_event_counter_trusts_no_count_and_reports_the_record_that_failed(dev: Deployment, prod: Deployment) -> None:
    for deployment in (dev, prod):
        function = one(deployment.data, "AWS::Lambda::Function")["Properties"]
        # The most any envelope holds (as the export reads them), not envelopeMaxEvents, which a deploy may
        # lower while envelopes sealed under the old value still wait in outboxes.
        assert function["Environment"]["Variables"]["MAX_EVENTS"] == str(EVENTS_MAX)
    mapping = one(dev.data, "AWS::Lambda::EventSourceMapping")["Properties"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
