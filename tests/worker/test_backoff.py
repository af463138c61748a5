"""Retry waits: the channel's Retry-After wins, capped; otherwise jittered exponential."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from delivery_worker.activities import _backoff
from delivery_worker.channels.webhook import parse_retry_after
from shared.settings import Settings

SETTINGS = Settings(delivery_initial_backoff_seconds=1.0, delivery_max_backoff_seconds=60.0)


def test_retry_after_seconds_is_used():
    assert _backoff(1, 7.0, SETTINGS) == 7.0


def test_retry_after_is_capped_at_max_backoff():
    assert _backoff(1, 3600.0, SETTINGS) == 60.0


@pytest.mark.parametrize("attempt, low, high", [(1, 0.5, 1.0), (2, 1.0, 2.0), (3, 2.0, 4.0), (10, 30.0, 60.0)])
def test_exponential_backoff_range(attempt, low, high):
    for _ in range(50):
        delay = _backoff(attempt, None, SETTINGS)
        assert low <= delay <= high


def test_parse_retry_after_seconds():
    assert parse_retry_after("120") == 120.0


def test_parse_retry_after_http_date():
    now = 1_800_000_000.0
    header = formatdate(now + 30, usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(30.0)


def test_parse_retry_after_past_date_is_zero():
    now = 1_800_000_000.0
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5"])
def test_parse_retry_after_invalid_is_none(value):
    assert parse_retry_after(value) is None
