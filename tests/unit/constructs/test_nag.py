"""cdk-nag runs on every synth and an unacknowledged finding stops it."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from app import compose
from cdk_app.constructs.nag import add_nag_checks
from cdk_app.settings import parse_settings
from tests.helpers import Deployment, cdk_context


def test_unacknowledged_finding_makes_synth_fail(tmp_path_factory: pytest.TempPathFactory) -> None:
    context = cdk_context()
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("nag")), context=context)
    stacks = compose(app, parse_settings("dev", context["putonly:environments"]))
    # A bucket without TLS enforcement or logging, and no acknowledgment for it.
    s3.Bucket(stacks.data, "CarelessBucket")
    add_nag_checks(app)
    with pytest.raises(Exception, match=r"AwsSolutions-S10") as err:
        app.synth()
    assert "CarelessBucket" in str(err.value)


def _acknowledgments(template: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Resource type -> {rule id: reason}, from the cdk_nag metadata written into the template."""
    found: dict[str, dict[str, str]] = {}
    for resource in template["Resources"].values():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            found.setdefault(resource["Type"], {})[rule["id"]] = rule["reason"]
    return found


def test_every_acknowledgment_sits_on_its_resource_with_a_specific_reason(dev: Deployment) -> None:
    acks = {**_acknowledgments(dev.data), **_acknowledgments(dev.identity)}
    for type_, rules in _acknowledgments(dev.site).items():
        acks.setdefault(type_, {}).update(rules)
    assert {t: sorted(r) for t, r in acks.items()} == {
        "AWS::Cognito::IdentityPool": ["AwsSolutions-COG7"],
        "AWS::S3::Bucket": ["AwsSolutions-S1"],
        "AWS::CloudFront::Distribution": [
            "AwsSolutions-CFR1", "AwsSolutions-CFR2", "AwsSolutions-CFR3", "AwsSolutions-CFR4"
        ],
        "AWS::IAM::Role": [
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"
        ],
        "AWS::IAM::Policy": [
            "AwsSolutions-IAM5[Action::s3:Abort*]",
            "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
            "AwsSolutions-IAM5[Action::s3:GetBucket*]",
            "AwsSolutions-IAM5[Action::s3:GetObject*]",
            "AwsSolutions-IAM5[Action::s3:List*]",
            "AwsSolutions-IAM5[Resource::*]",
            next(r for r in acks["AWS::IAM::Policy"] if "<Tracker" in r),
            "AwsSolutions-IAM5[Resource::arn:aws:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-us-east-1/*]",
        ],
        "AWS::Lambda::Function": ["AwsSolutions-L1"],
    }  # fmt: skip
    for rules in acks.values():
        for rule, reason in rules.items():
            assert len(reason) > 60, f"{rule}: reason too thin: {reason!r}"


def test_the_guest_policy_needs_no_acknowledgment(dev: Deployment) -> None:
    assert "AWS::IAM::Policy" not in _acknowledgments(dev.identity)
    assert "AWS::IAM::Role" not in _acknowledgments(dev.identity)


def test_custom_domain_fixes_the_tls_finding_instead_of_acknowledging_it(with_domain: Deployment) -> None:
    assert "AwsSolutions-CFR4" not in _acknowledgments(with_domain.site)["AWS::CloudFront::Distribution"]
