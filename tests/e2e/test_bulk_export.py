"""putonly-bulk-export against the local stack: export to S3, then the Glue table points at the data."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from typing import Any

import pytest

from cdk_app.local.emulator import LocalAws, MotoServer
from tests.helpers import ENV, ROOT, Deployment, one, open_page


def test_export_lands_in_s3_and_glue_reads_it(
    moto: MotoServer, aws: LocalAws, prod: Deployment, context: Any, page_origin: str
) -> None:
    page = open_page(context, page_origin)
    ids = page.evaluate(
        "async () => { const ids = [0, 1, 2].map((i) => putonly.track('bulk', {i}, {subject: 's'})); "
        "await putonly.flush(); return ids; }"
    )
    # The Glue database and table exactly as the prod template defines them.
    glue = moto.client("glue")
    database = one(prod.data, "AWS::Glue::Database")["Properties"]["DatabaseInput"]
    table = one(prod.data, "AWS::Glue::Table")["Properties"]["TableInput"]
    table["StorageDescriptor"]["Location"] = "s3://putonly-exports/exports/"
    glue.create_database(DatabaseInput=database)
    glue.create_table(DatabaseName=database["Name"], TableInput=table)
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="putonly-exports")

    command = [sys.executable, "-m", "cdk_app.tools.bulk_export"]
    command += ["--table", aws.table_name, "--bucket", "putonly-exports", "--database", "putonly_prod"]
    command += ["--endpoint-url", aws.endpoint, "--poll-seconds", "0.2", "--timeout", "60"]
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    location = result.stdout.strip()
    assert location.startswith("s3://putonly-exports/exports/AWSDynamoDB/") and location.endswith("/data/")
    assert (
        glue.get_table(DatabaseName="putonly_prod", Name="envelopes")["Table"]["StorageDescriptor"]["Location"]
        == location
    )

    key_prefix = location.removeprefix("s3://putonly-exports/")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="putonly-exports", Prefix=key_prefix)["Contents"]]
    lines = [
        json.loads(line)
        for key in keys
        for line in gzip.decompress(s3.get_object(Bucket="putonly-exports", Key=key)["Body"].read()).splitlines()
    ]
    # Each line is {"Item": {...}} with the attribute shapes the Glue column declares (item.events.s, ...).
    column = table["StorageDescriptor"]["Columns"][0]
    assert column["Name"] == "item"
    exported = {
        event[0]
        for line in lines
        if line["Item"]["topic"]["S"] == "bulk"
        for event in json.loads(line["Item"]["events"]["S"])
    }
    assert exported == set(ids)


def test_bad_bucket_is_one_line(aws: LocalAws) -> None:
    command = [sys.executable, "-m", "cdk_app.tools.bulk_export"]
    command += ["--table", aws.table_name, "--bucket", "no-such-bucket", "--database", "putonly_prod"]
    command += ["--endpoint-url", aws.endpoint, "--poll-seconds", "0.2", "--timeout", "30"]
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("putonly-bulk-export: ")
    assert "Traceback" not in result.stderr


def bulk_export(aws: LocalAws, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cdk_app.tools.bulk_export", "--endpoint-url", aws.endpoint]
    command += ["--table", aws.table_name, "--bucket", "putonly-exports", "--database", "putonly_prod"]
    command += ["--poll-seconds", "0.2", *args]
    return subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        # Before: a traceback (nan, inf), or a wait that never timed out (--timeout nan).
        (["--poll-seconds", "nan"], 2, "--poll-seconds must be a positive number of seconds, got nan"),
        (["--poll-seconds", "inf"], 2, "--poll-seconds must be a positive number of seconds, got inf"),
        (["--timeout", "nan"], 2, "--timeout must be a positive number of seconds, got nan"),
        (["--timeout", "x"], 2, "argument --timeout: invalid float value: 'x'"),
        (["--table", " "], 2, "--table is empty"),
        (["--bucket", ""], 2, "--bucket is empty"),
        # Before: the (billed) export started, then failed.
        (["--bucket", "no-such-bucket"], 1, "bucket 'no-such-bucket' cannot be used (404): name the ExportBucket"),
        (["--region", "not a region"], 1, "region 'not a region' is not a region name, e.g. us-east-1"),
    ],
)
def test_bad_flags_are_one_line(aws: LocalAws, args: list[str], code: int, message: str) -> None:
    result = bulk_export(aws, *args)
    assert result.returncode == code
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("putonly-bulk-export: ") and message in line


def test_a_missing_table_says_where_it_was_looked_for(aws: LocalAws) -> None:
    """As putonly-export says it. Before: AWS's own words, without the region or endpoint."""
    result = bulk_export(aws, "--table", "Nope")
    assert result.returncode == 1
    assert result.stderr == f"putonly-bulk-export: table 'Nope' not found in us-east-1 ({aws.endpoint})\n"


def test_without_its_glue_table_nothing_is_exported(moto: MotoServer, aws: LocalAws) -> None:
    """Before: the (billed) export of the whole table started, and only then did the Glue table turn out missing."""
    s3 = moto.client("s3")
    if "putonly-exports" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket="putonly-exports")
    result = bulk_export(aws, "--database", "no_such_database")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "putonly-bulk-export: Glue table no_such_database.envelopes not found: deploy with analyticsExport: true"
        " (or name it with --database / --glue-table); nothing exported"
    ), "one line, and no 'export started' before it"
