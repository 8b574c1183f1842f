"""Streamlit pieces the workbench pages share: cached API calls, errors, download buttons, and
the document texts a page shows quotes in."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import streamlit as st

from ui import client, render
from ui.settings import UiSettings

logger = logging.getLogger(__name__)

DOWNLOAD_FORMATS = {"csv": "CSV", "xlsx": "Excel", "docx": "Word", "md": "Markdown"}
# Room for every document of a large consultation: a page that shows quotes from 300
# documents finds each in the cache on its next render (64 made it fetch them all again).
DOCUMENT_CACHE_ENTRIES = 2048


@st.cache_data(ttl=600, max_entries=32, show_spinner=False)
def cached_matrix(
    api_url: str,
    topics: tuple[str, ...],
    timeout_s: float,
    filters: client.Filters | None = None,
    cells: client.CellsShown = "all",
    quotes: bool = True,
) -> client.Matrix:
    return client.matrix(api_url, topics, filters, timeout_s, cells, quotes)


@st.cache_data(ttl=60, show_spinner=False)
def cached_topics(api_url: str, timeout_s: float) -> tuple[str, ...]:
    return client.topics(api_url, timeout_s=timeout_s)


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def cached_compare(
    api_url: str, question: str, document_ids: tuple[str, ...], timeout_s: float
) -> client.Comparison:
    return client.compare(api_url, question, document_ids, timeout_s=timeout_s)


@st.cache_data(ttl=60, show_spinner=False)
def cached_listing(api_url: str, timeout_s: float) -> client.Listing:
    return client.listing(api_url, timeout_s=timeout_s)


def cached_documents(api_url: str, timeout_s: float) -> list[client.DocumentInfo]:
    """The documents of GET /documents (one cached call for every page)."""
    return list(cached_listing(api_url, timeout_s).documents)


@st.cache_data(ttl=600, max_entries=32, show_spinner=False)
def cached_download(
    api_url: str, path: str, body: dict[str, Any], fmt: str, timeout_s: float
) -> bytes:
    return client.download(api_url, path, body, fmt, timeout_s=timeout_s)


@st.cache_data(ttl=600, max_entries=DOCUMENT_CACHE_ENTRIES, show_spinner=False)
def cached_document_text(api_url: str, document_id: str, timeout_s: float) -> client.Document:
    return client.document(api_url, document_id, timeout_s=timeout_s)


def document_texts(settings: UiSettings, document_ids: Iterable[str]) -> dict[str, str | None]:
    """The text of each document named, each fetched at most once however many quotes name it
    (GET /documents/{id}), and kept for the next renders. A document that cannot be fetched is
    None (and logged): its quotes are shown without their paragraph. For every page that shows
    quotes in their paragraph: call it once with all the page's document ids."""
    texts: dict[str, str | None] = {}
    for document_id in dict.fromkeys(document_ids):
        try:
            doc = cached_document_text(settings.api_url, document_id, settings.timeout_s)
        except (client.ApiUnavailable, client.ApiError) as exc:
            logger.warning("No text for %s: %s", document_id, exc)
            texts[document_id] = None
        else:
            texts[document_id] = doc.text
    return texts


def show_failure(exc: client.ApiUnavailable | client.ApiError, api_url: str) -> None:
    if isinstance(exc, client.ApiUnavailable):
        st.error(render.api_unavailable_message(api_url), icon=":material/cloud_off:")
    elif exc.status == 422:
        st.warning("Forespørselen kan ikke besvares.", icon=":material/warning:")
        st.text(exc.detail)  # the API's message may echo user text: shown as plain text
    else:
        st.error(f"API-et svarte med feil ({exc.status}).")
        st.text(exc.detail)


def download_buttons(
    settings: UiSettings, path: str, body: dict[str, Any], name: str, key: str
) -> None:
    """One button per format; the file is made by the API only when a button is clicked, and
    the UI waits for it as long as the browser waits for the button (`export_timeout_s`)."""
    with st.container(horizontal=True, gap="small"):
        st.caption("Last ned:")
        for fmt, label in DOWNLOAD_FORMATS.items():
            st.download_button(
                label,
                data=lambda fmt=fmt: cached_download(  # type: ignore[misc]
                    settings.api_url, path, body, fmt, settings.export_timeout_s
                ),
                file_name=f"{name}.{fmt}",
                key=f"{key}_{fmt}",
                on_click="ignore",
                icon=":material/download:",
            )


def answer_downloads(
    settings: UiSettings, question: str, filters: client.Filters, k: int | None
) -> None:
    """Download buttons for an answer (POST /ask?format=...)."""
    body: dict[str, Any] = {"question": question}
    if k is not None:
        body["k"] = k
    if filters.as_json():
        body["filters"] = filters.as_json()
    download_buttons(settings, "/ask", body, "svar", "last_ned_svar")


def matrix_downloads(
    settings: UiSettings, topics: tuple[str, ...], filters: client.Filters | None = None
) -> None:
    """Download buttons for the matrix as shown (POST /matrix?format=...): every cell and
    quote of the topics, for the submitter types chosen."""
    body = client.matrix_body(topics, filters)
    download_buttons(settings, "/matrix", body, "oversikt", "last_ned_oversikt")
