"""Opaque keyset cursors: base64 of the last row's sort key."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime

from campaign_api.errors import ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def encode_cursor(created_at: datetime, row_id: uuid.UUID | int) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, row_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(created_at), str(uuid.UUID(row_id))
    except (ValueError, TypeError) as error:
        raise ValidationFailed.single("cursor", "invalid cursor; pass the next_cursor of a previous page") from error
