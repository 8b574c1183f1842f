"""A real uvicorn server with the real app on the seeds index, shared by the API tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import serving, settings_for

from rag.api import create_app


@pytest.fixture(scope="session")
def api_url(seeds_index: Path) -> Iterator[str]:
    """Base URL of the app serving the seeds index on 127.0.0.1."""
    with serving(create_app(settings_for(seeds_index))) as url:
        yield url


@pytest.fixture(scope="session")
def client(api_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url, timeout=120) as http:
        yield http


@pytest.fixture(scope="session")
def documents(client: httpx.Client) -> dict[str, dict[str, Any]]:
    """Every document as GET /documents/{id} returns it, by id."""
    ids = [d["document_id"] for d in client.get("/documents").json()]
    return {i: client.get(f"/documents/{i}").json() for i in ids}
