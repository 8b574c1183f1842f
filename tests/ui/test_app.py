"""Page logic of the Streamlit app, run with AppTest against the fake API (or a closed port)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from fake_api import (
    BROKEN_QUESTION,
    CITATIONS,
    EVIL_QUOTE,
    GROUPED_CITATIONS,
    GROUPED_QUESTION,
    HOSTILE_CITATIONS,
    HOSTILE_FIRST_LINE,
    HOSTILE_GENERATED,
    HOSTILE_HTML_QUOTE,
    HOSTILE_ID,
    HOSTILE_QUESTION,
    HOSTILE_SECTION,
    HOSTILE_SUBMITTER,
    HOSTILE_URL_QUOTE,
    META,
    NEAR_DUPLICATES,
    NO_ANSWER_QUESTION,
    QUESTION,
    TEXTS,
    FakeApi,
)
from md_view import links, markup_tags, shown
from streamlit.testing.v1 import AppTest

from ui.workbench_render import document_href, norwegian_key

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
TIMEOUT = 30


def run_app(api_url: str, monkeypatch: pytest.MonkeyPatch, **query: str) -> AppTest:
    monkeypatch.setenv("RAG_UI_API_URL", api_url)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at.run()


def html_bodies(at: AppTest) -> list[str]:
    return [element.value for element in at.get("html")]


def markdown_text(at: AppTest) -> str:
    return "\n".join(element.value for element in at.markdown)


def _document_page_script() -> None:
    from ui.app import document_page

    document_page()


def _documents_page_script() -> None:
    from ui.app import documents_page

    documents_page()


# --- the ask page ---


def test_hidden_characters_in_the_url_are_cleaned_before_they_are_shown_or_asked(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = "\u202e" + QUESTION.replace("fastlege", "fast\u200blege\x1b")
    at = run_app(fake_api.url, monkeypatch, q=hostile)
    assert not at.exception
    assert at.text_input(key="question_input").value == QUESTION  # not shown reversed
    assert [body["question"] for body in fake_api.asked] == [QUESTION]


def test_topics_are_cleaned_and_repeats_dropped_after_cleaning() -> None:
    from ui.overview import parse_topics

    assert parse_topics("lege\u200bvakt\n\u202elegevakt\nbarn og\u00ad unge\n") == (
        "legevakt",
        "barn og unge",
    )


def test_q_in_url_asks_at_once_and_renders_answer_cards_and_overview(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_app(fake_api.url, monkeypatch, q=QUESTION)
    assert not at.exception
    assert [body["question"] for body in fake_api.asked] == [QUESTION]
    assert at.text_input(key="question_input").value == QUESTION

    answer = markdown_text(at)
    assert "3 av 3 innspill omtaler dette." in shown(answer)
    assert links(answer) == [f"#kilde-{n}" for n in (1, 2, 3, 4)]

    cards = [body for body in html_bodies(at) if 'class="kilde"' in body]
    assert len(cards) == 4
    for n, card in enumerate(cards, start=1):
        assert f'id="kilde-{n}"' in card
    assert (
        "<mark>Moss kommune mener fastlegeordningen må styrkes med flere hjemler.</mark>"
        in (cards[0])
    )
    assert "Fastlegeordningen er under press." in cards[0]  # the surrounding paragraph

    overview = at.table[0].value
    assert [shown(cell) for cell in overview["Innsender"]] == [
        "Moss kommune",
        "Bergen kommune",
        "Ondsinnet <b>kommune</b>",
    ]
    assert list(overview["Relevante avsnitt"]) == [2, 1, 1]


def test_script_in_a_document_is_never_rendered_as_html(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_app(fake_api.url, monkeypatch, q=QUESTION)
    rendered = html_bodies(at) + [element.value for element in at.markdown]
    assert not any("<script" in body or "<b>kommune" in body for body in rendered)
    evil_card = next(body for body in html_bodies(at) if 'id="kilde-4"' in body)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in evil_card


def test_each_card_links_to_its_quote_in_the_document_view(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_app(fake_api.url, monkeypatch, q=QUESTION)
    links = [link for link in at.get("page_link") if link.value == "Vis i dokumentet"]
    assert len(links) == len(CITATIONS)
    for link, citation in zip(links, CITATIONS, strict=True):
        assert link.proto.page == "dokument"
        assert parse_qs(link.proto.query_string) == {
            "doc": [citation["document_id"]],
            "start": [str(citation["start"])],
            "end": [str(citation["end"])],
            "q": [QUESTION],
        }


def test_asking_in_the_form_updates_q_in_the_url(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_app(fake_api.url, monkeypatch)
    assert fake_api.asked == []
    assert "Skriv et spørsmål" in at.info[0].value
    at.text_input(key="question_input").input("  Hva med legevakt?  ")
    next(button for button in at.button if button.label == "Spør").click()
    at.run()
    assert at.query_params["q"] == "Hva med legevakt?"
    assert [body["question"] for body in fake_api.asked] == ["Hva med legevakt?"]
    assert any('id="kilde-1"' in body for body in html_bodies(at))


def test_example_question_is_asked_and_put_in_the_url(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_app(fake_api.url, monkeypatch)
    example = at.button(key="eksempel_0")
    assert example.label == "Hva sier kommunene om fastlegeordningen?"
    example.click()
    at.run()
    assert at.query_params["q"] == QUESTION
    assert at.text_input(key="question_input").value == QUESTION
    assert [body["question"] for body in fake_api.asked] == [QUESTION]


def test_no_answer_shows_the_empty_state(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_app(fake_api.url, monkeypatch, q=NO_ANSWER_QUESTION)
    assert not at.exception
    assert [info.value for info in at.info] == ["Ingen relevante treff i innspillene"]
    assert not [body for body in html_bodies(at) if 'class="kilde"' in body]
    assert "Kilder" not in [header.value for header in at.subheader]


def test_unreachable_api_shows_an_error_naming_the_url(
    closed_port_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_app(closed_port_url, monkeypatch, q=QUESTION)
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert "Får ikke kontakt med API-et" in message and closed_port_url in shown(message)
    assert "Feil: fikk ikke koblet til (kjører tjenesten?)" in [
        shown(caption.value) for caption in at.caption
    ]
    assert f"{closed_port_url} — ikke tilgjengelig" in shown(at.sidebar.caption[0].value)


def test_api_error_shows_its_detail(fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_app(fake_api.url, monkeypatch, q=BROKEN_QUESTION)
    assert [shown(error.value) for error in at.error] == [
        "Tjenesten er ikke klar: Indeksen mangler. Bygg den med `rag index`."
    ]


def test_filters_offer_values_from_documents_and_are_sent_with_the_question(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_app(fake_api.url, monkeypatch, q=QUESTION)
    submitter = at.multiselect(key="filter_submitter")
    submitter_type = at.multiselect(key="filter_submitter_type")
    assert submitter.options == sorted(meta[0] for meta in META.values())  # plain-text options
    assert submitter_type.options == ["kommune", "organisasjon"]
    assert "filters" not in fake_api.asked[-1]

    submitter.select("Moss kommune")
    submitter_type.select("kommune")
    at.run()
    assert fake_api.asked[-1]["filters"] == {
        "submitter": ["Moss kommune"],
        "submitter_type": ["kommune"],
    }


# --- the document view and the document list ---


def test_document_view_highlights_the_quote_escaped_and_scrolls_to_it(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_UI_API_URL", fake_api.url)
    evil = CITATIONS[3]
    at = AppTest.from_function(_document_page_script, default_timeout=TIMEOUT)
    at.query_params.update(
        doc="ondsinnet", start=str(evil["start"]), end=str(evil["end"]), q=QUESTION
    )
    at.run()
    assert not at.exception
    document = next(e for e in at.get("html") if 'class="dokument"' in e.value)
    assert '<mark id="treff">Vi vil ha &lt;script&gt;' in document.value
    assert "<script" not in document.value and not document.proto.unsafe_allow_javascript
    scroll = next(e for e in at.get("html") if e.proto.unsafe_allow_javascript)
    assert 'getElementById("treff")' in scroll.value and EVIL_QUOTE not in scroll.value
    back = at.get("page_link")[0]
    assert back.value == "Tilbake til svaret" and parse_qs(back.proto.query_string) == {
        "q": [QUESTION]
    }


def test_document_view_of_unknown_document_says_so(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_UI_API_URL", fake_api.url)
    at = AppTest.from_function(_document_page_script, default_timeout=TIMEOUT)
    at.query_params["doc"] = "finnes-ikke"
    at.run()
    assert [shown(error.value) for error in at.error] == ["Fant ikke dokumentet «finnes-ikke»."]


def test_documents_page_lists_metadata(fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_UI_API_URL", fake_api.url)
    at = AppTest.from_function(_documents_page_script, default_timeout=TIMEOUT).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table.columns) == [
        "Innsender", "Type", "Malgruppe", "Delt tekst (%)", "Tegn", "Tekstbiter", "Kilde", "Tittel",
    ]  # fmt: skip
    by_name = sorted(TEXTS, key=lambda d: norwegian_key(META[d][0]))
    assert list(table["Kilde"]) == [META[document_id][2] for document_id in by_name]
    assert [metric.value for metric in at.metric] == [str(len(TEXTS)), "6", "1"]
    link = at.get("page_link")[0]
    assert link.proto.page == "dokument" and link.proto.query_string == f"doc={by_name[0]}"


def test_documents_page_filters_by_type_and_shared_text_and_shows_template_groups(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_UI_API_URL", fake_api.url)
    at = AppTest.from_function(_documents_page_script, default_timeout=TIMEOUT).run()
    group = next(e.value for e in at.get("html") if 'class="maler"' in e.value)
    members = sorted(NEAR_DUPLICATES, key=lambda d: norwegian_key(META[d][0]))
    assert "sammenlign?" + "&amp;".join(f"s={m}" for m in members) in group
    assert "Sammenlign 2" in group
    at.multiselect(key="dokumenter_type").select("kommune")
    at.run()
    assert set(at.dataframe[0].value["Type"]) == {"kommune"}
    at.multiselect(key="dokumenter_type").unselect("kommune")
    at.selectbox(key="dokumenter_delt").select("mal")
    at.run()
    assert set(at.dataframe[0].value["Kilde"]) == {META[d][2] for d in NEAR_DUPLICATES}
    assert set(at.selectbox(key="open_document").options) == {
        f"{META[d][0]} — {META[d][3]}" for d in NEAR_DUPLICATES
    }  # the picker offers what the table shows
    at.selectbox(key="dokumenter_sortering").select("lengde")
    at.run()
    chars = list(at.dataframe[0].value["Tegn"])
    assert chars == sorted(chars, reverse=True)


# --- hostile documents: every field renders literally ---


def all_markdown(at: AppTest) -> list[str]:
    """Every Markdown source the page holds: markdown, title, captions, alerts, table cells."""
    bodies = [e.value for e in [*at.markdown, *at.title, *at.caption, *at.error, *at.warning]]
    bodies += [e.value for e in at.info]
    for table in at.table:
        bodies += [str(cell) for column in table.value.columns for cell in table.value[column]]
    return bodies


# The links the workbench builds itself: to a document or to «Sammenlign», from ids.
OWN_LINK = re.compile(r'<a (?:class="(?:high|low)" )?href="(?:dokument|sammenlign)\?[^"<>]*"')
# The answer's markers: to a source card, or to the quote in its document.
OWN_MARKER = re.compile(r"#kilde-\d+|dokument\?doc=[^\s\"<>()]*")


def assert_no_markup_from_documents(at: AppTest) -> None:
    for body in all_markdown(at):
        assert markup_tags(body) == [], body
        assert all(OWN_MARKER.fullmatch(link) for link in links(body)), body
    for element in at.get("html"):
        if not element.proto.unsafe_allow_javascript:  # the fixed scroll script
            assert not re.search(r"<(img|script)\b", element.value), element.value
            anchors = re.findall(r"<a\b", element.value)
            assert len(anchors) == len(OWN_LINK.findall(element.value)), element.value


def test_hostile_answer_renders_every_field_literally(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_app(fake_api.url, monkeypatch, q=HOSTILE_QUESTION)
    assert not at.exception
    assert_no_markup_from_documents(at)
    answer = shown(markdown_text(at))
    assert HOSTILE_GENERATED in answer
    assert f"«{HOSTILE_URL_QUOTE}» [1]" in answer and f"«{HOSTILE_HTML_QUOTE}» [2]" in answer
    assert HOSTILE_SUBMITTER in answer
    assert links(markdown_text(at)) == ["#kilde-1", "#kilde-1", "#kilde-2"]
    cards = [html.unescape(re.sub(r"<[^>]+>", "", b)) for b in html_bodies(at) if "kilde-" in b]
    assert len(cards) == len(HOSTILE_CITATIONS)
    assert all(HOSTILE_SUBMITTER in card and HOSTILE_SECTION in card for card in cards)
    assert HOSTILE_URL_QUOTE in cards[0] and HOSTILE_HTML_QUOTE in cards[1]


def test_hostile_document_page_renders_literally(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_UI_API_URL", fake_api.url)
    quote = HOSTILE_CITATIONS[1]
    at = AppTest.from_function(_document_page_script, default_timeout=TIMEOUT)
    at.query_params.update(doc=HOSTILE_ID, start=str(quote["start"]), end=str(quote["end"]))
    at.run()
    assert not at.exception
    assert_no_markup_from_documents(at)
    assert shown(at.title[0].value) == HOSTILE_SUBMITTER
    assert META[HOSTILE_ID][3] in shown(at.caption[0].value)
    document = next(e.value for e in at.get("html") if 'class="dokument"' in e.value)
    assert html.unescape(re.sub(r"<[^>]+>", "", document)) == TEXTS[HOSTILE_ID]
    assert html.unescape(re.findall(r'<mark id="treff">(.*?)</mark>', document)[0]) == (
        HOSTILE_HTML_QUOTE
    )
    assert HOSTILE_FIRST_LINE in html.unescape(document)


def test_markdown_in_the_doc_parameter_is_echoed_literally(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_UI_API_URL", fake_api.url)
    at = AppTest.from_function(_document_page_script, default_timeout=TIMEOUT)
    at.query_params["doc"] = HOSTILE_FIRST_LINE
    at.run()
    assert_no_markup_from_documents(at)
    assert [shown(error.value) for error in at.error] == [
        f"Fant ikke dokumentet «{HOSTILE_FIRST_LINE}»."
    ]


def test_documents_page_with_a_hostile_document_shows_no_markup(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_UI_API_URL", fake_api.url)
    at = AppTest.from_function(_documents_page_script, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert_no_markup_from_documents(at)
    assert HOSTILE_SUBMITTER in list(at.dataframe[0].value["Innsender"])  # plain-text cells


def test_a_grouped_answer_shows_counts_then_groups_and_keeps_the_rest_one_click_away(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_app(fake_api.url, monkeypatch, q=GROUPED_QUESTION)
    assert not at.exception
    first = [shown(m.value) for m in at.markdown]
    lead = next(text for text in first if "er sitert" in text)
    assert lead == "3 av 5 innspill er sitert: 2 av 3 kommuner, 1 av 2 organisasjoner."
    notes = [shown(i.value) for i in at.info]
    assert "Spørsmålet gjelder kommuner: bare kommuner er tatt med." in notes
    groups = [text for text in first if text.startswith(("1.", "2."))]
    assert groups[0].startswith("1. fastlegeordningen, hjemler – 2 kommuner")
    assert f"Samme tekst i 2 innspill: «{GROUPED_CITATIONS[0]['quote']}» [1] [3]" in groups[0]
    assert groups[1].startswith("2. <b>ondsinnet</b> – 1 organisasjon")  # a label is text
    [rest] = [e for e in at.expander if e.label.startswith("Alle ")]
    assert rest.label == "Alle 3 sitater i gruppen"
    assert "Rekruttering er krevende." in shown(rest.markdown[0].value)
    assert "Rekruttering er krevende." not in "\n".join(groups)  # not on the first screen
    everything = "\n".join(m.value for m in at.markdown)
    assert not markup_tags(everything)
    cards = [body for body in html_bodies(at) if 'class="kilde"' in body]
    assert len(cards) == 2  # one per quote shown first; the rest a page at a time
    # A marker leads to its card when the page shows it, else to its quote in the document.
    by_n = {c["n"]: c for c in GROUPED_CITATIONS}
    own = {f"#kilde-{n}" for n in (1, 4)} | {
        document_href(by_n[n]["document_id"], by_n[n]["start"], by_n[n]["end"], GROUPED_QUESTION)
        for n in (2, 3)
    }
    assert {html.unescape(link) for link in links(everything)} == own


def test_asking_everyone_undoes_the_questions_scope_in_one_click(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_app(fake_api.url, monkeypatch, q=GROUPED_QUESTION)
    at.button(key="alle_innsendere").click().run()
    assert not at.exception
    assert at.query_params["alle"] in ("1", ["1"])
    assert fake_api.asked[-1].get("scope_from_question") is False
    assert not [i for i in at.info if "Spørsmålet gjelder" in shown(i.value)]


def test_the_answer_page_fetches_each_document_once_and_not_again_on_the_next_render(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One render of the answer page at 300 submitters fetched GET /documents/{id} 193 times
    for 183 documents, and as many again on every render: its cache held 64."""
    at = run_app(fake_api.url, monkeypatch, q=QUESTION)  # two quotes from Moss kommune
    assert not at.exception
    cited = {c["document_id"] for c in CITATIONS}
    fetched = [r for r in fake_api.requests if r.startswith("GET /documents/")]
    assert sorted(fetched) == sorted(f"GET /documents/{d}" for d in cited)
    at.run()
    assert [r for r in fake_api.requests if r.startswith("GET /documents/")] == fetched
