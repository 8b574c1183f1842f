"""Streamlit UI for the RAG API: `streamlit run ui/app.py` (API URL from RAG_UI_API_URL).

Three pages: ask a question (shareable as `?q=`), list the indexed documents, and show one
document with a quote highlighted (`dokument?doc=<id>&start=<n>&end=<n>`). The UI talks to the
API over HTTP only. Every string from the API or the URL is data: it reaches the page through
`render.literal` (Markdown elements), `render.escape` (HTML) or a plain-text component
(text input, select options, st.dataframe), never as markup.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

import streamlit as st

if __package__ in (None, ""):  # `streamlit run ui/app.py` runs this file as a plain script
    _ROOT = str(Path(__file__).resolve().parents[1])
    if _ROOT not in sys.path:
        sys.path.insert(0, _ROOT)

from rag.cleaning import plain_line
from rag.contract import NO_ANSWER_HEADING as NO_ANSWER
from ui import answer_render, client, documents, render
from ui.compare import compare_page
from ui.overview import overview_page
from ui.settings import UiSettings, get_settings
from ui.workbench import answer_downloads, cached_document_text, cached_documents, document_texts

EXAMPLE_QUESTIONS = (
    "Hva sier kommunene om fastlegeordningen?",
    "Hva mener innsenderne om digital samhandling?",
    "Hvordan kan rekrutteringen av helsepersonell bedres?",
)
LOW_CONFIDENCE = "Svake treff – sjekk kildene. Sitatene ligner spørsmålet bare svakt."
EVERYONE = "alle"  # URL parameter: ask every submitter although the question names a kind
SOURCE_PAGES = "kildesider"  # session key: how many more pages of source cards are shown
SOURCES_PER_PAGE = 20


class Pages(NamedTuple):
    ask: st.Page
    documents: st.Page
    document: st.Page
    overview: st.Page
    compare: st.Page


def pages() -> Pages:
    return Pages(
        ask=st.Page(ask_page, title="Spør", icon=":material/search:", default=True),
        documents=st.Page(
            documents_page, title="Dokumenter", icon=":material/folder_open:", url_path="dokumenter"
        ),
        document=st.Page(document_page, title="Dokument", url_path="dokument", visibility="hidden"),
        overview=st.Page(
            overview_page, title="Oversikt", icon=":material/table_chart:", url_path="oversikt"
        ),
        compare=st.Page(
            compare_page,
            title="Sammenlign",
            icon=":material/compare_arrows:",
            url_path="sammenlign",
        ),
    )


# --- cached API calls (keyed by API URL, so a changed setting never serves stale data) ---


@st.cache_data(ttl=30, show_spinner=False)
def cached_health(api_url: str) -> client.Health:
    return client.health(api_url)


@st.cache_data(ttl=600, max_entries=256, show_spinner=False)
def cached_ask(
    api_url: str,
    question: str,
    filters: client.Filters,
    k: int | None,
    timeout_s: float,
    everyone: bool = False,
) -> client.Answer:
    return client.ask(
        api_url,
        question,
        k=k,
        filters=filters,
        timeout_s=timeout_s,
        scope_from_question=not everyone,
    )


# --- shared pieces ---


def show_api_failure(exc: client.ApiUnavailable | client.ApiError, api_url: str) -> None:
    if isinstance(exc, client.ApiUnavailable):
        st.error(render.api_unavailable_message(api_url), icon=":material/cloud_off:")
        st.caption(f"Feil: {render.literal(exc.reason)}")
    elif exc.status == 422:
        st.warning(render.api_error_message(exc.status, exc.detail))
    else:
        st.error(render.api_error_message(exc.status, exc.detail))


def sidebar_status(settings: UiSettings) -> None:
    try:
        info = cached_health(settings.api_url)
    except (client.ApiUnavailable, client.ApiError):
        st.sidebar.caption(f"API: {render.literal(settings.api_url)} — ikke tilgjengelig")
        return
    st.sidebar.caption(
        f"API: {render.literal(settings.api_url)} — "
        f"{info.documents} dokumenter, {info.chunks} tekstbiter"
    )
    if info.encoders:
        st.sidebar.caption("Språkmodeller: " + render.literal(", ".join(info.encoders)))
    for reason in info.degraded_reasons:
        st.sidebar.warning("Redusert: " + render.literal(reason))


def _set_question(question: str) -> None:
    question = plain_line(question)
    if question:
        st.query_params["q"] = question
    else:
        st.query_params.pop("q", None)


def _submit_question() -> None:
    _set_question(st.session_state.get("question_input", ""))


# --- page: ask ---


def ask_page() -> None:
    settings = get_settings()
    st.title("Spør høringsinnspillene")
    st.caption("Svarene er ordrette sitater fra innspillene, hvert med en lenke til kilden.")
    question = question_form()
    try:
        docs = cached_documents(settings.api_url, settings.timeout_s)
    except (client.ApiUnavailable, client.ApiError) as exc:
        show_api_failure(exc, settings.api_url)
        return
    filters = filter_sidebar(docs)
    if not question:
        st.info("Skriv et spørsmål, eller velg et av eksemplene.")
        return
    answer_section(settings, question, filters)


def question_form() -> str:
    """The question box and examples; returns the question in the URL (`?q=`)."""
    question = plain_line(st.query_params.get("q", ""))
    if st.session_state.get("shown_question") != question:
        st.session_state["question_input"] = question
        st.session_state["shown_question"] = question
    with st.form("sporsmal", border=False):
        st.text_input("Spørsmål", key="question_input", placeholder="Hva sier kommunene om …?")
        st.form_submit_button("Spør", type="primary", on_click=_submit_question)
    st.caption("Eksempler")
    with st.container(horizontal=True, gap="small"):
        for i, example in enumerate(EXAMPLE_QUESTIONS):
            st.button(
                example,
                key=f"eksempel_{i}",
                on_click=_set_question,
                args=(example,),
                icon=":material/lightbulb:",
                wrap=True,
            )
    return question


def filter_sidebar(docs: list[client.DocumentInfo]) -> client.Filters:
    with st.sidebar:
        st.subheader("Filtre")
        submitters = st.multiselect(
            "Innsender",
            sorted({doc.submitter for doc in docs}),
            key="filter_submitter",
            placeholder="Alle innsendere",
        )
        types = st.multiselect(
            "Innsendertype",
            sorted({doc.submitter_type for doc in docs}),
            key="filter_submitter_type",
            placeholder="Alle typer",
        )
    return client.Filters(submitter=tuple(submitters), submitter_type=tuple(types))


def answer_section(settings: UiSettings, question: str, filters: client.Filters) -> None:
    everyone = st.query_params.get(EVERYONE, "") == "1"
    try:
        with st.spinner("Leter i innspillene …"):
            answer = cached_ask(
                settings.api_url, question, filters, settings.k, settings.timeout_s, everyone
            )
    except (client.ApiUnavailable, client.ApiError) as exc:
        show_api_failure(exc, settings.api_url)
        return
    if answer.no_answer:
        st.info(NO_ANSWER, icon=":material/search_off:")
        st.caption("Prøv å formulere spørsmålet på en annen måte, eller fjern filtrene.")
        return
    st.subheader("Svar")
    if answer.confidence == "low":
        st.warning(LOW_CONFIDENCE, icon=":material/warning:")
    cards = carded(answer, question)
    markers = answer_render.Markers(frozenset(c.n for c in cards), question)
    with st.container(key="svar"):
        show_answer(answer, markers)
    answer_downloads(settings, question, filters, settings.k)
    overview_section(answer.citations)
    sources_section(settings, answer, question, cards)


def show_answer(answer: client.Answer, markers: answer_render.Markers) -> None:
    """Counts first, then each group's first quotes; the rest of a group one click away."""
    if not answer.groups or answer_render.generated(answer):  # a generated answer, as written
        st.markdown(render.answer_with_links(answer.answer, answer.citations))
        if not answer.groups:
            return
    st.markdown(answer_render.lead(answer))
    note = answer_render.scope_note(answer)
    if note:
        st.info(note, icon=":material/filter_alt:")
        st.button("Ta med alle innsendere", key="alle_innsendere", on_click=_ask_everyone)
    by_n = {c.n: c for c in answer.citations}
    for number, group in enumerate(answer.groups, start=1):
        first = answer_render.shown_lines(group, by_n, markers)
        st.markdown("\n".join([answer_render.heading(number, group), *first]))
        more = answer_render.rest_lines(group, by_n, markers)
        if more:
            with st.expander(f"Alle {len(group.members)} sitater i gruppen"):
                st.markdown("\n".join(more))


