"""The tracker's home: a private bucket behind CloudFront, holding the loader, the worker and config.json."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import DefaultStackSynthesizer, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from cdk_app.constructs.buckets import private_bucket
from cdk_app.constructs.nag import acknowledge
from cdk_app.snippet import SNIPPET_FILE, snippet

LOADER_KEY = "v1/putonly.js"
CONFIG_KEY = "v1/config.json"
WORKER_GLOB = "v1/worker.*"  # worker.<contenthash>.js and its source map
# The loader and config.json change in place, so caches keep them briefly; the worker's name
# changes with its content, so it is cached for a year.
SHORT_CACHE = "public, max-age=300"
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
HSTS_SECONDS = 63_072_000  # two years
BOOTSTRAP_QUALIFIER_CONTEXT = "@aws-cdk/core:bootstrapQualifier"


def bootstrap_qualifier(stack: Stack) -> str:
    """The qualifier of the CDK bootstrap the stack deploys with (cdk bootstrap --qualifier, or the default)."""
    synthesizer = stack.synthesizer
    qualifier = synthesizer.bootstrap_qualifier if isinstance(synthesizer, DefaultStackSynthesizer) else None
    return str(
        qualifier
        or stack.node.try_get_context(BOOTSTRAP_QUALIFIER_CONTEXT)
        or DefaultStackSynthesizer.DEFAULT_QUALIFIER
    )


class TrackerSite(Construct):
    """Publishes ``dist_dir`` plus a deploy-time ``config.json`` through CloudFront.

    Exposes ``bucket``, ``distribution``, ``response_headers_policy``, ``domain_name``, ``loader_url`` and
    ``snippet`` (the HTML to paste into a page, from the build's snippet.html).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dist_dir: str,
        config: Mapping[str, Any],
        cors_origins: Sequence[str],
        price_class: cloudfront.PriceClass,
        destroy_on_removal: bool,
        domain_name: str | None = None,
        certificate_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = self._bucket(destroy_on_removal=destroy_on_removal)
        self.response_headers_policy = self._headers_policy(cors_origins)
        self.distribution = self._distribution(price_class, domain_name, certificate_arn)
        self.domain_name = domain_name or self.distribution.distribution_domain_name
        self.loader_url = f"https://{self.domain_name}/{LOADER_KEY}"
        self.snippet = snippet(dist_dir, self.loader_url)
        self._acknowledge_distribution(custom_domain=domain_name is not None)
        workers = self._publish(dist_dir, config, destroy_on_removal=destroy_on_removal)
        self._acknowledge_deployment_handler(workers)

    def _bucket(self, *, destroy_on_removal: bool) -> s3.Bucket:
        bucket = private_bucket(self, "Bucket", destroy_on_removal=destroy_on_removal, versioned=True)
        acknowledge(
            bucket.node.default_child,  # type: ignore[arg-type]
            "AwsSolutions-S1",
            "Holds only the public tracker build, written solely by the BucketDeployment copy function during "
            "cdk deploy (the stack updates that run it are CloudTrail management events) and read solely by "
            "CloudFront; versioning keeps every earlier object. Object writes are S3 data events: an owner who "
            "wants them recorded enables CloudTrail data events on this bucket; access logs add nothing to that.",
        )
        return bucket

    def _headers_policy(self, cors_origins: Sequence[str]) -> cloudfront.ResponseHeadersPolicy:
        """CORS for the owner's sites, embeddable under COEP, nosniff, HSTS."""
        return cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            comment="PutOnly tracker: CORS for the owner's sites, embeddable under COEP, nosniff, HSTS",
            cors_behavior=cloudfront.ResponseHeadersCorsBehavior(
                access_control_allow_origins=list(cors_origins),
                access_control_allow_methods=["GET", "HEAD"],
                access_control_allow_headers=["*"],
                access_control_allow_credentials=False,
                access_control_max_age=Duration.days(1),
                origin_override=True,
            ),
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
                custom_headers=[
                    cloudfront.ResponseCustomHeader(
                        header="Cross-Origin-Resource-Policy", value="cross-origin", override=True
                    )
                ]
            ),
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.seconds(HSTS_SECONDS),
                    include_subdomains=True,
                    override=True,
                ),
            ),
        )

    def _distribution(
        self, price_class: cloudfront.PriceClass, domain_name: str | None, certificate_arn: str | None
    ) -> cloudfront.Distribution:
        """HTTPS only, HTTP/2 and 3, compressed, reading the bucket through Origin Access Control."""
        certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn) if certificate_arn else None
        )
        return cloudfront.Distribution(
            self,
            "Distribution",
            comment="PutOnly tracker",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
                cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD_OPTIONS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.response_headers_policy,
                compress=True,
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=price_class,
            domain_names=[domain_name] if domain_name else None,
            certificate=certificate,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate else None,
        )

    def _publish(
        self, dist_dir: str, config: Mapping[str, Any], *, destroy_on_removal: bool
    ) -> s3deploy.BucketDeployment:
        """Copies the build and config.json into the bucket; returns the workers' deployment."""
        # The copy function's logs: a month, and gone with the stack where everything else is (else CDK keeps
        # them two years, past `cdk destroy`).
        deploy_logs = logs.LogGroup(
            self,
            "DeployLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY if destroy_on_removal else RemovalPolicy.RETAIN,
        )
        # Hashed worker files first and never pruned: pages holding an older loader keep working.
        workers = s3deploy.BucketDeployment(
            self,
            "DeployWorker",
            destination_bucket=self.bucket,
            sources=[s3deploy.Source.asset(dist_dir)],
            exclude=["*"],
            include=[WORKER_GLOB],
            cache_control=[s3deploy.CacheControl.from_string(IMMUTABLE_CACHE)],
            prune=False,
            log_group=deploy_logs,
        )
        entry = s3deploy.BucketDeployment(
            self,
            "DeployLoader",
            destination_bucket=self.bucket,
            sources=[s3deploy.Source.asset(dist_dir), s3deploy.Source.json_data(CONFIG_KEY, dict(config))],
            exclude=[WORKER_GLOB, "build.json", SNIPPET_FILE],
            cache_control=[s3deploy.CacheControl.from_string(SHORT_CACHE)],
            prune=False,
            log_group=deploy_logs,
            distribution=self.distribution,
            distribution_paths=[f"/{LOADER_KEY}", f"/{CONFIG_KEY}"],
        )
        # The loader names the new worker, so the worker must be in place before the loader changes.
        entry.node.add_dependency(workers)
        return workers

    def _acknowledge_distribution(self, *, custom_domain: bool) -> None:
        dist = self.distribution.node.default_child
        assert dist is not None
        acknowledge(
            dist,
            "AwsSolutions-CFR1",
            "The tracker must load for visitors of the owner's site wherever they are; a geo restriction "
            "belongs on the site itself, not on its analytics script.",
        )
        acknowledge(
            dist,
            "AwsSolutions-CFR2",
            "Serves the loader, the worker, config.json and their source maps: small, static, public, cacheable "
            "files with no write path behind them, and the events table has its own write cap. A trade-off: Shield "
            "Standard does not stop an HTTP request flood that CloudFront serves from cache and bills per request; "
            "the README prices WAF rate-based rules for owners who want them.",
        )
        acknowledge(
            dist,
            "AwsSolutions-CFR3",
            "Every page view fetches the tracker; CloudFront access logs would duplicate the site's own traffic "
            "logs at a per-request cost, and the events themselves are the analytics record.",
        )
        if not custom_domain:
            acknowledge(
                dist,
                "AwsSolutions-CFR4",
                "No custom domain is configured, so the default *.cloudfront.net certificate is used and CloudFront "
                "fixes its minimum TLS policy; set domainName and certificateArn to enforce TLSv1.2_2021.",
            )

    def _acknowledge_deployment_handler(self, deployment: s3deploy.BucketDeployment) -> None:
        """The copy function CDK's BucketDeployment runs at deploy time (one per stack, shared)."""
        stack = Stack.of(self)

        def literal(value: str, placeholder: str) -> str:
            return placeholder if Token.is_unresolved(value) else value

        partition = literal(stack.partition, "<AWS::Partition>")
        assets_bucket = (
            DefaultStackSynthesizer.DEFAULT_FILE_ASSETS_BUCKET_NAME.replace("${Qualifier}", bootstrap_qualifier(stack))
            .replace("${AWS::AccountId}", literal(stack.account, "<AWS::AccountId>"))
            .replace("${AWS::Region}", literal(stack.region, "<AWS::Region>"))
        )
        bucket_id = stack.get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        role = deployment.handler_role.node.default_child
        policy = deployment.handler_role.node.find_child("DefaultPolicy").node.default_child
        assert role is not None and policy is not None
        why_copy = (
            "CDK's BucketDeployment copy function: it reads this stack's asset zip from the CDK bootstrap bucket "
            "and syncs it into the tracker bucket at deploy time; CDK generates these grants"
        )
        for finding, reason in (
            ("Action::s3:GetBucket*", why_copy + " (read the bootstrap and tracker buckets' metadata)."),
            ("Action::s3:GetObject*", why_copy + " (read the asset zip and existing tracker objects)."),
            ("Action::s3:List*", why_copy + " (list what is already deployed before syncing)."),
            ("Action::s3:Abort*", why_copy + " (abort failed multipart uploads of tracker files)."),
            ("Action::s3:DeleteObject*", why_copy + " (replace objects; pruning is off, so old workers stay)."),
            (
                f"Resource::arn:{partition}:s3:::{assets_bucket}/*",
                why_copy + " (assets are content-addressed objects under the bootstrap bucket).",
            ),
            (f"Resource::<{bucket_id}.Arn>/*", why_copy + " (it writes the tracker files, so objects of this bucket)."),
            (
                "Resource::*",
                "CDK's BucketDeployment copy function invalidates the loader and config.json in CloudFront after a "
                "deploy, and aws-cdk-lib generates its cloudfront:CreateInvalidation/GetInvalidation grant on * "
                "with no option to name the distribution; invalidating only drops cached copies of public files.",
            ),
        ):
            acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's BucketDeployment copy function needs only to write its own CloudWatch logs, which is exactly "
            "what this AWS managed policy grants; it runs only during deploys.",
        )
        handler = next(
            child for child in stack.node.children if child.node.id.startswith("Custom::CDKBucketDeployment")
        ).node.default_child
        assert handler is not None
        acknowledge(
            handler,
            "AwsSolutions-L1",
            "The runtime of CDK's BucketDeployment copy function is chosen by aws-cdk-lib (pinned in "
            "requirements.txt) and moves with its upgrades; it runs only during deploys.",
        )
