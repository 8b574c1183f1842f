"""The regression gate: the eval of the test split on the seeds index must stay at or above
eval/floors.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.backends import InProcessBackend
from eval.gate import DEFAULT_FLOORS, check_floors, headline_metrics, load_floors
from eval.questions import load_questions, select_split
from eval.runner import run_eval, snapshot_of
from eval.summary import EvalResult
from rag.config import IndexSettings, Settings

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seeds_eval(seeds_index: Path) -> EvalResult:
    from rag.encoders import make_encoders
    from rag.service import Service

    settings = Settings(index=IndexSettings(path=seeds_index))
    service = Service.load(settings, make_encoders(settings.embedding))
    questions = select_split(load_questions(ROOT / "eval" / "questions.jsonl"), "test")
    return run_eval(InProcessBackend(service), questions, settings=snapshot_of(service))


def test_every_headline_metric_holds_its_floor(seeds_eval: EvalResult) -> None:
    """The floors of the encoders the seeds were served with (both, or e5-small alone when
    EmbeddingGemma could not be fetched): every one must hold."""
    served = seeds_eval.settings["encoders"]
    floors = load_floors(DEFAULT_FLOORS, served)
    assert floors, f"no floors for {served} in {DEFAULT_FLOORS}"
    headline = headline_metrics(seeds_eval)
    failed = [c.message for c in check_floors(headline, floors) if c.status != "pass"]
    assert not failed, failed


def test_every_gold_quote_is_found_in_the_stored_text(seeds_eval: EvalResult) -> None:
    assert seeds_eval.gold_located.get("unlocated", 0) == 0, seeds_eval.gold_located
