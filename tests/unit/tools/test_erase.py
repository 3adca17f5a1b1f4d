"""putonly-erase's pure logic: identity ids, counting forged items, batches of 25, and the retries (throttling by
botocore's retry config, unprocessed items by its own backoff), in process. The real command against the local stack
is tested in tests/e2e/test_erase.py."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from cdk_app import envelope
from cdk_app.tools import erase
from cdk_app.tools.erase import (
    BACKOFF_CAP,
    BATCH,
    REQUIRED_ACTIONS,
    RETRIES,
    UNPROCESSED_ATTEMPTS,
    Eraser,
    confirm,
    identity_problem,
)
from cdk_app.tools.session import ToolError, describe_error
from tests.helpers import ENV, MALFORMED, ROOT, Deployment, envelope_item, managed_policy

VISITOR = "us-east-1:0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0"
OTHER = "eu-central-1:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"

# Identity ids


@pytest.mark.parametrize(
    "identity",
    [
        VISITOR,
        OTHER,
        "us-gov-west-1:12345678-90ab-cdef-1234-567890abcdef",
        "ap-southeast-2:00000000-0000-0000-0000-000000000000",
    ],
)
def test_cognito_identity_ids_are_accepted(identity: str) -> None:
    assert identity_problem(identity) is None


@pytest.mark.parametrize(
    "identity",
    [
        "",
        "us-east-1",
        "0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0",  # the uuid without its region
        "us-east-1:",
        "us-east-1:visitor",
        "us-east-1:0F1E2D3C-4B5A-4978-8796-A5B4C3D2E1F0",  # Cognito writes lower case; this would match nothing
        "us-east-1:0f1e2d3c4b5a49788796a5b4c3d2e1f0",
        "us-east-1:0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0\n",
        " us-east-1:0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0",
        "us-east-1:0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0:extra",
        "useast1:0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0",
        "us-east-1:us-east-1:0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0",
    ],
)
def test_anything_else_names_what_is_expected(identity: str) -> None:
    problem = identity_problem(identity)
    assert problem is not None and "\n" not in problem
    assert problem.startswith(f"--identity {identity!r} is not a Cognito identity id: expected <region>:<uuid>")
    assert identity_problem(erase.EXAMPLE) is None, "the example it gives is one"


# The policy: what the command calls is what ErasePolicyArn grants

OPERATIONS = {"describe_table": "DescribeTable", "query": "Query", "batch_write_item": "BatchWriteItem"}


def test_every_call_the_command_makes_is_a_required_action() -> None:
    source = (ROOT / "cdk_app" / "tools" / "erase.py").read_text()
    calls = set(re.findall(r"client\.(\w+)\(", source))
    assert calls == set(OPERATIONS), calls ^ set(OPERATIONS)
    assert {f"dynamodb:{OPERATIONS[c]}" for c in calls} == set(REQUIRED_ACTIONS)


def test_the_erase_policy_grants_what_the_command_needs_and_delete_item(dev: Deployment) -> None:
    (statement,) = managed_policy(dev.data, "EraseEnvelopes")["Properties"]["PolicyDocument"]["Statement"]
    assert set(statement["Action"]) == {*REQUIRED_ACTIONS, "dynamodb:DeleteItem"}  # DeleteItem: for one item by hand


# A partition in process: Query pages with projection, BatchWriteItem with scripted unprocessed items


class FakeTable:
    """The calls putonly-erase makes, on a dict of items; ``unprocessed`` scripts how many of each batch come back."""

    def __init__(self, items: list[dict[str, Any]], unprocessed: Iterator[int] | None = None) -> None:
        self.items = {(i["pk"]["S"], i["sk"]["S"]): i for i in items}
        self.unprocessed = unprocessed or iter(())
        self.batches: list[int] = []
        self.queries: list[dict[str, Any]] = []

    def query(self, **request: Any) -> dict[str, Any]:
        self.queries.append(request)
        assert request["ConsistentRead"] is True
        names, values = request["ExpressionAttributeNames"], request["ExpressionAttributeValues"]
        condition = request["KeyConditionExpression"]
        assert condition in ("#pk = :identity", "#pk = :identity AND #sk <= :upto") and names["#pk"] == "pk"
        wanted = [names[a.strip()] for a in request["ProjectionExpression"].split(",")]
        identity = values[":identity"]["S"]
        forward = request.get("ScanIndexForward", True)
        keys = sorted((k for k in self.items if k[0] == identity), reverse=not forward)
        if ":upto" in values:
            assert names["#sk"] == "sk"
            keys = [k for k in keys if k[1] <= values[":upto"]["S"]]
        start = request.get("ExclusiveStartKey")
        if start:
            keys = [k for k in keys if (k[1] > start["sk"]["S"]) == forward and k[1] != start["sk"]["S"]]
        page = keys[: request["Limit"]]
        reply: dict[str, Any] = {"Items": [{n: self.items[k][n] for n in wanted if n in self.items[k]} for k in page]}
        if len(keys) > len(page):
            reply["LastEvaluatedKey"] = {"pk": {"S": page[-1][0]}, "sk": {"S": page[-1][1]}}
        return reply

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        (requests,) = RequestItems.values()
        assert len(requests) <= BATCH
        assert all(set(r) == {"DeleteRequest"} and set(r["DeleteRequest"]["Key"]) == {"pk", "sk"} for r in requests)
        self.batches.append(len(requests))
        left = min(next(self.unprocessed, 0), len(requests))
        for request in requests[: len(requests) - left]:
            key = request["DeleteRequest"]["Key"]
            self.items.pop((key["pk"]["S"], key["sk"]["S"]), None)
        return {"UnprocessedItems": {"T": requests[len(requests) - left :]} if left else {}}


def _envelopes(identity: str, n: int) -> list[dict[str, Any]]:
    return [
        envelope.item(identity=identity, sk=f"2026-01-01T00:00:00.000Z#E{i:04d}", topic="t", subject="",
                      events=json.dumps([[f"e{i}", 0, i], [f"f{i}", 1, i]]), count=2, first_ts=1, last_ts=2)
        for i in range(n)
    ]  # fmt: skip


def _eraser(table: FakeTable, sleeps: list[float], page_size: int = 500) -> Eraser:
    return Eraser(table, "T", VISITOR, page_size=page_size, sleep=sleeps.append, jitter=lambda: 1.0)


def test_counts_envelopes_and_only_the_events_of_real_envelopes() -> None:
    """A guest writes its own partition: junk count/events (every malformed shape the export rejects) never crash
    the count and add no events; honest envelopes add their events."""
    junk = [{**item, "pk": {"S": VISITOR}, "sk": {"S": f"junk{n:03d}"}} for n, (item, _) in enumerate(MALFORMED)]
    junk.append({"pk": {"S": VISITOR}, "sk": {"S": "bare"}})  # only keys
    junk.append({"pk": {"S": VISITOR}, "sk": {"S": "huge"}, "count": {"N": "1e38"}, "events": {"S": "[" * 10**6}})
    honest = [envelope_item(pk={"S": VISITOR}), *_envelopes(VISITOR, 3)]
    table = FakeTable([*junk, *honest, *_envelopes(OTHER, 4)])
    tally = _eraser(table, []).count()
    assert (tally.envelopes, tally.events, tally.not_envelopes) == (len(junk) + 4, 2 + 3 * 2, len(junk))
    (projection,) = {q["ProjectionExpression"] for q in table.queries if "ScanIndexForward" not in q}
    assert "#gsi1pk" not in projection and "#expires_at" not in projection, "only what the count reads"


def test_deletes_the_partition_in_batches_of_25_and_leaves_the_other_visitor() -> None:
    others = _envelopes(OTHER, 30)
    table = FakeTable([*_envelopes(VISITOR, 60), *others])
    sleeps: list[float] = []
    eraser = _eraser(table, sleeps, page_size=40)
    assert eraser.delete() == 60
    assert table.batches == [25, 15, 20], "each page's keys, 25 at a time"
    assert list(table.items.values()) == others
    assert not eraser.anything_left()
    assert {q["ProjectionExpression"] for q in table.queries} == {"#pk, #sk"}, "the deletion reads keys only"
    assert sleeps == []


class ChasedTable(FakeTable):
    """A browser still tracking under the identity: every query finds one more item, past all the others."""

    def query(self, **request: Any) -> dict[str, Any]:
        n = len(self.queries)
        assert n < 100, "still chasing what is written"
        self.items[(VISITOR, f"3000-01-01T00:00:00.000Z#{n:015d}")] = _envelopes(VISITOR, 1)[0] | {
            "sk": {"S": f"3000-01-01T00:00:00.000Z#{n:015d}"}
        }
        return super().query(**request)


def test_an_identity_written_to_while_it_is_erased_ends_and_says_so() -> None:
    """Before: counting and deleting followed the partition's next page for as long as something kept writing
    past it (a guest holding the identity id can), deleting what it wrote and never ending."""
    table = ChasedTable(_envelopes(VISITOR, 10))
    eraser = _eraser(table, [], page_size=1)
    tally = eraser.count()
    assert tally.envelopes == 11, "what was there when the count began (the last key was read first)"
    assert len(table.queries) < 20
    assert eraser.delete() == 11
    assert len(table.queries) < 40
    assert eraser.anything_left(), "what was written meanwhile is found, and the command says so"


def test_unprocessed_items_are_sent_again_after_a_growing_bounded_backoff() -> None:
    # The first batch comes back with 20, then 7, then 2 of its items unprocessed; then everything goes through.
    table = FakeTable(_envelopes(VISITOR, 25), unprocessed=iter([20, 7, 2]))
    sleeps: list[float] = []
    eraser = _eraser(table, sleeps)
    assert eraser.delete() == 25
    assert table.batches == [25, 20, 7, 2]
    assert sleeps == sorted(sleeps) and len(sleeps) == 3 and 0 < sleeps[0] < sleeps[-1] <= BACKOFF_CAP
    assert not table.items


def test_items_never_processed_stop_with_one_line_after_bounded_attempts() -> None:
    table = FakeTable(_envelopes(VISITOR, 30), unprocessed=iter([0] + [3] * 100))
    sleeps: list[float] = []
    eraser = _eraser(table, sleeps)
    with pytest.raises(ToolError) as raised:
        eraser.delete()
    message = str(raised.value)
    assert "\n" not in message
    assert message == (
        f"DynamoDB left 3 envelopes unprocessed after {UNPROCESSED_ATTEMPTS} attempts (throttled);"
        " 27 deleted so far; run the same command again to delete the rest"
    )
    assert table.batches == [25] + [5] + [3] * (UNPROCESSED_ATTEMPTS - 1)
    assert len(sleeps) == UNPROCESSED_ATTEMPTS - 1 and max(sleeps) == BACKOFF_CAP
    assert sum(sleeps) < 30, "bounded: the operator hears about it within half a minute"


# Throttled requests: botocore's standard retry mode (the client's config), on a real client with faked responses


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def _client_answering(replies: list[tuple[int, dict[str, Any]]], sent: list[str]) -> Any:
    """A DynamoDB client with erase's retry config whose requests get ``replies`` in turn (no network)."""
    client = boto3.client(
        "dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:9", config=RETRIES,
        aws_access_key_id=ENV["AWS_ACCESS_KEY_ID"], aws_secret_access_key=ENV["AWS_SECRET_ACCESS_KEY"],
    )  # fmt: skip

    def answer(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.headers["X-Amz-Target"].decode().split(".")[-1])
        status, body = replies[min(len(sent), len(replies)) - 1]
        return AWSResponse(request.url, status, {"x-amzn-RequestId": "r"}, _Body(json.dumps(body).encode()))

    client.meta.events.register("before-send.dynamodb", answer)
    return client


