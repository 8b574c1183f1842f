"""Benchmark the HTTP API: GET /search and POST /ask latency, cold and repeated, at 1 and 8 clients.

The service caches query embeddings, so each (endpoint, concurrency) pair gets a freshly started
server: the first pass sends every question once ("cold": each question is embedded), the second
sends the same list again `repeats` times ("repeated": embeddings come from the cache).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from eval.bench_stats import Latency, summarise_ms
from rag.api_client import ApiError, ApiUnavailable, call

log = logging.getLogger(__name__)

Endpoint = Literal["search", "ask", "matrix"]
ENDPOINTS: tuple[Endpoint, ...] = ("search", "ask")  # timed unless told otherwise
HEALTH_TIMEOUT_S = 900.0  # a server loading a synthetic 1M-sentence index takes minutes
PASS_TIME_LIMIT_S = 120.0
REQUEST_TIMEOUT_S = 60.0
# Sent (and not timed) before each cold pass, so start-up costs are not charged to question one.
Request = str | tuple[str, ...]  # a question, or /matrix's topics
WARM_UP_QUESTION = "Hva sier innspillene om ventetid på legevakt om natten?"


@dataclass(frozen=True)
class LoadResult:
    endpoint: Endpoint
    concurrency: int
    cache: Literal["cold", "repeated"]
    latency: Latency
    errors: int
    skipped: int  # not sent because the pass hit its time limit
    wall_s: float
    requests_per_s: float | None
    server_ms: dict[str, float] = field(default_factory=dict)  # mean /ask timings_ms


@dataclass(frozen=True)
class HttpBench:
    results: tuple[LoadResult, ...]
    startup_s: tuple[float, ...]  # process start to a healthy /health, per server start
    questions: int
    repeats: int
    peak_rss_mb: tuple[float | None, ...] = ()  # each server's peak resident memory


@dataclass(frozen=True)
class Reply:
    ok: bool
    ms: float
    timings: dict[str, float]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(base_url: str, server: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"rag serve exited with {server.returncode} before it was healthy")
        try:
            if httpx.get(f"{base_url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"rag serve was not healthy within {timeout_s:.0f} s")


def peak_rss_mb(pid: int) -> float | None:
    """A running process's peak resident memory (VmHWM), None where /proc cannot tell."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


@dataclass(frozen=True)
class Server:
    base_url: str
    startup_s: float  # process start to a healthy /health
    pid: int


