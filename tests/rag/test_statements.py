"""Which sentences are statements a submitter can be quoted for."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.sentences import sentence_spans
from rag.statements import is_statement, is_statement_text
from rag.types import Document, Section, Sentence


@pytest.mark.parametrize(
    "text",
    [
        "Fastlegeordningen bør finansieres bedre av staten.",
        "Vi trenger flere sykepleiere på legevakten i helgene.",
        "Kommunen foreslår f.eks. flere faste stillinger for fastleger.",
        "Rapporten på https://example.no/r viser at ventetidene på legevakten øker for hvert år.",
        "Møre og Romsdal fylkeskommune mener tannhelsetjenesten må styrkes i distriktene.",
    ],
)
def test_ordinary_sentences_are_statements(text: str) -> None:
    assert is_statement_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "https://www.regjeringen.no/no/dokumenter/horing-om-helsefellesskap/id123456/",
        "Les mer: https://example.no/a/b/c og www.helsenorge.no/fastlege/bytte",
        "Kontakt oss på postmottak@bergen.kommune.no eller postmottak@moss.kommune.no i dag.",
        "Side 3 av 12",
        "side 3 av 12 i høringssvaret fra kommunen som gjelder legevakten",
        "3 av 12",
        "Tlf. 22 00 00 00, kontortid mandag til fredag fra 8 til 15.",
        "Postadresse: Postboks 7700, 5020 Bergen, Norge og resten av landet.",
        "Vår ref: 2024/1234-5 saksbehandler Ola Nordmann og flere andre her",
        "Fastlegeordningen må styrkes.",  # five words
        "Ja.",
        "",
        "1.2.3 4.5 6.7 8 9 10 11",  # numbers, no ordinary words
    ],
)
def test_urls_furniture_and_fragments_are_not_statements(text: str) -> None:
    assert not is_statement_text(text)


def test_a_heading_is_not_a_statement_even_when_it_is_long(documents: dict[str, Document]) -> None:
    heading = "Rekruttering og stabilisering av fastleger i små kommuner i distriktene"
    body = "Fastlegeordningen er under sterkt press i Bergen, og mange står uten fastlege."
    text = f"{heading}\n{body}\n"
    doc = replace(documents["bergen"], text=text, sections=(Section(0, heading),))
    spans = sentence_spans(text)
    found = [Sentence(doc.document_id, s.start, s.end, ()) for s in spans]
    assert [text[s.start : s.end] for s in found] == [heading, body]
    assert is_statement_text(heading)  # on its own it reads like one
    assert [is_statement(doc, s) for s in found] == [False, True]
    assert all(is_statement(replace(doc, sections=()), s) for s in found)


def test_the_submissions_headings_are_not_quotable(documents: dict[str, Document]) -> None:
    for doc in documents.values():
        quotable = [
            doc.text[s.start : s.end]
            for s in sentence_spans(doc.text)
            if is_statement(doc, Sentence(doc.document_id, s.start, s.end, ()))
        ]
        titles = {section.title for section in doc.sections}
        assert quotable and not titles & set(quotable)
        assert not any(q.startswith("Innspill fra") for q in quotable)  # 4 words
