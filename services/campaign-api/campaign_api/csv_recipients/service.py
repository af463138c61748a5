"""CSV recipient list use cases: upload with a per-row report, and removal.

An upload reads the file as a stream and handles it in chunks: one query looks up
a chunk's emails, and its valid rows go to Postgres with COPY. Memory contains one
chunk plus one entry per valid row seen (to find duplicate emails), never the file.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

import asyncpg
import structlog

from campaign_api.audit.repository import record_event
from campaign_api.audit.schemas import AuditAction
from campaign_api.auth.dependencies import Principal
from campaign_api.campaigns import lifecycle
from campaign_api.campaigns.service import load_campaign
from campaign_api.csv_recipients import repository, schemas
from campaign_api.csv_recipients.parsing import CsvFileError, CsvHeader, ParsedRow, RecipientCsvReader, RowError
from campaign_api.errors import Conflict, NotFound, ValidationFailed
from shared.domain import CampaignStatus, Role
from shared.templating import csv_columns_used

log = structlog.get_logger(__name__)

# A chunk ends at whichever limit comes first, so long rows don't make a chunk large.
CHUNK_ROWS = 2_000
CHUNK_CHARACTERS = 4_000_000
MAX_ROW_ERRORS_REPORTED = 1_000


@dataclass
class _Tally:
    rows: int = 0
    valid: int = 0
    invalid: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_truncated: bool = False

    def reject(self, errors: list[RowError]) -> None:
        self.invalid += 1
        room = MAX_ROW_ERRORS_REPORTED - len(self.errors)
        self.errors.extend(errors[: max(room, 0)])
        self.errors_truncated = self.errors_truncated or len(errors) > room


@dataclass
class _RowChecker:
    """Checks rows against the team's members and, unless it is a dry run, saves the valid ones."""

    connection: asyncpg.Connection
    team_id: uuid.UUID
    save_to: uuid.UUID | None
    tally: _Tally = field(default_factory=_Tally)
    # Line of the first valid row of each lower-cased email.
    first_line_by_email: dict[str, int] = field(default_factory=dict)

    async def check_all(self, rows: Iterator[ParsedRow]) -> None:
        chunk: list[ParsedRow] = []
        characters = 0
        for row in rows:
            chunk.append(row)
            characters += len(row.email) + sum(len(value) for value in row.variables.values())
            if len(chunk) >= CHUNK_ROWS or characters >= CHUNK_CHARACTERS:
                await self._check_chunk(chunk)
                chunk, characters = [], 0
        if chunk:
            await self._check_chunk(chunk)

    async def _check_chunk(self, chunk: list[ParsedRow]) -> None:
        emails = [row.email.lower() for row in chunk if row.email]
        members = await repository.member_ids_by_email(self.connection, team_id=self.team_id, emails=emails)
        records = []
        for row in chunk:
            self.tally.rows += 1
            user_id = self._check_row(row, members)
            if user_id is not None and self.save_to is not None:
                records.append((self.save_to, user_id, row.line, row.timezone, row.variables))
        if records:
            await repository.copy_rows(self.connection, records)

    def _check_row(self, row: ParsedRow, members: Mapping[str, uuid.UUID]) -> uuid.UUID | None:
        """Return the row's user id when the row is valid; record its errors otherwise."""
        errors = list(row.errors)
        key = row.email.lower()
        user_id = members.get(key)
        if row.email and user_id is None:
            errors.append(RowError(row.line, "email", f"no member of this team has the email {row.email!r}"))
        elif row.email and not errors and key in self.first_line_by_email:
            first = self.first_line_by_email[key]
            errors.append(RowError(row.line, "email", f"duplicate row: {row.email!r} is also on line {first}"))
        if errors:
            self.tally.reject(errors)
            return None
        self.first_line_by_email[key] = row.line
        self.tally.valid += 1
        return user_id


def _file_error(error: CsvFileError) -> ValidationFailed:
    return ValidationFailed.single("file", str(error))


def _check_editable(campaign: asyncpg.Record, action: str) -> None:
    lifecycle.ensure_not_archived(campaign, action=action)
    if campaign["status"] != CampaignStatus.DRAFT:
        raise lifecycle.conflict(
            action, campaign, f"the CSV list of a campaign can change only in draft; this one is {campaign['status']!r}"
        )


def _template_columns(campaign: asyncpg.Record) -> frozenset[str]:
    return csv_columns_used(campaign["subject_template"]) | csv_columns_used(campaign["body_template"])


def _check_template_columns(campaign: asyncpg.Record, header: CsvHeader) -> None:
    missing = sorted(_template_columns(campaign) - set(header.columns))
    if missing:
        names = ", ".join(f"csv.{column}" for column in missing)
        columns = ", ".join(repr(column) for column in missing)
        raise ValidationFailed.single(
            "file",
            f"the campaign's template reads {names}, but the file has no {columns} column; "
            "add it to the file or remove it from the template",
        )


