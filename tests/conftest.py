"""Shared fixtures. The CDK app is synthesized once per session, for three deployments side by side.

Helpers that tests import (paths, template lookups) are in tests/helpers.py.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.helpers import CERT_ARN, DIST_DIR, Deployment, Synth, cdk_context


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
