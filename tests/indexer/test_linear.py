"""The work of indexing one document grows with its length, whatever its shape: a text that is
one letter repeated, a run of initials («A. A. A.»), one paragraph of short lines, one list of
many items. Each used to cost the square of its length in one stage (placing chunks, splitting
sentences at abbreviations, joining lines), so a text at the character cap took hours."""

from __future__ import annotations

import time

import pytest

from indexer.chunk import chunk_document
from indexer.clean import clean_pages
from indexer.dedupe import sentence_set
from rag.config import ChunkSettings
from rag.sentence_layer import split_sentences
from rag.types import Document

SHAPES = {"letters": "x", "initials": "A. ", "lines": "ord\n", "items": "- punkt\n"}
SIZE = 20_000  # characters; the large document is eight times as long


def seconds(unit: str, size: int) -> float:
    """Best of five, in this process's CPU time (other work on the machine does not count):
    clean, chunk, split into sentences and compare sentences (dedupe)."""
    raw = unit * (size // len(unit))
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        cleaned, _ = clean_pages([raw])
        doc = Document(
            "d", "d.txt", "S", "annen", "t", cleaned.text, "h", sections=cleaned.sections
        )
        chunks = chunk_document(doc, ChunkSettings())
        split_sentences([doc], chunks)
        sentence_set(doc.text)
        best = min(best, time.process_time() - started)
    return best


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_eight_times_the_text_costs_about_eight_times_the_work(shape: str) -> None:
    small, large = seconds(SHAPES[shape], SIZE), seconds(SHAPES[shape], 8 * SIZE)
    assert large < 24 * small, (small, large)  # linear: ~8 times; quadratic: ~64 times
