"""Alarms and a dashboard for the events table: throttling, errors, and writes close to the cost cap."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from cdk_app.constructs.nag import acknowledge
from cdk_app.envelope import EVENTS_MAX

# Alarm when a minute's writes reach this share of the cap (the cap is per second).
CAP_WARNING_SHARE = 0.8
MINUTE = Duration.minutes(1)


@dataclass(frozen=True)
class TableMetrics:
    """The per-minute metrics the alarms and the dashboard watch."""

    throttled: cloudwatch.Metric  # PutItem requests throttled (the write cap, or a hot partition)
    system_errors: cloudwatch.Metric  # DynamoDB 5xx on PutItem
    user_errors: cloudwatch.Metric  # 4xx in the account and region (DynamoDB reports no table dimension)
    write_units: cloudwatch.Metric
    envelopes: cloudwatch.Metric  # successful PutItem requests: one per envelope
    events: cloudwatch.Metric  # PutOnly/Events, published by the event counter
    counter_failures: cloudwatch.Metric  # PutOnly/CounterFailures: stream records the counter failed on

    @classmethod
    def of(cls, table: dynamodb.Table) -> TableMetrics:
        put_item = {"TableName": table.table_name, "Operation": "PutItem"}

        def metric(name: str, dimensions: dict[str, str] | None = None, stat: str = "Sum") -> cloudwatch.Metric:
            return table.metric(name, dimensions_map=dimensions, period=MINUTE, statistic=stat)

        def own(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="PutOnly",
                metric_name=name,
                dimensions_map={"TableName": table.table_name},
                period=MINUTE,
                statistic="Sum",
            )

        return cls(
            throttled=metric("ThrottledRequests", put_item),
            system_errors=metric("SystemErrors", put_item),
            user_errors=table.metric_user_errors(period=MINUTE, statistic="Sum"),
            write_units=metric("ConsumedWriteCapacityUnits"),
            envelopes=metric("SuccessfulRequestLatency", put_item, stat="SampleCount"),
            events=own("Events"),
            counter_failures=own("CounterFailures"),
        )


class EventsMonitoring(Construct):
    """Alarms and a dashboard on the events table's metrics, and the counter that publishes events per minute.

    Exposes ``alarms`` (name -> Alarm), ``dashboard``, ``event_counter`` and, with ``alarm_email``, the ``topic``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.Table,
        write_cap_units: int,
        alarm_email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        metrics = TableMetrics.of(table)
        self.event_counter = EventCounter(self, "EventCounter", table=table).function
        self.alarms = self._alarms(metrics, write_cap_units)
        self.topic = self._notify(alarm_email) if alarm_email else None
        self.dashboard = self._dashboard(metrics, write_cap_units)

    def _alarm(
        self, name: str, metric: cloudwatch.IMetric, threshold: float, what: str, *, minutes: int = 2
    ) -> cloudwatch.Alarm:
        """``minutes`` breaching minutes out of five."""
        return cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            evaluation_periods=5,
            datapoints_to_alarm=minutes,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=what,
        )

    def _alarms(self, metrics: TableMetrics, write_cap_units: int) -> dict[str, cloudwatch.Alarm]:
        cap_per_minute = write_cap_units * 60
        return {
            "ThrottledWrites": self._alarm(
                "ThrottledWrites",
                metrics.throttled,
                1,
                "PutItem requests throttled: writes reach writeCapUnits; browsers retry",
            ),
            "SystemErrors": self._alarm(
                "SystemErrors", metrics.system_errors, 1, "DynamoDB returned 5xx to PutItem; browsers retry"
            ),
            "UserErrors": self._alarm(
                "UserErrors",
                metrics.user_errors,
                50,
                "Many 4xx in this account and region: refused credentials or bad items",
            ),
            "WritesNearCap": self._alarm(
                "WritesNearCap",
                metrics.write_units,
                CAP_WARNING_SHARE * cap_per_minute,
                f"Write units above {CAP_WARNING_SHARE:.0%} of the cap ({write_cap_units}/s): raise it or find abuse",
            ),
            # One minute is enough: after its retries a failing batch is skipped, and its events go uncounted.
            "EventCounterErrors": self._alarm(
                "EventCounterErrors",
                self._counter_trouble(metrics),
                1,
                "The event counter failed on a stream batch: PutOnly/Events undercounts until fixed (see its logs)",
                minutes=1,
            ),
        }

    def _counter_trouble(self, metrics: TableMetrics) -> cloudwatch.MathExpression:
        """The counter's errors (it crashed) and the records it reported as failed (the invocation succeeded, so
        Lambda's Errors metric does not show them): either means a batch may go uncounted."""
        return cloudwatch.MathExpression(
            expression="FILL(errors, 0) + FILL(failures, 0)",
            using_metrics={
                "errors": self.event_counter.metric_errors(period=MINUTE, statistic="Sum"),
                "failures": metrics.counter_failures,
            },
            label="event counter errors and failed records",
            period=MINUTE,
        )

    def _notify(self, alarm_email: str) -> sns.Topic:
        """An encrypted, TLS-only topic that mails every alarm to ``alarm_email``.

        Its key is a customer-managed one whose policy lets CloudWatch use it: CloudWatch cannot publish to a
        topic encrypted with the AWS-managed alias/aws/sns key (its policy cannot be changed), and then no alarm
        would ever reach anyone.
        """
        key = kms.Key(
            self,
            "AlarmKey",
            description="PutOnly alarm topic: lets CloudWatch alarms publish to it",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,  # it encrypts transient notices only
        )
        stack = Stack.of(self)
        # CloudWatch acting for this account (the key's statement names no alarm ARN: AWS's own example for
        # encrypted alarm topics has no condition at all, and the account is the one it documents).
        this_account = {"StringEquals": {"aws:SourceAccount": stack.account}}
        alarms_here = {
            **this_account,
            "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"},
        }
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=this_account,
            )
        )
        topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name="PutOnly alarms",
            enforce_ssl=True,
            master_key=key,
        )
        # enforce_ssl writes a topic policy, which replaces SNS's default one: without this statement nothing
        # lets CloudWatch publish.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=alarms_here,
            )
        )
        topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        for each in self.alarms.values():
            each.add_alarm_action(actions.SnsAction(topic))
        return topic

    def _dashboard(self, metrics: TableMetrics, write_cap_units: int) -> cloudwatch.Dashboard:
        cap_per_minute = write_cap_units * 60
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(6))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Events and envelopes stored per minute",
                left=[metrics.events.with_(label="events"), metrics.envelopes.with_(label="envelopes (PutItem)")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Write units per minute",
                left=[metrics.write_units],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=cap_per_minute, label="cap"),
                    cloudwatch.HorizontalAnnotation(value=CAP_WARNING_SHARE * cap_per_minute, label="alarm"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Errors per minute",
                left=[
                    metrics.throttled.with_(label="throttled PutItem"),
                    metrics.system_errors.with_(label="DynamoDB 5xx on PutItem"),
                    metrics.user_errors.with_(label="4xx (account and region)"),
                    self._counter_trouble(metrics),
                ],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=12),
        )
        return dashboard


