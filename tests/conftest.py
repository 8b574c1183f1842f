"""Fixtures shared by every test package: the seed corpus, settings in tmp folders, embedders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fakes import FakeEmbedder
from live_server import serving, settings_for

from rag.api import create_app
from rag.config import IndexSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture(scope="session")
def seed_files() -> list[Path]:
    files = sorted(SEEDS.glob("*.txt"))
    assert len(files) == 5, f"expected the 5 seed documents in {SEEDS}"
    return files


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


def _settings_in(folder: Path) -> Settings:
    """Default settings, with the index and the embedding cache inside `folder`."""
    index = IndexSettings(path=folder / "index", cache_dir=folder / "cache")
    return Settings(index=index)


@pytest.fixture
def tmp_settings(tmp_path: Path) -> Settings:
    return _settings_in(tmp_path)


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds indexed once per session with the real default model; returns the index path.

    Only slow tests should ask for it: the first use embeds every seed chunk.
    """
    from indexer.build import build_index

    folder = tmp_path_factory.mktemp("seeds-index")
    settings = _settings_in(folder)
    build_index([SEEDS], settings.index.path, settings)
    return settings.index.path


@pytest.fixture(scope="session")
def api_url(seeds_index: Path) -> Iterator[str]:
    """Base URL of the app serving the seeds index on 127.0.0.1."""
    with serving(create_app(settings_for(seeds_index))) as url:
        yield url


@pytest.fixture(scope="session")
def client(api_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url, timeout=120) as http:
        yield http
