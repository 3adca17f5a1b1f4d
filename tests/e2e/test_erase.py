"""putonly-erase against the local stack: the real command as a subprocess, on envelopes the tracker wrote in
Chromium and on what a guest can forge. One visitor erased, every item of the others left byte for byte."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tty
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cdk_app import envelope
from cdk_app.local.emulator import LocalAws, MotoServer, provision
from tests.helpers import CDK_OUT, ENV, IDENTITY_OF_PAGE, MALFORMED, ROOT, open_page

Items = dict[tuple[str, str], dict[str, Any]]


def erase(aws: LocalAws, *args: str, env: dict[str, str] = ENV, stdin: Any = subprocess.DEVNULL) -> Any:
    """The command as an operator runs it; stdin is not a terminal unless a pty is passed."""
    command = [sys.executable, "-m", "cdk_app.tools.erase", "--table", aws.table_name, "--endpoint-url", aws.endpoint]
    return subprocess.run(
        [*command, *args], cwd=ROOT, env=env, stdin=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def items(moto: MotoServer, table: str) -> Items:
    """Every item of ``table`` as DynamoDB returns it (raw attribute values), by key."""
    found: Items = {}
    for page in moto.client("dynamodb").get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            found[(item["pk"]["S"], item["sk"]["S"])] = item
    return found


def of(found: Items, identity: str) -> Items:
    return {key: item for key, item in found.items() if key[0] == identity}


@pytest.fixture(scope="module")
def visitors(browser: Any, page_origin: str) -> list[dict[str, Any]]:
    """Two visitors (own browser contexts, so own identities) track through the tracker into the shared table:
    one envelope per subject, so the first has more envelopes than one BatchWriteItem takes."""
    found = []
    for subjects in (30, 6):
        context = browser.new_context()
        page = open_page(context, page_origin)
        ids = page.evaluate(
            """async (subjects) => {
                const ids = [];
                for (let i = 0; i < subjects * 2; i++) {
                    ids.push(putonly.track('erase_play', {i}, {subject: 'song-' + (i % subjects)}));
                }
                await putonly.flush();
                return ids;
            }""",
            subjects,
        )
        found.append({"identity": page.evaluate(IDENTITY_OF_PAGE), "events": ids})
        context.close()
    assert found[0]["identity"] != found[1]["identity"]
    return found


def test_erases_one_visitor_and_leaves_every_other_item_byte_for_byte(
    visitors: list[dict[str, Any]], aws: LocalAws, moto: MotoServer
) -> None:
    erased, kept = visitors
    before = items(moto, aws.table_name)
    mine = of(before, erased["identity"])
    assert len(mine) >= 30, "one envelope per subject at least"
    assert sorted(e[0] for item in mine.values() for e in json.loads(item["events"]["S"])) == sorted(erased["events"])

    result = erase(aws, "--identity", erased["identity"], "--yes")

    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"erased {len(mine)} envelopes ({len(erased['events'])} events) of identity {erased['identity']}"
        f" from {aws.table_name}\n"
    )
    assert result.stderr == "", "no progress counter when stderr is not a terminal"
    after = items(moto, aws.table_name)
    assert of(after, erased["identity"]) == {}
    assert of(after, kept["identity"]) == of(before, kept["identity"]) != {}
    for key, item in before.items():  # other tests' items too (a straggler may add items, none may change)
        if key not in mine:
            assert after[key] == item, key
    # An access request now finds nothing; the other visitor's still finds every event.
    export = [sys.executable, "-m", "cdk_app.tools.export", "--table", aws.table_name, "--endpoint-url", aws.endpoint]
    for visitor, expected in ((erased, []), (kept, kept["events"])):
        rows = subprocess.run([*export, "--identity", visitor["identity"]], cwd=ROOT, env=ENV, capture_output=True,
                              text=True, timeout=60, check=True).stdout.splitlines()  # fmt: skip
        assert sorted(json.loads(row)["event_id"] for row in rows) == sorted(expected)


def test_dry_run_counts_and_deletes_nothing(visitors: list[dict[str, Any]], aws: LocalAws, moto: MotoServer) -> None:
    kept = visitors[1]
    before = of(items(moto, aws.table_name), kept["identity"])
    result = erase(aws, "--identity", kept["identity"], "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"would erase {len(before)} envelopes ({len(kept['events'])} events) of identity {kept['identity']}"
        f" from {aws.table_name} (dry run: nothing deleted)\n"
    )
    assert of(items(moto, aws.table_name), kept["identity"]) == before


# What a guest can forge, in a table of its own (other tests read every item of the shared table).


def _identity() -> str:
    return f"us-east-1:{uuid.uuid4()}"


def _seed(moto: MotoServer, table: str, identity: str, honest: int) -> tuple[int, int]:
    """``honest`` two-event envelopes and every malformed item the export rejects that DynamoDB stores, in one
    partition: (items stored, events in the honest envelopes)."""
    ddb = moto.client("dynamodb")
    puts = []
    for n in range(honest):
        events = json.dumps([[f"{identity}-{n}a", 0, {"n": n}], [f"{identity}-{n}b", 5, None]])
        puts.append(envelope.item(
            identity=identity, sk=f"2026-01-01T00:00:{n % 60:02d}.{n:03d}Z#H{n:05d}", topic="erase_forged",
            subject=f"s{n % 3}", events=events, count=2, first_ts=1767225600000 + n, last_ts=1767225600005 + n,
        ))  # fmt: skip
    for i in range(0, len(puts), 25):
        ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item}} for item in puts[i : i + 25]]})
    stored = honest
    for n, (item, _) in enumerate(MALFORMED):
        try:
            ddb.put_item(TableName=table, Item={**item, "pk": {"S": identity}, "sk": {"S": f"2026-01-02#J{n}"}})
            stored += 1
        except ClientError:  # DynamoDB refuses it (a NaN number), so no guest can store it either
            pass
    return stored, honest * 2


@pytest.fixture
def forged(moto: MotoServer) -> dict[str, Any]:
    aws = provision(moto, CDK_OUT, table_name=f"PutOnlyErase{uuid.uuid4().hex[:8]}")
    target, bystander = _identity(), _identity()
    stored, events = _seed(moto, aws.table_name, target, 70)
    _seed(moto, aws.table_name, bystander, 10)
    return {"aws": aws, "target": target, "bystander": bystander, "stored": stored, "events": events}


def test_forged_items_are_erased_and_never_counted_as_events(forged: dict[str, Any], moto: MotoServer) -> None:
    aws, target = forged["aws"], forged["target"]
    before = items(moto, aws.table_name)
    envelopes = forged["stored"]
    assert len(of(before, target)) == envelopes
    assert envelopes - 70 >= len(MALFORMED) - 2, "all but the shapes DynamoDB refuses"

    result = erase(aws, "--identity", target, "--yes", "--page-size", "7")  # many pages, batches of 7 and fewer

    assert result.returncode == 0, result.stderr
    assert (
        result.stdout
        == f"erased {envelopes} envelopes ({forged['events']} events) of identity {target} from {aws.table_name}\n"
    )
    assert result.stderr == (
        f"putonly-erase: {envelopes - 70} of the {envelopes} items are not envelopes the tracker writes"
        " (erased too; their events are not counted)\n"
    )
    after = items(moto, aws.table_name)
    assert of(after, target) == {}
    assert after == of(before, forged["bystander"]), "the other visitor's items, byte for byte, and nothing else"


def _one_line(result: Any, code: int) -> str:
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    return str(line)


WITHOUT_IDENTITY = "(no --identity)"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--table", "NoSuchTable", "--yes"], 1, "putonly-erase: table 'NoSuchTable' not found in us-east-1 (http://"),
        (["--identity", "us-east-1:00000000-0000-4000-8000-000000000000", "--yes"], 1,
         "putonly-erase: nothing stored for identity us-east-1:00000000-0000-4000-8000-000000000000 in table PutOnlyErase"),
        (["--identity", "us-east-1:visitor-1", "--yes"], 2,
         "putonly-erase: --identity 'us-east-1:visitor-1' is not a Cognito identity id: expected <region>:<uuid>, lower"
         " case, e.g. us-east-1:"),
        ([], 2, "putonly-erase: stdin is not a terminal, so nobody can confirm: pass --yes to delete without asking"),
        (["--yes", WITHOUT_IDENTITY], 2, "putonly-erase: the following arguments are required: --identity"),
        (["--page-size", "0", "--yes"], 2, "putonly-erase: --page-size must be from 1 to 10000, got 0"),
        (["--profile", "nosuch", "--yes"], 1, "putonly-erase: no AWS profile named 'nosuch' in your AWS config"),
        (["--endpoint-url", "notaurl", "--yes"], 2,
         "putonly-erase: argument --endpoint-url: 'notaurl' is not an http(s) URL, e.g. http://127.0.0.1:5000"),
        # Before: a traceback (botocore's InvalidRegionError, when the client was made).
        (["--region", "not a region", "--yes"], 1,
         "putonly-erase: region 'not a region' is not a region name, e.g. us-east-1 (--region or AWS_REGION)"),
    ],
)  # fmt: skip
def test_errors_are_one_line_and_delete_nothing(
    forged: dict[str, Any], moto: MotoServer, args: list[str], code: int, message: str
) -> None:
    aws = forged["aws"]
    if WITHOUT_IDENTITY in args:
        args = [a for a in args if a != WITHOUT_IDENTITY]
    elif "--identity" not in args:
        args = ["--identity", forged["target"], *args]
    before = items(moto, aws.table_name)
    line = _one_line(erase(aws, *args), code)
    assert line.startswith(message.replace("PutOnlyErase", aws.table_name))
    assert items(moto, aws.table_name) == before


def test_missing_credentials_are_one_line(forged: dict[str, Any]) -> None:
    """(moto accepts any key, so credentials AWS refuses can only be checked against real AWS.)"""
    env = {"PATH": "/usr/bin:/bin", "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
           "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
    result = erase(forged["aws"], "--identity", forged["target"], "--yes", "--region", "us-east-1", env=env)
    assert _one_line(result, 1).startswith("putonly-erase: no AWS credentials found: use --profile")


def on_a_terminal(aws: LocalAws, typed: str, *args: str, stderr_too: bool = True) -> Any:
    """The command with stdin (and stderr) on a terminal, ``typed`` typed ahead (the terminal keeps the line until
    the command reads it); stdout piped, as for keeping its record. ``result.stderr``: what the terminal showed."""
    controller, terminal = os.openpty()
    tty.setraw(terminal)  # no echo of what is typed, no CR added to what is shown
    try:
        os.write(controller, typed.encode())
        command = [sys.executable, "-m", "cdk_app.tools.erase", "--table", aws.table_name]
        result = subprocess.run(
            [*command, "--endpoint-url", aws.endpoint, *args], cwd=ROOT, env=ENV, stdin=terminal, timeout=120,
            stdout=subprocess.PIPE, stderr=terminal if stderr_too else subprocess.PIPE, text=True, check=False,
        )  # fmt: skip
        if stderr_too:
            shown = b""
            while select.select([controller], [], [], 0.2)[0]:
                shown += os.read(controller, 65536)
            result.stderr = shown.decode()
    finally:
        os.close(terminal)
        os.close(controller)
    return result


def test_with_its_question_not_on_the_terminal_it_refuses_to_wait(forged: dict[str, Any], moto: MotoServer) -> None:
    """stderr kept in a log (2> erase.log): the question would be there, not on screen. Before: it waited for an
    answer to a question nobody saw."""
    aws = forged["aws"]
    before = items(moto, aws.table_name)
    result = on_a_terminal(aws, "y\n", "--identity", forged["target"], stderr_too=False)
    assert result.returncode == 2
    assert result.stderr.startswith("putonly-erase: stderr is not a terminal, so nobody can confirm: pass --yes")
    assert items(moto, aws.table_name) == before


@pytest.mark.parametrize(("typed", "erased"), [("n\n", False), ("\n", False), ("y\n", True)])
def test_on_a_terminal_it_asks_first(forged: dict[str, Any], moto: MotoServer, typed: str, erased: bool) -> None:
    aws, target = forged["aws"], forged["target"]
    before = items(moto, aws.table_name)
    envelopes = len(of(before, target))
    result = on_a_terminal(aws, typed, "--identity", target)
    question = (
        f"Delete {envelopes} envelopes ({forged['events']} events) of identity {target} from table {aws.table_name}?"
        " [y/N] "
    )
    assert question in result.stderr
    if erased:
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"erased {envelopes} envelopes")
        assert of(items(moto, aws.table_name), target) == {}
    else:
        assert result.returncode == 1
        assert result.stderr.endswith(question + "putonly-erase: not confirmed; nothing deleted\n")
        assert items(moto, aws.table_name) == before
