"""A real uvicorn server with the real app on the seeds index, shared by the robustness tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import serving, settings_for

from rag.api import create_app


@pytest.fixture(scope="session")
def seeds_url(seeds_index: Path) -> Iterator[str]:
    """Base URL of the app serving the seeds index on 127.0.0.1."""
    with serving(create_app(settings_for(seeds_index))) as url:
        yield url
