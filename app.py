#!/usr/bin/env python3
"""PutOnly CDK app: the only reader of context and environment. Builds settings, composes stacks, adds cdk-nag."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk

from cdk_app.constructs.nag import add_nag_checks
from cdk_app.settings import SETTING_KEYS, Settings, SettingsError, check_context_keys, parse_settings
from stacks.data_stack import DataStack
from stacks.identity_stack import IdentityStack
from stacks.site_stack import SiteStack

ROOT = Path(__file__).resolve().parent
DIST_DIR = ROOT / "web_assets" / "dist"


@dataclass(frozen=True)
class PutOnlyStacks:
    data: DataStack
    identity: IdentityStack
    site: SiteStack


def compose(
    app: cdk.App, settings: Settings, *, dist_dir: Path = DIST_DIR, account: str | None = None
) -> PutOnlyStacks:
    """Add the three stacks for ``settings`` to ``app``."""
    if not (dist_dir / "v1" / "putonly.js").is_file():
        raise FileNotFoundError(f"{dist_dir} has no v1/putonly.js: build the tracker first (make web)")
    env = cdk.Environment(account=account, region=settings.region)
    prefix = settings.stack_prefix
    data = DataStack(app, f"{prefix}-Data", settings=settings, env=env, description="PutOnly events table")
    identity = IdentityStack(
        app, f"{prefix}-Identity", table=data.table, env=env, description="PutOnly guest identities (put-only)"
    )
    site = SiteStack(
        app,
        f"{prefix}-Site",
        settings=settings,
        dist_dir=str(dist_dir),
        table_name=data.table.table_name,
        identity_pool_id=identity.identity_pool_id,
        env=env,
        description="PutOnly tracker on CloudFront",
    )
    for stack in (data, identity, site):
        cdk.Tags.of(stack).add("project", "putonly")
        cdk.Tags.of(stack).add("putonly:env", settings.env_name)
    return PutOnlyStacks(data=data, identity=identity, site=site)


def settings_from_context(app: cdk.App) -> Settings:
    for warning in check_context_keys(app.node.get_all_context()):
        print(f"putonly: {warning}", file=sys.stderr)
    overrides = {key: value for key in SETTING_KEYS if (value := app.node.try_get_context(key)) is not None}
    settings = parse_settings(
        app.node.try_get_context("env"),
        app.node.try_get_context("putonly:environments"),
        overrides,
    )
    for warning in settings.warnings():
        print(f"putonly: {warning}", file=sys.stderr)
    return settings


def main() -> None:
    app = cdk.App()
    try:
        settings = settings_from_context(app)
        compose(app, settings, account=os.environ.get("CDK_DEFAULT_ACCOUNT"))
    except (SettingsError, FileNotFoundError) as err:
        print(f"putonly: {err}", file=sys.stderr)
        sys.exit(2)
    add_nag_checks(app)
    app.synth()


if __name__ == "__main__":
    main()
