"""The lean EmbeddingGemma engine against sentence-transformers in fp32 on the real model: the
same token ids and the same vectors (cosine >= 0.999), so both share one identity.

Slow, and skipped where the model is not fetched (`rag fetch-model`): the reference embeds ~80
bokmål and nynorsk texts in fp32, some past the 256-token attention window, one past 2,048 tokens.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.config import GEMMA_MODEL, EmbeddingSettings
from rag.embed import GEMMA_IDENTITY, GemmaEmbedder, make_embedder
from rag.model_fetch import fetched_folder

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "data" / "models"
FOLDER = fetched_folder(MODELS)
if FOLDER is None:
    pytest.skip(f"{GEMMA_MODEL} is not fetched into {MODELS}", allow_module_level=True)

QUESTIONS = [
    "Hvordan kan fastlegeordningen styrkes?",
    "Hva sier kommunene om rekruttering av sykepleiere?",
    "digitale løsninger",
    "Hvem er kritiske til helsefellesskapene?",
    "utskrivningsklare pasienter",
    "Stange kommune innspill",
    "Korleis kan samhandlinga mellom kommunane og sjukehusa bli betre?",
    "Kva meiner helsefellesskapet i Møre og Romsdal om rekruttering?",
    "Kven har sendt innspel om pakkeforløp?",
    "innspel frå Lokalt Samarbeidsutval Ålesund",
]
ODD = [
    "",
    "  starter med mellomrom",
    "tabulator\tog\r\nlinjeskift\n\nher",
    "ＦＵＬＬＢＲＥＤＤ ﬁ ½ … “sitat” – tankestrek",
    "emoji 👍🏽 og æøå ÆØÅ",
    "123 456,78 kr – 50 % av budsjettet (jf. § 3-2)",
]


def seed_texts() -> list[str]:
    """From every seed: short lines, ~200-token chunks, a ~750-token section; one text past
    2,048 tokens (cut there, as sentence-transformers cuts it)."""
    texts: list[str] = []
    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    for path in seeds:
        text = path.read_text(encoding="utf-8")
        lines = [line.strip() for line in text.splitlines() if len(line.strip()) > 20]
        texts += lines[5:25:5]
        texts += [text[start : start + 900] for start in range(1000, 5000, 1300)]
        texts.append(text[6000:9000])
    texts.append(" ".join(p.read_text(encoding="utf-8") for p in seeds)[:12_000])
    return texts


PASSAGES = QUESTIONS + ODD + seed_texts()


@pytest.fixture(scope="module")
def reference() -> object:
    import torch
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(FOLDER), device="cpu", model_kwargs={"dtype": torch.float32})


@pytest.fixture(scope="module")
def lean() -> GemmaEmbedder:
    embedder = make_embedder(EmbeddingSettings(models_dir=MODELS), GEMMA_MODEL)
    assert isinstance(embedder, GemmaEmbedder)
    return embedder


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.min(np.sum(a * b, axis=1)))


def test_the_parity_set_crosses_the_window_and_the_length_limit(lean: GemmaEmbedder) -> None:
    lengths = [len(ids) for ids in lean.runner().token_ids(PASSAGES)]
    assert min(lengths) < 20 and max(lengths) == 2048
    assert sum(300 < n < 2048 for n in lengths) >= 5  # past the sliding window of 256 either side


def test_token_ids_are_sentence_transformers(lean: GemmaEmbedder, reference: object) -> None:
    texts = [lean._passage_prefix + t for t in PASSAGES]
    theirs = reference.tokenize(texts)  # type: ignore[attr-defined]
    ours = lean.runner().token_ids(texts)
    for row, ids in enumerate(ours):
        expected = theirs["input_ids"][row][theirs["attention_mask"][row] == 1].tolist()
        assert ids == expected, texts[row][:80]


def test_passages_and_questions_get_the_fp32_reference_vectors(
    lean: GemmaEmbedder, reference: object
) -> None:
    encode = reference.encode  # type: ignore[attr-defined]
    expected = encode([lean._passage_prefix + t for t in PASSAGES], batch_size=4)
    questions = QUESTIONS + ODD
    expected_questions = encode([lean._query_prefix + q for q in questions], batch_size=1)
    assert lean.identity == GEMMA_IDENTITY
    assert min_cosine(lean.embed_passages(PASSAGES), expected) >= 0.999
    assert min_cosine(lean.embed_queries(questions), expected_questions) >= 0.999


def test_a_question_gets_the_same_vector_whoever_else_asks(lean: GemmaEmbedder) -> None:
    alone = np.stack([lean.embed_queries([q])[0] for q in QUESTIONS])
    np.testing.assert_array_equal(lean.embed_queries(QUESTIONS), alone)
