"""The regression gate: headline metrics of the test split against the floors (and ceilings) in
eval/floors.json."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from eval.backends import EvalError
from eval.summary import (
    ANSWERABLE,
    OVERALL,
    UI_EXAMPLES,
    EvalResult,
    ask_metric,
    retrieval_metric,
)

DEFAULT_FLOORS = Path(__file__).with_name("floors.json")

Direction = Literal["min", "max"]
Status = Literal["pass", "fail", "not measured"]


GATE_SPLIT = "test"  # floors hold on the test split; dev is for calibration


def hybrid(attr: str, group: str = OVERALL) -> Callable[[EvalResult], float | None]:
    return lambda r: retrieval_metric(r, "hybrid", attr, group, GATE_SPLIT)


def asked(group: str, attr: str) -> Callable[[EvalResult], float | None]:
    return lambda r: ask_metric(r, group, attr, GATE_SPLIT)


# Every headline number is measured on the test split; retrieval numbers are /search's (hybrid).
HEADLINE: dict[str, Callable[[EvalResult], float | None]] = {
    "hybrid_mrr_at_10": hybrid("mrr_at_10"),
    "hybrid_recall_at_10": hybrid("recall_at_10"),
    "paraphrase_recall_at_10": hybrid("recall_at_10", "paraphrase"),
    "factual_recall_at_5": hybrid("recall_at_5", "factual"),
    "false_refusal_rate": asked(ANSWERABLE, "no_answer_rate"),
    "negative_refusal_rate": asked("negative", "no_answer_rate"),
    "aggregate_submitter_precision": asked("aggregate", "submitter_precision"),
    "aggregate_submitter_coverage": asked("aggregate", "submitter_coverage"),
    "citation_exactness": asked(OVERALL, "citation_exactness"),
    "quote_hit_rate": asked(ANSWERABLE, "quote_hit_rate"),
    "ui_example_refusal_rate": asked(UI_EXAMPLES, "no_answer_rate"),
    # only measured when /ask reports a confidence
    "answerable_low_confidence_rate": asked(ANSWERABLE, "low_confidence_rate"),
    "negative_low_confidence_rate": asked("negative", "low_confidence_rate"),
    "negative_high_confidence_rate": asked("negative", "high_confidence_rate"),
}


@dataclass(frozen=True)
class Floor:
    metric: str
    bound: float
    direction: Direction  # "min": value must be >= bound; "max": value must be <= bound


@dataclass(frozen=True)
class FloorCheck:
    metric: str
    value: float | None
    bound: float
    direction: Direction
    status: Status

    @property
    def message(self) -> str:
        limit = "floor" if self.direction == "min" else "ceiling"
        if self.value is None:
            return f"{self.metric}: not measured ({limit} {self.bound:.3f})"
        relation = {"pass": "meets", "fail": "is below" if self.direction == "min" else "exceeds"}
        return (
            f"{self.metric} = {self.value:.3f} {relation[self.status]} its {limit} {self.bound:.3f}"
        )


def headline_metrics(result: EvalResult) -> dict[str, float | None]:
    return {name: get(result) for name, get in HEADLINE.items()}


def parse_floors(data: Mapping[str, Mapping[str, float]]) -> tuple[Floor, ...]:
    floors = []
    for metric, bounds in data.items():
        if metric.startswith("_"):
            continue  # comments
        if metric not in HEADLINE:
            raise EvalError(f"unknown metric {metric!r} in floors; valid: {', '.join(HEADLINE)}")
        for direction in ("min", "max"):
            if direction in bounds:
                floors.append(Floor(metric, float(bounds[direction]), direction))
    return tuple(floors)


def encoders_key(models: Sequence[str]) -> str:
    """The floors' section for the models that served the eval, in their order."""
    return "+".join(models)


def load_floors(path: Path, models: Sequence[str]) -> tuple[Floor, ...] | None:
    """The floors for the encoders `models` served with (their section of the file), or None
    when the file has none for them (another model: nothing to hold it to)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        section = data.get(encoders_key(models))
        return None if section is None else parse_floors(section)
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise EvalError(f"cannot read floors from {path}: {exc}") from exc


def floor_sections(path: Path) -> list[str]:
    """The encoder sets the file has floors for."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [key for key in data if not key.startswith("_")]


def check_value(floor: Floor, value: float | None) -> FloorCheck:
    if value is None:
        status: Status = "not measured"
    elif floor.direction == "min":
        status = "pass" if value >= floor.bound else "fail"
    else:
        status = "pass" if value <= floor.bound else "fail"
    return FloorCheck(floor.metric, value, floor.bound, floor.direction, status)


def check_floors(
    headline: Mapping[str, float | None], floors: Sequence[Floor]
) -> tuple[FloorCheck, ...]:
    return tuple(check_value(f, headline.get(f.metric)) for f in floors)


def failures(checks: Sequence[FloorCheck]) -> list[FloorCheck]:
    return [c for c in checks if c.status == "fail"]