def _no_valid_row_message(tally: _Tally) -> str:
    examples = "; ".join(f"line {e.row} {e.field}: {e.message}" for e in tally.errors[:3])
    return f"none of the {tally.rows} rows is valid, so nothing was saved; first problems: {examples}"


async def upload(
    pool: asyncpg.Pool,
    *,
    principal: Principal,
    campaign_id: uuid.UUID,
    file: BinaryIO,
    file_name: str | None,
    dry_run: bool,
) -> schemas.CsvUploadResult:
    """Check every row of the file; unless ``dry_run``, replace the campaign's list with the valid rows.

    The check, the replacement and the audit event share one transaction, so a
    file rejected with 422 midway (bad encoding, malformed CSV) keeps the previous
    list. A file with no valid row is rejected too, for the same reason.
    """
    async with pool.acquire() as connection, connection.transaction():
        campaign = await load_campaign(
            connection,
            principal=principal,
            campaign_id=campaign_id,
            required=Role.CONTRIBUTOR,
            action="uploading CSV recipient lists",
            for_update=not dry_run,
        )
        _check_editable(campaign, lifecycle.UPLOAD_CSV)
        reader = RecipientCsvReader(file)
        try:
            header = reader.read_header()
        except CsvFileError as error:
            raise _file_error(error) from error
        _check_template_columns(campaign, header)

        if not dry_run:
            await repository.replace_list(
                connection,
                campaign_id=campaign_id,
                team_id=campaign["team_id"],
                columns=header.columns,
                file_name=file_name,
                uploaded_by=principal.user_id,
            )
        checker = _RowChecker(connection, team_id=campaign["team_id"], save_to=None if dry_run else campaign_id)
        try:
            await checker.check_all(reader.rows())
        except CsvFileError as error:
            raise _file_error(error) from error
        tally = checker.tally

        summary = None
        if not dry_run:
            if tally.valid == 0:
                raise ValidationFailed.single("file", _no_valid_row_message(tally))
            await repository.set_row_count(connection, campaign_id=campaign_id, row_count=tally.valid)
            await record_event(
                connection,
                team_id=campaign["team_id"],
                campaign_id=campaign_id,
                actor_id=principal.user_id,
                action=AuditAction.CSV_UPLOAD,
                status_before=campaign["status"],
                status_after=campaign["status"],
                details={"row_count": tally.valid, "invalid_row_count": tally.invalid, "columns": header.columns},
            )
            summary = schemas.summary_view(await repository.get_list(connection, campaign_id))

    log.info(
        "campaign.csv_previewed" if dry_run else "campaign.csv_uploaded",
        campaign_id=str(campaign_id),
        team_id=str(campaign["team_id"]),
        user_id=str(principal.user_id),
        rows=tally.rows,
        valid_rows=tally.valid,
        invalid_rows=tally.invalid,
    )
    return schemas.CsvUploadResult(
        dry_run=dry_run,
        saved=not dry_run,
        row_count=tally.rows,
        valid_row_count=tally.valid,
        invalid_row_count=tally.invalid,
        variables=schemas.variable_names(header.columns),
        has_timezone_column=header.timezone_index is not None,
        errors=[schemas.CsvRowError(row=e.row, field=e.field, message=e.message) for e in tally.errors],
        errors_truncated=tally.errors_truncated,
        csv_recipients=summary,
    )


async def delete_list(pool: asyncpg.Pool, *, principal: Principal, campaign_id: uuid.UUID) -> None:
    """Remove a draft's CSV list. A template that reads CSV columns must drop them first."""
    async with pool.acquire() as connection, connection.transaction():
        campaign = await load_campaign(
            connection,
            principal=principal,
            campaign_id=campaign_id,
            required=Role.CONTRIBUTOR,
            action="removing CSV recipient lists",
            for_update=True,
        )
        _check_editable(campaign, AuditAction.CSV_DELETE)
        used = sorted(_template_columns(campaign))
        if used:
            names = ", ".join(f"csv.{column}" for column in used)
            raise Conflict(f"the template reads {names}; remove them from the template before removing the CSV list")
        row_count = await repository.delete_list(connection, campaign_id)
        if row_count is None:
            raise NotFound(f"campaign {campaign_id} has no CSV recipient list")
        await record_event(
            connection,
            team_id=campaign["team_id"],
            campaign_id=campaign_id,
            actor_id=principal.user_id,
            action=AuditAction.CSV_DELETE,
            status_before=campaign["status"],
            status_after=campaign["status"],
            details={"row_count": row_count},
        )
    log.info(
        "campaign.csv_deleted",
        campaign_id=str(campaign_id),
        team_id=str(campaign["team_id"]),
        user_id=str(principal.user_id),
        rows=row_count,
    )