def _throttled(code: str) -> tuple[int, dict[str, Any]]:
    return 400, {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "Throughput exceeds the limit"}


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_throttled_batches_are_retried_by_botocore(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    waits: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", waits.append)
    sent: list[str] = []
    client = _client_answering([_throttled(code), _throttled(code), (200, {"UnprocessedItems": {}})], sent)
    eraser = Eraser(client, "T", VISITOR, sleep=lambda _: None)
    eraser.delete_batch([{"pk": {"S": VISITOR}, "sk": {"S": "s"}}])
    assert sent == ["BatchWriteItem"] * 3
    assert eraser.deleted == 1
    assert len(waits) == 2, "botocore backed off before each retry"


def test_throttling_that_never_ends_is_bounded_and_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda _: None)
    sent: list[str] = []
    client = _client_answering([_throttled("ThrottlingException")], sent)
    with pytest.raises(ClientError) as raised:
        Eraser(client, "T", VISITOR).delete_batch([{"pk": {"S": VISITOR}, "sk": {"S": "s"}}])
    assert len(sent) == 10, "the retry config's total_max_attempts"
    assert describe_error(raised.value, "T", client) == "ThrottlingException: Throughput exceeds the limit"


# The question asked on a terminal


@pytest.mark.parametrize(("typed", "confirmed"), [("y\n", True), ("YES\n", True), (" yes \n", True), ("n\n", False),
                                                  ("\n", False), ("", False), ("yess\n", False)])  # fmt: skip
