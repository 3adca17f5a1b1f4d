"""The guest identity: its role can only PutItem into the caller's own partition, nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from cdk_app import envelope
from tests.helpers import Deployment, one, resources


def test_pool_allows_guests_and_not_the_classic_flow(dev: Deployment) -> None:
    pool = one(dev.identity, "AWS::Cognito::IdentityPool")["Properties"]
    assert pool["AllowUnauthenticatedIdentities"] is True
    assert pool["AllowClassicFlow"] is False


def _role_ids(template: dict[str, Any]) -> dict[str, str]:
    """'authenticated'/'unauthenticated' -> logical id of the role the pool attaches for it."""
    attachment = one(template, "AWS::Cognito::IdentityPoolRoleAttachment")["Properties"]
    return {kind: ref["Fn::GetAtt"][0] for kind, ref in attachment["Roles"].items()}


def _trust_amr(role: dict[str, Any]) -> str:
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": "cognito-identity.amazonaws.com"}
    assert "cognito-identity.amazonaws.com:aud" in statement["Condition"]["StringEquals"]
    return str(statement["Condition"]["ForAnyValue:StringLike"]["cognito-identity.amazonaws.com:amr"])


def test_roles_trust_only_this_pool_for_their_kind(dev: Deployment) -> None:
    ids = _role_ids(dev.identity)
    assert _trust_amr(dev.identity["Resources"][ids["unauthenticated"]]) == "unauthenticated"
    assert _trust_amr(dev.identity["Resources"][ids["authenticated"]]) == "authenticated"


def _guest_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    guest = _role_ids(template)["unauthenticated"]
    policies = [p for p in resources(template, "AWS::IAM::Policy") if {"Ref": guest} in p["Properties"]["Roles"]]
    assert len(policies) == 1, "the guest role must carry exactly one policy"
    return policies[0]["Properties"]["PolicyDocument"]["Statement"]


def test_guest_policy_is_exactly_one_put_item_statement(dev: Deployment) -> None:
    (statement,) = _guest_statements(dev.identity)
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "dynamodb:PutItem"
    assert "NotAction" not in statement and "NotResource" not in statement


@pytest.mark.parametrize("forbidden", ["dynamodb:BatchWriteItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"])
def test_guest_cannot_batch_write_update_or_delete(dev: Deployment, forbidden: str) -> None:
    actions = [s["Action"] for s in _guest_statements(dev.identity)]
    assert forbidden not in actions
    assert not any("*" in a for a in actions)


def test_guest_writes_only_the_events_table(dev: Deployment) -> None:
    (statement,) = _guest_statements(dev.identity)
    # A single import (no list, no index, no wildcard) of the data stack's export of the table's ARN.
    imported = statement["Resource"]["Fn::ImportValue"]
    assert statement["Resource"] == {"Fn::ImportValue": imported}
    (export,) = [o for o in dev.data["Outputs"].values() if o.get("Export", {}).get("Name") == imported]
    table_id = next(k for k, v in dev.data["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table")
    assert export["Value"] == {"Fn::GetAtt": [table_id, "Arn"]}


def test_guest_writes_only_its_own_partition_without_reading_back(dev: Deployment) -> None:
    (statement,) = _guest_statements(dev.identity)
    assert statement["Condition"] == {
        "ForAllValues:StringEquals": {
            "dynamodb:LeadingKeys": ["${cognito-identity.amazonaws.com:sub}"],
            "dynamodb:Attributes": list(envelope.ATTRIBUTES),
        },
        "StringEqualsIfExists": {"dynamodb:ReturnValues": "NONE"},
    }


def test_attribute_allow_list_is_the_envelope(dev: Deployment) -> None:
    (statement,) = _guest_statements(dev.identity)
    allowed = set(statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"])
    assert allowed == {
        "pk", "sk", "topic", "subject", "events", "count", "first_ts", "last_ts", "v", "gsi1pk", "gsi1sk", "expires_at"
    }  # fmt: skip


def test_authenticated_role_has_no_permissions(dev: Deployment) -> None:
    authenticated = _role_ids(dev.identity)["authenticated"]
    role = dev.identity["Resources"][authenticated]["Properties"]
    assert "Policies" not in role and "ManagedPolicyArns" not in role
    for policy in resources(dev.identity, "AWS::IAM::Policy") + resources(dev.identity, "AWS::IAM::ManagedPolicy"):
        assert {"Ref": authenticated} not in policy["Properties"].get("Roles", [])
