from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_cloudfront as cloudfront
from constructs import Construct

from cdk_app.constructs.tracker_site import TrackerSite
from cdk_app.settings import Settings

PRICE_CLASSES = {
    "PriceClass_100": cloudfront.PriceClass.PRICE_CLASS_100,
    "PriceClass_200": cloudfront.PriceClass.PRICE_CLASS_200,
    "PriceClass_All": cloudfront.PriceClass.PRICE_CLASS_ALL,
}


class SiteStack(Stack):
    """CloudFront-served tracker plus the config.json that tells it where to write."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        dist_dir: str,
        table_name: str,
        identity_pool_id: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        config = {
            "v": 1,
            "region": settings.region,
            "identityPoolId": identity_pool_id,
            "tableName": table_name,
            **settings.tracker_limits(),
        }
        site = TrackerSite(
            self,
            "Tracker",
            dist_dir=dist_dir,
            config=config,
            cors_origins=settings.cors_origins,
            price_class=PRICE_CLASSES[settings.price_class],
            destroy_on_removal=settings.destroy_on_removal,
            domain_name=settings.domain_name,
            certificate_arn=settings.certificate_arn,
        )
        self.distribution = site.distribution
        self.bucket = site.bucket
        CfnOutput(self, "LoaderUrl", value=site.loader_url, description="The tracker script pages include")
        CfnOutput(self, "Region", value=settings.region, description="Region of the table and identity pool")
        CfnOutput(self, "Snippet", value=site.snippet, description="Paste into every page")
        CfnOutput(
            self,
            "DistributionDomainName",
            value=site.distribution.distribution_domain_name,
            description="CloudFront's own host name: with domainName, point a DNS CNAME (or alias) for it here",
        )
