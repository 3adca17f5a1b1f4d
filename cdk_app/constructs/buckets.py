"""The one way PutOnly makes buckets: private, TLS only, encrypted at rest."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct


def private_bucket(scope: Construct, construct_id: str, *, destroy_on_removal: bool, **options: Any) -> s3.Bucket:
    """All public access blocked, TLS enforced, S3-managed encryption; ``options`` add to that.

    Destroyed with its stack (removalPolicy destroy), it is emptied first, every object version included:
    CloudFormation cannot delete a bucket that holds anything, so ``cdk destroy`` would fail on it.
    """
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        encryption=s3.BucketEncryption.S3_MANAGED,
        removal_policy=RemovalPolicy.DESTROY if destroy_on_removal else RemovalPolicy.RETAIN,
        auto_delete_objects=destroy_on_removal,
        **options,
    )
