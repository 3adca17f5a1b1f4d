"""The tracker site: private bucket, CloudFront with OAC, headers, cache rules and the deploy-time config."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest

from app import compose
from cdk_app.constructs.nag import add_nag_checks
from cdk_app.settings import parse_settings
from tests.helpers import CERT_ARN, Deployment, Synth, cdk_context, one, resources


def _bucket_id(template: dict[str, Any]) -> str:
    return next(k for k, v in template["Resources"].items() if v["Type"] == "AWS::S3::Bucket")


def test_bucket_is_private_encrypted_and_versioned(dev: Deployment) -> None:
    bucket = one(dev.site, "AWS::S3::Bucket")["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "WebsiteConfiguration" not in bucket


def test_a_destroyed_stack_empties_its_versioned_bucket_first(dev: Deployment, prod: Deployment) -> None:
    """CloudFormation cannot delete a bucket that holds objects (or old versions): `make destroy` on dev failed."""
    bucket_id = _bucket_id(dev.site)
    (emptier,) = resources(dev.site, "Custom::S3AutoDeleteObjects")
    assert emptier["Properties"]["BucketName"] == {"Ref": bucket_id}
    assert dev.site["Resources"][bucket_id]["DeletionPolicy"] == "Delete"
    # The bucket policy lets the emptying function's role only read the bucket's settings, list and delete its
    # objects, and put the bucket policy (CDK's function denies new writes while it empties the bucket).
    statements = one(dev.site, "AWS::S3::BucketPolicy")["Properties"]["PolicyDocument"]["Statement"]
    (emptying,) = [s for s in statements if s["Effect"] == "Allow" and "AWS" in s["Principal"]]
    assert "CustomS3AutoDeleteObjectsCustomResourceProviderRole" in json.dumps(emptying["Principal"])
    assert not [
        a
        for a in emptying["Action"]
        if not a.startswith(("s3:DeleteObject", "s3:GetBucket", "s3:List", "s3:PutBucketPolicy"))
    ]
    # ... on this bucket and its objects only.
    assert all(bucket_id in json.dumps(r) for r in emptying["Resource"])
    # prod keeps the bucket and everything in it.
    assert resources(prod.site, "Custom::S3AutoDeleteObjects") == []
    assert prod.site["Resources"][_bucket_id(prod.site)]["DeletionPolicy"] == "Retain"


def test_the_deploy_functions_logs_last_a_month_and_go_with_a_destroyed_stack(
    dev: Deployment, prod: Deployment
) -> None:
    for deployment, policy in ((dev, "Delete"), (prod, "Retain")):
        (group,) = resources(deployment.site, "AWS::Logs::LogGroup")
        assert (group["Properties"]["RetentionInDays"], group["DeletionPolicy"]) == (30, policy)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_bucket_policy_denies_plain_http_and_admits_only_this_distribution(
    env: str, dev: Deployment, prod: Deployment
) -> None:
    site = {"dev": dev, "prod": prod}[env].site
    statements = one(site, "AWS::S3::BucketPolicy")["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (allow,) = [s for s in statements if s["Principal"] == {"Service": "cloudfront.amazonaws.com"}]
    assert allow["Effect"] == "Allow"
    assert allow["Action"] == "s3:GetObject"
    source_arn = json.dumps(allow["Condition"]["StringEquals"]["AWS:SourceArn"])
    distribution_id = next(k for k, v in site["Resources"].items() if v["Type"] == "AWS::CloudFront::Distribution")
    assert distribution_id in source_arn
    # Nothing else but, in dev, the emptying function's statement (the test above).
    assert len(statements) == {"dev": 3, "prod": 2}[env]


def test_cloudfront_reads_the_bucket_through_origin_access_control(dev: Deployment) -> None:
    oac = one(dev.site, "AWS::CloudFront::OriginAccessControl")["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"]) == ("s3", "always")
    config = one(dev.site, "AWS::CloudFront::Distribution")["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    assert "OriginAccessControlId" in origin
    assert origin["S3OriginConfig"]["OriginAccessIdentity"] == ""  # no legacy OAI
    assert resources(dev.site, "AWS::CloudFront::CloudFrontOriginAccessIdentity") == []


def _behaviors(template: dict[str, Any]) -> list[dict[str, Any]]:
    config = one(template, "AWS::CloudFront::Distribution")["Properties"]["DistributionConfig"]
    return [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]


def test_every_behavior_is_https_compressed_and_carries_the_headers_policy(dev: Deployment) -> None:
    policy_id = next(
        k for k, v in dev.site["Resources"].items() if v["Type"] == "AWS::CloudFront::ResponseHeadersPolicy"
    )
    for behavior in _behaviors(dev.site):
        assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
        assert behavior["Compress"] is True
        assert behavior["ResponseHeadersPolicyId"] == {"Ref": policy_id}


def test_http2_and_http3_and_price_class_from_settings(dev: Deployment, prod: Deployment) -> None:
    for deployment in (dev, prod):
        config = one(deployment.site, "AWS::CloudFront::Distribution")["Properties"]["DistributionConfig"]
        assert config["HttpVersion"] == "http2and3"
        assert config["PriceClass"] == deployment.settings.price_class
    assert dev.settings.price_class != prod.settings.price_class


def _headers_policy(template: dict[str, Any]) -> dict[str, Any]:
    policy = one(template, "AWS::CloudFront::ResponseHeadersPolicy")
    return dict(policy["Properties"]["ResponseHeadersPolicyConfig"])


def test_headers_policy_cors_corp_nosniff_hsts(dev: Deployment) -> None:
    config = _headers_policy(dev.site)
    cors = config["CorsConfig"]
    assert cors["AccessControlAllowOrigins"] == {"Items": ["*"]}
    assert cors["AccessControlAllowMethods"] == {"Items": ["GET", "HEAD"]}
    assert cors["AccessControlAllowCredentials"] is False
    assert cors["OriginOverride"] is True
    assert config["CustomHeadersConfig"] == {
        "Items": [{"Header": "Cross-Origin-Resource-Policy", "Value": "cross-origin", "Override": True}]
    }
    security = config["SecurityHeadersConfig"]
    assert security["ContentTypeOptions"] == {"Override": True}
    hsts = security["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] >= 31_536_000 and hsts["IncludeSubdomains"] is True and hsts["Override"]


def test_cors_origins_come_from_settings(with_domain: Deployment) -> None:
    cors = _headers_policy(with_domain.site)["CorsConfig"]
    assert cors["AccessControlAllowOrigins"] == {"Items": ["https://www.example.com"]}


def test_custom_domain_uses_its_certificate_and_modern_tls(with_domain: Deployment, dev: Deployment) -> None:
    config = one(with_domain.site, "AWS::CloudFront::Distribution")["Properties"]["DistributionConfig"]
    assert config["Aliases"] == ["t.example.com"]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": CERT_ARN,
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }
    assert with_domain.site["Outputs"]["LoaderUrl"]["Value"] == "https://t.example.com/v1/putonly.js"
    # Nothing routes t.example.com to CloudFront by itself: the output names where its DNS record points.
    (distribution_id,) = [
        k for k, v in with_domain.site["Resources"].items() if v["Type"] == "AWS::CloudFront::Distribution"
    ]
    target = {"Fn::GetAtt": [distribution_id, "DomainName"]}
    assert with_domain.site["Outputs"]["DistributionDomainName"]["Value"] == target
    assert "ViewerCertificate" not in one(dev.site, "AWS::CloudFront::Distribution")["Properties"]["DistributionConfig"]


def _deployments(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources(template, "Custom::CDKBucketDeployment")]


def test_hashed_worker_is_immutable_for_a_year(dev: Deployment) -> None:
    (worker,) = [d for d in _deployments(dev.site) if d.get("Include") == ["v1/worker.*"]]
    assert worker["Exclude"] == ["*"]
    assert worker["SystemMetadata"] == {"cache-control": "public, max-age=31536000, immutable"}
    assert worker["Prune"] is False  # pages holding an older loader still find their worker


def test_loader_and_config_are_cached_briefly_and_invalidated(dev: Deployment) -> None:
    (entry,) = [d for d in _deployments(dev.site) if "v1/worker.*" in d.get("Exclude", [])]
    assert entry["SystemMetadata"] == {"cache-control": "public, max-age=300"}
    assert entry["Prune"] is False
    assert sorted(entry["DistributionPaths"]) == ["/v1/config.json", "/v1/putonly.js"]


def test_config_json_carries_pool_table_region_and_limits(dev: Deployment, synthesized: Synth) -> None:
    (entry,) = [d for d in _deployments(dev.site) if "v1/worker.*" in d.get("Exclude", [])]
    markers = json.dumps(entry["SourceMarkers"])
    assert "PutOnly-dev-Identity:ExportsOutputRefGuestsPool" in markers
    assert "PutOnly-dev-Data:ExportsOutputRefEventsTable" in markers
    key = entry["SourceObjectKeys"][1].removesuffix(".zip")
    config_text = (synthesized.outdir / f"asset.{key}" / "v1" / "config.json").read_text()
    config = json.loads(config_text.replace("<<marker:0xbaba:0>>", '"POOL"').replace("<<marker:0xbaba:1>>", '"T"'))
    assert config == {
        "v": 1,
        "region": "us-east-1",
        "identityPoolId": "POOL",
        "tableName": "T",
        **dev.settings.tracker_limits(),
    }


def test_deploy_handler_acknowledgments_follow_the_bootstrap_qualifier(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """An account bootstrapped with its own qualifier: synth passes nag without a code change."""
    context = {**cdk_context(), "@aws-cdk/core:bootstrapQualifier": "owner123"}
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("qualifier")), context=context)
    stacks = compose(app, parse_settings("dev", context["putonly:environments"]))
    add_nag_checks(app)
    site = app.synth().get_stack_by_name(stacks.site.stack_name).template  # an open finding would raise here
    acknowledged = [
        rule["id"]
        for resource in site["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert "AwsSolutions-IAM5[Resource::arn:aws:s3:::cdk-owner123-assets-<AWS::AccountId>-us-east-1/*]" in acknowledged
    assert not [rule for rule in acknowledged if "hnb659fds" in rule]
