"""Page «Dokumenter»: every document of the index in a table that sorts and filters (type, shared
text), the picker that opens one right under it, and the template groups (who sent the same
letter, how much of it they share, one click to «Sammenlign» them). GET /documents is read once
(its `shared_text` and `near_duplicates` give the groups); no document text is fetched."""

from __future__ import annotations

import streamlit as st

from ui import client, render
from ui.documents_render import (
    DOCUMENT_SORTS,
    SHARED_FILTERS,
    STYLE,
    DocumentSort,
    SharedFilter,
    TemplateGroup,
    chosen_documents,
    document_rows,
    template_groups,
    template_groups_html,
)
from ui.settings import get_settings
from ui.workbench import cached_listing, show_failure

TABLE_HEIGHT_PX = 420  # the table scrolls inside this height, so the picker stays in view


def documents_page(document_page: st.Page) -> None:
    """Every document in a table that sorts and filters (type, shared text), the picker that
    opens one right under it, and the template groups: who sent the same letter."""
    st.set_page_config(layout="wide")  # the metadata table needs the room
    settings = get_settings()
    st.title("Dokumenter i indeksen")
    try:
        info = client.health(settings.api_url)
        found = cached_listing(settings.api_url, settings.timeout_s)
    except (client.ApiUnavailable, client.ApiError) as exc:
        show_failure(exc, settings.api_url)
        return
    docs, sharing = list(found.documents), found.sharing
    groups = template_groups(docs, sharing) if sharing is not None else []
    left, middle, right = st.columns(3)
    left.metric("Dokumenter", info.documents)
    middle.metric("Tekstbiter", info.chunks)
    right.metric("Malgrupper", len(groups), help="Grupper av innspill med samme brevmal.")
    st.caption(
        f"Indeksen ble bygget {render.literal(info.index_built_at)} "
        f"med modellen {render.literal(info.embedding_model)}."
    )
    shown = document_table(docs, sharing, groups)
    open_document_picker(document_page, shown)
    template_section(docs, groups)


def document_table(
    docs: list[client.DocumentInfo],
    sharing: dict[str, client.Sharing] | None,
    groups: list[TemplateGroup],
) -> list[client.DocumentInfo]:
    """The filters, and the table of the documents they leave (fixed height: it scrolls, its
    header stays); returns those documents."""
    with st.container(horizontal=True, gap="small"):
        types = st.multiselect(
            "Innsendertype",
            sorted({d.submitter_type for d in docs}),
            key="dokumenter_type",
            placeholder="Alle typer",
        )
        shared: SharedFilter = st.selectbox(
            "Delt tekst",
            list(SHARED_FILTERS),
            format_func=SHARED_FILTERS.__getitem__,
            key="dokumenter_delt",
            disabled=sharing is None,
        )
        order: DocumentSort = st.selectbox(
            "Sorter etter",
            list(DOCUMENT_SORTS),
            format_func=DOCUMENT_SORTS.__getitem__,
            key="dokumenter_sortering",
        )
    shown = chosen_documents(docs, sharing, types, shared, order)
    st.caption(
        f"{len(shown)} av {len(docs)} dokumenter. «Delt tekst» er den største andelen av "
        "innspillets egne setninger som står i ett annet innspill (når den er minst halvparten)."
    )
    st.dataframe(
        document_rows(shown, sharing, groups),
        hide_index=True,
        height=TABLE_HEIGHT_PX,
        column_config={"Delt tekst (%)": st.column_config.NumberColumn(format="%d %%")},
    )
    return shown


def open_document_picker(document_page: st.Page, docs: list[client.DocumentInfo]) -> None:
    if not docs:
        st.info("Ingen dokumenter passer filtrene.")
        return
    by_id = {doc.document_id: doc for doc in docs}
    with st.container(horizontal=True, gap="small", vertical_alignment="bottom"):
        chosen = st.selectbox(
            "Åpne et dokument",
            list(by_id),
            format_func=lambda document_id: (
                f"{by_id[document_id].submitter} — {by_id[document_id].title}"
            ),
            key="open_document",
        )
        st.page_link(
            document_page,
            label="Vis dokumentet",
            icon=":material/description:",
            query_params={"doc": chosen},
        )


def template_section(docs: list[client.DocumentInfo], groups: list[TemplateGroup]) -> None:
    st.subheader("Maler: innspill med samme tekst")
    if not groups:
        st.caption("Ingen av innspillene er sendt med samme brevmal.")
        return
    st.caption(
        "Innspill i samme gruppe har hver minst 75 % av setningene sine felles med et annet "
        "innspill i gruppen (avsenderens eget navn regnes ikke med). «Sammenlign» viser opptil "
        "fire av dem side om side på et spørsmål."
    )
    st.html(STYLE)
    with st.container(key="maler"):
        st.html(template_groups_html(groups, docs))
