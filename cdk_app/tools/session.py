"""What the putonly-* commands share: an AWS session from the standard chain, one-line errors, a progress counter."""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
from typing import Any, NoReturn
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import BotoCoreError, ClientError, InvalidRegionError, NoCredentialsError, ProfileNotFound
from botocore.utils import validate_region_name

NO_CREDENTIALS = (
    "no AWS credentials found: use --profile, environment variables or another source of the standard chain"
)
# Codes with which AWS refuses the caller rather than the request.
REFUSED = ("UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException", "AccessDeniedException")
NO_REGION = "no region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION (or one in your AWS profile)"
# A Cognito identity id: "<region>:<uuid>", the uuid in lower-case hex.
IDENTITY = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
EXAMPLE = "us-east-1:0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0"


def plural(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class ToolError(Exception):
    """A one-line, user-facing error; the command prints it after its name."""


class Parser(argparse.ArgumentParser):
    """Usage errors in one line, like the command's other errors."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def add_aws_arguments(
    p: argparse.ArgumentParser, endpoint: str = "another DynamoDB endpoint, e.g. the local stack's"
) -> None:
    """The connection flags every command takes: the standard credential chain, a profile, a region, an endpoint."""
    p.add_argument("--profile", help="AWS profile (standard credential chain otherwise)")
    p.add_argument("--region", help="AWS region (default: from the environment or profile)")
    p.add_argument("--endpoint-url", type=endpoint_url, help=endpoint)


def endpoint_url(value: str) -> str:
    """--endpoint-url: an http(s) URL with a host (botocore's own check ends in a traceback)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL, e.g. http://127.0.0.1:5000")
    return value


def identity_problem(identity: str) -> str | None:
    """Why ``identity`` is not a Cognito identity id, or None."""
    if IDENTITY.fullmatch(identity):
        return None
    return f"--identity {identity!r} is not a Cognito identity id: expected <region>:<uuid>, lower case, e.g. {EXAMPLE}"


def add_table_arguments(p: argparse.ArgumentParser, page: str) -> None:
    """The events table (or PUTONLY_TABLE) and the items per request, as the table readers take them."""
    p.add_argument(
        "--table", default=os.environ.get("PUTONLY_TABLE"), help="events table (TableName output; or PUTONLY_TABLE)"
    )
    p.add_argument("--page-size", type=int, default=500, help=f"items per {page} (default 500)")


def check_table_arguments(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Stops with a usage error naming the flag when the table is missing or the page size is out of range."""
    if not args.table:
        p.error("--table is required (or set PUTONLY_TABLE)")
    if not 1 <= args.page_size <= 10_000:
        p.error(f"--page-size must be from 1 to 10000, got {args.page_size}")


def session(profile: str | None, region: str | None) -> Any:
    """A boto3 session (standard credential chain) whose region comes from --region, AWS_REGION or the profile."""
    try:
        found = boto3.Session(profile_name=profile, region_name=region or os.environ.get("AWS_REGION"))
        named = found.region_name  # an unknown AWS_PROFILE is found out only here
    except ProfileNotFound as err:
        name = err.kwargs.get("profile", profile)
        raise ToolError(f"no AWS profile named {name!r} in your AWS config files (--profile or AWS_PROFILE)") from None
    if named is None:
        raise ToolError(NO_REGION)
    try:
        validate_region_name(named)  # (else a traceback when the first client is made)
    except InvalidRegionError:
        raise ToolError(f"region {named!r} is not a region name, e.g. us-east-1 (--region or AWS_REGION)") from None
    return found


def one_line(err: Exception) -> str:
    """An AWS failure in one line: missing credentials, or AWS's error code and message, or botocore's own text."""
    if isinstance(err, NoCredentialsError):
        return NO_CREDENTIALS
    if isinstance(err, ClientError):
        error = err.response["Error"]
        return _flat(f"{error['Code']}: {error.get('Message', '')}")
    return _flat(str(err))  # (botocore's parameter errors span lines)


def _flat(text: str, limit: int = 300) -> str:
    """One line of at most ``limit`` characters: an endpoint may answer with a whole HTML page (a wrong region)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_error(err: Exception, table: str, client: Any) -> str:
    """A failed call on ``table`` in one line: a missing table (where it was looked for), refused credentials, ..."""
    if isinstance(err, ClientError):
        code = err.response["Error"]["Code"]
        message = err.response["Error"].get("Message", "")
        if code == "ResourceNotFoundException":
            where = client.meta.endpoint_url
            return f"table {table!r} not found in {client.meta.region_name} ({where})"
        if code in REFUSED:
            return f"AWS refused the credentials ({code}): {_flat(message)}"
    if isinstance(err, ClientError | BotoCoreError):  # missing credentials too
        return one_line(err)
    return _flat(f"{type(err).__name__}: {err}")


class Progress:
    """A one-line counter on stderr (``<prog>: <count> <unit>``) when enabled (a terminal); silent otherwise."""

    def __init__(self, prog: str, unit: str, *, enabled: bool, start: int = 0) -> None:
        self.prog = prog
        self.unit = unit
        self.enabled = enabled
        self.count = start
        self.lock = threading.Lock()

    def update(self, n: int) -> None:
        with self.lock:
            self.count += n
            if self.enabled:
                print(f"\r{self.prog}: {self.count} {self.unit}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled:
            print(file=sys.stderr)
