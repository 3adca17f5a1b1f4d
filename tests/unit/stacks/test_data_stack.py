"""The Data stack: the events table, its monitoring and (in prod) bulk export composed; one snapshot; outputs."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template
from syrupy.extensions.json import JSONSnapshotExtension

from tests.helpers import Deployment, managed_policy, mask_asset_hashes


def test_snapshot(dev: Deployment, snapshot: Any) -> None:
    assert mask_asset_hashes(dev.data) == snapshot.use_extension(JSONSnapshotExtension)


def test_only_the_table_the_analyst_policy_and_monitoring(dev: Deployment) -> None:
    assert {r["Type"] for r in dev.data["Resources"].values()} - {"AWS::CDK::Metadata"} == {
        "AWS::DynamoDB::Table",
        "AWS::IAM::ManagedPolicy",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        # the event counter: a function reading the table's stream
        "AWS::Lambda::Function",
        "AWS::Lambda::EventSourceMapping",
        "AWS::Logs::LogGroup",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
    }


def test_outputs_table_name_and_analyst_policy(dev: Deployment) -> None:
    outputs = Template.from_json(dev.data).find_outputs("*")
    assert {"TableName", "AnalystPolicyArn"} <= set(outputs)


def test_outputs_each_policy_by_its_own_name(dev: Deployment, prod: Deployment) -> None:
    """ErasePolicyArn is the erase policy, AnalystPolicyArn still the read-only one (a policy's Ref is its ARN)."""
    for deployment in (dev, prod):
        outputs = Template.from_json(deployment.data).find_outputs("*")
        ids = {id(r): name for name, r in deployment.data["Resources"].items()}
        for output, sid in (("ErasePolicyArn", "EraseEnvelopes"), ("AnalystPolicyArn", "ReadEvents")):
            assert outputs[output]["Value"] == {"Ref": ids[id(managed_policy(deployment.data, sid))]}
