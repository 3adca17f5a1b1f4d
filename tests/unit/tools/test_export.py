"""The analyst policy allows exactly what the export CLI needs, the CLI starts without aws_cdk, and its pure parts."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cdk_app.tools.export import PLACE_KEYS_SAVED, REQUIRED_ACTIONS, Checkpoint, Exporter, parse_time
from cdk_app.tools.session import ToolError
from tests.helpers import ROOT, Deployment, managed_policy

OPERATIONS = {"describe_table": "DescribeTable", "query": "Query", "scan": "Scan", "batch_get_item": "BatchGetItem"}


def _analyst_actions(template: dict[str, Any]) -> set[str]:
    (statement,) = managed_policy(template, "ReadEvents")["Properties"]["PolicyDocument"]["Statement"]
    return set(statement["Action"])


def test_every_call_the_cli_makes_is_a_required_action() -> None:
    source = (ROOT / "cdk_app" / "tools" / "export.py").read_text()
    calls = set(re.findall(r"client\.(\w+)\(", source)) | set(re.findall(r"self\.client\.(\w+)\b", source))
    assert calls <= set(OPERATIONS), calls - set(OPERATIONS)
    assert {f"dynamodb:{OPERATIONS[c]}" for c in calls} <= set(REQUIRED_ACTIONS)


def test_analyst_policy_allows_what_the_cli_needs_and_no_write(dev: Deployment) -> None:
    actions = _analyst_actions(dev.data)
    assert set(REQUIRED_ACTIONS) <= actions
    assert not {a for a in actions if re.search(r"Put|Update|Delete|Write|\*", a)}


def test_cli_does_not_import_aws_cdk() -> None:
    code = "import sys, cdk_app.tools.export; print('aws_cdk' in sys.modules, 'jsii' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False False"


def test_a_checkpoint_keeps_the_rejected_count_across_a_rerun(tmp_path: Path) -> None:
    path = tmp_path / "export.ckpt"
    selection = {"table": "T", "all": True}
    saved = Checkpoint(path, selection, {"0": {"pk": {"S": "a"}}}, rows=7, rejected=3)
    saved.save()
    loaded = Checkpoint.load(path, selection)
    assert (loaded.segments, loaded.rows, loaded.rejected) == (saved.segments, 7, 3)
    # A checkpoint written before rejects were counted resumes with none.
    path.write_text(json.dumps({"selection": selection, "segments": {}, "rows": 2}))
    assert Checkpoint.load(path, selection).rejected == 0


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("not json", "not a checkpoint this command wrote"),
        ("[]", "not a checkpoint this command wrote"),
        ('{"selection": {}}', "not a checkpoint this command wrote"),
        (None, "Is a directory"),
    ],
)
def test_a_file_that_is_not_a_checkpoint_is_one_clear_error(tmp_path: Path, content: str | None, why: str) -> None:
    """Before: a traceback (JSONDecodeError, AttributeError, IsADirectoryError)."""
    path = tmp_path / "export.ckpt"
    path.mkdir() if content is None else path.write_text(content)
    with pytest.raises(ToolError) as raised:
        Checkpoint.load(path, {"table": "T"})
    assert str(raised.value) == f"cannot resume from --checkpoint {path}: {why}; name another file"


class _RewrittenMeanwhile:
    """A table whose items a guest rewrote between the index query and the read: no gsi1sk, another order, one gone.
    Throttled too: the first answer hands one key back."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(RequestItems["T"])
        keys = RequestItems["T"]["Keys"]
        found = [{**key, "topic": {"S": "t"}} for key in reversed(keys) if key["sk"]["S"] != "gone"]
        if len(self.requests) == 1:
            return {"Responses": {"T": found[1:]}, "UnprocessedKeys": {"T": {**RequestItems["T"], "Keys": keys[-1:]}}}
        return {"Responses": {"T": found}}