def _ask_everyone() -> None:
    st.query_params[EVERYONE] = "1"


def overview_section(citations: tuple[client.Citation, ...]) -> None:
    summaries = render.submitter_overview(citations)
    if len(summaries) < 2:
        return
    with st.expander(f"Oversikt per innsender ({len(summaries)})"):
        st.table(render.overview_rows(summaries), hide_index=True)


def carded(answer: client.Answer, question: str) -> list[client.Citation]:
    """The citations whose source cards the page shows: `first_cards` (every citation of an
    answer without groups, or a generated one, whose text links every marker to its card),
    then as many pages of the rest as were asked for."""
    grouped = answer.groups and not answer_render.generated(answer)
    first = (answer_render.first_cards(answer) if grouped else []) or list(answer.citations)
    rest = [c for c in answer.citations if c not in first]
    pages_shown = st.session_state.get(f"{SOURCE_PAGES}:{question}", 0)
    return first + rest[: pages_shown * SOURCES_PER_PAGE]


def sources_section(
    settings: UiSettings, answer: client.Answer, question: str, shown: list[client.Citation]
) -> None:
    """The source cards of `shown`, each quote in its paragraph (each document fetched once),
    and a button for the next page of the rest."""
    st.subheader("Kilder")
    st.html(render.STYLE)
    texts = document_texts(settings, (c.document_id for c in shown))
    document_page_ = pages().document
    for citation in shown:
        passage = render.passage_html(citation, texts[citation.document_id])
        with st.container(border=True):
            st.html(render.source_card_html(citation, passage))
            st.page_link(
                document_page_,
                label="Vis i dokumentet",
                icon=":material/description:",
                query_params={
                    "doc": citation.document_id,
                    "start": str(citation.start),
                    "end": str(citation.end),
                    "q": question,
                },
            )
    hidden = len(answer.citations) - len(shown)
    if hidden > 0:
        st.button(
            f"Vis flere kilder ({hidden} til)",
            key="flere_kilder",
            on_click=_more_sources,
            args=(question,),
        )


