"""What the API promises its clients: limits, the citation marker, the no-answer text.

One definition of each, used by the API (rag.schemas, rag.config, rag.answer, rag.generate) and
by its clients (ui/). It imports nothing of rag, so the UI may import it and still talk to the
service over HTTP only (tests/test_layers.py keeps it so).
"""

from __future__ import annotations

import re
from typing import Literal

MAX_K = 50
"""Most passages /ask considers per submitter and /search returns."""
MAX_QUESTION_CHARS = 2000
"""Default longest question (settings may lower it: answer.max_question_chars)."""
MAX_TOPICS = 30
MAX_TOPIC_CHARS = 200
MIN_COMPARED, MAX_COMPARED = 2, 4
"""How many submissions /compare puts side by side."""

MARKER = re.compile(r"\[(\d+)\]")
"""The citation marker «[n]» in answers."""

NO_ANSWER_HEADING = "Ingen relevante treff i innspillene"
NO_ANSWER_TEXT = (
    f"{NO_ANSWER_HEADING}. Spørsmålet ser ikke ut til å bli omtalt i de indekserte "
    "høringsinnspillene."
)

Confidence = Literal["high", "low", "none"]
"""How sure /ask is: high (clear matches), low (weak matches: check the sources), none."""
