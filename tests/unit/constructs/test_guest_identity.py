"""The guest identity: its role can only PutItem into the caller's own partition, nothing else."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from cdk_app import envelope
from tests.helpers import ROOT, Deployment, one, resources


def test_pool_allows_guests_and_not_the_classic_flow(dev: Deployment) -> None:
    pool = one(dev.identity, "AWS::Cognito::IdentityPool")["Properties"]
    assert pool["AllowUnauthenticatedIdentities"] is True
    assert pool["AllowClassicFlow"] is False


def _role_ids(template: dict[str, Any]) -> dict[str, str]:
    """'authenticated'/'unauthenticated' -> logical id of the role the pool attaches for it."""
    attachment = one(template, "AWS::Cognito::IdentityPoolRoleAttachment")["Properties"]
    return {kind: ref["Fn::GetAtt"][0] for kind, ref in attachment["Roles"].items()}


def _trust_amr(role: dict[str, Any], pool_id: str) -> str:
    """The kind of identity ``role`` trusts, once it is checked to trust only identities of the pool ``pool_id``."""
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": "cognito-identity.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"cognito-identity.amazonaws.com:aud": {"Ref": pool_id}}
    return str(statement["Condition"]["ForAnyValue:StringLike"]["cognito-identity.amazonaws.com:amr"])


def test_roles_trust_only_this_pool_for_their_kind(dev: Deployment) -> None:
    ids = _role_ids(dev.identity)
    pool_id = next(k for k, v in dev.identity["Resources"].items() if v["Type"] == "AWS::Cognito::IdentityPool")
    assert _trust_amr(dev.identity["Resources"][ids["unauthenticated"]], pool_id) == "unauthenticated"
    assert _trust_amr(dev.identity["Resources"][ids["authenticated"]], pool_id) == "authenticated"


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
        "Null": {"dynamodb:EnclosingOperation": "true"},
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


# A request as IAM sees it: condition keys with their values (absent keys absent). DynamoDB puts the item's and the
# condition expression's attribute names in dynamodb:Attributes, the key's partition in dynamodb:LeadingKeys,
# ReturnValues only when sent, and dynamodb:EnclosingOperation only for an action inside a transaction.
CALLER = "${cognito-identity.amazonaws.com:sub}"
ME = "us-east-1:11111111-2222-3333-4444-555555555555"
TRACKER_PUT = {
    "cognito-identity.amazonaws.com:sub": [ME],
    "dynamodb:LeadingKeys": [ME],
    "dynamodb:Attributes": ["pk", "sk", "topic", "subject", "events", "count", "first_ts", "last_ts", "v", "gsi1pk",
                            "gsi1sk"],
}  # fmt: skip


def _condition_holds(operator: str, policy: dict[str, Any], request: dict[str, list[str]]) -> bool:
    """IAM's documented semantics for the operators the guest statement uses; any other operator fails the test.

    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html and
    .../reference_policies_condition-single-vs-multi-valued-context-keys.html
    """
    for key, wanted in policy.items():
        allowed = {request["cognito-identity.amazonaws.com:sub"][0] if v == CALLER else v for v in _listed(wanted)}
        present = key in request
        values = request.get(key, [])
        if operator == "Null":
            (flag,) = allowed
            holds = (not present) if flag == "true" else present
        elif operator == "ForAllValues:StringEquals":
            holds = all(v in allowed for v in values)  # an absent key or empty set matches
        elif operator == "StringEqualsIfExists":
            holds = not present or (len(values) == 1 and values[0] in allowed)
        elif operator == "StringEquals":
            holds = present and len(values) == 1 and values[0] in allowed
        else:
            raise AssertionError(f"the policy uses {operator}, which this evaluator does not know")
        if not holds:
            return False
    return True


def _listed(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def _allows(statements: list[dict[str, Any]], action: str, request: dict[str, list[str]]) -> bool:
    """Allowed when an Allow statement for the action has every condition true and no Deny statement matches."""

    def matches(statement: dict[str, Any]) -> bool:
        return action in _listed(statement["Action"]) and all(
            _condition_holds(op, keys, request) for op, keys in statement.get("Condition", {}).items()
        )

    applying = [s for s in statements if matches(s)]
    return any(s["Effect"] == "Allow" for s in applying) and not any(s["Effect"] == "Deny" for s in applying)


@pytest.mark.parametrize(
    ("request_", "allowed"),
    [
        pytest.param(TRACKER_PUT, True, id="the tracker's conditional put into its own partition"),
        pytest.param({**TRACKER_PUT, "dynamodb:EnclosingOperation": ["TransactWriteItems"]}, False,
                     id="the same put inside TransactWriteItems"),
        pytest.param({**TRACKER_PUT, "dynamodb:LeadingKeys": ["us-east-1:someone-else"]}, False,
                     id="another visitor's partition"),
        pytest.param({**TRACKER_PUT, "dynamodb:ReturnValues": ["ALL_OLD"]}, False, id="ReturnValues=ALL_OLD"),
        pytest.param({**TRACKER_PUT, "dynamodb:ReturnValues": ["NONE"]}, True, id="ReturnValues=NONE"),
        pytest.param({**TRACKER_PUT, "dynamodb:Attributes": [*TRACKER_PUT["dynamodb:Attributes"], "evil"]}, False,
                     id="an attribute outside the allow-list"),
    ],
)  # fmt: skip
def test_guest_policy_decides_each_put_as_iam_would(
    dev: Deployment, request_: dict[str, list[str]], allowed: bool
) -> None:
    """The synthesized statement evaluated on requests a browser or an attacker would send."""
    assert _allows(_guest_statements(dev.identity), "dynamodb:PutItem", request_) is allowed


def test_readme_shows_the_synthesized_guest_statement(dev: Deployment) -> None:
    (statement,) = _guest_statements(dev.identity)
    (block,) = re.findall(
        r"```json\n(\{\n  \"Sid\": \"PutOwnEnvelopesOnly\".*?\n\})\n```", (ROOT / "README.md").read_text(), re.S
    )
    shown = json.loads(block)
    assert shown["Condition"] == statement["Condition"]
    assert (shown["Effect"], shown["Action"]) == (statement["Effect"], statement["Action"])
