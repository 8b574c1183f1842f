"""Every document of the seeds index as the real API serves it (api_url, client: tests/conftest)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


@pytest.fixture(scope="session")
def documents(client: httpx.Client) -> dict[str, dict[str, Any]]:
    """Every document as GET /documents/{id} returns it, by id."""
    ids = [d["document_id"] for d in client.get("/documents").json()]
    return {i: client.get(f"/documents/{i}").json() for i in ids}
