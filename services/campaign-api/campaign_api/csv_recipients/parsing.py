"""Stream-parse an uploaded recipient CSV: the header, then one checked row at a time.

The file is read one physical line at a time and each line is decoded on its own.
UTF-8 never uses the newline byte inside a multi-byte character, so a decoding
error names the exact line, and memory contains one line, not the file.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from shared.validation import timezone_problem

EMAIL_COLUMN = "email"
TIMEZONE_COLUMN = "timezone"
# Limits that keep one upload's memory bounded; a real recipient list is far below them.
MAX_COLUMNS = 100
MAX_LINE_BYTES = 1024 * 1024

_NOT_IDENTIFIER = re.compile(r"[^a-z0-9]+")
_UTF8_BOM = b"\xef\xbb\xbf"


class CsvFileError(Exception):
    """The file as a whole can't be read: encoding, CSV syntax or header."""


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str


@dataclass(frozen=True)
class CsvHeader:
    email_index: int
    timezone_index: int | None
    # (position, variable name) of every column other than email and timezone.
    variables: tuple[tuple[int, str], ...]
    width: int

    @property
    def columns(self) -> list[str]:
        return [name for _, name in self.variables]


@dataclass
class ParsedRow:
    """One data row; ``errors`` lists the problems found without the database."""

    line: int
    email: str
    timezone: str | None
    variables: dict[str, str]
    errors: list[RowError] = field(default_factory=list)


def normalize_column(name: str) -> str:
    """Return the template variable name of a column: ``Cost Center`` becomes ``cost_center``.

    Accents are removed (``Département`` becomes ``departement``), letters are
    lower-cased, every run of other characters becomes one underscore, and
    underscores at either end are dropped.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_IDENTIFIER.sub("_", ascii_letters.strip().lower()).strip("_")


class RecipientCsvReader:
    """Read an uploaded CSV file lazily; call ``read_header`` once, then iterate ``rows``.

    Raises CsvFileError for a file that is not UTF-8, is not valid CSV, has a
    line over MAX_LINE_BYTES, or has an unusable header.
    """

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._line = 0
        self._records = csv.reader(self._decoded_lines(), strict=True)
        self._header: CsvHeader | None = None

    def _decoded_lines(self) -> Iterator[str]:
        while True:
            raw = self._file.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            self._line += 1
            if len(raw) > MAX_LINE_BYTES:
                raise CsvFileError(f"line {self._line} is longer than {MAX_LINE_BYTES} bytes")
            if self._line == 1 and raw.startswith(_UTF8_BOM):
                raw = raw[len(_UTF8_BOM) :]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise CsvFileError(
                    f"the file is not valid UTF-8: line {self._line}, byte {error.start + 1} of the line; "
                    "save it as UTF-8 (in Excel: CSV UTF-8)"
                ) from error

    def _next_record(self) -> tuple[int, list[str]] | None:
        """Return the next non-blank record with the line it starts on, or None at the end."""
        while True:
            start = self._line + 1
            try:
                record = next(self._records)
            except StopIteration:
                return None
            except csv.Error as error:
                raise CsvFileError(f"malformed CSV at line {self._line}: {error}") from error
            if any(value.strip() for value in record):
                return start, record

    def read_header(self) -> CsvHeader:
        first = self._next_record()
        if first is None:
            raise CsvFileError("the file is empty; the first line must name the columns, one of them 'email'")
        _, names = first
        if len(names) > MAX_COLUMNS:
            raise CsvFileError(f"the file has {len(names)} columns; at most {MAX_COLUMNS} are supported")
        self._header = _parse_header(names)
        return self._header

    def rows(self) -> Iterator[ParsedRow]:
        if self._header is None:
            raise RuntimeError("read_header must be called before rows")
        header = self._header
        while (next_record := self._next_record()) is not None:
            line, record = next_record
            yield _parse_row(header, line, record)


def _parse_header(names: list[str]) -> CsvHeader:
    seen: dict[str, str] = {}
    email_index = timezone_index = None
    variables = []
    for position, original in enumerate(names):
        name = normalize_column(original)
        if not name:
            raise CsvFileError(
                f"column {position + 1} has no usable name ({original!r}); name it with letters or digits, or delete it"
            )
        if name[0].isdigit():
            raise CsvFileError(f"column {original!r} must start with a letter to be usable as the variable csv.{name}")
        if name in seen:
            raise CsvFileError(
                f"columns {seen[name]!r} and {original!r} both become {name!r} after normalizing; rename one of them"
            )
        seen[name] = original
        if name == EMAIL_COLUMN:
            email_index = position
        elif name == TIMEZONE_COLUMN:
            timezone_index = position
        else:
            variables.append((position, name))
    if email_index is None:
        found = ", ".join(repr(n) for n in names)
        raise CsvFileError(f"the file has no 'email' column; the first line names: {found}")
    return CsvHeader(
        email_index=email_index, timezone_index=timezone_index, variables=tuple(variables), width=len(names)
    )


def _parse_row(header: CsvHeader, line: int, record: list[str]) -> ParsedRow:
    errors = []
    extra = record[header.width :]
    if any(value.strip() for value in extra):
        errors.append(RowError(line, "row", f"the row has {len(record)} fields but the header names {header.width}"))
    record = record[: header.width] + [""] * (header.width - len(record))

    email = record[header.email_index].strip()
    if not email:
        errors.append(RowError(line, EMAIL_COLUMN, "email is missing"))
    timezone = record[header.timezone_index].strip() if header.timezone_index is not None else ""
    if timezone and (problem := timezone_problem(timezone)):
        errors.append(RowError(line, TIMEZONE_COLUMN, problem))
    variables = {name: record[position].strip() for position, name in header.variables}
    return ParsedRow(line=line, email=email, timezone=timezone or None, variables=variables, errors=errors)