def test_index_entries_keep_their_order_whatever_the_items_now_hold() -> None:
    """The order comes from the index entries: a rewritten item without gsi1sk once raised KeyError."""
    table = _RewrittenMeanwhile()
    exporter = Exporter(table, "T", argparse.Namespace())
    entries = [{"pk": {"S": f"v{n}"}, "sk": {"S": sk}, "gsi1sk": {"S": sk}} for n, sk in enumerate(["a", "gone", "b"])]
    items = exporter.full_items(entries)
    assert [(i["pk"]["S"], i["sk"]["S"]) for i in items] == [("v0", "a"), ("v2", "b")]
    # Strongly consistent reads, the keys handed back asked for again: an index entry names an item already written,
    # which an eventually consistent read could miss (and then the export took it as deleted).
    assert [(r["ConsistentRead"], len(r["Keys"])) for r in table.requests] == [(True, 3), (True, 1)]


@pytest.mark.parametrize(
    ("until", "last"),
    [
        ("2026-11-30", "2026-11-30T23:59:59.999Z"),
        ("20261130", "2026-11-30T23:59:59.999Z"),
        ("2026-11-30T10:00", "2026-11-30T10:00:59.999Z"),
        ("2026-11-30T10:00:00.5", "2026-11-30T10:00:00.599Z"),
        # Week dates: fromisoformat reads them as their Monday (or the day named), which was the only millisecond
        # --until reached, so "--until 2026-W48-7" lost that Sunday.
        ("2026-W48", "2026-11-29T23:59:59.999Z"),
        ("2026W48", "2026-11-29T23:59:59.999Z"),
        ("2026-W48-7", "2026-11-29T23:59:59.999Z"),
        ("2026-W48-1T12", "2026-11-23T12:59:59.999Z"),
        ("2026-W48T12", "2026-11-23T12:59:59.999Z"),  # its Monday at 12: was read as a whole week from then
        # A date with a zone and no time is that day in that zone (fromisoformat read the zone as a time of day).
        ("2026-11-30+05:00", "2026-11-30T18:59:59.999Z"),
        ("2026-11-30Z", "2026-11-30T23:59:59.999Z"),
        ("2026-W48-7-05:00", "2026-11-30T04:59:59.999Z"),
    ],
)
def test_until_reaches_the_last_millisecond_of_what_it_names(until: str, last: str) -> None:
    assert parse_time(until, flag="--until", end=True) == last


class _OnePlace:
    """An index where a guest gave ``n`` of its items one place (the same gsi1sk under its pk), in shard 3."""

    def __init__(self, n: int) -> None:
        self.n = n

    def query(self, **request: Any) -> dict[str, Any]:
        if not request["ExpressionAttributeValues"][":key"]["S"].endswith("#3"):
            return {"Items": []}
        start = int(request.get("ExclusiveStartKey", {}).get("i", 0))
        end = min(self.n, start + request["Limit"])
        items = [
            {"pk": {"S": "us-east-1:guest"}, "sk": {"S": f"G{i:09d}"}, "gsi1sk": {"S": "2026-01-01T00:00:02.000Z#p"}}
            for i in range(start, end)
        ]
        return {"Items": items, **({"LastEvaluatedKey": {"i": end}} if end < self.n else {})}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        return {"Responses": {name: request["Keys"] for name, request in RequestItems.items()}}


def test_a_checkpoint_keeps_the_first_items_written_at_its_place() -> None:
    """What a rerun skips at the place it resumes from; at most PLACE_KEYS_SAVED of them (a guest may put millions
    there: sorting them all on every page made the export quadratic)."""
    args = argparse.Namespace(topic="t", subject="s", since=None, until=None, page_size=100)
    positions = [last for _, last in Exporter(_OnePlace(2_500), "T", args).index_pages(None)]
    assert len(positions) == 26 and positions[-1] is None
    for page, (gsi1sk, pk, saved) in enumerate(positions[:-1], start=1):
        assert (gsi1sk, pk) == ("2026-01-01T00:00:02.000Z#p", "us-east-1:guest")
        assert saved == [["us-east-1:guest", f"G{i:09d}"] for i in range(min(page * 100, PLACE_KEYS_SAVED))]


def test_since_a_date_with_a_zone_starts_at_its_midnight_there() -> None:
    assert parse_time("2026-11-30+05:00", flag="--since") == "2026-11-29T19:00:00.000Z"
    assert parse_time("20261130-0130", flag="--since") == "2026-11-30T01:30:00.000Z"
