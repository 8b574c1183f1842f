"""The extractive answer: lead line, quote blocks, template letters, and document text as data.

Rendering checks use markdown-it-py (CommonMark), the parser a reader of the Markdown would use.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from rag.answer import (
    LOW_CONFIDENCE_TEXT,
    NO_ANSWER_TEXT,
    SAME_TEXT_LEAD,
    compose,
    lead_line,
    literal,
    topic_of,
)
from rag.config import AnswerSettings
from rag.contract import MARKER
from rag.decide import Decision, decide
from rag.types import Citation, Document, Evidence

if TYPE_CHECKING:
    from conftest import Builders

FASTLEGE = "Hva sier kommunene om fastlegeordningen?"
SETTINGS = AnswerSettings()
COMMONMARK = MarkdownIt("commonmark")
TAGS = re.compile(r"<(\w+)")


def rendered_tags(markdown: str) -> list[str]:
    return TAGS.findall(COMMONMARK.render(markdown))


def rendered_text(markdown: str) -> str:
    """What a reader sees: the rendered HTML without tags, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", COMMONMARK.render(markdown))).strip()


# --- lead line -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        (FASTLEGE, "fastlegeordningen"),
        ("Hva mener Bergen om ventetid på legevakten ?!", "ventetid på legevakten"),
        ("Hva sier de om *legevakt* og `ventetid` [2]?", "legevakt og ventetid 2"),
        ("Hva sier de om ** ?", None),
        ("Hvem nevner legevakten?", None),
    ],
)
def test_topic_of(question: str, topic: str | None) -> None:
    assert topic_of(question) == topic


def test_lead_line_counts_submitters_names_the_topic_and_cautions_when_weak() -> None:
    assert lead_line(FASTLEGE, 2, 5, "high") == "2 av 5 innspill omtaler fastlegeordningen."
    assert lead_line(FASTLEGE, 2, 5, "low") == (
        "Svake treff – sjekk kildene. 2 av 5 innspill omtaler fastlegeordningen."
    )
    assert lead_line("Hvem nevner legevakten?", 1, 3, "high") == (
        "1 av 3 innspill har relevante avsnitt om spørsmålet."
    )
    hostile = lead_line("Hva sier de om [1] og _x_ ![i](http://e/x.png)?", 1, 1, "high")
    assert not MARKER.search(hostile)
    assert set(rendered_tags(hostile)) == {"p"}


# --- literal: document text as data --------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[klikk](javascript:x) _y_",
        "![img](http://e/x.png)",
        "Se fotnote [3] og [12].",
        "**fet** *kursiv* `kode` <b>html</b> <http://e.no> \\[1\\]",
        "a_b_c og 2*3*4 og [x][y] og [y]: http://e/",
    ],
)
def test_literal_text_renders_as_exactly_that_text(text: str) -> None:
    shown = literal(text)
    assert rendered_tags(shown) == ["p"]
    assert rendered_text(shown) == text
    assert not MARKER.search(shown)


@pytest.mark.parametrize("text", ["Helse &amp; omsorg", "fotnote &#91;3&#93; her"])
def test_literal_keeps_entities_as_text(text: str) -> None:
    assert rendered_text(literal(text)) == text


@given(st.text(alphabet="ab1 []()!*_`<>#|:/\\.«»-", min_size=1, max_size=40))
def test_literal_never_forms_markup_or_a_marker(text: str) -> None:
    shown = literal(f"x {text} x")  # inline, as in a quote line
    assert set(rendered_tags(shown)) <= {"p"}
    assert not MARKER.search(shown)
    assert rendered_text(shown) == f"x {text} x"


# --- compose -------------------------------------------------------------------------------

BERGEN = (
    "Rekruttering av fastleger må prioriteres nasjonalt.",
    "Kommunen foreslår f.eks. flere faste stillinger for fastleger.",
)
MOSS = (
    "Fastlegeordningen bør finansieres bedre av staten.",
    "Fastlegene i Moss har for mange pasienter på listene sine.",
)


def fastlege_decision(
    make: Builders, documents: dict[str, Document], best: float = 0.9
) -> tuple[Decision, Evidence]:
    found = make.evidence(
        (
            make.found_in(documents["bergen"], (BERGEN[0], best), (BERGEN[1], best - 0.01)),
            make.found_in(documents["moss"], (MOSS[0], best - 0.02), (MOSS[1], best - 0.03)),
            make.found_in(
                documents["more"], ("Ventetiden for tannbehandling er for lang", best - 0.4)
            ),
        )
    )
    return decide(make.query(FASTLEGE, corpus_wide=True), found, make.policy(), SETTINGS), found


def assert_markers_match(markdown: str, citations: tuple[Citation, ...]) -> None:
    assert [int(n) for n in MARKER.findall(markdown)] == [c.n for c in citations]
    assert [c.n for c in citations] == list(range(1, len(citations) + 1))


def test_compose_without_confidence_has_no_answer(
    make: Builders, documents: dict[str, Document]
) -> None:
    decision, _ = fastlege_decision(make, documents, best=0.45)
    assert decision.confidence == "none"
    assert compose(make.query(FASTLEGE), decision, 3) == (NO_ANSWER_TEXT, ())
    forced = Decision("none", fastlege_decision(make, documents)[0].submitters, -1.0)
    assert compose(make.query(FASTLEGE), forced, 3) == (NO_ANSWER_TEXT, ())


