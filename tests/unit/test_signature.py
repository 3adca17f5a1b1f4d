"""The worker's SigV4 signature for PutItem, recomputed independently with botocore, must match."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.helpers import ROOT


@pytest.fixture(scope="module")
def captured() -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is needed (make setup puts Node 24 in the venv)"
    result = subprocess.run(
        [node, "test/sign-capture.mjs"], cwd=ROOT / "web_assets", capture_output=True, text=True, timeout=60, check=True
    )
    return dict(json.loads(result.stdout))


def _authorization_parts(header: str) -> dict[str, str]:
    algorithm, rest = header.split(" ", 1)
    assert algorithm == "AWS4-HMAC-SHA256"
    return dict(part.strip().split("=", 1) for part in rest.split(","))


def _botocore_signature(captured: dict[str, Any], body: str) -> tuple[str, str]:
    """(signature, signed headers) botocore computes for the captured request with ``body``."""
    headers = captured["headers"]
    signed = _authorization_parts(headers["authorization"])["SignedHeaders"].split(";")
    creds = captured["credentials"]
    request = AWSRequest(
        method=captured["method"],
        url=captured["url"],
        data=body.encode(),
        headers={name: headers[name] for name in signed if name != "host"},
    )
    request.context["timestamp"] = headers["x-amz-date"]
    auth = SigV4Auth(
        Credentials(creds["accessKeyId"], creds["secretAccessKey"], creds["sessionToken"]), "dynamodb", "us-east-1"
    )
    signature = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    return signature, auth.signed_headers(auth.headers_to_sign(request))


def test_signature_matches_botocore(captured: dict[str, Any]) -> None:
    parts = _authorization_parts(captured["headers"]["authorization"])
    signature, signed_headers = _botocore_signature(captured, captured["body"])
    assert parts["SignedHeaders"] == signed_headers
    assert parts["Credential"] == f"{captured['credentials']['accessKeyId']}/20231114/us-east-1/dynamodb/aws4_request"
    assert parts["Signature"] == signature


def test_signed_request_is_a_plain_put_item(captured: dict[str, Any]) -> None:
    assert captured["method"] == "POST"
    assert captured["headers"]["x-amz-target"] == "DynamoDB_20120810.PutItem"
    assert captured["headers"]["x-amz-security-token"] == captured["credentials"]["sessionToken"]
    body = json.loads(captured["body"])
    # No ReturnValues (nor ReturnValuesOnConditionCheckFailure), no update expression.
    assert set(body) == {
        "TableName",
        "Item",
        "ConditionExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
    }
    assert body["Item"]["pk"] == {"S": captured["credentials"]["identityId"]}
    # A smaller copy of the same envelope never replaces a larger one; the condition names only `count`.
    assert body["ConditionExpression"] == "attribute_not_exists(#c) OR #c <= :c"
    assert body["ExpressionAttributeNames"] == {"#c": "count"}
    assert body["ExpressionAttributeValues"] == {":c": body["Item"]["count"]}


def test_a_changed_body_changes_the_signature(captured: dict[str, Any]) -> None:
    """Guards the test itself: botocore's signature depends on the body we hand it."""
    other, _ = _botocore_signature(captured, captured["body"].replace("song_player", "song_pirate"))
    assert other != _authorization_parts(captured["headers"]["authorization"])["Signature"]
