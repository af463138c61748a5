"""Polling helpers for asserting on asynchronous progress."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx


async def wait_for_status(
    api: httpx.AsyncClient, campaign_id: uuid.UUID | str, headers: dict[str, str], statuses: set[str], *, timeout: float = 30.0
) -> dict[str, Any]:
    """Poll the campaign until its status is one of ``statuses``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await api.get(f"/v1/campaigns/{campaign_id}", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        if body["status"] in statuses:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"campaign stayed {body.get('status')!r}, expected one of {sorted(statuses)}")


def campaign_body(
    *, user_ids: list[uuid.UUID] = (), group_ids: list[uuid.UUID] = (), channel: str = "email", **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Laptop refresh",
        "channel": channel,
        "template": {
            "subject": "Hello {{ first_name }}",
            "body": "Hi {{ first_name }} {{ last_name }}, your address is {{ email }}.",
        },
        "targets": {"user_ids": [str(u) for u in user_ids], "group_ids": [str(g) for g in group_ids]},
    }
    body.update(overrides)
    return body
