"""The regression gate: the eval of the test split on the seeds index must stay at or above
eval/floors.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.backends import InProcessBackend
from eval.gate import DEFAULT_FLOORS, Floor, check_value, headline_metrics, load_floors
from eval.questions import load_questions, select_split
from eval.runner import run_eval
from eval.summary import EvalResult
from rag.config import IndexSettings, Settings

ROOT = Path(__file__).resolve().parents[2]
FLOORS = load_floors(DEFAULT_FLOORS)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seeds_eval(seeds_index: Path) -> EvalResult:
    from rag.embed import make_embedder
    from rag.service import Service

    settings = Settings(index=IndexSettings(path=seeds_index))
    service = Service.load(settings, make_embedder(settings.embedding))
    questions = select_split(load_questions(ROOT / "eval" / "questions.jsonl"), "test")
    return run_eval(InProcessBackend(service), questions)


@pytest.mark.parametrize("floor", FLOORS, ids=[f.metric for f in FLOORS])
def test_headline_metric_holds_its_floor(seeds_eval: EvalResult, floor: Floor) -> None:
    check = check_value(floor, headline_metrics(seeds_eval)[floor.metric])
    assert check.status == "pass", check.message


def test_every_gold_quote_is_found_in_the_stored_text(seeds_eval: EvalResult) -> None:
    assert seeds_eval.gold_located.get("unlocated", 0) == 0, seeds_eval.gold_located
