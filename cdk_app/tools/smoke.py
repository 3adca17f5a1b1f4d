"""putonly smoke test: do what a browser does and what an attacker would try, with real guest credentials.

Against a deployed stack (outputs read from CloudFormation, standard credential chain) every refusal must
be a refusal; it exits non-zero on any surprise and deletes what it wrote with the operator's credentials.
The same flow runs against the local stack with ``python -m cdk_app.local.smoke`` (``make smoke ARGS=--local``).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cdk_app import envelope
from cdk_app.tools.session import NO_REGION, Parser, ToolError, endpoint_url, one_line, session

PROG = "putonly-smoke"
REFUSED = ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "UnrecognizedClientException")


@dataclass(frozen=True)
class Target:
    region: str
    table: str
    identity_pool_id: str
    endpoint_url: str | None = None
    local: bool = False


@dataclass
class Outcome:
    check: str
    expected: str  # "allowed" or "refused"
    got: str
    detail: str = ""

    @property
    def verdict(self) -> str:
        if self.got == self.expected:
            return "PASS"
        if self.expected == "refused" and self.got == "allowed" and self.detail == "emulator":
            return "NOT ENFORCED (emulator)"
        return "FAIL"


def outputs(cfn: Any, stack: str) -> dict[str, str]:
    try:
        description = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as err:
        raise SystemExit(
            f"{PROG}: stack {stack} not found or not readable: {err.response['Error']['Message']}"
        ) from None
    return {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}


def deployed_target(session: Any, prefix: str, endpoint_url: str | None) -> Target:
    cfn = session.client("cloudformation", endpoint_url=endpoint_url)
    data, identity, site = (outputs(cfn, f"{prefix}-{name}") for name in ("Data", "Identity", "Site"))
    for stack, found, name in (
        (f"{prefix}-Data", data, "TableName"),
        (f"{prefix}-Identity", identity, "IdentityPoolId"),
    ):
        if name not in found:
            raise ToolError(f"stack {stack} has no {name} output (not a PutOnly stack, or another version of it?)")
    return Target(
        region=site.get("Region") or session.region_name,
        table=data["TableName"],
        identity_pool_id=identity["IdentityPoolId"],
        endpoint_url=endpoint_url,
    )


def one_event(identity: str, **extra: Any) -> dict[str, Any]:
    """A valid one-event envelope item (the shape the tracker writes), plus ``extra`` attributes."""
    now = int(time.time() * 1000)
    sk = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now / 1000)) + f"#smoke{uuid.uuid4().hex[:11]}"
    events = json.dumps([[f"smoke{uuid.uuid4().hex[:11]}", 0, {"smoke": True}]])
    item = envelope.item(
        identity=identity, sk=sk, topic="putonly_smoke", subject="", events=events, count=1, first_ts=now, last_ts=now
    )
    return {**item, **extra}


def run_checks(target: Target, operator: Any) -> tuple[list[Outcome], list[dict[str, Any]]]:
    cognito = boto3.client(
        "cognito-identity",
        region_name=target.region,
        endpoint_url=target.endpoint_url,
        config=Config(signature_version=UNSIGNED),
    )
    identity = cognito.get_id(IdentityPoolId=target.identity_pool_id)["IdentityId"]
    creds = cognito.get_credentials_for_identity(IdentityId=identity)["Credentials"]
    guest = boto3.client(
        "dynamodb",
        region_name=target.region,
        endpoint_url=target.endpoint_url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretKey"],
        aws_session_token=creds["SessionToken"],
    )
    table = target.table
    own = one_event(identity)
    other = one_event("us-east-1:00000000-0000-0000-0000-000000000000")
    written: list[dict[str, Any]] = []

    def key(item: dict[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in (envelope.PARTITION_KEY, envelope.SORT_KEY)}

    def put(item: dict[str, Any], **kwargs: Any) -> Any:
        written.append(key(item))
        return guest.put_item(TableName=table, Item=item, **kwargs)

    def batch_put(item: dict[str, Any]) -> Any:
        written.append(key(item))
        return guest.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item}}]})

    def transaction_put(item: dict[str, Any]) -> Any:
        written.append(key(item))
        return guest.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": item}}])

    checks: list[tuple[str, str, Callable[[], Any]]] = [
        ("PutItem into its own partition", "allowed", lambda: put(own)),
        ("PutItem into another partition", "refused", lambda: put(other)),
        ("PutItem with ReturnValues=ALL_OLD", "refused", lambda: put(one_event(identity), ReturnValues="ALL_OLD")),
        ("PutItem with an attribute outside the allow-list", "refused",
            lambda: put(one_event(identity, evil={"S": "x"}))),
        ("Put inside TransactWriteItems", "refused", lambda: transaction_put(one_event(identity))),
        ("GetItem", "refused", lambda: guest.get_item(TableName=table, Key=key(own))),
        ("Query its own partition", "refused", lambda: guest.query(
            TableName=table, KeyConditionExpression=f"{envelope.PARTITION_KEY} = :p",
            ExpressionAttributeValues={":p": {"S": identity}})),
        ("Scan", "refused", lambda: guest.scan(TableName=table, Limit=1)),
        ("UpdateItem", "refused", lambda: guest.update_item(
            TableName=table, Key=key(own), UpdateExpression=f"SET {envelope.VERSION} = :v",
            ExpressionAttributeValues={":v": {"N": "2"}})),
        ("BatchWriteItem", "refused", lambda: batch_put(one_event(identity))),
        ("DeleteItem", "refused", lambda: guest.delete_item(TableName=table, Key=key(own))),
    ]  # fmt: skip
    results = []
    for name, expected, call in checks:
        try:
            call()
            got, detail = "allowed", ("emulator" if target.local else "")
        except ClientError as err:
            code = err.response["Error"]["Code"]
            got, detail = ("refused" if code in REFUSED else "error"), code
        results.append(Outcome(name, expected, got, detail))
    # Clean up with the operator's own credentials (the guest cannot delete).
    for item_key in written:
        with contextlib.suppress(ClientError):  # nothing there: the put was refused, as it should be
            operator.delete_item(TableName=table, Key=item_key)
    return results, written


def report(results: list[Outcome], local: bool) -> int:
    width = max(len(r.check) for r in results)
    print(f"{'check'.ljust(width)}  expected  got       result")
    for r in results:
        print(
            f"{r.check.ljust(width)}  {r.expected:<8}  {r.got:<8}  {r.verdict}"
            + (f" ({r.detail})" if r.got == "error" else "")
        )
    failed = [r for r in results if r.verdict == "FAIL"]
    unenforced = [r for r in results if r.verdict.startswith("NOT ENFORCED")]
    if local and unenforced:
        print(
            f"\nThe local emulator (moto) does not evaluate IAM policies: {len(unenforced)} refusals above were not "
            "enforced here. They are enforced by AWS and proven on the synthesized guest policy (tests/unit)."
        )
    passed = len(results) - len(failed) - len(unenforced)
    print(f"\n{passed} passed, {len(unenforced)} not enforced by the emulator, {len(failed)} failed")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    p = Parser(
        prog=PROG,
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog="Against the local stack instead: make smoke ARGS=--local (python -m cdk_app.local.smoke).",
    )
    p.add_argument("--stack-prefix", default="PutOnly-dev", help="deployed stacks' prefix (default PutOnly-dev)")
    p.add_argument("--profile", help="AWS profile for reading outputs and cleaning up")
    p.add_argument("--region", help="AWS region of the stacks")
    p.add_argument("--endpoint-url", type=endpoint_url, help="another AWS endpoint (a local emulator)")
    args = p.parse_args(argv)
    try:
        aws = session(args.profile, args.region)
        target = deployed_target(aws, args.stack_prefix, args.endpoint_url)
        operator = aws.client("dynamodb", region_name=target.region, endpoint_url=args.endpoint_url)
        results, _ = run_checks(target, operator)
    except ToolError as err:
        hint = '; with make: ARGS="--region ..."' if str(err) == NO_REGION else ""
        p.error(f"{err}{hint}")
    except (ClientError, BotoCoreError) as err:
        print(f"{PROG}: {one_line(err)}", file=sys.stderr)
        return 2
    return report(results, local=False)


if __name__ == "__main__":
    sys.exit(main())
