"""Hundreds of varied questions for the contract tests, drawn deterministically.

Sources: the eval questions and their shouted/flattened variants, sentences and word n-grams
sampled from the stored document texts, and a hand-written list of odd inputs (nynorsk,
English, numbers, emojis, punctuation, markup).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

EVAL_QUESTIONS = Path(__file__).resolve().parents[2] / "eval" / "questions.jsonl"
_SENTENCE = re.compile(r"[^.!?\n]{30,200}[.!?]")
NGRAM_SIZES = (1, 2, 3, 5, 8)

ODD_INPUTS = (
    # nynorsk
    "Kva seier kommunane om fastlegeordninga?",
    "Korleis vil helsefellesskapa samarbeide med sjukehusa?",
    "Kva meiner dei om rekruttering av sjukepleiarar?",
    "Kva for tiltak føreslår dei for legevakta?",
    # one word, abbreviations, case
    "KAD",
    "kad",
    "DPS",
    "BUP",
    "fastlege",
    "FASTLEGEORDNINGEN",
    "HVA SIER BERGEN KOMMUNE OM FASTLEGER?",
    "hva sier stange om rekruttering",
    "æøå",
    "ÆØÅ",
    "a",
    "Hva",
    # punctuation, whitespace
    "fastlege!!!",
    "samhandling???",
    "KAD...",
    "legevakt?!",
    "?",
    "...",
    "«»",
    "  fastlege  ",
    "fastlege\nlegevakt",
    "\tsykehus\t",
    "- samhandling -",
    # numbers
    "2024",
    "2024 – 2027",
    "113",
    "0",
    "10 %",
    "1. 2. 3.",
    "3,14159",
    # emojis and other scripts
    "😀",
    "🏥 sykehus",
    "fastlege 👩‍⚕️",
    "❤️ samhandling 🤝",
    "Что говорят коммуны о врачах?",
    "医生",
    # English and mixed
    "What do the municipalities say about general practitioners?",
    "What does Bergen say about fastlegeordningen?",
    "digital samhandling and e-health interoperability",
    "Hva sier de om AI and digital health?",
    # markup and injection-looking text
    "<script>alert(1)</script>",
    "'; DROP TABLE chunks; --",
    '{"question": 1}',
    "%s %d %n",
    "\\n\\t",
    "null",
    "None",
    "[1] [2] [99]",
    "**fastlege**",
    # questions the corpus does not answer
    "Hva sier innspillene om vaksinasjonsprogrammet?",
    "Hva mener kommunene om månelandinger?",
    "Hvem vant fotball-VM i 2022?",
)


def eval_questions(path: Path = EVAL_QUESTIONS) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line)["question"] for line in handle if line.strip()]


def variants(questions: Sequence[str], every: int = 3) -> list[str]:
    """Every `every`-th question shouted, and flattened to lower case without punctuation."""
    picked = questions[::every]
    return [q.upper() for q in picked] + [re.sub(r"[^\w\s]", "", q).lower() for q in picked]


def sentences(text: str, rng: random.Random, count: int) -> list[str]:
    found = [m.group(0).strip() for m in _SENTENCE.finditer(text)]
    return rng.sample(found, min(count, len(found)))


def ngrams(text: str, rng: random.Random, count: int) -> list[str]:
    words = text.split()
    grams = []
    for i in range(count):
        size = NGRAM_SIZES[i % len(NGRAM_SIZES)]
        start = rng.randrange(max(1, len(words) - size))
        grams.append(" ".join(words[start : start + size]))
    return grams


def varied_questions(texts: Iterable[str], per_document: int = 16, seed: int = 2024) -> list[str]:
    """Eval questions, their variants, samples of every text and the odd inputs; no repeats."""
    rng = random.Random(seed)
    asked = eval_questions()
    drawn = [asked, variants(asked), list(ODD_INPUTS)]
    for text in texts:
        drawn.append(sentences(text, rng, per_document))
        drawn.append(ngrams(text, rng, per_document))
    return list(dict.fromkeys(q for group in drawn for q in group if q.strip()))
