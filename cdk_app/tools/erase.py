"""putonly-erase: delete every envelope of one visitor (a Cognito identity id) from the events table.

Answers an erasure request. A visitor's envelopes are one partition (pk = its identity id), so one Query
finds all of them. The command counts first (envelopes, and the events of the items that are envelopes:
guests write the table, so a forged count is never believed), asks before deleting unless --yes, then
deletes the keys 25 at a time with BatchWriteItem: throttled requests are retried by botocore, unprocessed
items by a bounded backoff of its own. boto3 only; the standard AWS credential chain.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cdk_app import envelope
from cdk_app.tools.rows import Rejected, event_rows
from cdk_app.tools.session import (
    EXAMPLE,
    Parser,
    Progress,
    ToolError,
    add_aws_arguments,
    add_table_arguments,
    check_table_arguments,
    describe_error,
    identity_problem,
    plural,
    session,
)

PROG = "putonly-erase"
# What the command calls; the ErasePolicyArn policy grants these and DeleteItem (tests/unit/tools/test_erase.py).
REQUIRED_ACTIONS = ("dynamodb:DescribeTable", "dynamodb:Query", "dynamodb:BatchWriteItem")
BATCH = 25  # BatchWriteItem's most requests per call
# Throttling (ProvisionedThroughputExceeded, the write cap's ThrottlingException) and 5xx: botocore's standard
# retry mode, exponential backoff with full jitter, up to 10 attempts a request.
RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 10})
# Items a BatchWriteItem returns unprocessed are sent again after a full-jitter backoff of their own.
UNPROCESSED_ATTEMPTS = 10
BACKOFF_BASE = 0.05  # seconds
BACKOFF_CAP = 5.0
# What rows.event_rows reads to count an envelope's events (the export's checks).
COUNTED = (
    envelope.PARTITION_KEY,
    envelope.SORT_KEY,
    envelope.TOPIC,
    envelope.SUBJECT,
    envelope.EVENTS,
    envelope.COUNT,
    envelope.FIRST_TS,
    envelope.VERSION,
)
KEYS = (envelope.PARTITION_KEY, envelope.SORT_KEY)


@dataclass
class Tally:
    """What a partition holds: its items, the events of those that are envelopes, and the items that are not."""

    envelopes: int = 0
    events: int = 0
    not_envelopes: int = 0

    def describe(self) -> str:
        return f"{plural(self.envelopes, 'envelope')} ({plural(self.events, 'event')})"


class Eraser:
    """One visitor's partition: counted, then deleted; ``deleted`` says how far it got."""

    def __init__(
        self,
        client: Any,
        table: str,
        identity: str,
        *,
        page_size: int = 500,
        progress: Progress | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.client = client
        self.table = table
        self.identity = identity
        self.page_size = page_size
        self.progress = progress or Progress(PROG, "", enabled=False)
        self.sleep = sleep
        self.jitter = jitter
        self.deleted = 0
        # The partition's last key when the count began: counting and deleting stop there. Whatever a browser
        # writes meanwhile past it is found by anything_left(), rather than chased for as long as it writes.
        self.last: str | None = None

    def _pages(
        self, attributes: tuple[str, ...], *, upto: str | None = None, **extra: Any
    ) -> Iterator[list[dict[str, Any]]]:
        """The partition's items (up to the key ``upto``), page by page, with only ``attributes`` (strongly
        consistent reads)."""
        names = {f"#{name}": name for name in (envelope.PARTITION_KEY, *attributes)}  # "count" is a reserved word
        condition = f"#{envelope.PARTITION_KEY} = :identity"
        values = {":identity": {"S": self.identity}}
        if upto is not None:
            names[f"#{envelope.SORT_KEY}"] = envelope.SORT_KEY
            condition += f" AND #{envelope.SORT_KEY} <= :upto"
            values[":upto"] = {"S": upto}
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ExpressionAttributeNames": names,
            "ProjectionExpression": ", ".join(f"#{name}" for name in attributes),
            "ConsistentRead": True,
            "Limit": self.page_size,
            **extra,
        }
        while True:
            reply = self.client.query(**request)
            yield reply.get("Items", [])
            if not reply.get("LastEvaluatedKey"):
                return
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def count(self) -> Tally:
        """Envelopes and events stored for the identity. A forged item counts as an envelope with no events."""
        tally = Tally()
        last = next(self._pages(KEYS, Limit=1, ScanIndexForward=False))
        if not last:
            return tally
        self.last = last[0][envelope.SORT_KEY]["S"]
        for items in self._pages(COUNTED, upto=self.last):
            for item in items:
                tally.envelopes += 1
                try:
                    tally.events += len(event_rows(item))
                except Rejected:
                    tally.not_envelopes += 1
            self.progress.update(len(items))
        return tally

    def delete(self) -> int:
        """Deletes every item of the partition up to the last key counted (keys only are read), ``BATCH`` keys a
        request; returns how many."""
        for items in self._pages(KEYS, upto=self.last):
            for i in range(0, len(items), BATCH):
                self.delete_batch(items[i : i + BATCH])
        return self.deleted

    def delete_batch(self, keys: list[dict[str, Any]]) -> None:
        """One BatchWriteItem of DeleteRequests, and again for what it returned unprocessed, with backoff."""
        pending = [{"DeleteRequest": {"Key": key}} for key in keys]
        for attempt in range(UNPROCESSED_ATTEMPTS):
            if attempt:
                self.sleep(self.jitter() * min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))
            reply = self.client.batch_write_item(RequestItems={self.table: pending})
            left = reply.get("UnprocessedItems", {}).get(self.table, [])
            self.deleted += len(pending) - len(left)
            self.progress.update(len(pending) - len(left))
            pending = left
            if not pending:
                return
        raise ToolError(
            f"DynamoDB left {plural(len(pending), 'envelope')} unprocessed after {UNPROCESSED_ATTEMPTS} attempts"
            f" (throttled); {self.deleted} deleted so far; run the same command again to delete the rest"
        )

    def anything_left(self) -> bool:
        """Whether the partition holds an item (one written while it was being erased)."""
        return any(next(self._pages(KEYS, Limit=1)))


