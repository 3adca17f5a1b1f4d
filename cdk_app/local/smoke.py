"""``make smoke ARGS=--local``: putonly-smoke's browser-and-attacker flow against the local stack.

The emulator cannot enforce IAM, so the report says which refusals it did not enforce (those are proven on
the synthesized guest policy in tests/unit). The checks themselves are the operator command's own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cdk_app.local.emulator import REGION, MotoServer, provision
from cdk_app.tools.smoke import Target, report, run_checks

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="make smoke ARGS=--local", description=__doc__.splitlines()[0] if __doc__ else None
    )
    p.add_argument("--cdk-out", type=Path, default=ROOT / "cdk.out", help="synthesized templates (make synth)")
    args = p.parse_args(argv)
    if not (args.cdk_out / "manifest.json").is_file():
        p.error(f"{args.cdk_out} is missing: run `make synth` first")
    moto = MotoServer().start()
    try:
        aws = provision(moto, args.cdk_out)
        target = Target(REGION, aws.table_name, aws.identity_pool_id, aws.endpoint, local=True)
        results, _ = run_checks(target, moto.client("dynamodb"))
    finally:
        moto.stop()
    return report(results, local=True)


if __name__ == "__main__":
    sys.exit(main())
