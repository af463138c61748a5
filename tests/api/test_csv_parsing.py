"""The recipient CSV reader on its own: column names, line numbers and bounded lines."""

from __future__ import annotations

import io

import pytest

from campaign_api.csv_recipients import parsing
from campaign_api.csv_recipients.parsing import CsvFileError, RecipientCsvReader, normalize_column


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Email", "email"),
        (" Cost Center ", "cost_center"),
        ("Département", "departement"),
        ("Office / Location (HQ)", "office_location_hq"),
        ("__x__", "x"),
        ("---", ""),
    ],
)
def test_normalize_column(name, expected):
    assert normalize_column(name) == expected


def read_all(content: bytes):
    reader = RecipientCsvReader(io.BytesIO(content))
    header = reader.read_header()
    return header, list(reader.rows())


def test_rows_carry_their_first_line():
    content = b'\nemail,note\na@example.com,"two\nlines"\n\nb@example.com,one\n'

    header, rows = read_all(content)

    assert header.columns == ["note"]
    assert [(r.line, r.email, r.variables) for r in rows] == [
        (3, "a@example.com", {"note": "two\nlines"}),
        (6, "b@example.com", {"note": "one"}),
    ]


def test_short_row_is_padded():
    _, rows = read_all(b"email,team,floor\na@example.com,Blue\n")

    assert rows[0].variables == {"team": "Blue", "floor": ""}
    assert rows[0].errors == []


def test_line_over_limit_rejected(monkeypatch):
    monkeypatch.setattr(parsing, "MAX_LINE_BYTES", 32)
    reader = RecipientCsvReader(io.BytesIO(b"email,team\na@example.com," + b"x" * 40 + b"\n"))
    reader.read_header()

    with pytest.raises(CsvFileError, match="line 2 is longer than 32 bytes"):
        list(reader.rows())


def test_too_many_columns_rejected():
    header = ",".join(["email"] + [f"c{n}" for n in range(parsing.MAX_COLUMNS)]).encode()

    with pytest.raises(CsvFileError, match="at most 100"):
        RecipientCsvReader(io.BytesIO(header + b"\n")).read_header()
