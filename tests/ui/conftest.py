"""Fixtures for the UI tests: a fake API on a free port, a URL where nothing listens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st
from fake_api import FakeApi, start_fake_api
from live_server import free_port


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    fake, server = start_fake_api()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was bound, then released)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(autouse=True)
def _fresh_streamlit_cache() -> Iterator[None]:
    """AppTest runs in this process, so st.cache_data would otherwise outlive a test."""
    st.cache_data.clear()
    yield
    st.cache_data.clear()
