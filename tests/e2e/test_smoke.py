"""The smoke test's browser-and-attacker flow, run against the local stack."""

from __future__ import annotations

import json
import subprocess
import sys

from cdk_app.local.emulator import LocalAws, MotoServer
from tests.helpers import ENV, ROOT


def smoke(*args: str, module: str = "cdk_app.tools.smoke") -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", module, *args]
    return subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120, check=False)


def test_local_run_puts_and_says_what_the_emulator_cannot_refuse() -> None:
    result = smoke(module="cdk_app.local.smoke")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("PutItem into its own partition") and line.endswith("PASS") for line in lines)
    for check in ("another partition", "ReturnValues=ALL_OLD", "outside the allow-list", "GetItem", "Query", "Scan",
                  "UpdateItem", "BatchWriteItem", "DeleteItem", "TransactWriteItems"):  # fmt: skip
        (line,) = [ln for ln in lines if check in ln]
        assert line.endswith("NOT ENFORCED (emulator)"), line
    assert "does not evaluate IAM policies: 10 refusals" in result.stdout
    assert lines[-1] == "1 passed, 10 not enforced by the emulator, 0 failed"


def test_deployed_mode_reads_outputs_and_says_plainly_when_a_stack_is_missing(moto: MotoServer, aws: LocalAws) -> None:
    result = smoke("--stack-prefix", "PutOnly-nowhere", "--endpoint-url", aws.endpoint, "--region", "us-east-1")
    assert result.returncode != 0
    assert result.stderr.strip().startswith("putonly-smoke: stack PutOnly-nowhere-Data not found or not readable")
    assert "Traceback" not in result.stderr


def test_deployed_mode_fails_loudly_when_refusals_are_not_refused(moto: MotoServer, aws: LocalAws) -> None:
    """Stacks whose outputs point at the emulator, which refuses nothing: every refusal must show as FAIL."""
    cfn = moto.client("cloudformation")
    outputs = {
        "Data": {"TableName": aws.table_name},
        "Identity": {"IdentityPoolId": aws.identity_pool_id},
        "Site": {"Region": "us-east-1"},
    }
    for name, values in outputs.items():
        template = {
            "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {key: {"Value": value} for key, value in values.items()},
        }
        cfn.create_stack(StackName=f"PutOnly-smoketest-{name}", TemplateBody=json.dumps(template))
    result = smoke("--stack-prefix", "PutOnly-smoketest", "--endpoint-url", aws.endpoint, "--region", "us-east-1")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[-1] == "1 passed, 0 not enforced by the emulator, 10 failed"
    assert sum(line.endswith("FAIL") for line in lines) == 10
    # What it wrote is cleaned up with the operator's credentials.
    items = moto.client("dynamodb").scan(TableName=aws.table_name)["Items"]
    assert not [i for i in items if i["topic"]["S"] == "putonly_smoke"]


def test_deployed_mode_names_a_missing_output_in_one_line(moto: MotoServer, aws: LocalAws) -> None:
    """Stacks of that name that are not PutOnly's (or another version): before, a KeyError traceback."""
    cfn = moto.client("cloudformation")
    for name in ("Data", "Identity", "Site"):
        template = {"Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}
        cfn.create_stack(StackName=f"PutOnly-other-{name}", TemplateBody=json.dumps(template))
    result = smoke("--stack-prefix", "PutOnly-other", "--endpoint-url", aws.endpoint, "--region", "us-east-1")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "putonly-smoke: stack PutOnly-other-Data has no TableName output (not a PutOnly stack, or another version"
        " of it?) (see putonly-smoke --help)"
    )
