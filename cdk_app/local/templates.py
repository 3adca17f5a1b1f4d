"""What ``cdk synth`` wrote to cdk.out/, read the way the local stack needs it.

The local stack never imports the stacks: the synthesized templates are its one source of truth, so
what runs locally is what ``cdk deploy`` would create.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def template(cdk_out: Path, suffix: str) -> dict[str, Any]:
    """The synthesized template of the PutOnly stack whose name ends in ``suffix`` (Data, Identity, Site).

    Taken from the last synth's manifest: cdk.out/ keeps the templates of every environment synthesized
    before (``make synth ENV=prod`` then ``make synth``), and only the manifest says which are current.
    """
    manifest = cdk_out / "manifest.json"
    if not manifest.is_file():
        raise FileNotFoundError(f"{cdk_out} has no manifest.json: run `make synth` first")
    artifacts = json.loads(manifest.read_text()).get("artifacts", {})
    files = [
        artifact["properties"]["templateFile"]
        for name, artifact in artifacts.items()
        if artifact.get("type") == "aws:cloudformation:stack"
        and name.startswith("PutOnly-")
        and name.endswith(f"-{suffix}")
    ]
    if len(files) != 1:
        found = "none" if not files else ", ".join(files)
        raise FileNotFoundError(f"{manifest} names {found} for the PutOnly {suffix} stack, not one: run `make synth`")
    return dict(json.loads((cdk_out / files[0]).read_text()))


def table_definition(cdk_out: Path) -> dict[str, Any]:
    """The events table's create_table arguments, taken from the synthesized Data template."""
    data = template(cdk_out, "Data")
    (props,) = [r["Properties"] for r in data["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    indexes = [
        {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
        for gsi in props.get("GlobalSecondaryIndexes", [])
    ]
    return {
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props["BillingMode"],
        "GlobalSecondaryIndexes": indexes,
        "_ttl": props.get("TimeToLiveSpecification"),
        "_pitr": props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled", False),
    }


def identity_pool_definition(cdk_out: Path) -> dict[str, Any]:
    identity = template(cdk_out, "Identity")
    (props,) = [r["Properties"] for r in identity["Resources"].values() if r["Type"] == "AWS::Cognito::IdentityPool"]
    return {
        "AllowUnauthenticatedIdentities": props["AllowUnauthenticatedIdentities"],
        "AllowClassicFlow": props["AllowClassicFlow"],
    }


def headers_policy(cdk_out: Path) -> dict[str, Any]:
    """The CloudFront response headers policy's config, to serve the tracker locally the same way."""
    site = template(cdk_out, "Site")
    (props,) = [
        r["Properties"] for r in site["Resources"].values() if r["Type"] == "AWS::CloudFront::ResponseHeadersPolicy"
    ]
    return dict(props["ResponseHeadersPolicyConfig"])


def limits_from_cdk_out(cdk_out: Path) -> dict[str, Any]:
    """The tracker limits and privacy defaults the Site stack publishes in config.json, from its synthesized asset."""
    site = template(cdk_out, "Site")
    for resource in site["Resources"].values():
        if resource["Type"] != "Custom::CDKBucketDeployment":
            continue
        for key in resource["Properties"]["SourceObjectKeys"]:
            config = cdk_out / f"asset.{key.removesuffix('.zip')}" / "v1" / "config.json"
            if config.is_file():
                text = config.read_text().replace("<<marker:0xbaba:0>>", '""').replace("<<marker:0xbaba:1>>", '""')
                raw = json.loads(text)
                return {k: v for k, v in raw.items() if (isinstance(v, int) or k == "consentDefault") and k != "v"}
    raise FileNotFoundError(f"{cdk_out}: no config.json asset in the Site stack")
