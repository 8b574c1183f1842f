"""A real uvicorn server on 127.0.0.1 in a background thread, for tests that speak HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from rag.config import ApiSettings, IndexSettings, Settings


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def settings_for(index: Path, cache_dir: Path | None = None, **api: object) -> Settings:
    """Default settings serving `index` (the embedding cache beside it unless given)."""
    return Settings(
        index=IndexSettings(path=index, cache_dir=cache_dir or index.parent / "cache"),
        api=ApiSettings(**api),  # type: ignore[arg-type]
    )


@contextmanager
def serving(app: FastAPI, startup_timeout: float = 120.0) -> Iterator[str]:
    """Serve `app` on a free port; yields the base URL once /health answers (any status)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        url = wait_until_up(server, thread, startup_timeout)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert not thread.is_alive(), "the uvicorn thread did not stop"


def wait_until_up(server: uvicorn.Server, thread: threading.Thread, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn stopped during startup; see the log above")
        if time.monotonic() > deadline:
            raise TimeoutError(f"uvicorn did not start within {timeout} s")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            httpx.get(f"{url}/health", timeout=5)
            return url
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
