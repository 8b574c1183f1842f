"""scripts/run.sh stops with an error when a port is taken or a server does not start, and
stops both servers when it stops. Run from a copy of the repository that links this worktree's
`ui/` and the test's Python environment as `.venv`; RAG_RUN_SKIP_SETUP=1 skips setup and
indexing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live_server import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    (copy / "scripts").mkdir(parents=True)
    (copy / "scripts" / "run.sh").write_bytes((ROOT / "scripts" / "run.sh").read_bytes())
    (copy / "scripts" / "run.sh").chmod(0o755)
    (copy / ".venv").symlink_to(Path(sys.prefix))
    (copy / "ui").symlink_to(ROOT / "ui")
    return copy


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another server listens on, on 127.0.0.1."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def run_env(**settings: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return clean | {"PYTHONPATH": str(ROOT), "RAG_RUN_SKIP_SETUP": "1"} | settings


def run(repo: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(repo / "scripts" / "run.sh")],
        env=run_env(**settings),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_taken_api_port_stops_it_with_a_message(repo: Path, taken_port: int) -> None:
    done = run(repo, RAG_API__PORT=str(taken_port), RAG_UI_PORT=str(free_port()))
    assert done.returncode == 1
    assert f"API port {taken_port} on 127.0.0.1 is already in use" in done.stderr
    assert "RAG_API__PORT=" in done.stderr and "API:" not in done.stdout


def test_a_taken_ui_port_stops_it_with_a_message(repo: Path, taken_port: int) -> None:
    done = run(repo, RAG_API__PORT=str(free_port()), RAG_UI_PORT=str(taken_port))
    assert done.returncode == 1
    assert f"UI port {taken_port} on 127.0.0.1 is already in use" in done.stderr
    assert "RAG_UI_PORT=" in done.stderr


def test_an_api_that_does_not_start_stops_it_with_a_message(repo: Path) -> None:
    # `rag serve` exits at once on a misspelt setting: run.sh must not carry on without it.
    done = run(repo, RAG_API__PORT=str(free_port()), RAG_API__PORTT="1")
    assert done.returncode == 1
    assert "RAG_API__PORTT: unknown setting" in done.stderr
    assert "the API (rag serve) stopped during startup" in done.stderr
    assert "API:" not in done.stdout


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.slow
def test_it_serves_both_and_stops_both(repo: Path, seeds_index: Path) -> None:
    api_port, ui_port = free_port(), free_port()
    env = run_env(
        RAG_API__PORT=str(api_port), RAG_UI_PORT=str(ui_port), RAG_INDEX__PATH=str(seeds_index)
    )
    script = subprocess.Popen(
        [str(repo / "scripts" / "run.sh")], env=env, stdout=subprocess.PIPE, text=True
    )
    assert script.stdout is not None
    try:
        lines = []
        for line in script.stdout:  # until the addresses are printed
            lines.append(line)
            if line.startswith("Ctrl-C stops both"):
                break
        assert f"API: http://127.0.0.1:{api_port}" in "".join(lines), lines
        assert httpx.get(f"http://127.0.0.1:{api_port}/health").json()["documents"] == 5
        assert httpx.get(f"http://127.0.0.1:{ui_port}/_stcore/health").status_code == 200
    finally:
        script.send_signal(signal.SIGTERM)
        script.wait(timeout=60)
    assert script.returncode == 143
    deadline = time.monotonic() + 20
    while not (port_is_free(api_port) and port_is_free(ui_port)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert port_is_free(api_port) and port_is_free(ui_port)  # both servers have stopped
