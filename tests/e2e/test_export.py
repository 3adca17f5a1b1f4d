"""putonly-export against the local stack, on events written by the real tracker in Chromium."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import resource
import select
import signal
import stat
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from cdk_app import envelope
from cdk_app.local.emulator import LocalAws, MotoServer, provision
from cdk_app.local.templates import limits_from_cdk_out
from cdk_app.tools import export as export_module
from cdk_app.tools.rows import cell, event_rows
from tests.helpers import CDK_OUT, ENV, IDENTITY_OF_PAGE, ROOT, open_page


def export(
    aws: LocalAws, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cdk_app.tools.export"]
    command += ["--table", aws.table_name, "--endpoint-url", aws.endpoint, *args]
    result = subprocess.run(
        command, cwd=ROOT, env={**ENV, **(env or {})}, capture_output=True, text=True, timeout=120, check=False
    )
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
    identity = page.evaluate(IDENTITY_OF_PAGE)
    context.close()
    return {**ids, "identity": identity}


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
        assert_in_time_order(rows)
        # The visitors came one by one: each visitor's rows are one run, in the order they came.
        runs = [
            identity
            for n, identity in enumerate(r["identity"] for r in rows)
            if n == 0 or rows[n - 1]["identity"] != identity
        ]
        assert runs == eight_visitors["identities"]
        assert {r["identity"] for r in rows} == set(eight_visitors["identities"])


def hook_the_export(monkeypatch: pytest.MonkeyPatch, **hooks: Callable[..., None]) -> None:
    """The export run in this process (export_module.main) calls ``hooks`` on its DynamoDB client's botocore
    events (``before_call__dynamodb__Query=f`` for "before-call.dynamodb.Query"), with the tests' AWS settings."""
    build_client = export_module.build_client

    def hooked(args: Any) -> Any:
        client = build_client(args)
        for event, hook in hooks.items():
            client.meta.events.register(event.replace("__", ".").replace("_", "-"), hook)
        return client

    monkeypatch.setattr(export_module, "build_client", hooked)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def failing_on_the_third(endpoint: str) -> Callable[..., None]:
    """A botocore hook that fails the third call it sees as an unreachable endpoint would."""
    calls = iter(range(1000))

    def hook(**_: Any) -> None:
        if next(calls) == 2:
            raise EndpointConnectionError(endpoint_url=endpoint)

    return hook


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def assert_in_time_order(rows: list[dict[str, Any]]) -> None:
    """Envelopes in time order ("<first event's time>#<id>", merged from the shards), events in time in each.

    Not every row: one visitor's events of a subject may sit in two envelopes that overlap in time (seen: events
    0, 1, 4 in one, 2, 3 in the next), and events of one millisecond in any order.
    """
    assert [r["envelope"] for r in rows] == sorted(r["envelope"] for r in rows)
    for key in {r["envelope"] for r in rows}:
        times = [r["ts_ms"] for r in rows if r["envelope"] == key]
        assert times == sorted(times), key


def test_by_topic_and_subject_through_the_index(aws: LocalAws, tracked: dict[str, Any]) -> None:
    rows = jsonl(export(aws, "--topic", "export_play", "--subject", "song-a").stdout)
    assert sorted(r["event_id"] for r in rows) == sorted(tracked["a"])
    assert_in_time_order(rows)
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


