from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from cdk_app.constructs.guest_identity import GuestIdentity, guest_put_statement


class IdentityStack(Stack):
    """Guest identities whose only right is to put envelopes into their own partition of the table."""

    def __init__(self, scope: Construct, construct_id: str, *, table: dynamodb.ITable, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        guests = GuestIdentity(self, "Guests")
        # The grant lives with the consumer. Not table.grant_write_data: that also allows update and delete.
        guests.guest_role.add_to_principal_policy(guest_put_statement(table.table_arn))
        self.identity_pool_id = guests.identity_pool_id
        self.guest_role = guests.guest_role
        CfnOutput(self, "IdentityPoolId", value=self.identity_pool_id, description="Cognito identity pool for guests")
