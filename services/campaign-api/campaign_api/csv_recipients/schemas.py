"""Response bodies of the CSV recipient list endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.templating import CSV_VARIABLE


class CsvRowError(BaseModel):
    row: int = Field(description="Line of the row in the file; the header is line 1")
    field: str = Field(description="email, timezone, or row for the row as a whole")
    message: str


class CsvListSummary(BaseModel):
    """The CSV recipient list saved on a campaign."""

    row_count: int = Field(description="Recipients in the list")
    variables: list[str] = Field(description="Template variables the list provides, such as csv.department")
    file_name: str | None
    uploaded_at: datetime


class CsvUploadResult(BaseModel):
    """Result of an upload: the row counts, each row problem, and whether the valid rows were saved."""

    dry_run: bool
    saved: bool = Field(description="True when the valid rows replaced the campaign's CSV list")
    row_count: int = Field(description="Data rows read, blank lines not counted")
    valid_row_count: int
    invalid_row_count: int
    variables: list[str] = Field(description="Template variables the file provides, such as csv.department")
    has_timezone_column: bool
    errors: list[CsvRowError] = Field(description="Problems per row, in file order; invalid rows are never saved")
    errors_truncated: bool = Field(description="True when more row errors were found than listed")
    csv_recipients: CsvListSummary | None = Field(description="The saved list; null for a dry run")


def variable_names(columns: list[str]) -> list[str]:
    """Return the template variable names of CSV columns, such as csv.department."""
    return [f"{CSV_VARIABLE}.{column}" for column in columns]


def summary_view(row: Mapping[str, Any] | None) -> CsvListSummary | None:
    """Return the summary of a saved list row (columns, row_count, file_name, uploaded_at)."""
    if row is None:
        return None
    return CsvListSummary(
        row_count=row["row_count"],
        variables=variable_names(row["columns"]),
        file_name=row["file_name"],
        uploaded_at=row["uploaded_at"],
    )
