"""`rag serve` takes host and port from its flags, else from the RAG_API__* settings, and warns
when it listens beyond loopback; `rag` reports a bad setting in one line and logs no debug."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import uvicorn

import rag.api
from cli.main import main
from rag.config import get_settings
from rag.middleware import LOOPBACK_HOSTS, allowed_hosts

ROOT = Path(__file__).resolve().parents[2]


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


def test_serve_sets_uvicorns_keep_alive_and_answers_the_address_it_listens_on(
    served: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_API__KEEP_ALIVE_S", "7")
    assert main(["serve", "--host", "192.168.1.20", "--port", "9001"]) == 0
    assert served["timeout_keep_alive"] == 7
    api = served["app"].api
    assert (api.host, api.port) == ("192.168.1.20", 9001)
    assert "192.168.1.20" in allowed_hosts(api.host, api.allowed_hosts)
    assert allowed_hosts("0.0.0.0", ("rag.example.org",)) == (*LOOPBACK_HOSTS, "rag.example.org")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "api.example"])
def test_serve_on_a_non_loopback_host_warns_what_it_exposes(
    served: dict[str, Any], caplog: pytest.LogCaptureFixture, host: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="rag"):
        assert main(["serve", "--host", host]) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    warning = warnings[0]
    assert host in warning and "full text" in warning and "/documents" in warning
    assert "/ask" in warning and "questions" in warning and "/admin/reload is off" in warning
    assert "RAG_API__ALLOWED_HOSTS" in warning


def test_the_warning_names_the_admin_endpoint_when_it_is_on(
    served: dict[str, Any], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_API__ADMIN_TOKEN", "t0ken-for-the-warning-test")
    with caplog.at_level(logging.WARNING, logger="rag"):
        assert main(["serve", "--host", "0.0.0.0"]) == 0
    assert "POST /admin/reload is exposed too (protected by RAG_API__ADMIN_TOKEN)" in caplog.text
    assert "t0ken" not in caplog.text


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_serve_on_loopback_warns_about_nothing(
    served: dict[str, Any], caplog: pytest.LogCaptureFixture, host: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="rag"):
        assert main(["serve", "--host", host]) == 0
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


# --- configuration errors and log levels, as a user meets them (a real process) -----------


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=clean | {"PYTHONPATH": str(ROOT)} | env,
        cwd=ROOT,
        timeout=120,
    )


RAG_SEARCH = "import sys; from cli.main import main; sys.exit(main(['search', 'fastlege']))"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("RAG_API__CORS_ORIGINS", "http://ui.example", "RAG_API__CORS_ORIGINS: not valid JSON"),
        ("RAG_API__PORTT", "8001", "RAG_API__PORTT: unknown setting (did you mean RAG_API__PORT?)"),
        ("RAG_APII__PORT", "8001", "RAG_APII__PORT: unknown setting (did you mean RAG_API__PORT?)"),
        ("RAG_API_PORT", "8001", "RAG_API_PORT: unknown setting (did you mean RAG_API__PORT?)"),
        ("RAG_API__PORT", "abc", "RAG_API__PORT: Input should be a valid integer"),
    ],
)
def test_a_bad_variable_is_one_line_naming_it(variable: str, value: str, expected: str) -> None:
    done = run_python(RAG_SEARCH, **{variable: value})
    assert done.returncode == 2
    assert done.stderr.startswith(f"rag: configuration error: {expected}"), done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_variables_of_the_ui_and_run_sh_are_not_settings_errors() -> None:
    from rag.config_check import unknown_variables

    environ = {"RAG_UI_API_URL": "http://127.0.0.1:8000", "RAG_UI_PORT": "8501"}
    assert unknown_variables(environ | {"RAG_RUN_SKIP_SETUP": "1", "PATH": "/bin"}) == []


def test_no_debug_lines_from_libraries_by_default() -> None:
    code = (
        "import logging\n"
        "from cli.main import configure_logging\n"
        "configure_logging(verbose=False)\n"
        "from rag.bm25 import Bm25Index\n"  # bm25s sets its logger to DEBUG on import
        "Bm25Index.build(['fastlegeordningen er under press', 'legevakten i Bergen'])\n"
        "logging.getLogger('bm25s').info('library info')\n"
        "logging.getLogger('cli.main').warning('own warning')\n"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert "DEBUG" not in done.stderr and "library info" not in done.stderr
    assert "WARNING cli.main: own warning" in done.stderr
    verbose = run_python(code.replace("verbose=False", "verbose=True"))
    assert "INFO bm25s: library info" in verbose.stderr and "DEBUG" not in verbose.stderr


def test_a_short_admin_token_is_refused_without_echoing_it() -> None:
    done = run_python(RAG_SEARCH, RAG_API__ADMIN_TOKEN="hunter2")
    assert done.returncode == 2
    assert done.stderr.startswith("rag: configuration error: RAG_API__ADMIN_TOKEN: ")
    assert "hunter2" not in done.stderr
