"""putonly-export: events out of the table, one row per event, as JSON Lines or CSV.

Select by topic+subject (the by_subject index), by visitor identity, or the whole table (parallel Scan
segments), optionally within a time range. Uses boto3 only (no aws_cdk), the standard AWS credential
chain, and can resume after an interruption from a checkpoint file. Guests write the items: one that is
not an envelope the tracker writes is skipped, counted on stderr and kept in a rejects file (rows.py).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import heapq
import json
import os
import random
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError

from cdk_app import envelope
from cdk_app.tools.rows import Rejected, cell, event_rows, json_text, reject_line
from cdk_app.tools.session import (
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

PROG = "putonly-export"
LOOKBACK = timedelta(hours=1)
COLUMNS = ("event_id", "time", "ts_ms", "topic", "subject", "identity", "envelope", "data")
# What the export needs, and all that the analyst policy grants (tests/unit/tools/test_export.py checks both).
REQUIRED_ACTIONS = ("dynamodb:DescribeTable", "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem")
# Index shards read at once: botocore keeps 10 connections per client (more would be opened and thrown away).
INDEX_READERS = 10
# The most index entries fetched as one page (one BatchGetItem's most keys). Items are turned into rows one at a
# time: a forged one of 400 KB holds up to EVENTS_MAX events, and 25 of nested data at once took 680 MB.
INDEX_PAGE_MAX = 100
# Items at one place in the index order a checkpoint remembers (honest envelopes each have their own place).
PLACE_KEYS_SAVED = 1_000
UNPROCESSED_BACKOFF_MAX = 2.0  # seconds, the longest wait before asking again for keys BatchGetItem handed back


# The times a row can have (rows.py: 1970 to 9999); a bound outside them is a mistake, and would not sort as
# the table's keys do (year 999 is "999-...", after "2026-...").
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def parse_time(value: str, *, flag: str, end: bool = False) -> str:
    """ISO-8601 date or time, in UTC unless it says otherwise, as the table's sort-key prefix. With ``end`` (the
    inclusive --until), the last millisecond of what it names: a date, the whole day; 10:00, the whole minute."""
    try:
        # A date with a zone and no time: fromisoformat would read the zone as the time (2026-11-30+05:00 as 05:00).
        text = _DATE_AND_ZONE.sub(r"\1T00:00\2", value.strip().replace("Z", "+00:00"))
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
        if end:
            parsed += _span(value) - timedelta(milliseconds=1)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{flag} {value!r} is not an ISO-8601 date or time (e.g. 2026-11-01 or 2026-11-01T12:00Z)"
        ) from None
    except OverflowError:  # 9999-12-31T23:00-05:00 is in year 10000 in UTC
        parsed = EARLIEST - timedelta(days=1)
    if not EARLIEST <= parsed <= LATEST:
        raise argparse.ArgumentTypeError(f"{flag} {value!r} is outside 1970-01-01 to 9999-12-31 (UTC)")
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


_DATE_AND_ZONE = re.compile(r"^(\d{4}-?\d{2}-?\d{2}|\d{4}-?W\d{2}(?:-?\d)?)([+-]\d{2}(?::?\d{2})?)$")
# A date, then an hour, minutes, seconds and a fraction, each optional from the right; then Z or an offset.
_PRECISION = re.compile(r"\d{4}-?\d{2}-?\d{2}(?:[T ](\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?)?)?(?:Z|[+-].+)?")


# A week date (2026-W48, 2026-W48-7 for its Sunday), which fromisoformat reads as its Monday, or that day.
_WEEK = re.compile(r"\d{4}-?W\d{2}(-?\d)?")


def _span(value: str) -> timedelta:
    """How much time ``value`` names: a day for a date alone, a minute for 10:00, a millisecond for 10:00:00.000;
    a week for 2026-W48."""
    text = value.strip()
    week = _WEEK.match(text)
    if week:
        rest = text[week.end() :]
        if not week[1] and re.fullmatch(r"(?:Z|[+-].+)?", rest):
            return timedelta(weeks=1)
        text = "2000-01-01" + rest  # a day of it, or its Monday at a time: as precise as a date with what follows
    match = _PRECISION.fullmatch(text)
    if not match:  # another form fromisoformat reads: as it reads
        return timedelta(milliseconds=1)
    hour, minute, second, fraction = match.groups()
    if fraction:
        return timedelta(milliseconds=max(1, 10 ** (3 - min(len(fraction), 3))))
    for given, span in ((second, timedelta(seconds=1)), (minute, timedelta(minutes=1)), (hour, timedelta(hours=1))):
        if given:
            return span
    return timedelta(days=1)


def topic_argument(value: str) -> str:
    """A topic the tracker can write (no "#": the index key puts topic, subject and shard together)."""
    if not re.fullmatch(envelope.TOPIC_PATTERN, value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a topic the tracker writes:"
            " lower case letters, digits, _ . - (a letter first, at most 64)"
        )
    return value


@dataclass
class Checkpoint:
    """Where each segment stopped (its LastEvaluatedKey; None when done), rows written and items rejected, and
    the bytes the output and rejects files held then: a rerun cuts them back to that, so rows written after the
    last checkpoint (a kill, a crash, a full disk part-way through a page) are not written twice."""

    path: Path | None
    selection: dict[str, Any]
    segments: dict[str, Any] = field(default_factory=dict)
    rows: int = 0
    rejected: int = 0
    sizes: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, path: Path | None, selection: dict[str, Any]) -> Checkpoint:
        if path is None or not path.exists():
            return cls(path, selection)
        try:
            saved = json.loads(path.read_text())
            if not (isinstance(saved, dict) and isinstance(saved.get("segments"), dict)):
                raise ValueError("no segments")
        except (OSError, ValueError) as err:  # a directory, unreadable, not JSON, or not one of ours
            why = err.strerror if isinstance(err, OSError) and err.strerror else "not a checkpoint this command wrote"
            raise ToolError(f"cannot resume from --checkpoint {path}: {why}; name another file") from None
        if saved.get("selection") != selection:
            raise ToolError(
                f"checkpoint {path} belongs to another export ({saved.get('selection')}); delete it or use another"
            )
        return cls(
            path, selection, saved["segments"], saved.get("rows", 0), saved.get("rejected", 0), saved.get("sizes", {})
        )

    @staticmethod
    def temporary(path: Path) -> Path:
        """Where a checkpoint is written before it replaces the last one."""
        return path.with_suffix(path.suffix + ".tmp")

    def check_writable(self) -> None:
        """ToolError now if the checkpoint could not be saved (a missing folder, no permission); leaves nothing."""
        self._write("", keep=False)

    def save(self) -> None:
        saved = {
            "selection": self.selection,
            "segments": self.segments,
            "rows": self.rows,
            "rejected": self.rejected,
            "sizes": self.sizes,
        }
        self._write(json.dumps(saved), keep=True)

    def _write(self, text: str, *, keep: bool) -> None:
        """Writes the temporary file, then puts it in the checkpoint's place (atomic: an interruption never leaves
        half a checkpoint), or removes it."""
        if self.path is None:
            return
        temporary = self.temporary(self.path)
        try:
            temporary.write_text(text)
            temporary.replace(self.path) if keep else temporary.unlink()
        except OSError as err:
            raise ToolError(f"cannot write --checkpoint {self.path}: {err.strerror or err}") from None


class WriteFailed(Exception):
    """Writing ``name`` failed (a full disk, a file past its size limit)."""

    def __init__(self, name: str, err: OSError) -> None:
        super().__init__(f"cannot write {name}: {err.strerror or err}")


@contextlib.contextmanager
def writing(name: str) -> Iterator[None]:
    """Names the file an OSError came from (a closed pipe is main()'s to handle)."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as err:
        raise WriteFailed(name, err) from None


class Writer:
    """Rows as JSON Lines (exact) or CSV (cells neutralised for spreadsheets), flushed before every checkpoint."""

    def __init__(self, out: IO[str], fmt: str, *, header: bool, name: str) -> None:
        self.out = out
        self.name = name  # for errors: the --output file, or stdout
        self.fmt = fmt
        # Every cell quoted: a spreadsheet that splits on another separator (";" in many locales) never sees a
        # cell start inside one of ours ("t;=1+1" stays one cell).
        self.csv = csv.DictWriter(out, fieldnames=COLUMNS, quoting=csv.QUOTE_ALL) if fmt == "csv" else None
        if self.csv and header:
            self.csv.writeheader()

    def write(self, rows: list[dict[str, Any]]) -> None:
        with writing(self.name):
            for row in rows:
                if self.csv:
                    self.csv.writerow({k: cell(json_text(v) if k == "data" else v) for k, v in row.items()})
                else:
                    self.out.write(json_text(row) + "\n")

    def flush(self) -> None:
        with writing(self.name):
            self.out.flush()


class Rejects:
    """Items skipped as not envelopes: one JSON line each (reason and raw item), flushed before every checkpoint.

    The file is opened at the start, so an unwritable path is a one-line error before any work; a default
    path (beside --output) that stayed empty is removed at the end.
    """

    def __init__(
        self, path: Path | None, *, named: bool, append: bool, size: int | None = None, partial: Path | None = None
    ) -> None:
        self.path = path
        self.named = named
        self.partial = partial  # written instead, until the export is whole (as --output's)
        self.out: IO[str] | None = (
            open_for_writing(partial or path, "--rejects", append=append, size=size, named=path) if path else None
        )

    def write(self, skipped: list[tuple[dict[str, Any], str]]) -> None:
        if self.out:
            with writing(str(self.path)):
                self.out.writelines(reject_line(item, why) for item, why in skipped)

    def flush(self) -> None:
        if self.out:
            with writing(str(self.path)):
                self.out.flush()

    def close(self, total: int, *, whole: bool = True) -> None:
        if self.out:
            try:
                with writing(str(self.path)):
                    self.out.close()
            except WriteFailed:
                finish(self.partial, self.path, whole=False)
                raise
            finish(self.partial, self.path, whole=whole)
            if self.partial and not whole:
                return  # the file from before stays as it was
            if not self.named and total == 0 and self.path:
                self.path.unlink(missing_ok=True)


def open_for_writing(
    path: Path, flag: str, *, append: bool, size: int | None = None, named: Path | None = None
) -> IO[str]:
    """A UTF-8 text file, or a one-line error naming the flag and its file, ``named`` (by default ``path``): a
    missing folder, no permission, a directory.

    Appending with ``size`` (what the checkpoint saw) first cuts off what was written after it.
    """
    try:
        if append and size is not None:
            held = path.stat().st_size if path.is_file() else 0  # (an empty rejects file is removed)
            if held < size:
                raise ToolError(
                    f"cannot resume: {flag} {path} holds {held} bytes, fewer than the {size} the checkpoint saved"
                    " (changed since?); delete the checkpoint to export again from the start"
                )
            if held > size:
                os.truncate(path, size)
        return open(path, "a" if append else "w", newline="", encoding="utf-8")
    except OSError as err:
        raise ToolError(f"cannot write {flag} {named or path}: {err.strerror or err}") from None


def sort_out(
    items: list[dict[str, Any]], topic: str | None, subject: str | None
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
    """(the rows of the envelopes among ``items``, the other items with the reason each was rejected)."""
    rows, skipped = [], []
    for item in items:
        try:
            rows.extend(event_rows(item, topic=topic, subject=subject))
        except Rejected as why:
            skipped.append((item, str(why)))
    return rows, skipped


def in_range(row: dict[str, Any], since: str | None, until: str | None) -> bool:
    return (not since or row["time"] >= since) and (not until or row["time"] <= until)


class Exporter:
    def __init__(self, client: Any, table: str, args: argparse.Namespace) -> None:
        self.client = client
        self.table = table
        self.args = args

    def key_range(self, attribute: str) -> tuple[str, dict[str, Any]]:
        # Keys carry the time of an envelope's first event; its last may be up to maxDelaySeconds (at most an
        # hour) later, so the key range starts an hour early and rows are filtered exactly afterwards.
        until = self.args.until
        since = self.args.since and parse_time(
            (max(datetime.fromisoformat(self.args.since), EARLIEST + LOOKBACK) - LOOKBACK).isoformat(), flag="--since"
        )
        if since and until:
            return f" AND {attribute} BETWEEN :since AND :until", {":since": {"S": since}, ":until": {"S": until + "~"}}
        if since:
            return f" AND {attribute} >= :since", {":since": {"S": since}}
        if until:
            return f" AND {attribute} <= :until", {":until": {"S": until + "~"}}
        return "", {}

    def pages(self, segment: int | None, start: Any) -> Iterator[tuple[list[dict[str, Any]], Any]]:
        """(items, resume position) pages of one selection (and one Scan segment); the last position is None."""
        if self.args.topic is not None:
            yield from self.index_pages(start)
            return
        request: dict[str, Any] = {"TableName": self.table, "Limit": self.args.page_size}
        if self.args.all:
            request.update(Segment=segment, TotalSegments=self.args.segments)
            condition, values = self.key_range(envelope.SORT_KEY)
            if condition:
                request["FilterExpression"] = condition.removeprefix(" AND ")
                request["ExpressionAttributeValues"] = values
            operation = self.client.scan
        else:
            condition, values = self.key_range(envelope.SORT_KEY)
            request["KeyConditionExpression"] = f"{envelope.PARTITION_KEY} = :key{condition}"
            request["ExpressionAttributeValues"] = {":key": {"S": self.args.identity}, **values}
            operation = self.client.query
        while True:
            if start:
                request["ExclusiveStartKey"] = start
            reply = operation(**request)
            start = reply.get("LastEvaluatedKey")
            yield reply.get("Items", []), start
            if not start:
                return

    def index_pages(self, start: Any) -> Iterator[tuple[list[dict[str, Any]], Any]]:
        """Pages of a topic+subject selection from the by_subject index, in time order.

        A subject's envelopes are spread over the visitors' shards (envelope.index_key). Every shard the setting
        can have is queried, all in parallel and each one page ahead, and their entries are merged by (time,
        visitor). A page's resume position is its last entry: a rerun asks each shard from that time on and
        skips what does not come after it.
        """
        # The resume position: a place in the order, and the items already written at it (a guest can give many
        # of its items one place: the same gsi1sk under its pk). A checkpoint of an earlier version has no list:
        # everything at its place counts as written, as it then did.
        after = tuple(start[:2]) if start else None
        written_there = {tuple(k) for k in start[2]} if start and len(start) > 2 else None
        condition, values = self.key_range(envelope.GSI_SORT_KEY)
        if after:  # a key condition has one bound below: the later of --since and the resume position
            values[":since"] = {"S": max(values.get(":since", {}).get("S", ""), after[0])}
            bounds = "BETWEEN :since AND :until" if ":until" in values else ">= :since"
            condition = f" AND {envelope.GSI_SORT_KEY} {bounds}"
        pool = ThreadPoolExecutor(max_workers=INDEX_READERS, thread_name_prefix="shard")
        try:
            shards = []
            for shard in range(envelope.INDEX_SHARDS_MAX):
                request = {
                    "TableName": self.table,
                    "IndexName": envelope.GSI_NAME,
                    "Limit": self.args.page_size,
                    "KeyConditionExpression": f"{envelope.GSI_PARTITION_KEY} = :key{condition}",
                    "ExpressionAttributeValues": {
                        ":key": {"S": envelope.index_key(self.args.topic, self.args.subject, shard)},
                        **values,
                    },
                }
                # Every shard's first page is asked for now; the merge below waits only for the ones it needs.
                shards.append(self._entries(pool, request, pool.submit(self.client.query, **request)))
            batch: list[dict[str, Any]] = []
            # An item re-put under another shard while the shards are read (a guest doing so on purpose, or an
            # envelope sent again after indexShards changed) can be found in both. Its two entries have the same
            # place in the order (gsi1sk is its sk): the second is skipped, in this page or the next.
            place: tuple[str, str] | None = after
            keys_here: set[tuple[str, str]] = set(written_there or ())
            # What a checkpoint keeps of them: the first PLACE_KEYS_SAVED (past them, a resume writes a guest's
            # items at that place again), added to as they come, never sorted (a guest may put millions there).
            saved = [list(k) for k in keys_here][:PLACE_KEYS_SAVED]
            for entry in heapq.merge(*shards, key=_index_order):
                order = _index_order(entry)
                if after and (order < after or (order == after and written_there is None)):
                    continue
                if order != place:
                    place, keys_here, saved = order, set(), []
                if _key(entry) in keys_here:
                    continue
                keys_here.add(_key(entry))
                if len(saved) < PLACE_KEYS_SAVED:
                    saved.append(list(_key(entry)))
                batch.append(entry)
                if len(batch) == min(self.args.page_size, INDEX_PAGE_MAX):
                    yield self.full_items(batch), [*order, saved.copy()]  # as it is now: it grows on
                    batch = []
            yield self.full_items(batch), None
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _entries(self, pool: ThreadPoolExecutor, request: dict[str, Any], page: Future[Any]) -> Iterator[Any]:
        """One shard's index entries in time order, asking for its next page before handing out this one's."""
        while True:
            reply = page.result()
            last = reply.get("LastEvaluatedKey")
            if last:
                page = pool.submit(self.client.query, **request, ExclusiveStartKey=last)
            yield from reply.get("Items", [])
            if not last:
                return

    def full_items(self, keys_only: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The envelopes of index entries (the index holds only keys, count and times), in the entries' order.

        The order is the entries', never read from the items: a guest may rewrite its item between the index
        query and this read (without gsi1sk, say); an entry whose item is gone meanwhile is left out. An item
        with two entries here (a guest that moved it between shards, and its time too) is read and written once:
        BatchGetItem refuses a key asked twice.
        """
        order = list(dict.fromkeys(map(_key, keys_only)))
        keys = [{envelope.PARTITION_KEY: {"S": pk}, envelope.SORT_KEY: {"S": sk}} for pk, sk in order]
        found: dict[tuple[str, str], dict[str, Any]] = {}
        # Strongly consistent: the index is updated after the table, so an entry names a written item, and an
        # eventually consistent read could miss it (an entry with no item is taken as deleted) or find an older
        # copy with fewer events.
        pending: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}} if keys else {}
        attempt = 0
        while pending:
            if attempt:  # throttled: DynamoDB handed some keys back; ask again after a jittered backoff
                time.sleep(random.uniform(0, min(UNPROCESSED_BACKOFF_MAX, 0.05 * 2**attempt)))  # noqa: S311 (jitter)
            reply = self.client.batch_get_item(RequestItems=pending)
            for item in reply["Responses"].get(self.table, []):
                found[_key(item)] = item
            pending = reply.get("UnprocessedKeys") or {}
            attempt += 1
        return [found[k] for k in order if k in found]


def _key(item: dict[str, Any]) -> tuple[str, str]:
    """The table key of an item (DynamoDB enforces both, as strings)."""
    return item[envelope.PARTITION_KEY]["S"], item[envelope.SORT_KEY]["S"]


def _index_order(item: dict[str, Any]) -> tuple[str, str]:
    """Time order across visitors: the index's sort key ("<time>#<envelope id>", as the table's), then the visitor."""
    return item[envelope.GSI_SORT_KEY]["S"], item[envelope.PARTITION_KEY]["S"]


def build_client(args: argparse.Namespace) -> Any:
    return session(args.profile, args.region).client("dynamodb", endpoint_url=args.endpoint_url)


def run(args: argparse.Namespace) -> int:
    client = build_client(args)
    selection = {k: getattr(args, k) for k in ("table", "topic", "subject", "identity", "all", "since", "until")}
    if args.all:
        selection["segments"] = args.segments
    fmt = args.format or ("csv" if args.output and args.output.suffix.lower() == ".csv" else "jsonl")
    # The files too: a resume cuts them back to the sizes it saved, so they must be the ones it wrote.
    selection["files"] = [str(args.output), str(rejects_path(args)), fmt]
    checkpoint = Checkpoint.load(args.checkpoint, selection)
    resuming = bool(checkpoint.segments)
    try:
        client.describe_table(TableName=args.table)
    except Exception as err:
        raise ToolError(describe_error(err, args.table, client)) from None
    checkpoint.check_writable()  # a one-line error before any work, and before --output is touched

    # Without a checkpoint, rows go to a temporary file that replaces --output only once the export is whole: a
    # failure part-way leaves the file that was there before as it was. (With one, --output is the resumable
    # export in progress.)
    partial = partial_path(args, args.output)
    if args.output:
        out = open_for_writing(
            partial or args.output, "--output", append=resuming, size=checkpoint.sizes.get("output"), named=args.output
        )
    else:
        sys.stdout.reconfigure(encoding="utf-8")  # type: ignore[union-attr]  # as files are, whatever the locale
        out = sys.stdout
    try:
        rejects = Rejects(
            rejects_path(args),
            named=args.rejects is not None,
            append=resuming,
            size=checkpoint.sizes.get("rejects"),
            partial=partial_path(args, rejects_path(args)),
        )
    except ToolError:
        if out is not sys.stdout:
            out.close()
        finish(partial, args.output, whole=False)
        raise
    writer = Writer(out, fmt, header=not resuming, name=str(args.output) if args.output else "stdout")
    # An index query must find only envelopes of the topic and subject it asked for.
    found_under = (args.topic, args.subject) if args.topic is not None else (None, None)
    exporter = Exporter(client, args.table, args)
    segments = range(args.segments) if args.all else [None]
    # Not when the rows go to the same terminal: the counter's carriage returns would mix into them.
    on_terminal = sys.stderr.isatty() and (args.output is not None or not sys.stdout.isatty())
    progress = Progress(PROG, "events", enabled=not args.quiet and on_terminal, start=checkpoint.rows)

    stop = threading.Event()

    def export_segment(segment: int | None) -> None:
        name = str(segment)
        if name in checkpoint.segments and checkpoint.segments[name] is None:
            return  # finished before the interruption
        for items, last in exporter.pages(segment, checkpoint.segments.get(name)):
            if stop.is_set():
                return  # interrupted: this page is not written, so the checkpoint still points before it
            with checkpoint.lock:
                # One item at a time: an envelope may hold up to EVENTS_MAX events, so a page's rows at once
                # could be millions (forged items of tiny events).
                for item in items:
                    rows, skipped = sort_out([item], *found_under)
                    rows = [row for row in rows if in_range(row, args.since, args.until)]
                    writer.write(rows)
                    rejects.write(skipped)
                    checkpoint.rows += len(rows)
                    checkpoint.rejected += len(skipped)
                    progress.update(len(rows))
                checkpoint.segments[name] = last
                # Both files flushed: what they hold now is what this checkpoint accounts for.
                writer.flush()
                rejects.flush()
                checkpoint.sizes = {
                    which: os.fstat(f.fileno()).st_size
                    for which, f in (("output", out), ("rejects", rejects.out))
                    if f is not None and f is not sys.stdout
                }
                checkpoint.save()

    whole = False
    failure: ToolError | None = None
    try:
        with ThreadPoolExecutor(max_workers=len(segments)) as pool:
            futures = [pool.submit(export_segment, s) for s in segments]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                stop.set()  # Ctrl-C or a failed segment: the others stop after their current page
                raise
        whole = True
    except (ClientError, BotoCoreError) as err:
        failure = ToolError(describe_error(err, args.table, client) + _resume_hint(args))
    except WriteFailed as err:  # a full disk, a file grown past its limit
        failure = ToolError(f"{err}{_resume_hint(args)}")
    finally:
        progress.close()
        # Each file is closed (a close flushes, and may fail too), and the temporary ones put in place or dropped,
        # whatever failed before.
        try:
            if out is not sys.stdout:
                with writing(str(args.output)):
                    out.close()
        except WriteFailed as err:
            whole, failure = False, failure or ToolError(f"{err}{_resume_hint(args)}")
        try:
            rejects.close(checkpoint.rejected, whole=whole)  # which drops its temporary file if it fails
        except WriteFailed as err:
            whole, failure = False, failure or ToolError(f"{err}{_resume_hint(args)}")
        finish(partial, args.output, whole=whole)
    if failure:
        raise failure
    if args.checkpoint:
        args.checkpoint.unlink(missing_ok=True)
    if not args.quiet:
        print(
            f"{PROG}: {plural(checkpoint.rows, 'event')} written" + (f" to {args.output}" if args.output else ""),
            file=sys.stderr,
        )
    if args.identity and not checkpoint.rows and not checkpoint.rejected:  # even with --quiet: a typo, say
        problem = identity_problem(args.identity)
        when = " in that time range" if args.since or args.until else ""
        print(
            f"{PROG}: nothing stored for identity {args.identity}{when}" + (f"; {problem}" if problem else ""),
            file=sys.stderr,
        )
    if checkpoint.rejected:  # even with --quiet: data that was not exported
        kept = f"kept in {rejects.path}" if rejects.path else "name a file with --rejects to keep them"
        rejected = plural(checkpoint.rejected, "item")
        print(f"{PROG}: {rejected} rejected as not envelopes (not exported); {kept}", file=sys.stderr)
    return 0


def partial_path(args: argparse.Namespace, path: Path | None) -> Path | None:
    """Where an export without --checkpoint writes what goes to ``path`` until it is whole: <path>.partial. None
    with a checkpoint, and for what is not a plain file (a FIFO, /dev/stdout, a symlink): written as it is."""
    if path is None or args.checkpoint or path.is_symlink() or (path.exists() and not path.is_file()):
        return None
    return path.with_name(path.name + ".partial")


def finish(partial: Path | None, path: Path | None, *, whole: bool) -> None:
    """Puts a temporary file (partial_path) in its file's place once the export is whole; else drops it, and the
    file from before stays as it was."""
    if partial and path and whole:
        partial.replace(path)
    elif partial:
        partial.unlink(missing_ok=True)


def rejects_path(args: argparse.Namespace) -> Path | None:
    """--rejects, else beside --output (<output>.rejects.jsonl), else none (stdout: only the count is reported)."""
    if args.rejects is not None:
        return Path(args.rejects)
    return args.output.with_name(args.output.name + ".rejects.jsonl") if args.output else None


def _resume_hint(args: argparse.Namespace) -> str:
    if not args.checkpoint:
        return ""
    if not args.checkpoint.exists():
        return "; nothing was saved to resume from, so running it again starts over"
    return f"; run the same command again to resume from {args.checkpoint}"


def parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    pick = p.add_mutually_exclusive_group(required=True)
    pick.add_argument(
        "--topic", type=topic_argument, help="events of this topic (with --subject; uses the by_subject index)"
    )
    pick.add_argument("--identity", help="events of one visitor (a Cognito identity id)")
    pick.add_argument("--all", action="store_true", help="the whole table, with parallel Scan segments")
    p.add_argument("--subject", default="", help="with --topic: the subject (empty for events without one)")
    p.add_argument(
        "--since", type=lambda v: parse_time(v, flag="--since"), help="first time, ISO-8601 (UTC unless given)"
    )
    p.add_argument(
        "--until",
        type=lambda v: parse_time(v, flag="--until", end=True),
        help="last time, ISO-8601, inclusive (a date alone: the whole of that day)",
    )
    p.add_argument("--format", choices=("jsonl", "csv"), help="default: csv for an --output ending in .csv, else jsonl")
    p.add_argument("--output", type=Path, help="file to write (default: stdout)")
    p.add_argument("--checkpoint", type=Path, help="resume file: progress is saved here and used by a rerun")
    p.add_argument(
        "--rejects",
        type=Path,
        help="where items that are not envelopes go, one JSON line each with the reason"
        " (default: <output>.rejects.jsonl beside --output, removed if none)",
    )
    p.add_argument("--segments", type=int, default=4, help="parallel Scan segments with --all (default 4)")
    p.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")
    add_table_arguments(p, "request")
    add_aws_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    check_table_arguments(p, args)
    if args.subject and not args.topic:
        p.error("--subject needs --topic")
    if args.since and args.until and args.since > args.until:
        p.error(f"--since {args.since} is after --until {args.until}")
    if not 1 <= args.segments <= 64:
        p.error(f"--segments must be from 1 to 64, got {args.segments}")
    if args.checkpoint and not args.output:
        p.error("--checkpoint needs --output (a resumed export appends to the same file)")
    # One file for two purposes loses data: the checkpoint, saved by replacing its file, would take the output's
    # place; rows and rejects would mix.
    files: dict[Path, str] = {}
    for flag, path in (
        ("--output", args.output),
        ("--rejects" if args.rejects else "default --rejects", rejects_path(args)),
        ("--checkpoint", args.checkpoint),
        ("--checkpoint's temporary file", args.checkpoint and Checkpoint.temporary(args.checkpoint)),
        ("--output's temporary file", partial_path(args, args.output)),
        ("--rejects' temporary file", partial_path(args, rejects_path(args))),
    ):
        if path is not None:
            other = files.setdefault(path.resolve(), flag)
            if other != flag:
                p.error(f"{flag} {path} is also the {other} file")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # as Ctrl-C: the same message, the same checkpoint
    try:
        return run(args)
    except ToolError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted" + _resume_hint(args), file=sys.stderr)
        return 130
    except BrokenPipeError:
        # What reads stdout stopped early (| head): end quietly, as other command-line tools do; the rest of the
        # output, and Python's own flush at exit, go nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
