"""Input checks shared by the API and the import tools."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache
from urllib.parse import urlsplit

# A pragmatic address check: one @, no spaces, a dot in the domain. Mail servers
# have the final word; this catches typos and pasted junk at input time.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_problem(name: str) -> str | None:
    if name not in _zone_names():
        return f"unknown IANA time zone {name!r}; use a name such as 'Europe/Berlin'"
    return None


def email_problem(address: str) -> str | None:
    if len(address) > 320 or not _EMAIL.match(address):
        return f"invalid email address {address!r}"
    return None


def webhook_url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return f"invalid webhook URL {url!r}; use an absolute http or https URL"
    return None