class EventCounter(Construct):
    """Reads the table's stream and publishes events stored per minute (PutOnly/Events). Exposes ``function``."""

    def __init__(self, scope: Construct, construct_id: str, *, table: dynamodb.Table) -> None:
        super().__init__(scope, construct_id)
        log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        # Its own role instead of AWSLambdaBasicExecutionRole: logs to this one log group only.
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        log_group.grant_write(role)
        self.function = lambda_.Function(
            self,
            "Function",
            description="PutOnly: counts stored events from the table's stream (PutOnly/Events metric)",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="index.handler",
            # Beside this file; bytecode a local import left there stays out of the deployed zip.
            code=lambda_.Code.from_asset(str(Path(__file__).parent / "event_counter"), exclude=["__pycache__"]),
            # A guest writes `count`: records outside 1..MAX_EVENTS are skipped and logged. The most any envelope
            # holds, as the export reads them, not envelopeMaxEvents: envelopes sealed under a higher setting still
            # arrive from outboxes after a deploy lowers it.
            environment={"TABLE_NAME": table.table_name, "MAX_EVENTS": str(EVENTS_MAX)},
            memory_size=128,
            timeout=Duration.seconds(30),
            log_group=log_group,
            role=role,
        )
        self.function.add_event_source(
            sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.LATEST,
                batch_size=1000,
                max_batching_window=Duration.seconds(30),
                retry_attempts=2,
                # A failing record is reported alone (the handler's batchItemFailures), or found by halving.
                report_batch_item_failures=True,
                bisect_batch_on_error=True,
            )
        )
        policy = role.node.find_child("DefaultPolicy").node.default_child
        assert policy is not None
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "dynamodb:ListStreams, which the stream trigger needs, supports no resource-level permission; every "
            "other stream action in this policy is limited to the events table's stream.",
        )
