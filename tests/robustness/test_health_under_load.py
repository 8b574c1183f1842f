"""/health answers at once while 200 /ask requests are in flight: it never queues behind
embedding in the worker threads (it runs on the event loop from the state already loaded)."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fakes import FakeEmbedder
from live_server import serving, settings_for

from indexer.build import build_index
from rag.api import create_app
from rag.embed import Vectors

CONCURRENT = 200
LIMIT_MS = 50.0
WORKER_THREADS = 40  # anyio's default thread limit, which FastAPI's sync routes share


class StalledEmbedder(FakeEmbedder):
    """Query embedding waits until released: every worker thread stays busy with /ask."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.waiting = 0

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        self.waiting += 1
        self.release.wait(timeout=120)
        return super().embed_queries(texts)


async def ask_all(url: str, questions: list[str]) -> list[int]:
    limits = httpx.Limits(max_connections=len(questions))
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        responses = await asyncio.gather(
            *(client.post("/ask", json={"question": q}) for q in questions)
        )
    return [r.status_code for r in responses]


def health_times_ms(client: httpx.Client, samples: int) -> list[float]:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        response = client.get("/health")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and response.json()["status"] == "ok"
        time.sleep(0.02)
    return times


@pytest.fixture
def stalled(tmp_path: Path, seed_files: list[Path]) -> Iterator[tuple[str, StalledEmbedder]]:
    settings = settings_for(tmp_path / "index")
    build_index(seed_files[:2], settings.index.path, settings, FakeEmbedder)
    embedder = StalledEmbedder()
    with serving(create_app(settings, lambda: embedder)) as url:
        yield url, embedder
        embedder.release.set()


def test_health_does_not_wait_for_busy_worker_threads(
    stalled: tuple[str, StalledEmbedder],
) -> None:
    url, embedder = stalled
    questions = [f"Hva sier kommunene om fastlege nummer {i}?" for i in range(CONCURRENT)]
    with ThreadPoolExecutor(max_workers=1) as pool, httpx.Client(base_url=url) as client:
        client.get("/health")  # the connection is open before the load starts
        asked: Future[list[int]] = pool.submit(asyncio.run, ask_all(url, questions))
        deadline = time.monotonic() + 60
        while embedder.waiting < WORKER_THREADS and time.monotonic() < deadline:
            time.sleep(0.02)
        assert embedder.waiting == WORKER_THREADS  # every worker thread is stuck in /ask
        time.sleep(0.5)  # and the other 160 requests have arrived and wait for one
        times = health_times_ms(client, 20)
        embedder.release.set()
        assert asked.result(timeout=300) == [200] * CONCURRENT
    # Queued behind the stuck /ask, /health would not answer at all; a single slow reply on a
    # busy 2-core machine is scheduling noise, so the median carries the 50 ms promise.
    assert statistics.median(times) < LIMIT_MS and max(times) < 10 * LIMIT_MS, times


LOAD = """
import asyncio, json, sys, httpx
questions = json.loads(sys.argv[2])
async def main():
    limits = httpx.Limits(max_connections=len(questions))
    async with httpx.AsyncClient(base_url=sys.argv[1], timeout=600, limits=limits) as client:
        asks = [client.post("/ask", json={"question": q}) for q in questions]
        responses = await asyncio.gather(*asks)
    sys.exit(0 if all(r.status_code == 200 for r in responses) else 1)
asyncio.run(main())
"""


@pytest.mark.slow
def test_health_stays_fast_under_200_real_asks(seeds_index: Path) -> None:
    """The real model and 200 concurrent /ask from another process. On a shared 2-core machine
    the burst of 200 arriving requests can still delay single health checks; the median may not."""
    import json

    questions = [f"Hva sier innspillene om fastlegeordningen, del {i}?" for i in range(CONCURRENT)]
    with serving(create_app(settings_for(seeds_index))) as url, httpx.Client(base_url=url) as http:
        load = subprocess.Popen([sys.executable, "-c", LOAD, url, json.dumps(questions)])
        times = []
        while load.poll() is None:
            times.extend(health_times_ms(http, 1))
        assert load.wait() == 0
    assert len(times) >= 10
    assert statistics.median(times) < LIMIT_MS, sorted(times)
