"""Tables and report files written from a tiny fake evaluation."""

from __future__ import annotations

import json
from pathlib import Path

from eval.gate import Floor, check_floors, headline_metrics
from eval.report import (
    cell,
    format_markdown,
    format_tables,
    markdown_table,
    missed_questions,
    write_report,
)
from eval.summary import EvalResult
from rag.retrieve import MODES

FLOORS = (Floor("hybrid_mrr_at_10", 0.9, "min"), Floor("false_refusal_rate", 0.0, "max"))


def test_cells_round_floats_and_dash_missing_values() -> None:
    assert [cell(0.12345), cell(None), cell(7), cell("x")] == ["0.123", "–", "7", "x"]


def test_markdown_table_shape() -> None:
    table = markdown_table(["a", "b"], [[1, 0.5], ["x", None]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | 0.500 |", "| x | – |"]


def test_printed_tables_show_every_retriever_and_kind(tiny_result: EvalResult) -> None:
    text = format_tables(tiny_result, check_floors(headline_metrics(tiny_result), FLOORS))
    assert "| test | hybrid | factual | 1 | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 |" in text
    assert "| test | bm25 | overall | 2 |" in text
    assert "| test | dense | aggregate | 1 | 0.000 |" in text
    assert "| test | negative | 1 | 1.000 | 0 |" in text  # no-answer rate 1, no citations
    assert "| search[bm25] | 3 |" in text
    assert "| hybrid_mrr_at_10 | 1.000 | >= 0.900 | pass |" in text
    assert "| false_refusal_rate | 0.000 | <= 0.000 | pass |" in text


def test_missed_questions_names_the_questions(tiny_result: EvalResult) -> None:
    text = missed_questions(tiny_result)
    assert "- dense: no gold passage in top 10: f1, a1" in text
    assert "- bm25: first gold passage below rank 1: f1 (2), a1 (2)" in text
    assert "- hybrid: no gold passage in top 10: none" in text
    assert "- /ask answered negative questions: none" in text


def test_markdown_report_has_all_sections(tiny_result: EvalResult) -> None:
    text = format_markdown(tiny_result, (), extra=["## Sweep", "| table |"])
    for heading in ("# Evaluation", "## Retrieval", "## Answers", "## Latency", "## Sweep"):
        assert heading in text
    assert "## Floors" not in text  # no checks given
    assert '"size": 800' in text  # the settings the numbers depend on


def test_write_report_writes_json_markdown_and_chart(
    tmp_path: Path, tiny_result: EvalResult
) -> None:
    checks = check_floors(headline_metrics(tiny_result), FLOORS)
    paths = write_report(
        tiny_result, tmp_path / "reports", checks, stamp="20250101T000000Z", extra_json={"x": 1}
    )
    assert paths.json == tmp_path / "reports" / "20250101T000000Z.json"
    body = json.loads(paths.json.read_text(encoding="utf-8"))
    assert body["retrieval"]["test"]["hybrid"]["overall"]["mrr_at_10"] == 1.0
    assert body["ask"]["test"]["aggregate"]["submitter_coverage"] == 1.0
    assert (
        body["floors"][0]["status"] == "pass" and "meets its floor" in body["floors"][0]["message"]
    )
    assert body["x"] == 1
    assert len(body["retrieval_rows"]) == 3 * len(MODES) and len(body["ask_rows"]) == 3
    assert "## Floors" in paths.markdown.read_text(encoding="utf-8")
    assert paths.chart is not None
    assert paths.chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