@pytest.mark.parametrize("name", ["plays.csv", "PLAYS.CSV"])  # before: .CSV was written as JSON Lines
def test_csv_to_a_file(aws: LocalAws, tracked: dict[str, Any], tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    result = export(aws, "--topic", "export_play", "--subject", "song-b", "--output", str(out))
    assert "30 events written" in result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    # An id may start with "-" (base64url): CSV shows it as text, with a leading apostrophe.
    assert sorted(r["event_id"] for r in rows) == sorted(cell(i) for i in tracked["b"])
    assert {json.loads(r["data"])["note"] for r in rows} == {'é,"quoted"'}


def test_time_range(aws: LocalAws, tracked: dict[str, Any]) -> None:
    rows = jsonl(export(aws, "--topic", "export_play", "--subject", "song-a").stdout)
    middle = rows[len(rows) // 2]["time"]
    later = jsonl(export(aws, "--topic", "export_play", "--subject", "song-a", "--since", middle).stdout)
    assert later and all(r["time"] >= middle for r in later)
    assert {r["event_id"] for r in rows if r["time"] >= middle} == {r["event_id"] for r in later}
    none = export(aws, "--topic", "export_play", "--subject", "song-a", "--until", "2001-01-01").stdout
    assert none == ""


def test_until_a_date_takes_the_whole_day(moto: MotoServer) -> None:
    """--since 2026-11-01 --until 2026-11-30 is November: before, --until 2026-11-30 stopped at its first ms."""
    aws = provision(moto, CDK_OUT, table_name="PutOnlyUntil")
    times = {"before": "2026-10-31T23:59:59.999Z", "first": "2026-11-01T00:00:00.000Z", "noon": "2026-11-30T12:00:00.000Z",
             "noon30": "2026-11-30T12:00:30.000Z", "last": "2026-11-30T23:59:59.999Z",
             "after": "2026-12-01T00:00:00.000Z"}  # fmt: skip
    ddb = moto.client("dynamodb")
    for name, at in times.items():
        ms = int(datetime.fromisoformat(at).timestamp() * 1000)
        ddb.put_item(TableName=aws.table_name, Item=envelope.item(
            identity=HOSTILE_VISITOR, sk=f"{at}#U{name:0>15}", topic="until_play", subject="s",
            events=json.dumps([[name, 0, {}]]), count=1, first_ts=ms, last_ts=ms,
        ))  # fmt: skip
    for until in ("2026-11-30", "2026-11-30Z", "20261130"):
        november = ["--since", "2026-11-01", "--until", until]
        for pick in (["--identity", HOSTILE_VISITOR], ["--topic", "until_play", "--subject", "s"], ["--all"]):
            rows = jsonl(export(aws, *pick, *november).stdout)
            assert sorted(r["event_id"] for r in rows) == ["first", "last", "noon", "noon30"], (until, pick)
    # The last millisecond of what it names: 12:00 is the whole minute, 12:00:00.000 its first millisecond.
    for until, up_to in (("2026-11-30T12:00Z", "noon30"), ("2026-11-30T12:00:00.000Z", "noon")):
        rows = jsonl(export(aws, "--all", "--since", "2026-11-30", "--until", until).stdout)
        assert sorted(r["event_id"] for r in rows) == sorted({"noon", up_to}), until


def test_a_failed_export_leaves_the_file_it_would_have_replaced(
    aws: LocalAws, resume_visitor: set[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: --output was emptied at the start, so an export that failed part-way lost the last good one."""
    hook_the_export(monkeypatch, before_call__dynamodb__Query=failing_on_the_third(aws.endpoint))
    out = tmp_path / "visitor.jsonl"
    out.write_text("the last good export\n")
    argv = ["--table", aws.table_name, "--endpoint-url", aws.endpoint, "--identity", "us-east-1:resume-visitor"]
    assert export_module.main([*argv, "--page-size", "1", "--output", str(out), "--quiet"]) == 1
    assert out.read_text() == "the last good export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["visitor.jsonl"], "no temporary file left behind"
    assert export_module.main([*argv, "--output", str(out), "--quiet"]) == 0
    assert [r["event_id"] for r in jsonl(out.read_text())] == sorted(resume_visitor)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["visitor.jsonl"]


@pytest.mark.parametrize("limit", [20_000, 100], ids=["mid-export", "first-write"])
def test_a_full_disk_is_one_line_and_leaves_the_files_from_before(
    aws: LocalAws, resume_visitor: set[str], tmp_path: Path, limit: int
) -> None:
    """Before: a traceback (an OSError, chained through the closing of the files), and the .partial files left."""
    out = tmp_path / "visitor.jsonl"
    out.write_text("the last good export\n")

    def full_disk() -> None:  # in the export's process: files cannot grow past ``limit`` bytes (EFBIG, as ENOSPC)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    command = [sys.executable, "-m", "cdk_app.tools.export", "--table", aws.table_name, "--endpoint-url", aws.endpoint]
    command += ["--identity", "us-east-1:resume-visitor", "--output", str(out), "--quiet"]
    # No bytecode written: under the limit it would be cut short, and break every later import of the module.
    env = {**ENV, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False, preexec_fn=full_disk
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"putonly-export: cannot write {out}: File too large\n"
    assert out.read_text() == "the last good export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["visitor.jsonl"], "no temporary file left behind"


def test_rows_on_a_terminal_come_without_the_progress_counter(aws: LocalAws, resume_visitor: set[str]) -> None:
    """The command make demo prints, run in a terminal with no --output. Before: the counter's carriage returns went
    to the same terminal as the rows, and mixed into them."""
    controller, terminal = os.openpty()
    tty.setraw(terminal)
    command = [sys.executable, "-m", "cdk_app.tools.export", "--table", aws.table_name, "--endpoint-url", aws.endpoint]
    command += ["--identity", "us-east-1:resume-visitor", "--page-size", "10"]
    proc = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=terminal, stderr=terminal)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536) if select.select([controller], [], [], 1)[0] else b""
        except OSError:  # the terminal's other end closed: the command is done
            break
        if not chunk and proc.poll() is not None:
            break
        shown += chunk
    os.close(controller)
    assert proc.wait(timeout=60) == 0
    lines = shown.decode().splitlines()
    assert b"\r" not in shown
    assert sorted(json.loads(line)["event_id"] for line in lines[:-1]) == sorted(resume_visitor)
    assert lines[-1] == "putonly-export: 500 events written"


@pytest.fixture(scope="module")
def resume_visitor(aws: LocalAws, moto: MotoServer) -> set[str]:
    """500 one-event envelopes of one visitor, so a one-item-per-page export takes a while; their event ids."""
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
    return expected


def _started_with_checkpoint(aws: LocalAws, tmp_path: Path, name: str) -> tuple[list[str], Path, Path, Any]:
    """A one-item-per-page export of the resume visitor with --checkpoint, running, its first page saved."""
    out, checkpoint = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.checkpoint"
    args = ["--identity", "us-east-1:resume-visitor", "--page-size", "1", "--output", str(out),
            "--checkpoint", str(checkpoint)]  # fmt: skip
    command = [sys.executable, "-m", "cdk_app.tools.export", "--table", aws.table_name, "--endpoint-url", aws.endpoint]
    proc = subprocess.Popen([*command, *args], cwd=ROOT, env=ENV, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not checkpoint.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return args, out, checkpoint, proc


def test_resume_after_an_interruption(aws: LocalAws, resume_visitor: set[str], tmp_path: Path) -> None:
    args, out, checkpoint, proc = _started_with_checkpoint(aws, tmp_path, "resume")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted; run the same command again to resume" in err
    partial = len(out.read_text().splitlines())
    assert 1 <= partial < 500
    export(aws, *args)
    rows = jsonl(out.read_text())
    assert [r["event_id"] for r in rows] == sorted(resume_visitor)
    assert not checkpoint.exists()


def test_resume_after_a_kill_mid_page_writes_each_row_once(
    aws: LocalAws, resume_visitor: set[str], tmp_path: Path
) -> None:
    """Killed (no chance to finish its page) with rows on disk past its checkpoint: the rerun cuts them off."""
    args, out, _, proc = _started_with_checkpoint(aws, tmp_path, "killed")
    proc.kill()
    proc.communicate(timeout=30)
    with out.open("a") as torn:  # what a kill part-way through writing a page leaves: rows past the checkpoint
        torn.write('{"event_id":"resume0000000000","time":"2026-01-01T00:00:00.000Z"}\n{"event_id":"resu')
    export(aws, *args)
    rows = jsonl(out.read_text())
    assert [r["event_id"] for r in rows] == sorted(resume_visitor)


def test_a_resume_never_cuts_a_file_it_did_not_write(aws: LocalAws, resume_visitor: set[str], tmp_path: Path) -> None:
    """The checkpoint holds the files' sizes; a resume into other files, or files since shortened, is refused."""
    args, out, checkpoint, proc = _started_with_checkpoint(aws, tmp_path, "guarded")
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    precious = tmp_path / "precious.jsonl"
    precious.write_text("x" * 100_000)
    other = [str(precious) if a == str(out) else a for a in args]
    refused = export(aws, *other, check=False)
    assert refused.returncode == 1 and "belongs to another export" in refused.stderr
    assert precious.read_text() == "x" * 100_000
    out.write_text("")  # emptied since
    refused = export(aws, *args, check=False)
    assert refused.returncode == 1
    assert f"putonly-export: cannot resume: --output {out} holds 0 bytes, fewer than the " in refused.stderr
    assert checkpoint.exists(), "kept for a rerun once the file is back"


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


def test_a_resume_inside_a_run_of_items_at_one_place_loses_none(
    aws: LocalAws, moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A guest can give many of its items one place in the index order (the same gsi1sk under its pk). Before: the
    checkpoint kept only the place, and a rerun took every item at it as written: those after the interruption
    were neither exported nor rejected."""
    ddb = moto.client("dynamodb")
    topic, subject, guest = "place_play", "song-1", "us-east-1:00000000-0000-4000-8000-00000000feed"

    def one(identity: str, sk: str, event: str, at: str) -> dict[str, Any]:
        first_ts = int(datetime.fromisoformat(at).timestamp() * 1000)
        item = envelope.item(
            identity=identity, sk=sk, topic=topic, subject=subject, count=1, first_ts=first_ts, last_ts=first_ts,
            events=json.dumps([[event, 0, {}]]), index_shards=8,
        )  # fmt: skip
        return {**item, envelope.GSI_SORT_KEY: {"S": f"{at[:-6]}.000Z#place"}}

    honest = "us-east-1:00000000-0000-4000-8000-000000000001"
    items = [one(honest, "2026-01-01T00:00:01.000Z#H1", "h1", "2026-01-01T00:00:01+00:00")]
    items += [one(guest, f"2026-01-01T00:00:02.000Z#G{n}", f"g{n}", "2026-01-01T00:00:02+00:00") for n in range(10)]
    items += [one(honest, "2026-01-01T00:00:03.000Z#H2", "h2", "2026-01-01T00:00:03+00:00")]
    for item in items:
        ddb.put_item(TableName=aws.table_name, Item=item)
    reads = iter(range(1000))

    def unreachable_at_the_fourth_read(**_: Any) -> None:
        if next(reads) == 3:
            raise EndpointConnectionError(endpoint_url=aws.endpoint)

    hook_the_export(monkeypatch, before_call__dynamodb__BatchGetItem=unreachable_at_the_fourth_read)
    out, checkpoint = tmp_path / "place.jsonl", tmp_path / "place.checkpoint"
    argv = ["--table", aws.table_name, "--endpoint-url", aws.endpoint, "--topic", topic, "--subject", subject]
    argv += ["--page-size", "1", "--output", str(out), "--checkpoint", str(checkpoint), "--quiet"]
    assert export_module.main(argv) == 1
    assert [r["event_id"] for r in jsonl(out.read_text())] == ["h1", "g0", "g1"]
    assert export_module.main(argv) == 0
    rows = [r["event_id"] for r in jsonl(out.read_text())]
    assert sorted(rows[1:-1]) == [f"g{n}" for n in range(10)] and (rows[0], rows[-1], len(rows)) == ("h1", "h2", 12)


@pytest.mark.parametrize(
    ("new_time", "page_size"), [(False, "100"), (False, "1"), (True, "100")], ids=["same-time", "page-1", "new-time"]
)
def test_an_item_moved_between_shards_while_they_are_read_is_exported_once(
    aws: LocalAws, moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_time: bool, page_size: str
) -> None:
    """An item re-put under another shard while the shards are read is found in both: an envelope sent again after
    indexShards changed (same time), or a guest doing it on purpose (new time too). Before: BatchGetItem refused
    the duplicate key ("Provided list of item keys contains duplicates") and the export ended with no rows; with
    pages of one entry, its events were written twice. (A guest's item moved to a new time, with its two entries
    in different pages, is still written twice: only the guest's own events.)"""
    ddb = moto.client("dynamodb")
    topic, subject = f"moved_play_{int(new_time)}_{page_size}", "song-1"
    honest = [
        envelope.item(
            identity=f"us-east-1:{n:08d}-0000-4000-8000-000000000000", sk=f"2026-01-01T00:00:0{n}.000Z#M{n:015d}",
            topic=topic, subject=subject, count=1, first_ts=1767225600000 + n * 1000,
            last_ts=1767225600000 + n * 1000, events=json.dumps([[f"moved{n}", 0, {"n": n}]]), index_shards=8,
        )
        for n in range(5)
    ]  # fmt: skip
    mover = {**honest[2], envelope.GSI_PARTITION_KEY: {"S": envelope.index_key(topic, subject, 0)}}
    moved = {**mover, envelope.GSI_PARTITION_KEY: {"S": envelope.index_key(topic, subject, 31)}}
    if new_time:
        moved[envelope.GSI_SORT_KEY] = {"S": "2026-01-01T00:00:04.500Z#later"}
    for item in [*honest[:2], mover, *honest[3:]]:
        ddb.put_item(TableName=aws.table_name, Item=item)
    shard_0_read = threading.Event()

    def hold_shard_31(params: dict[str, Any], **_: Any) -> None:
        if params["ExpressionAttributeValues"][":key"]["S"].endswith("#31"):
            assert shard_0_read.wait(30)  # read only once the item has moved

    def move_after_shard_0(parsed: dict[str, Any], **_: Any) -> None:
        if any(i[envelope.GSI_PARTITION_KEY]["S"].endswith("#0") for i in parsed.get("Items", [])):
            ddb.put_item(TableName=aws.table_name, Item=moved)
            shard_0_read.set()

    hook_the_export(
        monkeypatch,
        before_parameter_build__dynamodb__Query=hold_shard_31,
        after_call__dynamodb__Query=move_after_shard_0,
    )
    out = tmp_path / "moved.jsonl"
    argv = ["--table", aws.table_name, "--endpoint-url", aws.endpoint, "--topic", topic, "--subject", subject]
    assert export_module.main([*argv, "--page-size", page_size, "--output", str(out), "--quiet"]) == 0
    assert shard_0_read.is_set(), "the item was found in shard 0, then moved"
    assert [row["event_id"] for row in jsonl(out.read_text())] == [f"moved{n}" for n in range(5)]


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
        # Before: year 999 was written "999-..." and sorted after 2026 (every row exported); past 9999: a traceback.
        (["--topic", "x", "--until", "0999-01-01"], 2, "--until '0999-01-01' is outside 1970-01-01 to 9999-12-31"),
        (["--all", "--since", "9999-12-31T23:00-05:00"], 2, "--since '9999-12-31T23:00-05:00' is outside 1970-01-01"),
        (["--all", "--segments", "0"], 2, "--segments must be from 1 to 64, got 0"),
        # Before: accepted; "a#b" + "c" is the index key of topic "a" + subject "b#c", whose rows were then rejected.
        (["--topic", "a#b", "--subject", "c"], 2, "argument --topic: 'a#b' is not a topic the tracker writes"),
        (["--topic", ""], 2, "argument --topic: '' is not a topic the tracker writes"),
        (["--subject", "s", "--all"], 2, "--subject needs --topic"),
        (["--all", "--checkpoint", "c.json"], 2, "--checkpoint needs --output"),
        ([], 2, "one of the arguments --topic --identity --all is required"),
        (["--all", "--profile", "nosuch"], 1, "putonly-export: no AWS profile named 'nosuch' in your AWS config"),
        (["--all", "AWS_PROFILE=gone"], 1, "putonly-export: no AWS profile named 'gone' in your AWS config"),
        (["--all", "--endpoint-url", "notaurl"], 2, "argument --endpoint-url: 'notaurl' is not an http(s) URL"),
        (["--all", "--region", "not a region"], 1, "putonly-export: region 'not a region' is not a region name"),
    ],
)
def test_bad_input_is_one_clear_line(aws: LocalAws, args: list[str], code: int, message: str) -> None:
    env = dict(a.split("=", 1) for a in args if a.startswith("AWS_"))  # set in the environment, not a flag
    result = export(aws, *[a for a in args if not a.startswith("AWS_")], check=False, env=env)
    assert result.returncode == code
    (line,) = result.stderr.splitlines()  # before: a usage error came with the whole usage, 8 lines
    assert line.startswith("putonly-export: ") and message in line


def test_an_identity_with_nothing_in_the_time_range_says_so(aws: LocalAws, tracked: dict[str, Any]) -> None:
    result = export(aws, "--identity", tracked["identity"], "--since", "2099-01-01")
    assert (
        result.stderr.splitlines()[-1]
        == f"putonly-export: nothing stored for identity {tracked['identity']} in that time range"
    )


@pytest.mark.parametrize("quiet", [[], ["--quiet"]], ids=["", "quiet"])
def test_an_identity_with_nothing_stored_is_named_and_a_malformed_one_explained(
    aws: LocalAws, quiet: list[str]
) -> None:
    """Even with --quiet (before: nothing at all, exit 0), as for a scripted access request with a typo in the id."""
    result = export(aws, "--identity", "us-east-1:visitor-1", *quiet)
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        "putonly-export: nothing stored for identity us-east-1:visitor-1; --identity 'us-east-1:visitor-1' is not a"
        " Cognito identity id: expected <region>:<uuid>, lower case, e.g. us-east-1:0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0"
    )


def test_a_reader_that_stops_early_ends_the_export_quietly(moto: MotoServer) -> None:
    """`putonly-export ... | head`: once head has its lines, the export stops, with no traceback."""
    aws = provision(moto, CDK_OUT, table_name="PutOnlyPipe")
    ddb = moto.client("dynamodb")
    for n in range(100):  # ~1 MB of rows: far more than a pipe holds
        events = json.dumps([[f"p{n}-{i}", i, {"pad": "x" * 500}] for i in range(20)])
        ddb.put_item(TableName=aws.table_name, Item=envelope.item(
            identity=HOSTILE_VISITOR, sk=f"2026-01-01T00:00:{n % 60:02d}.{n:03d}Z#P{n:015d}", topic="pipe_play",
            subject="s", events=events, count=20, first_ts=T0 + n, last_ts=T0 + n + 19,
        ))  # fmt: skip
    command = [sys.executable, "-m", "cdk_app.tools.export", "--table", aws.table_name, "--endpoint-url", aws.endpoint]
    reader = subprocess.Popen(
        [*command, "--all"], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert reader.stdout is not None and reader.stderr is not None
    assert json.loads(reader.stdout.readline())["topic"] == "pipe_play"
    reader.stdout.close()
    assert reader.wait(timeout=60) == 141  # 128 + SIGPIPE, as a shell reports a command that died of it
    assert reader.stderr.read() == ""


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


# Guest-written items are untrusted: a table seeded with what an attacker (or a faithful tracker) can store.

HOSTILE_VISITOR = "us-east-1:hostile-visitor"
FORMULA = '=HYPERLINK("https://evil.example/", "x")'
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _envelope(n: int, *, topic: str = "hostile_play", subject: str = "song-1", **raw: Any) -> dict[str, Any]:
    """Envelope ``n`` of the hostile visitor as the tracker writes it (two events), with raw attributes replaced."""
    sk = f"2026-01-01T00:00:{n:02d}.000Z#H{n:015d}"
    events = json.dumps([[f"h{n}a", 0, {"n": n}], [f"h{n}b", 5, {"n": n}]])
    item = envelope.item(
        identity=HOSTILE_VISITOR, sk=sk, topic=topic, subject=subject, events=events, count=2,
        first_ts=T0 + n * 1000, last_ts=T0 + n * 1000 + 5,
    )  # fmt: skip
    return {**item, **raw}


def _hostile_items() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """(envelopes the tracker could have written, malformed items, an envelope filed under another index key).

    All sit under song-1's index key, so an index query meets every one of them.
    """
    genuine = _envelope(1)
    index_key = {k: genuine[k] for k in (envelope.GSI_PARTITION_KEY,)}  # whatever shape the index key has
    good = [
        genuine,
        # What track() accepts and the tracker stores faithfully: a lone surrogate (JSON keeps it as \udfff),
        # a subject a spreadsheet would run, data and ids starting with - and @.
        _envelope(2, events={"S": json.dumps([["h2a", 0, {"text": "\udfff", "é": "\ud800x"}], ["h2b", 1, "\udfff"]])}),
        _envelope(3, subject=FORMULA, events={"S": json.dumps([["-h3a", 0, -5], ["@h3b", 1, "+1"]])}),
        # A formula after a separator some spreadsheets split on (";"): only quoting keeps it in its cell.
        _envelope(4, subject="t;=1+1", events={"S": json.dumps([["h4a", 0, 1], ["h4b", 1, 2]])}),
    ]
    bad = [
        _envelope(10, events={"S": "not json"}),
        _envelope(11, events={"S": '{"h11": [0, 1]}'}),
        _envelope(12, events={"S": '[["h12a", 0], ["h12b", 1]]'}),
        _envelope(13, events={"S": '[["h13a", 0.5, 1], ["h13b", 1, 1]]'}),
        _envelope(14, count={"S": "2"}),
        _envelope(15, count={"N": "2.5"}),
        _envelope(16, count={"N": "1e38"}),
        _envelope(17, count={"N": "3"}),  # disagrees with its two events
        _envelope(18, first_ts={"S": str(T0)}),
        _envelope(19, first_ts={"N": f"{T0}.5"}),
        _envelope(20, events={"S": '[["h20a", 0, NaN], ["h20b", 1, 1]]'}),
        # Any type under an allowed name: binary values (bytes in boto3) must not crash the rejects file.
        _envelope(22, v={"B": b"\x00\xff"}),
        {**_envelope(23), "topic": {"BS": [b"a", b"b"]}},
        _envelope(24, events={"L": [{"B": b"x"}]}),
        # More events than any envelope holds (a page of such items would be millions of rows), and a number
        # Python reads as inf, which no JSON can hold.
        _envelope(25, count={"N": "10001"}),
        _envelope(26, events={"S": '[["h26a", 0, 1e999], ["h26b", 1, 1]]'}),
    ]
    misfiled = _envelope(21, topic="elsewhere", subject="other", **index_key)
    return good, [{**item, **index_key} for item in bad], misfiled


@pytest.fixture(scope="module")
def hostile(moto: MotoServer) -> dict[str, Any]:
    """A table of its own (the other tests read the shared table's every item) seeded through the API."""
    aws = provision(moto, CDK_OUT, table_name="PutOnlyHostile")
    good, bad, misfiled = _hostile_items()
    ddb = moto.client("dynamodb")
    for item in [*good, *bad, misfiled]:
        ddb.put_item(TableName=aws.table_name, Item=item)
    # A misfiled envelope is an envelope of its own topic and subject: only an index query rejects it.
    expected = [row for item in [*good, misfiled] for row in event_rows(item)]
    return {"aws": aws, "good": good, "bad": bad, "misfiled": misfiled, "rows": expected}


def _dynamodb_json(item: dict[str, Any]) -> Any:
    """An item as DynamoDB JSON writes it: binary values in base64."""
    return json.loads(json.dumps(item, default=lambda b: base64.b64encode(b).decode()))


def _rejected(path: Path) -> dict[str, str]:
    """sk -> reason, from a rejects file; each line's item must be exactly what was stored."""
    lines = [json.loads(line) for line in path.read_text(encoding="ascii").splitlines()]
    return {line["item"]["sk"]["S"]: line["reason"] for line in lines}


def test_malformed_items_are_rejected_and_every_envelope_exported(hostile: dict[str, Any], tmp_path: Path) -> None:
    """Before: a JSONDecodeError traceback on the first bad item, every time, checkpoint reruns included."""
    out, rejects, checkpoint = tmp_path / "all.jsonl", tmp_path / "bad.jsonl", tmp_path / "all.ckpt"
    result = export(hostile["aws"], "--all", "--segments", "2", "--page-size", "1", "--output", str(out),
                    "--rejects", str(rejects), "--checkpoint", str(checkpoint))  # fmt: skip
    n = len(hostile["bad"])
    assert f"putonly-export: {len(hostile['rows'])} events written to {out}" in result.stderr
    assert f"putonly-export: {n} items rejected as not envelopes (not exported); kept in {rejects}" in result.stderr
    rows = jsonl(out.read_text(encoding="utf-8"))
    assert sorted(rows, key=lambda r: r["event_id"]) == sorted(hostile["rows"], key=lambda r: r["event_id"])
    assert [r["data"] for r in rows if r["event_id"] == "h2a"] == [{"text": "\udfff", "é": "\ud800x"}], "exact"
    reasons = _rejected(rejects)
    assert set(reasons) == {item["sk"]["S"] for item in hostile["bad"]}
    stored = {item["sk"]["S"]: item for item in hostile["bad"]}
    for line in rejects.read_text().splitlines():
        raw = json.loads(line)["item"]
        assert raw == _dynamodb_json(stored[raw["sk"]["S"]]), "the raw item, as stored (binary as base64)"
    assert "count 3 disagrees with the 2 events it holds" in reasons[hostile["bad"][7]["sk"]["S"]]
    assert "events is not JSON" in reasons[hostile["bad"][0]["sk"]["S"]]
    why = {item["sk"]["S"][-2:]: reasons[item["sk"]["S"]] for item in hostile["bad"]}
    assert (why["22"], why["23"], why["24"]) == ("v is of type B, not a number", "topic is of type BS, not a string",
                                                 "events is of type L, not a string")  # fmt: skip
    assert why["25"] == "count '10001' is not an integer from 1 to 10000"
    assert why["26"] == "events is not JSON ('1e999' is beyond a double's range)"
    assert not checkpoint.exists(), "the checkpoint moved past every reject to the end"


def test_a_lone_surrogate_is_exported_by_identity_as_jsonl_and_csv(hostile: dict[str, Any], tmp_path: Path) -> None:
    """Before: UnicodeEncodeError part-way through --identity and --all."""
    out = export(hostile["aws"], "--identity", HOSTILE_VISITOR).stdout
    (row,) = [r for r in jsonl(out) if r["event_id"] == "h2b"]
    assert row["data"] == "\udfff"
    assert '"data":"\\udfff"' in out, "a JSON escape in JSONL"
    assert "name a file with --rejects to keep them" in export(hostile["aws"], "--identity", HOSTILE_VISITOR).stderr
    csv_out = tmp_path / "visitor.csv"
    result = export(hostile["aws"], "--identity", HOSTILE_VISITOR, "--output", str(csv_out))
    assert "kept in " + str(tmp_path / "visitor.csv.rejects.jsonl") in result.stderr, "the default: beside --output"
    cells = {r["event_id"]: r for r in csv.DictReader(io.StringIO(csv_out.read_text(encoding="utf-8")))}
    assert json.loads(cells["h2b"]["data"]) == "\udfff" and cells["h2b"]["data"] == '"\\udfff"'
    assert json.loads(cells["h2a"]["data"]) == {"text": "\udfff", "é": "\ud800x"}


def test_csv_cells_a_spreadsheet_would_run_are_neutralised(hostile: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "formula.csv"
    export(hostile["aws"], "--identity", HOSTILE_VISITOR, "--output", str(out), "--rejects", str(tmp_path / "r"))
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (column, value)
    by_id = {r["event_id"]: r for r in rows}
    assert set(by_id) >= {"'-h3a", "'@h3b"}
    assert by_id["'-h3a"]["subject"] == "'" + FORMULA
    assert (by_id["'-h3a"]["data"], by_id["'@h3b"]["data"]) == ("'-5", '"+1"')
    assert by_id["h4a"]["subject"] == "t;=1+1" and '"t;=1+1"' in out.read_text(encoding="utf-8"), "quoted"
    # JSONL stays exact.
    exact = {r["event_id"]: r for r in jsonl(export(hostile["aws"], "--identity", HOSTILE_VISITOR).stdout)}
    assert (exact["-h3a"]["subject"], exact["-h3a"]["data"]) == (FORMULA, -5)


def test_an_index_query_rejects_items_filed_under_another_topic_or_subject(
    hostile: dict[str, Any], tmp_path: Path
) -> None:
    """A guest chooses gsi1pk: its items can sit under any topic and subject of the index."""
    rejects = tmp_path / "index.rejects.jsonl"
    result = export(hostile["aws"], "--topic", "hostile_play", "--subject", "song-1", "--rejects", str(rejects))
    rows = jsonl(result.stdout)
    assert sorted(r["event_id"] for r in rows) == ["h1a", "h1b", "h2a", "h2b"]
    reasons = _rejected(rejects)
    assert len(reasons) == len(hostile["bad"]) + 1
    forged = reasons[hostile["misfiled"]["sk"]["S"]]
    assert forged.startswith("topic/subject 'elsewhere'/'other' disagree with the index key it was found under")


def test_rejects_are_reported_even_when_quiet(hostile: dict[str, Any]) -> None:
    result = export(hostile["aws"], "--all", "--quiet")
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"putonly-export: {len(hostile['bad'])} items rejected as not envelopes")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--rejects", "MISSING/r.jsonl"], 1,
         "putonly-export: cannot write --rejects MISSING/r.jsonl: No such file or directory"),
        (["--rejects", "/"], 1, "putonly-export: cannot write --rejects /: Is a directory"),
        (["--output", "MISSING/out.jsonl"], 1,
         "putonly-export: cannot write --output MISSING/out.jsonl: No such file or directory"),
        # Before: blamed on --output and its rejects file, with a hint to rerun that failed the same way.
        (["--output", "x.jsonl", "--checkpoint", "MISSING/ck.json"], 1,
         "putonly-export: cannot write --checkpoint MISSING/ck.json: No such file or directory"),
        (["--output", "x.jsonl", "--rejects", "x.jsonl"], 2, "--rejects x.jsonl is also the --output file"),
        (["--output", "x.jsonl", "--checkpoint", "./x.jsonl"], 2, "--checkpoint x.jsonl is also the --output file"),
        (["--output", "x.jsonl", "--checkpoint", "x.jsonl.rejects.jsonl"], 2,
         "--checkpoint x.jsonl.rejects.jsonl is also the default --rejects file"),
        (["--output", "x.jsonl.tmp", "--checkpoint", "x.jsonl"], 2,
         "--checkpoint's temporary file x.jsonl.tmp is also the --output file"),
        (["--output", "x.jsonl", "--rejects", "x.jsonl.partial"], 2,
         "--output's temporary file x.jsonl.partial is also the --rejects file"),
    ],
)  # fmt: skip
def test_bad_output_paths_are_one_clear_line(
    hostile: dict[str, Any], tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    args = [a.replace("MISSING", str(tmp_path / "missing")) for a in args]
    result = export(hostile["aws"], "--all", *args, check=False)
    message = message.replace("MISSING", str(tmp_path / "missing"))
    assert result.returncode == code
    (line,) = [ln for ln in result.stderr.splitlines() if ln.startswith("putonly-export:") or "error:" in ln]
    assert message in line
    assert "Traceback" not in result.stderr


def test_a_failed_export_keeps_the_rejects_file_from_before_too(
    hostile: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook_the_export(monkeypatch)
    argv = ["--table", hostile["aws"].table_name, "--endpoint-url", hostile["aws"].endpoint, "--all", "--quiet"]
    out = tmp_path / "all.jsonl"
    assert export_module.main([*argv, "--segments", "1", "--output", str(out)]) == 0
    before = {path.name: path.read_text() for path in tmp_path.iterdir()}
    assert set(before) == {"all.jsonl", "all.jsonl.rejects.jsonl"}
    hook_the_export(monkeypatch, before_call__dynamodb__Scan=failing_on_the_third(hostile["aws"].endpoint))
    assert export_module.main([*argv, "--segments", "1", "--page-size", "1", "--output", str(out)]) == 1
    assert {path.name: path.read_text() for path in tmp_path.iterdir()} == before


def test_a_symlink_or_a_fifo_as_output_is_written_through(hostile: dict[str, Any], tmp_path: Path) -> None:
    """Not replaced by a file of its own: a named pipe (`--output >(gzip > x.gz)`) gets the rows, a link its target."""
    target, link = tmp_path / "target.jsonl", tmp_path / "link.jsonl"
    target.write_text("")
    link.symlink_to(target)
    export(hostile["aws"], "--all", "--output", str(link), "--rejects", str(tmp_path / "r.jsonl"))
    assert link.is_symlink() and len(jsonl(target.read_text())) == len(hostile["rows"])
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    export(hostile["aws"], "--all", "--output", str(fifo), "--rejects", str(tmp_path / "r.jsonl"))
    reader.join(timeout=60)
    assert len(jsonl(got[0])) == len(hostile["rows"])
    assert stat.S_ISFIFO(fifo.stat().st_mode)