@contextmanager
def running_server(index: Path) -> Iterator[Server]:
    """`rag serve` on a free local port, until the block ends."""
    port = free_port()
    command = [sys.executable, "-m", "cli", "serve", "--index", str(index)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as server_log:
        started = time.perf_counter()
        server = subprocess.Popen(command, stdout=server_log, stderr=server_log, env={**os.environ})
        try:
            try:
                wait_healthy(base_url, server, HEALTH_TIMEOUT_S)
            except (RuntimeError, TimeoutError):
                server_log.seek(0)
                log.error("server log:\n%s", server_log.read()[-3000:].decode(errors="replace"))
                raise
            yield Server(base_url, time.perf_counter() - started, server.pid)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def send(client: httpx.Client, endpoint: Endpoint, question: Request) -> Reply:
    started = time.perf_counter()
    try:
        if endpoint == "matrix":  # a question is one topic
            topics = list(question) if isinstance(question, tuple) else [question]
            body = call(client, "POST", "/matrix", REQUEST_TIMEOUT_S, json={"topics": topics})
        elif endpoint == "search":
            body = call(client, "GET", "/search", REQUEST_TIMEOUT_S, params={"q": question})
        else:
            body = call(client, "POST", "/ask", REQUEST_TIMEOUT_S, json={"question": question})
    except (ApiUnavailable, ApiError) as exc:
        log.warning("%s failed: %s", endpoint, exc)
        return Reply(False, (time.perf_counter() - started) * 1000, {})
    ms = (time.perf_counter() - started) * 1000
    return Reply(True, ms, body.get("timings_ms", {}) if isinstance(body, dict) else {})


def mean_timings(replies: Sequence[Reply]) -> dict[str, float]:
    names = sorted({name for r in replies for name in r.timings})
    return {name: sum(r.timings.get(name, 0.0) for r in replies) / len(replies) for name in names}


def timed_pass(
    base_url: str,
    endpoint: Endpoint,
    questions: Sequence[Request],
    concurrency: int,
    cache: Literal["cold", "repeated"],
    time_limit_s: float = PASS_TIME_LIMIT_S,
) -> LoadResult:
    """Send every question once from `concurrency` threads; stop sending at the time limit."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT_S) as client:
        started = time.perf_counter()
        deadline = started + time_limit_s

        def one(question: Request) -> Reply | None:
            return send(client, endpoint, question) if time.perf_counter() < deadline else None

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            replies = list(pool.map(one, questions))
        wall = time.perf_counter() - started
    sent = [r for r in replies if r is not None]
    good = [r for r in sent if r.ok]
    return LoadResult(
        endpoint,
        concurrency,
        cache,
        summarise_ms([r.ms for r in good]),
        errors=len(sent) - len(good),
        skipped=len(replies) - len(sent),
        wall_s=wall,
        requests_per_s=len(good) / wall if wall > 0 else None,
        server_ms=mean_timings(good),
    )


def bench_http(
    index: Path,
    questions: Sequence[str],
    concurrencies: Sequence[int] = (1, 8),
    repeats: int = 3,
    endpoints: Sequence[Endpoint] = ENDPOINTS,
    matrix_requests: Sequence[tuple[str, ...]] = (),
) -> HttpBench:
    """For each endpoint and concurrency: a fresh server, one cold pass, one repeated pass.
    /matrix is sent `matrix_requests` (each a matrix of those topics), the others `questions`."""
    results: list[LoadResult] = []
    startups: list[float] = []
    peaks: list[float | None] = []
    for endpoint in endpoints:
        asked: Sequence[Request] = matrix_requests if endpoint == "matrix" else questions
        for concurrency in concurrencies:
            with running_server(index) as server:
                base_url = server.base_url
                startups.append(server.startup_s)
                with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
                    send(client, endpoint, WARM_UP_QUESTION)
                log.info("HTTP %s x%d: cold pass", endpoint, concurrency)
                results.append(timed_pass(base_url, endpoint, asked, concurrency, "cold"))
                log.info("HTTP %s x%d: repeated pass", endpoint, concurrency)
                repeated = list(asked) * repeats
                results.append(timed_pass(base_url, endpoint, repeated, concurrency, "repeated"))
                peaks.append(peak_rss_mb(server.pid))
    return HttpBench(tuple(results), tuple(startups), len(questions), repeats, tuple(peaks))


def matrix_p50(bench: HttpBench) -> float | None:
    """/matrix p50 of the first pass, one client, or None if a request of it failed (timed out).
    Its requests are distinct matrices; a repeated one can join the computation of the same
    matrix that a timed-out request left running on the server, and would seem fast."""
    for r in bench.results:
        if r.endpoint == "matrix" and r.cache == "cold" and r.concurrency == 1:
            return r.latency.p50_ms if not r.errors else None
    return None


def repeated_p50(bench: HttpBench, endpoint: str, which: str = "p50_ms") -> float | None:
    """The cached (repeated) pass's latency of one endpoint, one client."""
    for r in bench.results:
        if r.endpoint == endpoint and r.cache == "repeated" and r.concurrency == 1:
            value: float | None = getattr(r.latency, which)
            return value
    return None


def peak_mb(bench: HttpBench) -> float | None:
    """The largest peak resident memory of the bench's servers."""
    return max((p for p in bench.peak_rss_mb if p is not None), default=None)
