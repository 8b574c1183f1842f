"""The one sentence splitter: offsets, Norwegian abbreviations, list items, and properties."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rag.sentences import ends_sentence, sentence_spans, sentences


def test_splits_at_full_stops_before_a_capital() -> None:
    assert sentences("Første setning. Andre setning! Tredje? Fjerde.") == [
        "Første setning.",
        "Andre setning!",
        "Tredje?",
        "Fjerde.",
    ]


def test_norwegian_abbreviations_do_not_end_a_sentence() -> None:
    text = (
        "Dette gjelder bl.a. legevakt. Møte nr. 9 ble holdt i Ørsta. Se f.eks. Bergen. "
        "Det koster ca. 10 mill. Vi viser til jf. Samhandlingsreformen. Ny setning."
    )
    assert sentences(text) == [
        "Dette gjelder bl.a. legevakt.",
        "Møte nr. 9 ble holdt i Ørsta.",
        "Se f.eks. Bergen.",
        "Det koster ca. 10 mill.",
        "Vi viser til jf. Samhandlingsreformen.",
        "Ny setning.",
    ]


def test_numbered_heading_and_initials_stay_whole() -> None:
    assert sentences("2. Hvilke tiltak er aktuelle? Svar her.\nA. Hansen skrev det.") == [
        "2. Hvilke tiltak er aktuelle?",
        "Svar her.",
        "A. Hansen skrev det.",
    ]


def test_list_items_and_paragraphs_end_at_line_breaks_without_their_marks() -> None:
    text = "Vi foreslår:\n- flere fastleger\n- bedre legevakt. Også natt\n\nNytt avsnitt"
    assert sentences(text) == [
        "Vi foreslår:",
        "flere fastleger",
        "bedre legevakt.",
        "Også natt",
        "Nytt avsnitt",
    ]


def test_closing_quotes_and_markers_stay_with_their_sentence() -> None:
    assert sentences("Han sa «ja.» Så gikk han. Det står her [3]. Slutt.") == [
        "Han sa «ja.»",
        "Så gikk han.",
        "Det står her [3].",
        "Slutt.",
    ]
    assert sentences("Påstand. [2] Neste.") == ["Påstand. [2]", "Neste."]
    assert sentences("Første. [1] Andre. [2]") == ["Første. [1]", "Andre. [2]"]  # at the end too


def test_offsets_refer_to_the_whole_text_within_a_window() -> None:
    text = "Innledning. Midt i teksten. Mot slutten. Helt sist."
    start = text.index("Midt")
    end = text.index(" Helt")
    spans = sentence_spans(text, start, end)
    assert [text[s.start : s.end] for s in spans] == ["Midt i teksten.", "Mot slutten."]


def test_ends_sentence() -> None:
    assert ends_sentence("Dette er slutt.")
    assert ends_sentence("«Sitat»")
    assert not ends_sentence("dette fortsetter på neste")


ALPHABET = st.sampled_from([*list('abc ÆØÅæøå.!?«»"()[]-–\n\t 0123456789'), "f.eks. ", "nr. "])


@settings(max_examples=300, deadline=None)
@given(st.lists(ALPHABET, max_size=80).map("".join), st.data())
def test_spans_are_exact_ordered_trimmed_and_disjoint(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    spans = sentence_spans(text, start, end)
    previous_end = start
    for span in spans:
        assert previous_end <= span.start < span.end <= end
        piece = text[span.start : span.end]
        assert piece == piece.strip()
        assert "\n" not in piece
        previous_end = span.end


@settings(max_examples=200, deadline=None)
@given(st.lists(ALPHABET, max_size=80).map("".join))
def test_no_visible_character_is_lost(text: str) -> None:
    """Every character outside the spans is white space, a line break or a list mark."""
    covered = set()
    for span in sentence_spans(text):
        covered.update(range(span.start, span.end))
    lost = [c for i, c in enumerate(text) if i not in covered and not c.isspace()]
    assert set(lost) <= {"-"}