def confirm(question: str) -> bool:
    """Asks on the terminal; only y or yes (any case) confirms."""
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    client = session(args.profile, args.region).client("dynamodb", endpoint_url=args.endpoint_url, config=RETRIES)
    try:
        client.describe_table(TableName=args.table)
    except Exception as err:
        raise ToolError(describe_error(err, args.table, client)) from None
    on_terminal = sys.stderr.isatty()
    counting = Progress(PROG, "envelopes counted", enabled=on_terminal)
    eraser = Eraser(client, args.table, args.identity, page_size=args.page_size, progress=counting)
    try:
        try:
            tally = eraser.count()
        finally:
            counting.close()
        if not tally.envelopes:
            raise ToolError(f"nothing stored for identity {args.identity} in table {args.table}")
        if tally.not_envelopes:
            print(
                f"{PROG}: {tally.not_envelopes} of the {plural(tally.envelopes, 'item')}"
                f" {'is not an envelope' if tally.not_envelopes == 1 else 'are not envelopes'} the tracker writes"
                f" ({'would be erased' if args.dry_run else 'erased'} too; their events are not counted)",
                file=sys.stderr,
            )
        what = f"{tally.describe()} of identity {args.identity}"
        if args.dry_run:
            print(f"would erase {what} from {args.table} (dry run: nothing deleted)")
            return 0
        if not args.yes and not confirm(f"Delete {what} from table {args.table}?"):
            print(f"{PROG}: not confirmed; nothing deleted", file=sys.stderr)
            return 1
        eraser.progress = Progress(PROG, "envelopes deleted", enabled=on_terminal)
        try:
            deleted = eraser.delete()
        finally:
            eraser.progress.close()
        if eraser.anything_left():
            # What was deleted is still the record to keep (stdout); the error says what is left.
            print(f"erased {plural(deleted, 'envelope')} of identity {args.identity} from {args.table} (not all)")
            raise ToolError(
                f"identity {args.identity} still has envelopes in {args.table} after {deleted} were deleted: written"
                " meanwhile (a browser may still be tracking under it); run the same command again"
            )
    except (ClientError, BotoCoreError) as err:
        raise ToolError(describe_error(err, args.table, client) + _so_far(eraser)) from None
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted" + _so_far(eraser), file=sys.stderr)
        return 130
    if deleted == tally.envelopes:
        print(f"erased {what} from {args.table}")
    else:  # the partition changed between the count and the deletion
        print(
            f"erased {plural(deleted, 'envelope')} of identity {args.identity} from {args.table}"
            f" ({tally.describe()} when counted: the partition changed meanwhile)"
        )
    return 0


def _so_far(eraser: Eraser) -> str:
    return f"; {eraser.deleted} deleted so far, run the same command again" if eraser.deleted else ""


def parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--identity", required=True, help=f"the visitor's Cognito identity id, e.g. {EXAMPLE}")
    p.add_argument("--dry-run", action="store_true", help="count the envelopes and events, delete nothing")
    p.add_argument("--yes", action="store_true", help="delete without asking (needed when stdin is not a terminal)")
    add_table_arguments(p, "Query page")
    add_aws_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    check_table_arguments(p, args)
    problem = identity_problem(args.identity)
    if problem:
        p.error(problem)
    # The question goes to stderr and the answer comes from stdin: both must be the terminal.
    for name, stream in (("stdin", sys.stdin), ("stderr", sys.stderr)):
        if not (args.yes or args.dry_run or stream.isatty()):
            p.error(
                f"{name} is not a terminal, so nobody can confirm: pass --yes to delete without asking (or --dry-run)"
            )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    try:
        return run(args)
    except ToolError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
