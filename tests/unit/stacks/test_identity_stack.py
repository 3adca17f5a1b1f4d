"""The Identity stack: the guest identity and its one grant, nothing else; one snapshot; outputs."""

from __future__ import annotations

from typing import Any

from syrupy.extensions.json import JSONSnapshotExtension

from tests.helpers import Deployment, mask_asset_hashes, resources


def test_snapshot(dev: Deployment, snapshot: Any) -> None:
    assert mask_asset_hashes(dev.identity) == snapshot.use_extension(JSONSnapshotExtension)


def test_no_other_permissions_in_the_stack(dev: Deployment) -> None:
    assert len(resources(dev.identity, "AWS::IAM::Policy")) == 1
    assert resources(dev.identity, "AWS::IAM::ManagedPolicy") == []
    assert len(resources(dev.identity, "AWS::IAM::Role")) == 2
    for role in resources(dev.identity, "AWS::IAM::Role"):
        assert "Policies" not in role["Properties"] and "ManagedPolicyArns" not in role["Properties"]


def test_outputs_identity_pool_id(dev: Deployment) -> None:
    assert "IdentityPoolId" in dev.identity["Outputs"]