def test_compose_quotes_each_submitter_under_its_name(
    make: Builders, documents: dict[str, Document]
) -> None:
    decision, _ = fastlege_decision(make, documents)
    text, citations = compose(make.query(FASTLEGE), decision, 3)
    assert text == (
        "2 av 3 innspill omtaler fastlegeordningen.\n\n"
        "**Bergen kommune** (kommune)\n"
        f"- «{BERGEN[0]}» [1]\n- «{literal(BERGEN[1])}» [2]\n\n"
        "**Moss kommune** (kommune)\n"
        f"- «{MOSS[0]}» [3]\n- «{MOSS[1]}» [4]"
    )
    assert [(c.document_id, c.quote) for c in citations] == [
        ("bergen", BERGEN[0]),
        ("bergen", BERGEN[1]),
        ("moss", MOSS[0]),
        ("moss", MOSS[1]),
    ]
    for c in citations:
        assert c.quote == documents[c.document_id].text[c.start : c.end]
    assert_markers_match(text, citations)


def test_compose_with_low_confidence_leads_with_the_caution(
    make: Builders, documents: dict[str, Document]
) -> None:
    decision, _ = fastlege_decision(make, documents, best=0.6)
    assert decision.confidence == "low"
    text, citations = compose(make.query(FASTLEGE), decision, 7)
    assert text.startswith(f"{LOW_CONFIDENCE_TEXT} 2 av 7 innspill omtaler fastlegeordningen.\n")
    assert citations
    assert_markers_match(text, citations)


def test_hostile_document_text_cannot_form_markup_or_markers(
    make: Builders, documents: dict[str, Document]
) -> None:
    quote = "Se ![img](http://e/x.png) og fotnote [3] om fastlegeordningen i kommunen vår."
    hostile = replace(
        documents["bergen"],
        submitter="[klikk](javascript:x) _y_",
        submitter_type="*kommune*",
        text=documents["bergen"].text + quote + "\n",
    )
    found = make.evidence((make.found_in(hostile, (quote, 0.9), (BERGEN[0], 0.89)),))
    decision = decide(make.query(FASTLEGE), found, make.policy(), SETTINGS)
    text, citations = compose(make.query(FASTLEGE), decision, 1)
    assert [c.quote for c in citations] == [quote, BERGEN[0]]
    assert_markers_match(text, citations)  # the footnote [3] is no marker
    tags = rendered_tags(text)
    assert not {"a", "img", "em", "code", "script", "html"} & set(tags)
    assert tags.count("strong") == 1  # the submitter heading, nothing else
    shown = rendered_text(text)
    assert "[klikk](javascript:x) _y_ (*kommune*)" in shown
    assert f"«{quote}» [1]" in shown


def test_identical_quotes_from_several_submitters_are_shown_once(
    make: Builders, documents: dict[str, Document]
) -> None:
    template = "Vi støtter forslaget om flere fastleger i hele landet."
    docs = {d: replace(documents[d], text=documents[d].text + template + "\n") for d in documents}
    found = make.evidence(
        (
            make.found_in(docs["bergen"], (template, 0.9), (BERGEN[0], 0.89)),
            make.found_in(docs["moss"], (template, 0.9)),
            make.found_in(docs["more"], (template, 0.9)),
        )
    )
    decision = decide(make.query(FASTLEGE, corpus_wide=True), found, make.policy(), SETTINGS)
    text, citations = compose(make.query(FASTLEGE), decision, 3)
    assert text.count(template) == 1
    assert sorted(int(n) for n in MARKER.findall(text)) == [c.n for c in citations] == [1, 2, 3, 4]
    shared = [c for c in citations if c.quote == template]
    assert [c.document_id for c in shared] == ["bergen", "moss", "more"]
    markers = " ".join(f"[{c.n}]" for c in shared)
    assert f"- «{template}» {markers}" in text
    head = SAME_TEXT_LEAD.format(n=3)
    assert head == "Samme tekst i 3 innspill:"
    assert (
        f"{head} Bergen kommune (kommune), Moss kommune (kommune), "
        "Møre og Romsdal fylkeskommune (fylkeskommune)"
    ) in text
    assert f"**Bergen kommune** (kommune)\n- «{BERGEN[0]}»" in text  # its own quote stays


def test_markers_follow_citation_order_with_template_letters(
    make: Builders, documents: dict[str, Document]
) -> None:
    template = "Vi støtter forslaget om flere fastleger i hele landet."
    docs = {d: replace(documents[d], text=documents[d].text + template + "\n") for d in documents}
    found = make.evidence(
        (
            make.found_in(docs["bergen"], (BERGEN[0], 0.9), (template, 0.895)),
            make.found_in(docs["moss"], (template, 0.895), (MOSS[0], 0.89)),
        )
    )
    decision = decide(make.query(FASTLEGE, corpus_wide=True), found, make.policy(), SETTINGS)
    text, citations = compose(make.query(FASTLEGE), decision, 3)
    assert_markers_match(text, citations)


def test_a_sentence_repeated_in_one_document_is_not_a_template_letter(
    make: Builders, documents: dict[str, Document]
) -> None:
    moss = replace(documents["moss"], text=documents["moss"].text + MOSS[0] + "\n")
    first = make.found_in(moss, (MOSS[0], 0.9))
    at = moss.text.rindex(MOSS[0])
    sentence = first.sentences[0][0]
    again = (replace(sentence, start=at, end=at + len(MOSS[0])), 0.9)
    found = make.evidence((replace(first, sentences=(*first.sentences, again)),))
    decision = decide(make.query(FASTLEGE), found, make.policy(), SETTINGS)
    text, _ = compose(make.query(FASTLEGE), decision, 3)
    assert "Samme tekst" not in text
    assert text.count("Moss kommune") == 1
