"""The local embedded stack: a moto server as the local AWS, provisioned from the synthesized templates.

It reads ``cdk.out/`` (what ``cdk synth`` produced), never the stacks, and uses boto3 only.
Known emulator gaps (see DESIGN.md): moto checks no signatures and evaluates no IAM conditions, and it
cannot create identity pools through CloudFormation, so the table and pool are created through the API.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import boto3

REGION = "us-east-1"
CHROMIUM = "/usr/bin/chromium"  # Debian's Chromium; Playwright cannot download its own browser here
# Without the background-networking flags Chromium tries hosts this machine cannot reach.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
)
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
            self.process.wait(timeout=10)

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, **FAKE_CREDENTIALS)


def _template(cdk_out: Path, suffix: str) -> dict[str, Any]:
    paths = sorted(cdk_out.glob(f"PutOnly-*-{suffix}.template.json"))
    if not paths:
        raise FileNotFoundError(f"{cdk_out} has no PutOnly-*-{suffix}.template.json: run `make synth` first")
    return dict(json.loads(paths[0].read_text()))


def table_definition(cdk_out: Path) -> dict[str, Any]:
    """The events table's create_table arguments, taken from the synthesized Data template."""
    data = _template(cdk_out, "Data")
    (props,) = [r["Properties"] for r in data["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    indexes = [
        {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
        for gsi in props.get("GlobalSecondaryIndexes", [])
    ]
    return {
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props["BillingMode"],
        "GlobalSecondaryIndexes": indexes,
        "_ttl": props.get("TimeToLiveSpecification"),
        "_pitr": props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled", False),
    }


def identity_pool_definition(cdk_out: Path) -> dict[str, Any]:
    identity = _template(cdk_out, "Identity")
    (props,) = [r["Properties"] for r in identity["Resources"].values() if r["Type"] == "AWS::Cognito::IdentityPool"]
    return {
        "AllowUnauthenticatedIdentities": props["AllowUnauthenticatedIdentities"],
        "AllowClassicFlow": props["AllowClassicFlow"],
    }


def headers_policy(cdk_out: Path) -> dict[str, Any]:
    """The CloudFront response headers policy's config, to serve the tracker locally the same way."""
    site = _template(cdk_out, "Site")
    (props,) = [
        r["Properties"] for r in site["Resources"].values() if r["Type"] == "AWS::CloudFront::ResponseHeadersPolicy"
    ]
    return dict(props["ResponseHeadersPolicyConfig"])


@dataclass(frozen=True)
class LocalAws:
    endpoint: str
    table_name: str
    identity_pool_id: str


def provision(moto: MotoServer, cdk_out: Path, *, table_name: str = "PutOnlyEvents") -> LocalAws:
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


def response_headers(policy: dict[str, Any], origin: str | None) -> dict[str, str]:
    """What CloudFront adds to tracker responses, per the synthesized response headers policy."""
    headers: dict[str, str] = {}
    cors = policy.get("CorsConfig")
    if cors and origin:
        allowed = cors["AccessControlAllowOrigins"]["Items"]
        if "*" in allowed or origin in allowed:
            headers["Access-Control-Allow-Origin"] = "*" if "*" in allowed else origin
            headers["Access-Control-Allow-Methods"] = ",".join(cors["AccessControlAllowMethods"]["Items"])
    for custom in policy.get("CustomHeadersConfig", {}).get("Items", []):
        headers[custom["Header"]] = custom["Value"]
    security = policy.get("SecurityHeadersConfig", {})
    if "ContentTypeOptions" in security:
        headers["X-Content-Type-Options"] = "nosniff"
    hsts = security.get("StrictTransportSecurity")
    if hsts:
        headers["Strict-Transport-Security"] = f"max-age={hsts['AccessControlMaxAgeSec']}" + (
            "; includeSubDomains" if hsts.get("IncludeSubdomains") else ""
        )
    return headers


class _TrackerHandler(SimpleHTTPRequestHandler):
    policy: ClassVar[dict[str, Any]] = {}
    config: bytes = b"{}"

    def end_headers(self) -> None:
        for name, value in response_headers(self.policy, self.headers.get("Origin")).items():
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/v1/config.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.config)))
            self.end_headers()
            self.wfile.write(self.config)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(directory: Path, handler: type[SimpleHTTPRequestHandler] = SimpleHTTPRequestHandler) -> ThreadingHTTPServer:
    """Serves ``directory`` on a free loopback port from a daemon thread."""

    class Quiet(handler):  # type: ignore[valid-type,misc]
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def serve_tracker(dist: Path, cdk_out: Path, config: dict[str, Any]) -> ThreadingHTTPServer:
    """Serves the built tracker with CloudFront's headers and a local config.json."""
    handler = type(
        "TrackerHandler",
        (_TrackerHandler,),
        {"policy": headers_policy(cdk_out), "config": json.dumps(config).encode()},
    )
    return serve(dist, handler)


def local_config(aws: LocalAws, limits: dict[str, int]) -> dict[str, Any]:
    """config.json for the local stack: same shape as the deployed one, plus endpoint overrides."""
    return {
        "v": 1,
        "region": REGION,
        "identityPoolId": aws.identity_pool_id,
        "tableName": aws.table_name,
        **limits,
        "endpoints": {"cognito": aws.endpoint + "/", "dynamodb": aws.endpoint + "/"},
    }


def limits_from_cdk_out(cdk_out: Path) -> dict[str, int]:
    """The tracker limits the Site stack publishes in config.json, read from its synthesized asset."""
    site = _template(cdk_out, "Site")
    for resource in site["Resources"].values():
        if resource["Type"] != "Custom::CDKBucketDeployment":
            continue
        for key in resource["Properties"]["SourceObjectKeys"]:
            config = cdk_out / f"asset.{key.removesuffix('.zip')}" / "v1" / "config.json"
            if config.is_file():
                text = config.read_text().replace("<<marker:0xbaba:0>>", '""').replace("<<marker:0xbaba:1>>", '""')
                raw = json.loads(text)
                return {k: v for k, v in raw.items() if isinstance(v, int) and k != "v"}
    raise FileNotFoundError(f"{cdk_out}: no config.json asset in the Site stack")


def launch_chromium(playwright: Any) -> Any:
    """Headless Debian Chromium through Playwright's sync API, with the flags this machine needs."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True)
