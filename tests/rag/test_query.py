"""Parsing a question: the submitters it names are taken out of the text its topic is read from."""

from __future__ import annotations

import pytest

from rag.query import without_names

AHUS = "Helsefellesskapet for Ahus og kommunene"


@pytest.mark.parametrize(
    ("question", "submitters", "topic"),
    [
        ("Hva mener Bergen kommune om legevakt?", ["Bergen kommune"], "Hva mener om legevakt?"),
        ("Hva mener Bergen om legevakt?", ["Bergen kommune"], "Hva mener om legevakt?"),
        ("Hva er Bergens syn på legevakt?", ["Bergen kommune"], "Hva er syn på legevakt?"),
        ("Hva er MILA som " + AHUS.lower() + " nevner?", [AHUS], "Hva er MILA som nevner?"),
        (
            "Hva sier Moss og Stange om KS?",
            ["Moss kommune", "Stange kommune"],
            "Hva sier og om KS?",
        ),
        ("Hva sier kommunene om legevakt?", [], "Hva sier kommunene om legevakt?"),
    ],
)
def test_without_names_leaves_the_topic(question: str, submitters: list[str], topic: str) -> None:
    assert without_names(question, submitters) == topic
