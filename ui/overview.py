"""Page «Oversikt»: which submitters discuss which topics (POST /matrix).

Rows are submitters grouped by type, columns topics; each mark links to its quote highlighted in
the document page. The topic list is editable and lives in the URL (`?topics=a&topics=b`), so a
view can be shared; without it the API's default topics (GET /topics) are shown.
"""

from __future__ import annotations

import streamlit as st

from rag.cleaning import plain_line
from rag.contract import MAX_TOPIC_CHARS, MAX_TOPICS, count_line
from ui import client, render
from ui.settings import get_settings
from ui.workbench import cached_matrix, cached_topics, matrix_downloads, show_failure
from ui.workbench_render import STYLE, matrix_html, topic_citations

TOPICS_PARAM = "topics"


def parse_topics(text: str) -> tuple[str, ...]:
    """One topic per line, cleaned as the API cleans it (rag/cleaning.py); blank lines dropped,
    repeats once, the API's limits applied."""
    lines = (plain_line(line)[:MAX_TOPIC_CHARS] for line in text.splitlines())
    return tuple(dict.fromkeys(line for line in lines if line))[:MAX_TOPICS]


def topics_in_url() -> tuple[str, ...]:
    return parse_topics("\n".join(st.query_params.get_all(TOPICS_PARAM)))


def _apply_topics() -> None:
    topics = parse_topics(st.session_state.get("topic_input", ""))
    if topics:
        st.query_params[TOPICS_PARAM] = list(topics)
    else:
        st.query_params.pop(TOPICS_PARAM, None)


def topic_editor(topics: tuple[str, ...]) -> None:
    shown = "\n".join(topics)
    if st.session_state.get("shown_topics") != shown:
        st.session_state["topic_input"] = shown
        st.session_state["shown_topics"] = shown
    with st.expander("Rediger temaer", icon=":material/edit:"), st.form("temaer", border=False):
        st.text_area(
            "Ett tema per linje (høyst 30)",
            key="topic_input",
            height=220,
            help="Lenken til siden tar med temalisten, så visningen kan deles.",
        )
        st.form_submit_button("Vis oversikt", type="primary", on_click=_apply_topics)


def overview_page() -> None:
    st.set_page_config(layout="wide")  # the matrix needs the room
    settings = get_settings()
    st.title("Oversikt over temaer")
    st.caption(
        "Hvem omtaler hvert tema? Hver markering er et ordrett sitat: klikk på den for å se "
        "sitatet markert i dokumentet."
    )
    topics = topics_in_url()
    if not topics:
        try:
            topics = cached_topics(settings.api_url, settings.timeout_s)
        except (client.ApiUnavailable, client.ApiError) as exc:
            show_failure(exc, settings.api_url)
        if topics:
            st.query_params[TOPICS_PARAM] = list(topics)  # the default view is shareable too
    topic_editor(topics)
    if not topics:
        st.info("Skriv inn minst ett tema.")
        return
    try:
        with st.spinner("Går gjennom innspillene …"):
            matrix = cached_matrix(settings.api_url, topics, settings.timeout_s)
    except (client.ApiUnavailable, client.ApiError) as exc:
        show_failure(exc, settings.api_url)
        return
    st.html(STYLE)
    with st.container(key="matrise"):
        st.html(matrix_html(matrix))
    st.caption("● omtaler temaet ◐ usikkert · omtaler det ikke")
    matrix_downloads(settings, topics)
    quotes_section(matrix)


def quotes_section(matrix: client.Matrix) -> None:
    st.subheader("Sitater per tema")
    st.html(render.STYLE)
    for topic in matrix.topics:
        citations = topic_citations(matrix, topic)
        with st.expander(render.literal(f"{topic} — {count_line(matrix.counts, topic)}")):
            if not citations:
                st.text("Ingen av innspillene omtaler dette temaet.")
            for citation in citations:
                st.html(render.source_card_html(citation, render.passage_html(citation, None)))
