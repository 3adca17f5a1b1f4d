"""Envelope items as untrusted input: each malformed shape a guest can write is rejected with a reason, no crash."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk_app import envelope
from cdk_app.tools.rows import Rejected, cell, event_rows, json_text, reject_line

FIRST = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def item(**changes: Any) -> dict[str, Any]:
    """The tracker's two-event envelope, with attributes replaced (a raw value) or removed (None)."""
    good = envelope.item(
        identity="us-east-1:visitor",
        sk="2026-01-01T00:00:00.000Z#E1",
        topic="song_player",
        subject="song-1",
        events=json.dumps([["e1", 0, {"s": 1}], ["e2", 1500, [1, "é"]]]),
        count=2,
        first_ts=FIRST,
        last_ts=FIRST + 1500,
    )
    for name, value in changes.items():
        if value is None:
            good.pop(name, None)
        else:
            good[name] = value
    return good


def test_an_envelope_becomes_one_row_per_event() -> None:
    rows = event_rows(item())
    assert [(r["event_id"], r["ts_ms"], r["time"], r["data"]) for r in rows] == [
        ("e1", FIRST, "2026-01-01T00:00:00.000Z", {"s": 1}),
        ("e2", FIRST + 1500, "2026-01-01T00:00:01.500Z", [1, "é"]),
    ]
    assert {(r["topic"], r["subject"], r["identity"], r["envelope"]) for r in rows} == {
        ("song_player", "song-1", "us-east-1:visitor", "2026-01-01T00:00:00.000Z#E1")
    }
    assert event_rows(item(subject=None))[0]["subject"] == ""
    assert event_rows(item(), topic="song_player", subject="song-1") == rows


def events(text: str, count: int = 1) -> dict[str, Any]:
    return item(events={"S": text}, count={"N": str(count)})


MALFORMED = [
    # events: not JSON, not a list, not [id, dt, data]
    (events("not json"), "events is not JSON"),
    (events('[["e1", 0, {"a": 1}]'), "events is not JSON"),
    (events('{"e1": [0, 1]}'), "events is a JSON dict, not a list"),
    (events('"[]"'), "events is a JSON str, not a list"),
    (events('[["e1", 0]]'), "event 0 is not [id, dt, data]"),
    (events('[["e1", 0, 1, 2]]'), "event 0 is not [id, dt, data]"),
    (events('[{"id": "e1", "ts": 0, "data": 1}]'), "event 0 is not [id, dt, data]"),
    (events("[[1, 0, 1]]"), "event 0 has an id that is not a non-empty string"),
    (events('[["", 0, 1]]'), "event 0 has an id that is not a non-empty string"),
    (events('[["e1", 1.5, 1]]'), "event 0 has a time offset that is not an integer"),
    (events('[["e1", "0", 1]]'), "event 0 has a time offset that is not an integer"),
    (events('[["e1", true, 1]]'), "event 0 has a time offset that is not an integer"),
    (events('[["e1", 1e30, 1]]'), "event 0 has a time offset that is not an integer"),
    (events('[["e1", 100000000000000000000, 1]]'), "event 0 has a time offset that is not an integer"),
    (events('[["e1", -1767225600001, 1]]'), "event 0 has a time offset that is not an integer"),
    (events('[["e1", 0, NaN]]'), "events is not JSON (NaN is not JSON)"),
    (events('[["e1", 0, -Infinity]]'), "events is not JSON (-Infinity is not JSON)"),
    (events('[["e1", 0, ' + "9" * 5000 + "]]"), "events is not JSON"),
    (events("[" * 100_000 + "]" * 100_000), "events is nested too deeply to read"),
    (item(events={"N": "1"}), "events is of type N, not a string"),
    (item(events=None), "events is missing, not a string"),
    # count: of the wrong type, fractional, or not the number of events
    (item(count={"S": "2"}), "count is of type S, not a number"),
    (item(count={"N": "1.5"}), "count '1.5' is not an integer"),
    (item(count={"N": "1e38"}), "count '1e38' is not an integer from 1 to"),
    (item(count={"NULL": True}), "count is of type NULL, not a number"),
    (item(count={"N": "3"}), "count 3 disagrees with the 2 events it holds"),
    (item(count={"N": "0"}), "count '0' is not an integer from 1"),
    (item(count=None), "count is missing"),
    # first_ts: of the wrong type, fractional, or a time no row can show
    (item(first_ts={"S": str(FIRST)}), "first_ts is of type S, not a number"),
    (item(first_ts={"N": f"{FIRST}.5"}), "is not an integer from 0 to 253402300799999"),
    (item(first_ts={"N": "-1"}), "first_ts '-1' is not an integer"),
    (item(first_ts={"N": "1e38"}), "first_ts '1e38' is not an integer"),
    (item(first_ts={"N": "NaN"}), "first_ts 'NaN' is not an integer"),
    # the other attributes a reader relies on
    (item(topic=None), "topic is missing, not a string"),
    (item(topic={"N": "5"}), "topic is of type N, not a string"),
    (item(subject={"SS": ["a", "b"]}), "subject is of type SS, not a string"),
    (item(v={"N": "2"}), "schema version 2 is not 1"),
    (item(v=None), "v is missing, not a number"),
    (item(count={"N": "2", "S": "2"}), "count is malformed, not a number"),
]


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
        event_rows(item(), topic=topic, subject=subject)
    assert reason in str(rejected.value)


def test_a_lone_surrogate_survives_as_a_json_escape() -> None:
    """The tracker stores such strings faithfully (JSON keeps them as \\udfff); they cannot be encoded as UTF-8."""
    (row,) = event_rows(events('[["e\\udfff", 0, {"k\\ud800": "v\\udfff", "n": "é"}]]'))
    assert row["data"] == {"k\ud800": "v\udfff", "n": "é"}
    text = json_text(row)
    text.encode("utf-8")  # no UnicodeEncodeError
    assert json.loads(text) == row, "exact"
    assert "\\udfff" in text
    assert json_text({"n": "é"}) == '{"n":"é"}', "without a surrogate, non-ASCII stays readable"
    assert cell(row["event_id"]) == "e\ufffd"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_a_spreadsheet_would_run_is_shown_as_text(start: str) -> None:
    assert (
        cell(start + 'HYPERLINK("https://evil.example/", "x")')
        == "'" + start + 'HYPERLINK("https://evil.example/", "x")'
    )


def test_other_cells_are_unchanged() -> None:
    for value in ("song-1", "a=b", " =1", "'quoted", "", "é", 1767225600000):
        assert cell(value) == str(value)


def test_a_reject_line_is_ascii_and_keeps_the_item_exactly() -> None:
    raw = events('[["e\\udfff", 0, "\ud800"]]')
    raw["topic"] = {"S": "=cmd|' /C calc'!A0 é"}
    line = reject_line(raw, "events is not JSON")
    assert line.endswith("\n") and line.isascii()
    assert json.loads(line) == {"reason": "events is not JSON", "item": raw}
