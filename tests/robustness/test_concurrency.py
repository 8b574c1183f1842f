"""Many requests at once, and an index rebuilt under a serving API: nothing is lost or broken."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import serving, settings_for

from indexer.build import build_index
from rag.api import create_app
from rag.schemas import AskResponse

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ASK_KEYS = set(AskResponse.model_fields)


def eval_questions(count: int) -> list[str]:
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()][:count]


def comparable(body: dict[str, Any]) -> dict[str, Any]:
    """The answer without its timing values, which differ from run to run."""
    assert set(body) == ASK_KEYS
    return body | {"timings_ms": sorted(body["timings_ms"])}


@pytest.fixture
def fresh_url(seeds_index: Path) -> Iterator[str]:
    """Its own app on the seeds index, so that no question is in its query cache yet."""
    with serving(create_app(settings_for(seeds_index))) as url:
        yield url


async def ask_all(url: str, questions: list[str]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(questions))
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        return await asyncio.gather(*(client.post("/ask", json={"question": q}) for q in questions))


def test_200_concurrent_asks_give_the_sequential_answers(seeds_url: str, fresh_url: str) -> None:
    questions = eval_questions(50)
    with httpx.Client(base_url=seeds_url, timeout=120) as client:
        expected = {
            q: comparable(client.post("/ask", json={"question": q}).json()) for q in questions
        }
    asked = [questions[i % len(questions)] for i in range(200)]
    # In a thread of its own: a session-wide Playwright browser may own this thread's loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        responses = pool.submit(asyncio.run, ask_all(fresh_url, asked)).result()
    assert [r.status_code for r in responses] == [200] * 200
    for question, response in zip(asked, responses, strict=True):
        assert comparable(response.json()) == expected[question], question
    assert sum(not expected[q]["no_answer"] for q in questions) >= 25


class Hammer:
    """Threads that keep asking, searching and checking health until stopped."""

    def __init__(self, url: str, questions: list[str], threads: int = 3) -> None:
        self.url, self.questions = url, questions
        self.failures: list[str] = []
        self.requests = 0
        self.documents_seen: set[int] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]

    def __enter__(self) -> Hammer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)

    def run(self, offset: int) -> None:
        with httpx.Client(base_url=self.url, timeout=120) as client:
            for i in itertools.count(offset):
                if self._stop.is_set():
                    return
                question = self.questions[i % len(self.questions)]
                self.call(client.post, "/ask", ASK_KEYS, json={"question": question})
                self.call(client.get, "/search", {"query", "results"}, params={"q": question})
                health = self.call(client.get, "/health", {"status", "documents"})
                if health is not None:
                    with self._lock:
                        self.documents_seen.add(health["documents"])

    def call(
        self, send: Callable[..., httpx.Response], path: str, keys: set[str], **kwargs: Any
    ) -> dict[str, Any] | None:
        """One request; anything but a 200 with the expected keys is recorded as a failure."""
        try:
            response = send(path, **kwargs)
            body = response.json()
            ok = response.status_code == 200 and keys <= set(body)
            problem = f"{response.status_code} {response.text[:300]}"
        except (httpx.HTTPError, ValueError) as exc:
            body, ok, problem = None, False, repr(exc)
        with self._lock:
            self.requests += 1
            if not ok:
                self.failures.append(f"{path}: {problem}")
        return body if ok else None


def eventually(condition: Callable[[], bool], timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_rebuilding_the_index_while_serving_loses_no_request(
    tmp_path: Path, seeds_index: Path, seed_files: list[Path]
) -> None:
    # The seeds index's embedding cache: building seed text again embeds nothing new.
    settings = settings_for(
        tmp_path / "index",
        cache_dir=seeds_index.parent / "cache",
        admin_token="concurrency-test-token",
    )
    build_index(seed_files[:2], settings.index.path, settings)
    with serving(create_app(settings)) as url:
        assert httpx.get(f"{url}/health").json()["documents"] == 2
        with Hammer(url, eval_questions(6)) as hammer:
            started = eventually(lambda: hammer.documents_seen == {2} and hammer.requests >= 9)
            assert started, hammer.failures
            report = build_index(seed_files[:3], settings.index.path, settings)
            assert len(report.documents) == 3 and not report.unchanged
            assert eventually(lambda: 3 in hammer.documents_seen), hammer.failures
            served = hammer.requests
            assert eventually(lambda: hammer.requests >= served + 9), hammer.failures
        assert hammer.failures == []
        assert hammer.documents_seen == {2, 3}
        admin = {"Authorization": "Bearer concurrency-test-token"}
        reloaded = httpx.post(f"{url}/admin/reload", headers=admin, timeout=60)
        assert reloaded.status_code == 200 and reloaded.json()["documents"] == 3
        assert len(httpx.get(f"{url}/documents").json()) == 3
