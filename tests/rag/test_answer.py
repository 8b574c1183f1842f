"""The extractive answer: lead line, quote blocks, template letters, and document text as data.

Rendering checks use markdown-it-py (CommonMark), the parser a reader of the Markdown would use.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from fakes import FakeEmbedder
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from numpy.typing import NDArray

from rag.answer import (
    LOW_CONFIDENCE_TEXT,
    NO_ANSWER_TEXT,
    NOTHING,
    SAME_TEXT_LEAD,
    Composed,
    Vectors,
    compose,
    lead_line,
    literal,
    topic_of,
)
from rag.config import AnswerSettings
from rag.contract import MARKER
from rag.decide import Decision, decide
from rag.types import Document, Evidence, TypeTally

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
    five = [TypeTally("kommune", 2, 5)]
    mixed = [TypeTally("kommune", 112, 200), TypeTally("helsefellesskap", 9, 12)]
    mixed.append(TypeTally("statlig", 0, 30))
    assert lead_line(FASTLEGE, 2, five, "high") == (
        "**2 av 5 innspill** omtaler fastlegeordningen."
    )
    assert lead_line(FASTLEGE, 121, mixed, "high") == (
        "**121 av 242 innspill** omtaler fastlegeordningen: "
        "112 av 200 kommuner, 9 av 12 helsefellesskap."
    )
    assert lead_line(FASTLEGE, 2, five, "low") == (
        "Svake treff – sjekk kildene. **2 av 5 innspill** omtaler fastlegeordningen."
    )
    assert lead_line("Hvem nevner legevakten?", 1, [TypeTally("kommune", 1, 3)], "high") == (
        "**1 av 3 innspill** har relevante avsnitt om spørsmålet."
    )
    hostile = lead_line("Hva sier de om [1] og _x_ ![i](http://e/x.png)?", 1, five, "high")
    assert not MARKER.search(hostile)
    assert set(rendered_tags(hostile)) <= {"p", "strong"}


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
    make: Builders, documents: dict[str, Document], best: float = 0.9, corpus_wide: bool = True
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
    query = make.query(FASTLEGE, corpus_wide=corpus_wide)
    return decide(query, found, make.policy(), SETTINGS), found


def vectors_of(found: Evidence, documents: dict[str, Document]) -> Vectors:
    """Each quoted sentence's vector: the fake embedder's of its text (the service's are its
    fused sentence vectors)."""

    def vectors(rows: Sequence[int]) -> NDArray[np.float32]:
        sentences = [found.sentences[r] for r in rows]
        texts = [documents[s.document_id].text[s.start : s.end] for s in sentences]
        return FakeEmbedder().embed_passages(texts)

    return vectors


def composed(
    make: Builders,
    decision: Decision,
    found: Evidence,
    documents: dict[str, Document],
    in_scope: dict[str, int] | None = None,
    **query: Any,
) -> Composed:
    scope = in_scope or {"kommune": 2, "fylkeskommune": 1}
    question = make.query(FASTLEGE, **query)
    return compose(question, decision, scope, vectors_of(found, documents))


def assert_well_formed(answer: Composed, documents: dict[str, Document]) -> None:
    """What every answer promises: a marker for every citation in the order shown, citations
    exact and numbered 1..n, every citation in exactly one group, the shown ones first."""
    assert [int(n) for n in MARKER.findall(answer.text)] == [c.n for c in answer.citations]
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for c in answer.citations:
        assert c.quote == documents[c.document_id].text[c.start : c.end] != ""
    members = [n for g in answer.groups for n in g.members]
    assert sorted(members) == [c.n for c in answer.citations]
    for group in answer.groups:
        first = tuple(n for quote in group.shown for n in quote)
        assert group.members[: len(first)] == first


def test_compose_without_confidence_has_no_answer(
    make: Builders, documents: dict[str, Document]
) -> None:
    decision, found = fastlege_decision(make, documents, best=0.45)
    assert decision.confidence == "none"
    assert composed(make, decision, found, documents) == NOTHING
    assert NOTHING.text == NO_ANSWER_TEXT and NOTHING.citations == ()
    forced = Decision("none", fastlege_decision(make, documents)[0].submitters, -1.0)
    assert composed(make, forced, found, documents) == NOTHING


def test_a_corpus_question_leads_with_who_counted_by_type(
    make: Builders, documents: dict[str, Document]
) -> None:
    decision, found = fastlege_decision(make, documents)
    answer = composed(make, decision, found, documents, corpus_wide=True)
    first = answer.text.split("\n\n")[0]
    assert first == "**2 av 3 innspill** omtaler fastlegeordningen: 2 av 2 kommuner."
    assert [(c.submitter_type, c.quoted, c.in_scope) for c in answer.counts] == [
        ("kommune", 2, 2),
        ("fylkeskommune", 0, 1),
    ]
    assert {c.quote for c in answer.citations} == {*BERGEN[:2], *MOSS}
    assert_well_formed(answer, documents)
    for group in answer.groups:  # every point is labelled by words of its own quotes
        quotes = " ".join(c.quote.lower() for c in answer.citations if c.n in group.members)
        assert group.label and all(word in quotes for word in group.label)
        assert sum(group.counts.values()) >= 1


def test_a_specific_question_leads_with_its_best_evidence(
    make: Builders, documents: dict[str, Document]
) -> None:
    tannhelse = "Den offentlige tannhelsetjenesten trenger flere tannleger i distriktene."
    found = make.evidence(
        (
            make.found_in(documents["bergen"], (BERGEN[0], 0.908), (BERGEN[1], 0.80)),
            make.found_in(documents["moss"], (MOSS[0], 0.91), (MOSS[1], 0.905)),
            make.found_in(documents["more"], (tannhelse, 0.85)),
        )
    )
    policy = make.policy(specific_gap=0.2)
    decision = decide(make.query(FASTLEGE), found, policy, SETTINGS)
    answer = composed(make, decision, found, documents)
    # the closest quotes first, whoever sent them
    assert [c.quote for c in answer.citations] == [MOSS[0], BERGEN[0], MOSS[1], tannhelse]
    lines = answer.text.split("\n")
    assert lines[2].startswith(f"- «{MOSS[0]}» [1] – **Moss kommune**")
    assert lines[-1] == "Andre innspill som berører spørsmålet: Møre og Romsdal fylkeskommune [4]"
    [group] = answer.groups
    assert (group.shown, group.members) == (((1,), (2,), (3,)), (1, 2, 3, 4))
    assert group.counts == {"kommune": 2, "fylkeskommune": 1} and group.label == ()
    assert_well_formed(answer, documents)


def test_compose_with_low_confidence_leads_with_the_caution(
    make: Builders, documents: dict[str, Document]
) -> None:
    decision, found = fastlege_decision(make, documents, best=0.6)
    assert decision.confidence == "low"
    answer = composed(make, decision, found, documents, in_scope={"kommune": 7})
    assert answer.text.startswith(
        f"{LOW_CONFIDENCE_TEXT} **2 av 7 innspill** omtaler fastlegeordningen.\n"
    )
    assert_well_formed(answer, documents)


def test_the_scope_the_question_asked_is_said(
    make: Builders, documents: dict[str, Document]
) -> None:
    decision, found = fastlege_decision(make, documents)
    answer = composed(make, decision, found, documents, corpus_wide=True, scope=("kommune",))
    assert answer.text.split("\n\n")[1] == (
        "Spørsmålet gjelder kommuner: bare kommuner er tatt med."
    )


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
    docs = {**documents, "bergen": hostile}
    for corpus_wide in (False, True):
        decision = decide(make.query(FASTLEGE), found, make.policy(), SETTINGS)
        answer = composed(make, decision, found, docs, corpus_wide=corpus_wide)
        assert {c.quote for c in answer.citations} == {quote, BERGEN[0]}
        assert_well_formed(answer, docs)  # the footnote [3] is no marker
        tags = rendered_tags(answer.text)
        assert not {"a", "img", "em", "code", "script", "html"} & set(tags)
        shown = rendered_text(answer.text)
        assert f"«{quote}» [" in shown
        if not corpus_wide:
            assert "[klikk](javascript:x) _y_ (*kommune*)" in shown


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
    in_scope = {"kommune": 2, "fylkeskommune": 1}
    answer = composed(make, decision, found, docs, in_scope, corpus_wide=True)
    assert answer.text.count(template) == 1
    shared = [c for c in answer.citations if c.quote == template]
    assert sorted(c.document_id for c in shared) == ["bergen", "more", "moss"]
    markers = " ".join(f"[{c.n}]" for c in shared)
    head = SAME_TEXT_LEAD.format(n=3)
    assert head == "Samme tekst i 3 innspill:"
    assert f"- {head} «{template}» {markers}" in answer.text
    shown = [quote for g in answer.groups for quote in g.shown]
    assert tuple(c.n for c in shared) in shown  # one quote shown, with every sender's marker
    assert f"«{BERGEN[0]}»" in answer.text  # its own quote stays
    assert_well_formed(answer, docs)


def test_a_template_differing_only_by_the_sender_is_one_quote(
    make: Builders, documents: dict[str, Document]
) -> None:
    own = {
        "bergen": "Bergen kommune erfarer at konkurransen om fastleger er hard.",
        "moss": "Moss kommune erfarer at konkurransen om fastleger er hard.",
    }
    docs = {
        d: replace(documents[d], text=documents[d].text + own.get(d, "") + "\n") for d in documents
    }
    found = make.evidence(
        (
            make.found_in(docs["bergen"], (own["bergen"], 0.9)),
            make.found_in(docs["moss"], (own["moss"], 0.9)),
        )
    )
    decision = decide(make.query(FASTLEGE, corpus_wide=True), found, make.policy(), SETTINGS)
    answer = composed(make, decision, found, docs, {"kommune": 2}, corpus_wide=True)
    assert "Samme tekst i 2 innspill:" in answer.text
    assert sum(text in answer.text for text in own.values()) == 1  # one exact quote shown
    assert {c.quote for c in answer.citations} == set(own.values())  # both kept, exact
    assert_well_formed(answer, docs)


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
    answer = composed(make, decision, found, {**documents, "moss": moss})
    assert "Samme tekst" not in answer.text
    assert answer.text.count("Moss kommune") == 1
