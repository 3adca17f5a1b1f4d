"""Shared fixtures. The CDK app is synthesized once per session, for three deployments side by side."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DIST_DIR = ROOT / "web_assets" / "dist"
CERT_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"


def cdk_context() -> dict[str, Any]:
    return json.loads((ROOT / "cdk.json").read_text())["context"]


@dataclass(frozen=True)
class Deployment:
    """The synthesized templates of one environment (dev, prod, or dev with a custom domain and alarm email)."""

    settings: Any
    data: dict[str, Any]
    identity: dict[str, Any]
    site: dict[str, Any]


@dataclass(frozen=True)
class Synth:
    outdir: Path
    deployments: dict[str, Deployment]


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    import aws_cdk as cdk

    from app import compose
    from cdk_app.constructs.nag import add_nag_checks
    from cdk_app.settings import parse_settings

    if not (DIST_DIR / "build.json").is_file():
        pytest.fail("web_assets/dist is not built: run `make web` (make test does it)")
    context = cdk_context()
    environments = context["putonly:environments"]
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(outdir=str(outdir), context=context)
    variants = {
        "dev": parse_settings("dev", environments),
        "prod": parse_settings("prod", environments),
    }
    # A third deployment with a custom domain, renamed so its stacks sit beside dev's in one app.
    custom = {
        "domainName": "t.example.com",
        "certificateArn": CERT_ARN,
        "corsOrigins": ["https://www.example.com"],
        "alarmEmail": "ops@example.com",
    }
    variants["domain"] = replace(parse_settings("dev", environments, custom), env_name="domain")
    stacks = {name: compose(app, settings) for name, settings in variants.items()}
    add_nag_checks(app)
    assembly = app.synth()
    deployments = {
        name: Deployment(
            settings=variants[name],
            data=assembly.get_stack_by_name(s.data.stack_name).template,
            identity=assembly.get_stack_by_name(s.identity.stack_name).template,
            site=assembly.get_stack_by_name(s.site.stack_name).template,
        )
        for name, s in stacks.items()
    }
    return Synth(outdir=outdir, deployments=deployments)


@pytest.fixture(scope="session")
def dev(synthesized: Synth) -> Deployment:
    return synthesized.deployments["dev"]


@pytest.fixture(scope="session")
def prod(synthesized: Synth) -> Deployment:
    return synthesized.deployments["prod"]


@pytest.fixture(scope="session")
def with_domain(synthesized: Synth) -> Deployment:
    return synthesized.deployments["domain"]


_HASH = re.compile(r"[0-9a-f]{64}")


def mask_asset_hashes(template: dict[str, Any]) -> dict[str, Any]:
    """Asset hashes change with every tracker build; snapshots should show only real template changes."""
    return json.loads(_HASH.sub("<asset-hash>", json.dumps(template)))


def resources(template: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == type_]


def one(template: dict[str, Any], type_: str) -> dict[str, Any]:
    found = resources(template, type_)
    assert len(found) == 1, f"expected exactly one {type_}, found {len(found)}"
    return found[0]
