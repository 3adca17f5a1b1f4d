"""cdk-nag wiring: the AWS Solutions rules run on every synth, and findings are acknowledged one by one."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_nag_checks(app: App) -> None:
    """Any unacknowledged AwsSolutions finding makes synth fail."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True))


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one finding at one resource, with a reason specific to this project."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))
