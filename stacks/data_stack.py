from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from cdk_app.constructs.analytics_export import AnalyticsExport
from cdk_app.constructs.events_table import EventsTable
from cdk_app.constructs.monitoring import EventsMonitoring
from cdk_app.settings import Settings


class DataStack(Stack):
    """The events table, the analysts' read-only policy, the operators' erase policy, alarms and a dashboard,
    and optionally bulk export."""

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
        self.erase_policy = events.erase_policy
        CfnOutput(self, "TableName", value=self.table.table_name, description="The events table")
        CfnOutput(
            self,
            "AnalystPolicyArn",
            value=self.analyst_policy.managed_policy_arn,
            description="Attach to an analyst's role or user for read-only access to the events",
        )
        CfnOutput(
            self,
            "ErasePolicyArn",
            value=self.erase_policy.managed_policy_arn,
            description="Attach to an operator's role or user to run putonly-erase (query and delete, nothing else)",
        )
        monitoring = EventsMonitoring(
            self,
            "Monitoring",
            table=self.table,
            write_cap_units=settings.write_cap_units,
            alarm_email=settings.alarm_email,
        )
        CfnOutput(self, "DashboardName", value=monitoring.dashboard.dashboard_name, description="CloudWatch dashboard")
        if monitoring.topic:
            CfnOutput(self, "AlarmTopicArn", value=monitoring.topic.topic_arn, description="Alarm notices go here")
        if settings.analytics_export:
            export = AnalyticsExport(
                self, "AnalyticsExport", env_name=settings.env_name, destroy_on_removal=settings.destroy_on_removal
            )
            CfnOutput(
                self, "ExportBucket", value=export.bucket.bucket_name, description="Point-in-time exports land here"
            )
            CfnOutput(self, "GlueDatabase", value=export.database_name, description="Glue database for Athena")
            CfnOutput(self, "AthenaWorkGroup", value=str(export.workgroup_name), description="Athena workgroup")
