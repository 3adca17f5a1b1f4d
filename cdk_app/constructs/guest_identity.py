"""The Cognito identity pool that hands each browser short-lived guest credentials."""

from __future__ import annotations

from aws_cdk import aws_cognito_identitypool as identitypool
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_app import envelope
from cdk_app.constructs.nag import acknowledge

# The visitor's own identity id, filled in by IAM at request time from the caller's credentials.
CALLER_IDENTITY = "${cognito-identity.amazonaws.com:sub}"


def guest_put_statement(table_arn: str) -> iam.PolicyStatement:
    """The one thing a guest may do: put an envelope item into its own partition of one table.

    Not BatchWriteItem: it also authorises DeleteRequest. ``ReturnValues`` must be NONE (or absent) so
    a put can never read back what it overwrote, and only the envelope's attributes may be written.
    No enclosing operation: a Put inside TransactWriteItems is authorised as ``dynamodb:PutItem`` too
    (100 puts a request at twice the write units). IAM's ``Null`` check with "true" holds only when the key
    is absent from the request; a plain PutItem, with or without a ConditionExpression, carries no such key.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
    """
    return iam.PolicyStatement(
        sid="PutOwnEnvelopesOnly",
        actions=["dynamodb:PutItem"],
        resources=[table_arn],
        conditions={
            "ForAllValues:StringEquals": {
                "dynamodb:LeadingKeys": [CALLER_IDENTITY],
                "dynamodb:Attributes": list(envelope.ATTRIBUTES),
            },
            "StringEqualsIfExists": {"dynamodb:ReturnValues": "NONE"},
            "Null": {"dynamodb:EnclosingOperation": "true"},
        },
    )


class GuestIdentity(Construct):
    """Unauthenticated (guest) identities only, enhanced flow only. Exposes ``guest_role``."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.identity_pool = identitypool.IdentityPool(
            self,
            "Pool",
            allow_unauthenticated_identities=True,
            allow_classic_flow=False,
        )
        self.identity_pool_id = self.identity_pool.identity_pool_id
        self.guest_role = self.identity_pool.unauthenticated_role
        pool = self.identity_pool.node.default_child
        assert pool is not None
        acknowledge(
            pool,
            "AwsSolutions-COG7",
            (
                "Guest identities are the product: anonymous visitors of the owner's site get short-lived "
                "credentials whose only right is PutItem into their own partition of the events table."
            ),
        )
