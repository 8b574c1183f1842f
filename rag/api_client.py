"""The HTTP transport every client of the API shares: the UI, `rag eval --api` and the bench.

`connection` keeps one pooled httpx.Client per API for the life of the process (Streamlit
reruns reuse it); `send` and `call` turn transport failures into `ApiUnavailable` and error
statuses into `ApiError` carrying the API's `detail`. Like rag/contract.py it imports nothing of
rag, so the UI may use it and still reach the service over HTTP only (tests/test_layers.py).
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

import httpx

logger = logging.getLogger(__name__)


class ApiUnavailable(Exception):
    """The API could not be reached (refused, timed out, DNS failure, ...)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class ApiError(Exception):
    """The API answered with an error status or a response that breaks the contract."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


@cache
def connection(base_url: str) -> httpx.Client:
    """The pooled HTTP client for the API at `base_url`, made once per process."""
    return httpx.Client(base_url=base_url.rstrip("/"))


def send(
    http: httpx.Client, method: str, path: str, timeout_s: float, **kwargs: Any
) -> httpx.Response:
    """The API's successful response to `method path`; failures raise ApiUnavailable/ApiError."""
    base_url = str(http.base_url).rstrip("/")
    url = base_url + path
    try:
        response = http.request(method, path, timeout=timeout_s, **kwargs)
    except httpx.TimeoutException as exc:
        logger.warning("API timeout: %s %s", method, url)
        raise ApiUnavailable(base_url, f"ingen svar innen {timeout_s:g} s") from exc
    except httpx.ConnectError as exc:
        logger.warning("API unreachable: %s %s (%s)", method, url, exc)
        raise ApiUnavailable(base_url, "fikk ikke koblet til (kjører tjenesten?)") from exc
    except httpx.TransportError as exc:
        logger.warning("API unreachable: %s %s (%s)", method, url, exc)
        raise ApiUnavailable(base_url, f"nettverksfeil ({type(exc).__name__})") from exc
    if response.is_error:
        detail = error_detail(response)
        logger.info("API error %d on %s %s: %s", response.status_code, method, url, detail)
        raise ApiError(response.status_code, detail)
    return response


def call(http: httpx.Client, method: str, path: str, timeout_s: float, **kwargs: Any) -> Any:
    """The JSON body of the API's successful response to `method path`."""
    response = send(http, method, path, timeout_s, **kwargs)
    try:
        return response.json()
    except ValueError as exc:
        raise ApiError(response.status_code, "API-et svarte ikke med JSON") from exc


def error_detail(response: httpx.Response) -> str:
    """The `detail` of an error body; FastAPI's 422 lists become one line of messages."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):
        messages = [str(item.get("msg", item)) for item in detail if isinstance(item, dict)]
        detail = "; ".join(messages) or None
    return str(detail) if detail else f"HTTP {response.status_code}"
