"""The regression gate's logic, and the floors file itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.backends import EvalError
from eval.gate import (
    DEFAULT_FLOORS,
    HEADLINE,
    Floor,
    check_floors,
    failures,
    floor_sections,
    headline_metrics,
    load_floors,
    parse_floors,
)
from eval.summary import EvalResult
from rag.config import DEFAULT_MODEL, DEFAULT_MODELS

# The numbers issue 9's "Done when" is judged by, and which way each must go.
DONE_WHEN = {
    "paraphrase_recall_at_10": "min",
    "factual_recall_at_5": "min",
    "false_refusal_rate": "max",
    "negative_refusal_rate": "min",
    "aggregate_submitter_precision": "min",
    "aggregate_submitter_coverage": "min",
    "citation_exactness": "min",
    "quote_hit_rate": "min",
    "ui_example_refusal_rate": "max",
}


@pytest.mark.parametrize("section", floor_sections(DEFAULT_FLOORS))
def test_floors_file_bounds_every_done_when_metric_the_right_way(section: str) -> None:
    floors = load_floors(DEFAULT_FLOORS, section.split("+"))
    assert floors is not None
    assert {f.metric for f in floors} <= set(HEADLINE)
    assert {f.metric: f.direction for f in floors if f.metric in DONE_WHEN} == DONE_WHEN
    exactness = next(f for f in floors if f.metric == "citation_exactness")
    assert (exactness.bound, exactness.direction) == (1.0, "min")


def test_the_floors_file_covers_the_default_encoders_and_lean_mode() -> None:
    assert set(floor_sections(DEFAULT_FLOORS)) >= {"+".join(DEFAULT_MODELS), DEFAULT_MODEL}
    assert load_floors(DEFAULT_FLOORS, ["some/other-model"]) is None  # nothing to hold it to


def test_min_floor_fails_below_and_passes_at_the_bound() -> None:
    floor = Floor("hybrid_mrr_at_10", 0.7, "min")
    [below, at] = check_floors({"hybrid_mrr_at_10": 0.69}, [floor]) + check_floors(
        {"hybrid_mrr_at_10": 0.7}, [floor]
    )
    assert (below.status, at.status) == ("fail", "pass")
    assert below.message == "hybrid_mrr_at_10 = 0.690 is below its floor 0.700"


def test_ceiling_fails_above() -> None:
    [check] = check_floors({"false_refusal_rate": 0.2}, [Floor("false_refusal_rate", 0.1, "max")])
    assert check.status == "fail"
    assert check.message == "false_refusal_rate = 0.200 exceeds its ceiling 0.100"
    assert failures([check]) == [check]


def test_unmeasured_metric_is_reported_not_failed() -> None:
    [check] = check_floors({}, [Floor("hybrid_recall_at_10", 0.5, "min")])
    assert check.status == "not measured"
    assert failures([check]) == []


def test_headline_metrics_read_the_result(tiny_result: EvalResult) -> None:
    assert headline_metrics(tiny_result) == {
        "hybrid_mrr_at_10": 1.0,
        "hybrid_recall_at_10": 1.0,
        "paraphrase_recall_at_10": None,  # the tiny set has no paraphrase question
        "factual_recall_at_5": 1.0,
        "false_refusal_rate": 0.0,
        "negative_refusal_rate": 1.0,
        "aggregate_submitter_precision": 1.0,
        "aggregate_submitter_coverage": 1.0,
        "citation_exactness": 0.75,
        "quote_hit_rate": 1.0,
        "ui_example_refusal_rate": None,
        "answerable_low_confidence_rate": None,  # the fake reports no confidence
        "negative_low_confidence_rate": None,
        "negative_high_confidence_rate": None,
    }


def test_unknown_metric_names_the_valid_ones() -> None:
    with pytest.raises(
        EvalError, match="unknown metric 'mrr' in floors; valid: hybrid_mrr_at_10, "
    ):
        parse_floors({"mrr": {"min": 0.5}})


def test_comment_keys_are_ignored_and_bad_files_are_errors(tmp_path: Path) -> None:
    assert parse_floors({"_comment": {}, "citation_exactness": {"min": 1}}) == (
        Floor("citation_exactness", 1.0, "min"),
    )
    bad = tmp_path / "floors.json"
    bad.write_text(json.dumps({"m": {"citation_exactness": 1.0}}))
    with pytest.raises(EvalError, match="cannot read floors"):
        load_floors(bad, ["m"])
