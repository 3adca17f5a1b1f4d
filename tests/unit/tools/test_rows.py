"""Envelope items as untrusted input: each malformed shape a guest can write is rejected with a reason, no crash."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk_app.tools.rows import Rejected, cell, event_rows, json_text, reject_line
from tests.helpers import FIRST, MALFORMED, envelope_item, envelope_with_events


def test_an_envelope_becomes_one_row_per_event() -> None:
    rows = event_rows(envelope_item())
    assert [(r["event_id"], r["ts_ms"], r["time"], r["data"]) for r in rows] == [
        ("e1", FIRST, "2026-01-01T00:00:00.000Z", {"s": 1}),
        ("e2", FIRST + 1500, "2026-01-01T00:00:01.500Z", [1, "é"]),
    ]
    assert {(r["topic"], r["subject"], r["identity"], r["envelope"]) for r in rows} == {
        ("song_player", "song-1", "us-east-1:visitor", "2026-01-01T00:00:00.000Z#E1")
    }
    assert event_rows(envelope_item(subject=None))[0]["subject"] == ""
    assert event_rows(envelope_item(), topic="song_player", subject="song-1") == rows


def test_every_subject_and_time_the_tracker_can_write_comes_out_exactly() -> None:
    """The longest subject (256 UTF-16 units, emoji among them: fewer characters to Python), and a time past 2242,
    where ts / 1000 as a float had lost the last millisecond (and --since dropped the event on its bound)."""
    subject = "\U0001f600" * 100 + "s" * 56
    far = 10_413_792_000_123  # 2300-01-01T00:00:00.123Z
    (row,) = event_rows(
        envelope_with_events('[["e1", 0, 1]]') | {"subject": {"S": subject}, "first_ts": {"N": str(far)}}
    )
    assert (row["subject"], row["ts_ms"], row["time"]) == (subject, far, "2300-01-01T00:00:00.123Z")


@pytest.mark.parametrize(("bad", "reason"), MALFORMED, ids=[r for _, r in MALFORMED])
def test_a_malformed_item_is_rejected_with_its_reason(bad: dict[str, Any], reason: str) -> None:
    with pytest.raises(Rejected) as rejected:
        event_rows(bad)
    assert reason in str(rejected.value)
    assert "\n" not in str(rejected.value) and len(str(rejected.value)) < 200


@pytest.mark.parametrize(
    ("found_under", "reason"),
    [
        (("song_player", "song-2"), "topic/subject 'song_player'/'song-1' disagree with the index key"),
        (("other", "song-1"), "disagree with the index key it was found under ('other'/'song-1')"),
        (("song_player", ""), "disagree"),
    ],
)
def test_an_item_found_under_another_index_key_is_rejected(found_under: tuple[str, str], reason: str) -> None:
    """A guest writes gsi1pk itself, so it can file its items under any topic and subject."""
    topic, subject = found_under
    with pytest.raises(Rejected, match="disagree") as rejected:
        event_rows(envelope_item(), topic=topic, subject=subject)
    assert reason in str(rejected.value)


def test_a_lone_surrogate_survives_as_a_json_escape() -> None:
    """The tracker stores such strings faithfully (JSON keeps them as \\udfff); they cannot be encoded as UTF-8."""
    (row,) = event_rows(envelope_with_events('[["e\\udfff", 0, {"k\\ud800": "v\\udfff", "n": "é"}]]'))
    assert row["data"] == {"k\ud800": "v\udfff", "n": "é"}
    text = json_text(row)
    text.encode("utf-8")  # no UnicodeEncodeError
    assert json.loads(text) == row, "exact"
    assert "\\udfff" in text
    assert json_text({"n": "é"}) == '{"n":"é"}', "without a surrogate, non-ASCII stays readable"
    assert cell(row["event_id"]) == "e\ufffd"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t"])
def test_a_cell_a_spreadsheet_would_run_is_shown_as_text(start: str) -> None:
    assert (
        cell(start + 'HYPERLINK("https://evil.example/", "x")')
        == "'" + start + 'HYPERLINK("https://evil.example/", "x")'
    )


# What a guest could put in a subject or an event id to act on the terminal an export is printed to: retitle it
# (OSC), clear it and hide what follows (CSI, also as the one-byte U+009B), return to the line's start (CR),
# break a line for line-splitting readers (U+2028), reorder what is shown (RLO).
ACTIVE = "\x1b]0;pwned\x07\x1b[2J\x1b[8m\u009b31m\rx\u2028\u202e\x7f\u0085"


def test_characters_a_terminal_acts_on_are_escaped_in_json_lines() -> None:
    row = {"event_id": ACTIVE, "data": {"note": ACTIVE, "text": "é😀"}}
    text = json_text(row)
    assert text.isprintable() and "é😀" in text, "escaped, and readable text stays as it is"
    assert json.loads(text) == row, "exact"
    assert text.splitlines() == [text]


def test_characters_a_terminal_acts_on_are_replaced_in_csv_cells() -> None:
    assert cell(ACTIVE) == "\ufffd]0;pwned\ufffd\ufffd[2J\ufffd[8m\ufffd31m\ufffdx\ufffd\ufffd\ufffd\ufffd"
    assert cell("a\tb") == "a\tb"
    assert cell("\r=1+1") == "\ufffd=1+1", "a carriage return, once a formula start, is replaced"


def test_other_cells_are_unchanged() -> None:
    for value in ("song-1", "a=b", " =1", "'quoted", "", "é", 1767225600000):
        assert cell(value) == str(value)


def test_a_reject_line_is_ascii_and_keeps_the_item_exactly() -> None:
    raw = envelope_with_events('[["e\\udfff", 0, "\ud800"]]')
    raw["topic"] = {"S": "=cmd|' /C calc'!A0 é"}
    line = reject_line(raw, "events is not JSON")
    assert line.endswith("\n") and line.isascii()
    assert json.loads(line) == {"reason": "events is not JSON", "item": raw}
