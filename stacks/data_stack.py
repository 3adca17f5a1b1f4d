from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from cdk_app.constructs.events_table import EventsTable
from cdk_app.settings import Settings


class DataStack(Stack):
    """The events table and the analysts' read-only policy."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        events = EventsTable(
            self,
            "Events",
            write_cap_units=settings.write_cap_units,
            destroy_on_removal=settings.destroy_on_removal,
        )
        self.table = events.table
        self.index_arn = events.index_arn
        self.analyst_policy = events.analyst_policy
        CfnOutput(self, "TableName", value=self.table.table_name, description="The events table")
        CfnOutput(
            self,
            "AnalystPolicyArn",
            value=self.analyst_policy.managed_policy_arn,
            description="Attach to an analyst's role or user for read-only access to the events",
        )
