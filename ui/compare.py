"""Page «Sammenlign»: two to four submitters side by side on one question (POST /compare).

Each column holds that submitter's own quotes on the question, each highlighted in its
paragraph (each document's text fetched once), or «Omtaler ikke dette». The view lives in the
URL (`?q=...&s=<document id>&s=...`), so it can be shared.
"""

from __future__ import annotations

import streamlit as st

from rag.cleaning import plain_line
from rag.contract import MAX_COMPARED, MIN_COMPARED
from ui import client
from ui.settings import get_settings
from ui.workbench import cached_compare, cached_documents, document_texts, show_failure
from ui.workbench_render import STYLE, compare_column_html, submitter_options

QUESTION_PARAM = "q"
SUBMITTER_PARAM = "s"


def chosen_in_url(valid: dict[str, str]) -> list[str]:
    """The document ids in `?s=`, known ones only, each once, at most four."""
    ids = [i for i in dict.fromkeys(st.query_params.get_all(SUBMITTER_PARAM)) if i in valid]
    return ids[:MAX_COMPARED]


def _apply_choice() -> None:
    question = plain_line(st.session_state.get("compare_question", ""))
    chosen = st.session_state.get("compare_submitters", [])
    if question:
        st.query_params[QUESTION_PARAM] = question
    else:
        st.query_params.pop(QUESTION_PARAM, None)
    st.query_params[SUBMITTER_PARAM] = list(chosen)


def choice_form(options: dict[str, str], question: str, chosen: list[str]) -> None:
    shown = (question, tuple(chosen))
    if st.session_state.get("shown_comparison") != shown:
        st.session_state["compare_question"] = question
        st.session_state["compare_submitters"] = chosen
        st.session_state["shown_comparison"] = shown
    with st.form("sammenlign", border=False):
        st.text_input("Spørsmål", key="compare_question", placeholder="Hva mener de om …?")
        st.multiselect(
            "Innsendere (2–4)",
            list(options),
            key="compare_submitters",
            format_func=options.__getitem__,
            max_selections=MAX_COMPARED,
            placeholder="Velg innsendere",
        )
        st.form_submit_button("Sammenlign", type="primary", on_click=_apply_choice)


def compare_page() -> None:
    st.set_page_config(layout="wide")  # side by side needs the room
    settings = get_settings()
    st.title("Sammenlign innsendere")
    st.caption("Hva sier hver av de valgte innsenderne om spørsmålet? Sitatene er ordrette.")
    try:
        docs = cached_documents(settings.api_url, settings.timeout_s)
    except (client.ApiUnavailable, client.ApiError) as exc:
        show_failure(exc, settings.api_url)
        return
    options = submitter_options(docs)
    question = plain_line(st.query_params.get(QUESTION_PARAM, ""))
    chosen = chosen_in_url(options)
    choice_form(options, question, chosen)
    if not question or len(chosen) < MIN_COMPARED:
        ready = len(chosen) >= MIN_COMPARED
        st.info(
            "Skriv et spørsmål for å sammenligne de valgte innsenderne."
            if ready
            else "Skriv et spørsmål og velg to til fire innsendere."
        )
        return
    try:
        with st.spinner("Leter i innspillene …"):
            comparison = cached_compare(
                settings.api_url, question, tuple(chosen), settings.timeout_s
            )
    except (client.ApiUnavailable, client.ApiError) as exc:
        show_failure(exc, settings.api_url)
        return
    texts = document_texts(settings, chosen)  # each document once, for the quotes' paragraphs
    st.html(STYLE)
    with st.container(key="sammenligning"):
        for column, place in zip(
            comparison.columns, st.columns(len(comparison.columns), border=True), strict=True
        ):
            with place:
                st.html(compare_column_html(column, texts))
