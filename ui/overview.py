"""Page «Oversikt»: which submitters discuss which topics (POST /matrix).

Rows are submitters, columns topics; each mark links to its quote highlighted in the document
page. The matrix scrolls inside a frame of fixed height with its header and first column held in
place, so 300 rows stay readable; it sorts (by type, name or how many topics a submitter
mentions) and filters (by submitter type, sent to the API, and by «omtaler / usikkert / omtaler
ikke», in one topic or any). Under it: who has said nothing on any of the topics, the counts per
type, and the quotes of one topic, fetched when that topic is chosen. The page asks the API for
the marks alone (`cells="mentioned"`, `quotes=False`). The topic list and the types chosen live
in the URL (`?topics=a&topics=b&type=kommune`), so a view can be shared; without topics the
API's default topics (GET /topics) are shown.
"""

from __future__ import annotations

import streamlit as st

from rag.cleaning import plain_line
from rag.contract import MAX_TOPIC_CHARS, MAX_TOPICS, count_line
from ui import client, render
from ui.settings import UiSettings, get_settings
from ui.workbench import (
    cached_documents,
    cached_matrix,
    cached_topics,
    matrix_downloads,
    show_failure,
)
from ui.workbench_render import (
    SORT_LABELS,
    STATUS_LABELS,
    STYLE,
    MatrixView,
    Sort,
    Status,
    count_rows,
    matrix_html,
    shown_rows,
    silent,
    silent_html,
    topic_citations,
)

TOPICS_PARAM = "topics"
TYPE_PARAM = "type"
ANY_TOPIC = ""
QUOTES_HEIGHT_PX = 640  # a topic's quotes scroll in a frame: 300 cards would be 60,000 px
SILENT_HEIGHT_PX = 320


def parse_topics(text: str) -> tuple[str, ...]:
    """One topic per line, cleaned as the API cleans it (rag/cleaning.py); blank lines dropped,
    repeats once, the API's limits applied."""
    lines = (plain_line(line)[:MAX_TOPIC_CHARS] for line in text.splitlines())
    return tuple(dict.fromkeys(line for line in lines if line))[:MAX_TOPICS]


def topics_in_url() -> tuple[str, ...]:
    return parse_topics("\n".join(st.query_params.get_all(TOPICS_PARAM)))


def types_in_url(known: list[str]) -> list[str]:
    """The submitter types in `?type=`, known ones only, each once."""
    return [t for t in dict.fromkeys(st.query_params.get_all(TYPE_PARAM)) if t in known]


def _apply_topics() -> None:
    topics = parse_topics(st.session_state.get("topic_input", ""))
    if topics:
        st.query_params[TOPICS_PARAM] = list(topics)
    else:
        st.query_params.pop(TOPICS_PARAM, None)


def _apply_types() -> None:
    chosen = st.session_state.get("matrise_type", [])
    if chosen:
        st.query_params[TYPE_PARAM] = list(chosen)
    else:
        st.query_params.pop(TYPE_PARAM, None)


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


def type_filter(known: list[str]) -> tuple[str, ...]:
    """The submitter types to show (none chosen: all), kept in the URL."""
    chosen = types_in_url(known)
    if st.session_state.get("shown_types") != chosen:
        st.session_state["matrise_type"] = chosen
        st.session_state["shown_types"] = chosen
    st.multiselect(
        "Innsendertype",
        known,
        key="matrise_type",
        on_change=_apply_types,
        placeholder="Alle typer",
    )
    return tuple(chosen)


def view_controls(topics: tuple[str, ...]) -> MatrixView:
    """Sort, and which rows to show: those with one of the chosen marks in a topic (or any)."""
    sort: Sort = st.selectbox(
        "Sorter etter", list(SORT_LABELS), format_func=SORT_LABELS.__getitem__, key="matrise_sort"
    )
    statuses: list[Status] = st.multiselect(
        "Vis innsendere som",
        list(STATUS_LABELS),
        format_func=STATUS_LABELS.__getitem__,
        key="matrise_status",
        placeholder="Alle",
    )
    topic = st.selectbox(
        "i temaet",
        [ANY_TOPIC, *topics],
        format_func=lambda t: t or "hvilket som helst tema",
        key="matrise_tema",
    )
    chosen = frozenset(statuses) if statuses else frozenset(STATUS_LABELS)
    return MatrixView(sort, chosen, topic or None)


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
        docs = cached_documents(settings.api_url, settings.timeout_s)
    except (client.ApiUnavailable, client.ApiError) as exc:
        show_failure(exc, settings.api_url)
        return
    with st.container(horizontal=True, gap="small", key="matrisevalg"):
        types = type_filter(sorted({d.submitter_type for d in docs}))
        view = view_controls(topics)
    filters = client.Filters(submitter_type=types)
    try:
        with st.spinner("Går gjennom innspillene …"):
            matrix = cached_matrix(
                settings.api_url, topics, settings.timeout_s, filters, "mentioned", False
            )
    except (client.ApiUnavailable, client.ApiError) as exc:
        show_failure(exc, settings.api_url)
        return
    matrix_section(matrix, view)
    matrix_downloads(settings, topics, filters)
    silent_section(matrix)
    counts_section(matrix)
    quotes_section(settings, topics, filters)


def matrix_section(matrix: client.Matrix, view: MatrixView) -> None:
    rows = shown_rows(matrix, view)
    st.html(STYLE)
    st.caption(
        f"Viser {len(rows)} av {len(matrix.submitters)} innsendere. "
        "● omtaler temaet ◐ usikkert · omtaler det ikke. Tallet under et tema er hvor mange "
        "som omtaler det; pek på temaet for antallet per type."
    )
    with st.container(key="matrise"):
        st.html(matrix_html(matrix, rows, view.grouped))


def silent_section(matrix: client.Matrix) -> None:
    quiet = silent(matrix)
    st.subheader(f"Har ikke uttalt seg om noen av temaene ({len(quiet)})")
    if not quiet:
        st.caption("Alle innsenderne omtaler minst ett av temaene.")
        return
    with st.container(key="tause", height=SILENT_HEIGHT_PX if len(quiet) > 30 else "content"):
        st.html(silent_html(quiet))


def counts_section(matrix: client.Matrix) -> None:
    st.subheader("Antall per type")
    st.dataframe(count_rows(matrix), hide_index=True)  # plain-text cells


def quotes_section(settings: UiSettings, topics: tuple[str, ...], filters: client.Filters) -> None:
    """The quotes of one topic, fetched from the API when the topic is chosen."""
    st.subheader("Sitater per tema")
    topic = st.selectbox("Vis sitatene for", topics, key="sitater_tema")
    try:
        with st.spinner("Henter sitatene …"):
            one = cached_matrix(
                settings.api_url, (topic,), settings.timeout_s, filters, "mentioned", True
            )
    except (client.ApiUnavailable, client.ApiError) as exc:
        show_failure(exc, settings.api_url)
        return
    citations = topic_citations(one, topic)
    st.caption(render.literal(f"{count_line(one.counts, topic)} omtaler temaet."))
    if not citations:
        st.text("Ingen av innspillene omtaler dette temaet.")
        return
    st.html(render.STYLE)
    with st.container(key="sitater", height=QUOTES_HEIGHT_PX if len(citations) > 5 else "content"):
        st.html(
            "".join(render.source_card_html(c, render.passage_html(c, None)) for c in citations)
        )
