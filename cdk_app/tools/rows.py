"""Envelope items read back from the table, as the untrusted input they are: event rows, or a reason to reject.

A guest holds real credentials and writes items of any content under the envelope's attribute names, so
every reader checks what it reads. ``event_rows`` turns one item (DynamoDB JSON) into one row per event
only when the item is an envelope the tracker could have written; otherwise it raises ``Rejected``
naming the first problem. The text helpers keep every string writable (a lone surrogate, which JSON
keeps as an escape like ``\\udfff``, cannot be encoded as UTF-8) and keep spreadsheets from running
cells as formulas.
"""

from __future__ import annotations

import base64
import json
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from cdk_app import envelope

# Times a row can show: 1970-01-01 to 9999-12-31 (datetime's range), in ms.
LAST_MS = 253_402_300_799_999
# A spreadsheet runs a cell starting with one of these as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t")  # and CR, which cell() replaces (below)
_SURROGATE = re.compile("[\ud800-\udfff]")
# Characters a terminal or a viewer acts on rather than shows: C0 controls but tab, DEL and C1 controls (ESC,
# CR and the one-byte CSI U+009B start sequences that retitle windows, clear screens, hide text or write the
# clipboard, or overwrite a line), the line and paragraph separators (a line break to some readers), and the
# bidirectional overrides and isolates (they reorder what is shown). A guest can put them in any string. JSON
# Lines keeps them exactly, as escapes; a CSV cell shows U+FFFD (the tracker refuses C0 controls and DEL in a
# subject, and its ids are base64url, so only an odd honest subject loses a character there).
_ACTIVE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


_TOPIC = re.compile(envelope.TOPIC_PATTERN)
_CONTROL = re.compile("[\x00-\x1f\x7f]")  # the tracker refuses them in a subject (validate.js checkSubject)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Rejected(ValueError):
    """An item that is not an envelope the tracker writes; the message says why, in one line."""


def _string(item: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = item.get(name)
    if value is None and not required:
        return None
    if not (isinstance(value, dict) and list(value) == ["S"] and isinstance(value["S"], str)):
        raise Rejected(f"{name} is {_kind(value)}, not a string")
    return str(value["S"])


def _integer(item: dict[str, Any], name: str, low: int, high: int) -> int:
    value = item.get(name)
    if not (isinstance(value, dict) and list(value) == ["N"] and isinstance(value["N"], str)):
        raise Rejected(f"{name} is {_kind(value)}, not a number")
    try:
        number = Decimal(value["N"])
    except InvalidOperation:
        raise Rejected(f"{name} is not a number") from None
    if not (number.is_finite() and number == number.to_integral_value() and low <= number <= high):
        raise Rejected(f"{name} {_short(value['N'])} is not an integer from {low} to {high}")
    return int(number)


def _kind(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, dict) and len(value) == 1:
        return f"of type {next(iter(value))}"
    return "malformed"


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json would otherwise read NaN and Infinity


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999: Python reads it as inf, which no JSON can hold
        raise ValueError(f"{_short(text, 20)} is beyond a double's range")
    return number


def _events(text: str) -> list[Any]:
    try:
        events = json.loads(text, parse_constant=_no_constants, parse_float=_finite)
    except RecursionError:
        raise Rejected("events is nested too deeply to read") from None
    except ValueError as err:  # JSONDecodeError, NaN/Infinity, integers of more than 4,300 digits
        raise Rejected(f"events is not JSON ({str(err).splitlines()[0][:80]})") from None
    if not isinstance(events, list):
        raise Rejected(f"events is a JSON {type(events).__name__}, not a list")
    return events


def event_rows(item: dict[str, Any], *, topic: str | None = None, subject: str | None = None) -> list[dict[str, Any]]:
    """One row per event of an envelope item (DynamoDB JSON), or ``Rejected``.

    ``topic``/``subject``: the selection an index query found the item under; the item must say the same.
    """
    identity = _string(item, envelope.PARTITION_KEY)
    sk = _string(item, envelope.SORT_KEY)
    item_topic = _string(item, envelope.TOPIC) or ""
    item_subject = _string(item, envelope.SUBJECT, required=False) or ""
    # Each row repeats them: a forged topic or subject of 100 KB would make every one of 10,000 rows that big.
    if not _TOPIC.fullmatch(item_topic):
        raise Rejected(f"topic {_short(item_topic)} is not one the tracker writes")
    if len(item_subject) > envelope.SUBJECT_MAX or _CONTROL.search(item_subject):
        raise Rejected(
            f"subject {_short(item_subject)} ({len(item_subject)} characters) is not one the tracker writes"
            f" (at most {envelope.SUBJECT_MAX}, no control characters)"
        )
    if topic is not None and (item_topic, item_subject) != (topic, subject or ""):
        raise Rejected(
            f"topic/subject {_short(item_topic or '')}/{_short(item_subject)} disagree with the index key it was "
            f"found under ({_short(topic)}/{_short(subject or '')})"
        )
    version = _integer(item, envelope.VERSION, 0, 2**63)
    if version != envelope.SCHEMA_VERSION:
        raise Rejected(f"schema version {version} is not {envelope.SCHEMA_VERSION}")
    first = _integer(item, envelope.FIRST_TS, 0, LAST_MS)
    count = _integer(item, envelope.COUNT, 1, envelope.EVENTS_MAX)
    events = _events(_string(item, envelope.EVENTS) or "")
    if count != len(events):
        raise Rejected(f"count {count} disagrees with the {len(events)} events it holds")
    rows = []
    for n, event in enumerate(events):
        if not (isinstance(event, list) and len(event) == 3):
            raise Rejected(f"event {n} is not [id, dt, data]")
        event_id, offset, data = event
        if not (isinstance(event_id, str) and event_id):
            raise Rejected(f"event {n} has an id that is not a non-empty string")
        if not (isinstance(offset, int) and not isinstance(offset, bool) and 0 <= first + offset <= LAST_MS):
            raise Rejected(f"event {n} has a time offset that is not an integer within 1970-9999")
        ts = first + offset
        rows.append(
            {
                "event_id": event_id,
                # From whole milliseconds: ts / 1000 as a float loses the last one after the year 2242.
                "time": (_EPOCH + timedelta(milliseconds=ts)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "ts_ms": ts,
                "topic": item_topic,
                "subject": item_subject,
                "identity": identity,
                "envelope": sk,
                "data": data,
            }
        )
    return rows


def json_text(value: Any) -> str:
    """Compact JSON, non-ASCII as is but for the characters a terminal acts on (``_ACTIVE``), written as JSON
    escapes, as is a string with a lone surrogate: exact, and safe to print."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    if _SURROGATE.search(text):
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    # Only inside strings (JSON's own syntax has none of them), where an escape reads back as the same character.
    return _ACTIVE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def cell(value: Any) -> str:
    """A CSV cell: a lone surrogate and a character a terminal acts on become U+FFFD (the data cell is JSON, where
    they are escapes); a would-be formula gets a leading apostrophe (shown as text)."""
    text = _ACTIVE.sub("\ufffd", _SURROGATE.sub("\ufffd", str(value)))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _base64(value: Any) -> str:
    """Binary values (B, BS: a guest may store any type under an allowed name) as DynamoDB JSON writes them."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not DynamoDB JSON")


def reject_line(item: dict[str, Any], reason: str) -> str:
    """A rejects-file line: the reason and the raw item (DynamoDB JSON), ASCII-only so any content is writable."""
    line = {"reason": reason, "item": item}
    return json.dumps(line, separators=(",", ":"), ensure_ascii=True, default=_base64) + "\n"
