"""putonly-export against the local stack, on events written by the real tracker in Chromium."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cdk_app import envelope
from cdk_app.local.emulator import LocalAws, MotoServer
from cdk_app.local.templates import limits_from_cdk_out
from tests.helpers import CDK_OUT, ENV, ROOT, open_page


def export(aws: LocalAws, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cdk_app.tools.export"]
    command += ["--table", aws.table_name, "--endpoint-url", aws.endpoint, *args]
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120, check=False)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def tracked(browser: Any, page_origin: str, aws: LocalAws) -> dict[str, Any]:
    """Events written through the tracker: 60 plays of two songs by one visitor, 5 of another topic."""
    context = browser.new_context()
    page = open_page(context, page_origin)
    ids = page.evaluate(
        """async () => {
            const ids = {a: [], b: [], other: []};
            for (let i = 0; i < 60; i++) {
                const song = i % 2 ? 'song-a' : 'song-b';
                ids[song.slice(-1)].push(putonly.track('export_play', {i, note: 'é,"quoted"'}, {subject: song}));
            }
            for (let i = 0; i < 5; i++) ids.other.push(putonly.track('export_other', {i}));
            await putonly.flush();
            return ids;
        }"""
    )
    identity = page.evaluate(
        """async () => {
            const r = (q) => new Promise((ok) => { q.onsuccess = () => ok(q.result); });
            const db = await r(indexedDB.open('putonly'));
            return r(db.transaction('meta').objectStore('meta').get('identityId'));
        }"""
    )
    context.close()
    return {**ids, "identity": identity}


IDENTITY_OF_PAGE = """async () => {
    const r = (q) => new Promise((ok) => { q.onsuccess = () => ok(q.result); });
    const db = await r(indexedDB.open('putonly'));
    return r(db.transaction('meta').objectStore('meta').get('identityId'));
}"""


@pytest.fixture(scope="module")
def eight_visitors(browser: Any, page_origin: str) -> dict[str, Any]:
    """Eight visitors (own browser contexts, so own identities) play one song and track a subject-less event."""
    plays, visits, identities = [], [], []
    for _ in range(8):
        context = browser.new_context()
        page = open_page(context, page_origin)
        ids = page.evaluate(
            """async () => {
                const plays = [], visits = [];
                for (let i = 0; i < 5; i++) plays.push(putonly.track('shard_play', {i}, {subject: 'hit-song'}));
                for (let i = 0; i < 3; i++) visits.push(putonly.track('shard_visit', {i}));
                await putonly.flush();
                return {plays, visits};
            }"""
        )
        plays += ids["plays"]
        visits += ids["visits"]
        identities.append(page.evaluate(IDENTITY_OF_PAGE))
        context.close()
    return {"plays": plays, "visits": visits, "identities": identities}


def _index_keys(moto: MotoServer, aws: LocalAws, topic: str) -> dict[str, str]:
    """identity -> the by_subject key of its envelopes of ``topic`` (each visitor has one)."""
    keys: dict[str, set[str]] = {}
    for page in moto.client("dynamodb").get_paginator("scan").paginate(TableName=aws.table_name):
        for item in page["Items"]:
            if item["topic"]["S"] == topic:
                keys.setdefault(item["pk"]["S"], set()).add(item[envelope.GSI_PARTITION_KEY]["S"])
    assert all(len(k) == 1 for k in keys.values()), keys
    return {identity: k.pop() for identity, k in keys.items()}


def test_one_subject_of_eight_visitors_lands_on_several_index_keys(
    eight_visitors: dict[str, Any], moto: MotoServer, aws: LocalAws
) -> None:
    shards = limits_from_cdk_out(CDK_OUT)["indexShards"]
    assert shards == 8  # dev's setting, published in config.json
    for topic, subject in (("shard_play", "hit-song"), ("shard_visit", "")):
        keys = _index_keys(moto, aws, topic)
        assert sorted(keys) == sorted(eight_visitors["identities"])
        assert len(set(keys.values())) > 1, f"eight visitors share one index key: {keys}"
        for identity, key in keys.items():
            assert key == envelope.index_key(topic, subject, envelope.index_shard(identity, shards))


def test_by_topic_and_subject_reads_every_shard_exactly_once(eight_visitors: dict[str, Any], aws: LocalAws) -> None:
    for args, expected in (
        (["--topic", "shard_play", "--subject", "hit-song"], eight_visitors["plays"]),
        (["--topic", "shard_visit"], eight_visitors["visits"]),
        (["--topic", "shard_play", "--subject", "hit-song", "--page-size", "1"], eight_visitors["plays"]),
    ):
        rows = jsonl(export(aws, *args).stdout)
        ids = [r["event_id"] for r in rows]
        assert sorted(ids) == sorted(expected), args  # every event, none twice
        # Envelopes merged from the shards in time order ("<first event's time>#<id>"); events in time in each.
        assert [r["envelope"] for r in rows] == sorted(r["envelope"] for r in rows)
        assert [r["ts_ms"] for r in rows] == sorted(r["ts_ms"] for r in rows)  # (the visitors came one by one)
        assert {r["identity"] for r in rows} == set(eight_visitors["identities"])


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_by_topic_and_subject_through_the_index(aws: LocalAws, tracked: dict[str, Any]) -> None:
    rows = jsonl(export(aws, "--topic", "export_play", "--subject", "song-a").stdout)
    # Same set, in time order (events of one millisecond may sit in different envelopes, in any order).
    assert sorted(r["event_id"] for r in rows) == sorted(tracked["a"])
    assert [r["ts_ms"] for r in rows] == sorted(r["ts_ms"] for r in rows)
    assert {r["subject"] for r in rows} == {"song-a"}
    assert {r["data"]["i"] for r in rows} == set(range(1, 60, 2))
    assert rows[0]["data"]["note"] == 'é,"quoted"'
    assert set(rows[0]) == {"event_id", "time", "ts_ms", "topic", "subject", "identity", "envelope", "data"}
    assert rows[0]["identity"] == tracked["identity"]


def test_by_identity_and_whole_table_agree(aws: LocalAws, tracked: dict[str, Any]) -> None:
    mine = {r["event_id"] for r in jsonl(export(aws, "--identity", tracked["identity"]).stdout)}
    assert mine == set(tracked["a"] + tracked["b"] + tracked["other"])
    everything = jsonl(export(aws, "--all", "--segments", "3", "--page-size", "2").stdout)
    ids = [r["event_id"] for r in everything]
    assert len(ids) == len(set(ids)), "no row twice across scan segments"
    assert mine <= set(ids)


def test_csv_to_a_file(aws: LocalAws, tracked: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "plays.csv"
    result = export(aws, "--topic", "export_play", "--subject", "song-b", "--output", str(out))
    assert "30 events written" in result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert sorted(r["event_id"] for r in rows) == sorted(tracked["b"])
    assert {json.loads(r["data"])["note"] for r in rows} == {'é,"quoted"'}


def test_time_range(aws: LocalAws, tracked: dict[str, Any]) -> None:
    rows = jsonl(export(aws, "--topic", "export_play", "--subject", "song-a").stdout)
    middle = rows[len(rows) // 2]["time"]
    later = jsonl(export(aws, "--topic", "export_play", "--subject", "song-a", "--since", middle).stdout)
    assert later and all(r["time"] >= middle for r in later)
    assert {r["event_id"] for r in rows if r["time"] >= middle} == {r["event_id"] for r in later}
    none = export(aws, "--topic", "export_play", "--subject", "song-a", "--until", "2001-01-01").stdout
    assert none == ""


def test_resume_after_an_interruption(aws: LocalAws, moto: MotoServer, tmp_path: Path) -> None:
    ddb = moto.client("dynamodb")
    expected = set()
    items = []
    for n in range(500):  # many one-event envelopes, so a one-item-per-page export takes a while
        event = f"resume{n:010d}"
        expected.add(event)
        sk = f"2026-01-01T00:{n // 600:02d}:{n // 10 % 60:02d}.{n % 10:03d}Z#R{n:015d}"
        items.append({
            "pk": {"S": "us-east-1:resume-visitor"}, "sk": {"S": sk}, "topic": {"S": "resume"},
            "events": {"S": json.dumps([[event, 0, {"n": n}]])}, "count": {"N": "1"},
            "first_ts": {"N": "1767225600000"}, "last_ts": {"N": "1767225600000"}, "v": {"N": "1"},
            "gsi1pk": {"S": "resume#"}, "gsi1sk": {"S": sk},
        })  # fmt: skip
    for i in range(0, len(items), 25):
        ddb.batch_write_item(RequestItems={aws.table_name: [{"PutRequest": {"Item": it}} for it in items[i : i + 25]]})
    out, checkpoint = tmp_path / "resume.jsonl", tmp_path / "resume.checkpoint"
    args = [
        "--identity",
        "us-east-1:resume-visitor",
        "--page-size",
        "1",
        "--output",
        str(out),
        "--checkpoint",
        str(checkpoint),
    ]
    command = [sys.executable, "-m", "cdk_app.tools.export"]
    command += ["--table", aws.table_name, "--endpoint-url", aws.endpoint, *args]
    proc = subprocess.Popen(command, cwd=ROOT, env=ENV, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not checkpoint.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted; run the same command again to resume" in err
    partial = len(out.read_text().splitlines())
    assert 1 <= partial < 500
    export(aws, *args)
    rows = jsonl(out.read_text())
    assert [r["event_id"] for r in rows] == sorted(expected)
    assert not checkpoint.exists()


def test_resume_across_index_shards(aws: LocalAws, moto: MotoServer, tmp_path: Path) -> None:
    """An interrupted topic+subject export, rerun, writes every event once, in order: the resume position is
    a place in the merged order of all shards, not one shard's."""
    ddb = moto.client("dynamodb")
    expected, items = [], []
    for n in range(320):  # 40 visitors, interleaved in time: each shard holds several, every page merges
        visitor = f"us-east-1:{n % 40:08d}-0000-4000-8000-000000000000"
        first_ts = 1767225600000 + n * 1000
        sk = f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}.000Z#R{n:015d}"
        expected.append(f"shardresume{n:05d}")
        items.append(envelope.item(
            identity=visitor, sk=sk, topic="resume_play", subject="song-9", count=1, first_ts=first_ts,
            last_ts=first_ts, events=json.dumps([[expected[-1], 0, {"n": n}]]), index_shards=8,
        ))  # fmt: skip
    assert len({item[envelope.GSI_PARTITION_KEY]["S"] for item in items}) == 8
    for i in range(0, len(items), 25):
        ddb.batch_write_item(RequestItems={aws.table_name: [{"PutRequest": {"Item": it}} for it in items[i : i + 25]]})
    out, checkpoint = tmp_path / "shards.jsonl", tmp_path / "shards.checkpoint"
    args = ["--topic", "resume_play", "--subject", "song-9", "--page-size", "1", "--since", "2026-01-01T00:00:30Z"]
    args += ["--output", str(out), "--checkpoint", str(checkpoint)]
    command = [sys.executable, "-m", "cdk_app.tools.export", "--table", aws.table_name, "--endpoint-url", aws.endpoint]
    proc = subprocess.Popen([*command, *args], cwd=ROOT, env=ENV, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (checkpoint.exists() and len(out.read_text().splitlines()) > 20) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    partial = len(out.read_text().splitlines())
    assert 20 < partial < 290
    export(aws, *args)
    assert [r["event_id"] for r in jsonl(out.read_text())] == expected[30:]
    assert not checkpoint.exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--topic", "x", "--table", "NoSuchTable"], 1, "putonly-export: table 'NoSuchTable' not found in us-east-1"),
        (
            ["--topic", "x", "--since", "2026-02-01", "--until", "2026-01-01"],
            2,
            "--since 2026-02-01T00:00:00.000Z is after --until",
        ),
        (["--topic", "x", "--since", "yesterday"], 2, "--since 'yesterday' is not an ISO-8601 date or time"),
        (["--all", "--segments", "0"], 2, "--segments must be from 1 to 64, got 0"),
        (["--subject", "s", "--all"], 2, "--subject needs --topic"),
        (["--all", "--checkpoint", "c.json"], 2, "--checkpoint needs --output"),
        ([], 2, "one of the arguments --topic --identity --all is required"),
    ],
)
def test_bad_input_is_one_clear_line(aws: LocalAws, args: list[str], code: int, message: str) -> None:
    result = export(aws, *args, check=False)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_credentials_are_one_line(aws: LocalAws) -> None:
    """(moto accepts any key, so credentials AWS refuses can only be checked against real AWS.)"""
    command = [sys.executable, "-m", "cdk_app.tools.export"]
    command += ["--table", aws.table_name, "--all", "--region", "us-east-1"]
    env = {"PATH": "/usr/bin:/bin", "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
           "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("putonly-export: no AWS credentials found: use --profile")
