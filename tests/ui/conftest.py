"""Fixtures for the UI tests: a fake API on a free port, a URL where nothing listens."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import streamlit as st
from fake_api import FakeApi, start_fake_api


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    fake, server = start_fake_api()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def _fresh_streamlit_cache() -> Iterator[None]:
    """AppTest runs in this process, so st.cache_data would otherwise outlive a test."""
    st.cache_data.clear()
    yield
    st.cache_data.clear()
