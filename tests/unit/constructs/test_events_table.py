"""The events table: keys, cost cap, recovery, retention, the by_subject index, the analysts' read-only policy and
the operators' erase policy."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from cdk_app import envelope
from tests.helpers import Deployment, managed_policy, one, resources


def test_table_keys_are_visitor_identity_and_time(dev: Deployment) -> None:
    table = one(dev.data, "AWS::DynamoDB::Table")["Properties"]
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert {"AttributeName": "pk", "AttributeType": "S"} in table["AttributeDefinitions"]
    assert {"AttributeName": "sk", "AttributeType": "S"} in table["AttributeDefinitions"]


def test_on_demand_with_a_write_cap_from_settings(dev: Deployment, prod: Deployment) -> None:
    for deployment in (dev, prod):
        Template.from_json(deployment.data).has_resource_properties(
            "AWS::DynamoDB::Table",
            {
                "BillingMode": "PAY_PER_REQUEST",
                "OnDemandThroughput": {"MaxWriteRequestUnits": deployment.settings.write_cap_units},
            },
        )
    assert dev.settings.write_cap_units != prod.settings.write_cap_units


def test_point_in_time_recovery_and_ttl(dev: Deployment) -> None:
    Template.from_json(dev.data).has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        },
    )


def test_prod_table_is_retained_and_protected(prod: Deployment) -> None:
    table = one(prod.data, "AWS::DynamoDB::Table")
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] is True


def test_dev_table_can_be_destroyed(dev: Deployment) -> None:
    table = one(dev.data, "AWS::DynamoDB::Table")
    assert table["DeletionPolicy"] == "Delete"
    assert table["Properties"]["DeletionProtectionEnabled"] is False


def test_by_subject_index_projects_only_small_attributes(dev: Deployment) -> None:
    (gsi,) = one(dev.data, "AWS::DynamoDB::Table")["Properties"]["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "by_subject"
    assert gsi["KeySchema"] == [
        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
    ]
    assert gsi["Projection"]["ProjectionType"] == "INCLUDE"
    # Fixed-size numbers only: a guest writes topic, subject and events, and could make each ~190 KB.
    assert (
        sorted(gsi["Projection"]["NonKeyAttributes"])
        == sorted(envelope.GSI_PROJECTED)
        == [
            "count",
            "first_ts",
            "last_ts",
        ]
    )
    assert gsi["OnDemandThroughput"] == {"MaxWriteRequestUnits": dev.settings.write_cap_units}


def _analyst_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    policy = managed_policy(template, "ReadEvents")
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _table_arn(template: dict[str, Any]) -> dict[str, Any]:
    table_id = next(k for k, v in template["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table")
    return {"Fn::GetAtt": [table_id, "Arn"]}


def test_analyst_policy_reads_table_and_index_only(dev: Deployment) -> None:
    (statement,) = _analyst_statements(dev.data)
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == [
        "dynamodb:BatchGetItem",
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
    ]
    table_id = next(k for k, v in dev.data["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table")
    assert statement["Resource"] == [
        {"Fn::GetAtt": [table_id, "Arn"]},
        {"Fn::Join": ["", [{"Fn::GetAtt": [table_id, "Arn"]}, "/index/by_subject"]]},
    ]


def test_analyst_policy_grants_no_write(dev: Deployment) -> None:
    writes = ("Put", "Update", "Delete", "Write", "Create", "Restore", "Import", "Export", "*")
    for statement in _analyst_statements(dev.data):
        for action in statement["Action"]:
            assert not any(word in action for word in writes), action


def test_analyst_policy_is_unchanged_by_the_erase_policy(dev: Deployment) -> None:
    """The whole document, as before the erase policy existed: nothing moved into it, nothing merged."""
    arn = _table_arn(dev.data)
    assert managed_policy(dev.data, "ReadEvents")["Properties"] == {
        "Description": "PutOnly: read the events table and its index (no writes). Attach to analysts' roles.",
        "Path": "/",
        "PolicyDocument": {
            "Statement": [
                {
                    "Action": [
                        "dynamodb:BatchGetItem",
                        "dynamodb:DescribeTable",
                        "dynamodb:GetItem",
                        "dynamodb:Query",
                        "dynamodb:Scan",
                    ],
                    "Effect": "Allow",
                    "Resource": [arn, {"Fn::Join": ["", [arn, "/index/by_subject"]]}],
                    "Sid": "ReadEvents",
                }
            ],
            "Version": "2012-10-17",
        },
    }


def _erase_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return managed_policy(template, "EraseEnvelopes")["Properties"]["PolicyDocument"]["Statement"]


def test_erase_policy_queries_and_deletes_on_the_table_only(dev: Deployment, prod: Deployment) -> None:
    for deployment in (dev, prod):
        (statement,) = _erase_statements(deployment.data)
        assert statement == {
            "Sid": "EraseEnvelopes",
            "Effect": "Allow",
            "Action": ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:Query"],
            "Resource": _table_arn(deployment.data),  # one resource: the table ARN, not the index, no wildcard
        }


def test_erase_policy_cannot_put_update_scan_or_reach_the_index(dev: Deployment) -> None:
    (statement,) = _erase_statements(dev.data)
    actions = statement["Action"]
    for refused in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Scan", "dynamodb:GetItem", "dynamodb:*"):
        assert refused not in actions
    assert not [a for a in actions if "*" in a]
    assert "index" not in json.dumps(statement["Resource"])
    assert "NotAction" not in statement and "NotResource" not in statement and "Condition" not in statement


def test_two_separate_policies_attached_to_no_one(dev: Deployment) -> None:
    """Operators attach them (README); neither is merged into the other or given to a role of this app."""
    policies = resources(dev.data, "AWS::IAM::ManagedPolicy")
    assert len(policies) == 2
    for policy in policies:
        assert not {"Roles", "Users", "Groups"} & set(policy["Properties"])
    (erase,) = _erase_statements(dev.data)
    (read,) = _analyst_statements(dev.data)
    assert set(erase["Action"]) & set(read["Action"]) == {"dynamodb:DescribeTable", "dynamodb:Query"}
