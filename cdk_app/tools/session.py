"""What every putonly-* command shares: an AWS session from the standard chain, and one-line errors."""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.exceptions import ClientError, NoCredentialsError

NO_CREDENTIALS = (
    "no AWS credentials found: use --profile, environment variables or another source of the standard chain"
)
NO_REGION = "no region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION (or one in your AWS profile)"


class ToolError(Exception):
    """A one-line, user-facing error; the command prints it after its name."""


def session(profile: str | None, region: str | None) -> Any:
    """A boto3 session (standard credential chain) whose region comes from --region, AWS_REGION or the profile."""
    found = boto3.Session(profile_name=profile, region_name=region or os.environ.get("AWS_REGION"))
    if found.region_name is None:
        raise ToolError(NO_REGION)
    return found


def one_line(err: Exception) -> str:
    """An AWS failure in one line: missing credentials, or AWS's error code and message, or botocore's own text."""
    if isinstance(err, NoCredentialsError):
        return NO_CREDENTIALS
    if isinstance(err, ClientError):
        error = err.response["Error"]
        return f"{error['Code']}: {error.get('Message', '')}"
    return str(err)
