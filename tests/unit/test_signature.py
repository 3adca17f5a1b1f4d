"""The worker's SigV4 signature for PutItem, recomputed independently with botocore, must match.

One fixed request (the worker's real item, from seal and toItem) and a property test: a few hundred requests
generated with a seeded RNG (Unicode bodies with astral characters, lone surrogates and control characters,
regions, dates, session tokens, endpoints with and without ports and paths), all signed in one node process,
each Authorization header compared whole with the one botocore computes for the request as sent.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cdk_app import envelope
from tests.helpers import ROOT

CASES = 400
SEED = 20261127


def _node(script: str, stdin: str = "") -> Any:
    node = shutil.which("node")
    assert node, "node is needed (make setup puts Node 24 in the venv)"
    result = subprocess.run(
        [node, script], cwd=ROOT / "web_assets", input=stdin, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def captured() -> dict[str, Any]:
    return dict(_node("test/sign-capture.mjs"))


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


# The property test: generated requests


REGIONS = (
    "us-east-1", "us-west-2", "eu-central-1", "eu-south-2", "ap-southeast-4", "me-central-1", "il-central-1",
    "ca-west-1", "sa-east-1", "af-south-1", "us-gov-west-1", "cn-north-1", "cn-northwest-1", "mx-central-1",
)  # fmt: skip
BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Path characters: unreserved, sub-delimiters (kept by the URL parser, encoded in the canonical path), a space,
# non-ASCII and a stray % (percent-encoded or kept by the URL parser, then encoded once more when signing).
PATH_CHARS = "abcXYZ019-_.~!$&'()*+,;=:@ é%"


def _text(rng: random.Random, longest: int) -> str:
    """Unicode: ASCII, controls, quotes and backslashes, BMP, astral characters, now and then a lone surrogate."""
    pools = [
        lambda: chr(rng.randint(0x20, 0x7E)),
        lambda: chr(rng.randint(0x00, 0x1F)),
        lambda: rng.choice('"\\/'),
        lambda: chr(
            rng.choice([0xE9, 0xDF, 0x4E2D, 0x2028, 0x2029, 0xFEFF, 0xFFFD, 0xFFFF, rng.randint(0xA0, 0xD7FF)])
        ),
        lambda: chr(rng.randint(0x10000, 0x10FFFF)),  # astral: a surrogate pair in JavaScript, four bytes of UTF-8
        lambda: chr(rng.randint(0xD800, 0xDFFF)),  # JSON.stringify escapes it
    ]
    weights = [50, 5, 5, 20, 19, 1]
    return "".join(rng.choices(pools, weights)[0]() for _ in range(rng.randint(0, longest)))


def _endpoint(rng: random.Random, region: str) -> str:
    path = "".join(rng.choice(["/", "/", *PATH_CHARS]) for _ in range(rng.randint(0, 24)))
    if path and not path.startswith("/"):
        path = "/" + path
    port = rng.randint(1, 65535)
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return rng.choice(
        [
            f"https://dynamodb.{region}.{suffix}/",
            f"https://dynamodb.{region}.{suffix}",
            f"https://dynamodb.{region}.{suffix}:443{path}",  # a default port: not in the host that is signed
            f"http://127.0.0.1:{port}/",
            f"http://localhost:{port}{path}",
            f"http://Local-Stack.TEST:80{path}",
            f"https://ddb.example.test:{port}{path}",
            f"http://[::1]:{port}{path}",
        ]
    )


def _case(rng: random.Random) -> dict[str, Any]:
    region = rng.choice(REGIONS)
    when = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 100 * 365 * 86400))
    first_ts = int(when.timestamp() * 1000) - rng.randint(0, 3_600_000)
    events = [
        [f"E{n:015d}", rng.randint(0, 30_000), {"note": _text(rng, 80), "n": rng.randint(-(2**53), 2**53)}]
        for n in range(rng.randint(1, 6))
    ]
    sk = datetime.fromtimestamp(first_ts / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z#ENVELOPE00000001"
    item = envelope.item(
        identity=f"{region}:{uuid.UUID(int=rng.getrandbits(128))}",
        sk=sk,
        topic=rng.choice("abcdefghijklmnopqrstuvwxyz")
        + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789_.-") for _ in range(rng.randint(0, 63))),
        subject=rng.choice(["", _text(rng, 256)]),
        events=json.dumps(events, ensure_ascii=False, separators=(",", ":")),
        count=len(events),
        first_ts=first_ts,
        last_ts=first_ts + max(dt for _, dt, _ in events),
        expires_at=rng.choice([0, first_ts // 1000 + 30 * 86400]),
    )
    return {
        "endpoint": _endpoint(rng, region),
        "region": region,
        "tableName": rng.choice(["PutOnly-dev-Events", "PutOnly-prod-EventsTable1A2B3C4D-XYZ", "t.a-b_c"]),
        "datetime": when.strftime("%Y%m%dT%H%M%SZ"),
        "credentials": {
            "accessKeyId": "ASIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)),
            "secretAccessKey": "".join(rng.choice(BASE64) for _ in range(40)),
            "sessionToken": "".join(rng.choice(BASE64) for _ in range(rng.randint(16, 1200)))
            + rng.choice(["", "=", "=="]),
            "identityId": "unused",
            "expiresAt": 0,
        },
        "item": item,
    }


def _botocore_authorization(case: dict[str, Any], signed: dict[str, Any]) -> str:
    """The Authorization header botocore computes for the request as it is sent: its URL, headers and body."""
    creds = case["credentials"]
    headers = {name: value for name, value in signed["headers"].items() if name != "authorization"}
    request = AWSRequest(method="POST", url=signed["url"], data=signed["body"].encode(), headers=headers)
    request.context["timestamp"] = case["datetime"]
    auth = SigV4Auth(
        Credentials(creds["accessKeyId"], creds["secretAccessKey"], creds["sessionToken"]), "dynamodb", case["region"]
    )
    signature = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    signed_headers = auth.signed_headers(auth.headers_to_sign(request))
    return f"AWS4-HMAC-SHA256 Credential={auth.scope(request)}, SignedHeaders={signed_headers}, Signature={signature}"


@pytest.fixture(scope="module")
def generated() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    rng = random.Random(SEED)  # noqa: S311 (seeded test data, not a secret)
    cases = [_case(rng) for _ in range(CASES)]
    signed = _node("test/sign-cases.mjs", json.dumps(cases))  # ASCII JSON: lone surrogates travel as escapes
    assert len(signed) == len(cases)
    return list(zip(cases, signed, strict=True))


def test_generated_requests_are_as_varied_as_intended(generated: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Guards the generator: the cases cover what the property test claims to cover."""
    bodies = [signed["body"] for _, signed in generated]
    urls = [urlsplit(signed["url"]) for _, signed in generated]
    assert len(generated) == CASES
    assert sum(any(ord(c) > 0xFFFF for c in body) for body in bodies) > CASES // 2  # astral characters
    assert sum("\\ud" in body for body in bodies) > 10  # escaped lone surrogates
    assert sum(url.port is not None for url in urls) > CASES // 3
    assert sum(url.port is None for url in urls) > CASES // 4
    assert sum("%" in url.path for url in urls) > 20  # paths that are percent-encoded on the way
    assert sum(len(url.path) > 1 for url in urls) > CASES // 3
    assert len({case["region"] for case, _ in generated}) == len(REGIONS)
    assert len({case["datetime"][:8] for case, _ in generated}) > CASES * 0.9


def test_every_generated_request_is_signed_exactly_as_botocore_signs_it(
    generated: list[tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    mismatches = []
    for n, (case, signed) in enumerate(generated):
        sent_url = urlsplit(signed["url"])
        asked_url = urlsplit(case["endpoint"])
        assert (sent_url.scheme, sent_url.hostname) == (asked_url.scheme, asked_url.hostname), case["endpoint"]
        assert signed["headers"]["x-amz-date"] == case["datetime"]
        assert signed["headers"]["x-amz-security-token"] == case["credentials"]["sessionToken"]
        assert json.loads(signed["body"])["Item"] == case["item"]
        expected = _botocore_authorization(case, signed)
        if signed["headers"]["authorization"] != expected:
            mismatches.append((n, case["endpoint"], signed["headers"]["authorization"], expected))
    assert not mismatches, (
        f"{len(mismatches)} of {len(generated)} signatures differ from botocore's; first: {mismatches[0]}"
    )
