"""`rag serve` takes host and port from its flags, else from the RAG_API__* settings."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn

import rag.api
from rag.cli import main
from rag.config import get_settings


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What `rag serve` would hand to uvicorn, without starting a server or loading an index."""
    captured: dict[str, Any] = {}
    monkeypatch.setattr(rag.api, "create_app", lambda settings: settings)
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: captured.update(options, app=app))
    get_settings.cache_clear()
    yield captured
    get_settings.cache_clear()


def test_serve_defaults_to_the_api_settings(
    served: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_API__PORT", "8765")
    assert main(["serve"]) == 0
    assert (served["host"], served["port"]) == ("127.0.0.1", 8765)


def test_serve_flags_override_the_settings(
    served: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("RAG_API__PORT", "8765")
    assert main(["serve", "--port", "9001", "--host", "127.0.0.2", "--index", str(tmp_path)]) == 0
    assert (served["host"], served["port"]) == ("127.0.0.2", 9001)
    assert served["app"].index.path == tmp_path
