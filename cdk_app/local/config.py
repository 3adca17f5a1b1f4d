"""The local stack's config.json: the deployed shape, pointed at the emulator."""

from __future__ import annotations

from typing import Any

from cdk_app.local.emulator import REGION, LocalAws


def local_config(aws: LocalAws, limits: dict[str, Any]) -> dict[str, Any]:
    """config.json for the local stack: same shape as the deployed one, plus endpoint overrides."""
    return {
        "v": 1,
        "region": REGION,
        "identityPoolId": aws.identity_pool_id,
        "tableName": aws.table_name,
        **limits,
        "endpoints": {"cognito": aws.endpoint + "/", "dynamodb": aws.endpoint + "/"},
    }
