"""The events table, the analysts' read-only policy for it and the operators' policy to erase a visitor."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_app import envelope

ANALYST_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
)
# What putonly-erase needs: find a visitor's keys (Query on the table, never the index) and delete them.
# BatchWriteItem also authorises PutRequests; this policy is for operators, who are trusted to write.
ERASE_ACTIONS = (
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:Query",
)


class EventsTable(Construct):
    """Envelope items keyed by visitor identity; grows without maintenance, cost capped by ``write_cap_units``."""

    def __init__(self, scope: Construct, construct_id: str, *, write_cap_units: int, destroy_on_removal: bool) -> None:
        super().__init__(scope, construct_id)
        string = dynamodb.AttributeType.STRING
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=envelope.PARTITION_KEY, type=string),
            sort_key=dynamodb.Attribute(name=envelope.SORT_KEY, type=string),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            # The cost ceiling: a flood of writes is throttled instead of billed.
            max_write_request_units=write_cap_units,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=envelope.TTL_ATTRIBUTE,
            # Envelopes written feed the event counter (monitoring); stream reads by Lambda cost nothing. Old
            # images too: an envelope rewritten with more events (after its keepalive copy) counts what it adds.
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            deletion_protection=not destroy_on_removal,
            removal_policy=RemovalPolicy.DESTROY if destroy_on_removal else RemovalPolicy.RETAIN,
        )
        # Per-subject queries ("plays of song 123 in November") without a hot partition on the table. Its key
        # is spread over the visitors' shards (envelope.index_key), so no subject is one hot index partition.
        # Only count and times are projected (the key holds topic and subject), so each of the tracker's envelopes
        # costs one extra write unit. IAM cannot hold a guest to their types: a forged item may make them big
        # strings, and its index entry then costs as much again, within the index's own write cap (the README's
        # worst month counts both caps).
        self.table.add_global_secondary_index(
            index_name=envelope.GSI_NAME,
            partition_key=dynamodb.Attribute(name=envelope.GSI_PARTITION_KEY, type=string),
            sort_key=dynamodb.Attribute(name=envelope.GSI_SORT_KEY, type=string),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=list(envelope.GSI_PROJECTED),
            max_write_request_units=write_cap_units,
        )
        self.index_arn = f"{self.table.table_arn}/index/{envelope.GSI_NAME}"

        self.analyst_policy = iam.ManagedPolicy(
            self,
            "AnalystReadOnly",
            description="PutOnly: read the events table and its index (no writes). Attach to analysts' roles.",
            statements=[
                iam.PolicyStatement(
                    sid="ReadEvents",
                    actions=list(ANALYST_ACTIONS),
                    resources=[self.table.table_arn, self.index_arn],
                )
            ],
        )

        self.erase_policy = iam.ManagedPolicy(
            self,
            "EraseVisitor",
            description="PutOnly: erase a visitor's envelopes (query and delete on the events table only)."
            " Attach to the operators who answer erasure requests.",
            statements=[
                iam.PolicyStatement(
                    sid="EraseEnvelopes",
                    actions=list(ERASE_ACTIONS),
                    resources=[self.table.table_arn],
                )
            ],
        )