def _more_sources(question: str) -> None:
    key = f"{SOURCE_PAGES}:{question}"
    st.session_state[key] = st.session_state.get(key, 0) + 1


# --- page: one document ---


def document_page() -> None:
    settings = get_settings()
    document_id = st.query_params.get("doc", "")
    question = st.query_params.get("q", "")
    if question:
        st.page_link(
            pages().ask,
            label="Tilbake til svaret",
            icon=":material/arrow_back:",
            query_params={"q": question},
        )
    if not document_id:
        st.info("Velg et dokument under «Dokumenter», eller en kilde i et svar.")
        return
    try:
        doc = cached_document_text(settings.api_url, document_id, settings.timeout_s)
    except client.ApiError as exc:
        if exc.status == 404:
            st.error(f"Fant ikke dokumentet «{render.literal(document_id)}».")
            return
        show_api_failure(exc, settings.api_url)
        return
    except client.ApiUnavailable as exc:
        show_api_failure(exc, settings.api_url)
        return
    show_document(doc, _int_param("start"), _int_param("end"))


def show_document(doc: client.Document, start: int | None, end: int | None) -> None:
    st.title(render.literal(render.one_line(doc.submitter)))
    about = (doc.submitter_type, doc.title, doc.source, f"{doc.chars} tegn")
    st.caption(" · ".join(render.literal(render.one_line(part)) for part in about))
    marked = start is not None and end is not None and 0 <= start < end <= len(doc.text)
    if marked:
        st.markdown(":material/format_ink_highlighter: Sitatet er markert i teksten nedenfor.")
    st.html(render.STYLE)
    st.html(render.highlight_document(doc.text, start, end))
    if marked:
        # A fixed script with no document text in it: scroll the <mark> into view.
        st.html(render.SCROLL_TO_MARK_SCRIPT, unsafe_allow_javascript=True)


def _int_param(name: str) -> int | None:
    value = st.query_params.get(name, "")
    return int(value) if value.isdigit() else None


# --- page: documents ---


def documents_page() -> None:
    documents.documents_page(pages().document)


def main() -> None:
    # An emoji icon becomes an inline data: favicon; a :material/…: icon would be fetched from
    # fonts.gstatic.com, and the UI sends no request beyond the API and itself.
    st.set_page_config(page_title="Høringsinnspill", page_icon="💬", layout="centered")
    navigation = st.navigation(list(pages()))
    sidebar_status(get_settings())
    navigation.run()


if __name__ == "__main__":
    main()