def test_only_y_or_yes_confirms(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], typed: str, confirmed: bool
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))
    assert confirm("Delete 2 envelopes (3 events) of identity X from table T?") is confirmed
    assert capsys.readouterr().err == "Delete 2 envelopes (3 events) of identity X from table T? [y/N] "


def test_the_command_builds_its_client_with_the_retry_config(monkeypatch: pytest.MonkeyPatch) -> None:
    built: dict[str, Any] = {}

    class Session:
        def client(self, service: str, **options: Any) -> Any:
            built.update(options, service=service)
            raise ToolError("stop here")

    monkeypatch.setattr(erase, "session", lambda profile, region: Session())
    assert erase.main(["--table", "T", "--identity", VISITOR, "--yes"]) == 1
    assert built["service"] == "dynamodb" and built["config"] is RETRIES


def test_what_was_deleted_is_on_stdout_also_when_something_was_written_meanwhile(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """stdout is the record to keep. Before: empty when the run ended in the "written meanwhile" error."""
    table = ChasedTable(_envelopes(VISITOR, 3))
    table.describe_table = lambda **_: {}  # type: ignore[attr-defined]

    class Session:
        def client(self, service: str, **options: Any) -> Any:
            return table

    monkeypatch.setattr(erase, "session", lambda profile, region: Session())
    assert erase.main(["--table", "T", "--identity", VISITOR, "--yes"]) == 1
    out, err = capsys.readouterr()
    assert out == f"erased 4 envelopes of identity {VISITOR} from T (not all)\n"
    assert err.startswith(f"putonly-erase: identity {VISITOR} still has envelopes in T after 4 were deleted")
