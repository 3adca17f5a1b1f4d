"""The local AWS: a moto server on loopback, provisioned from the synthesized templates.

Known emulator gaps (see README.md): moto checks no signatures and evaluates no IAM conditions, and it
cannot create identity pools through CloudFormation, so the table and pool are created through the API.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from cdk_app.local.serving import free_port
from cdk_app.local.templates import identity_pool_definition, table_definition

REGION = "us-east-1"
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}


class MotoServer:
    """``moto_server`` as a subprocess on loopback."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> MotoServer:
        moto = Path(sys.executable).with_name("moto_server")
        self.process = subprocess.Popen(  # noqa: S603
            [str(moto), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"moto server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # busy with a long request: it still goes
                self.process.kill()
                self.process.wait()

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, **FAKE_CREDENTIALS)


@dataclass(frozen=True)
class LocalAws:
    endpoint: str
    table_name: str
    identity_pool_id: str


def provision(moto: MotoServer, cdk_out: Path, *, table_name: str = "PutOnlyEvents") -> LocalAws:
    """Creates the events table and the identity pool as the synthesized templates define them."""
    definition = table_definition(cdk_out)
    ttl, pitr = definition.pop("_ttl"), definition.pop("_pitr")
    ddb = moto.client("dynamodb")
    ddb.create_table(TableName=table_name, **definition)
    if ttl:
        ddb.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
    if pitr:
        ddb.update_continuous_backups(
            TableName=table_name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    pool = moto.client("cognito-identity").create_identity_pool(
        IdentityPoolName="putonly_local", **identity_pool_definition(cdk_out)
    )
    return LocalAws(endpoint=moto.endpoint, table_name=table_name, identity_pool_id=pool["IdentityPoolId"])
