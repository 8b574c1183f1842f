"""The HTTP backend against an in-memory fake of the API contract, and the `rag eval` command."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from eval_fakes import DOCUMENTS, QUESTIONS, RANKINGS, REPLIES
from live_server import free_port

from cli import main as cli
from eval import runner
from eval.backends import EvalError, HttpBackend, parse_confidence
from eval.runner import EvalRequest, run_eval
from rag.retrieve import MODES


def fake_api(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/documents":
        return httpx.Response(200, json=[{"document_id": d} for d in DOCUMENTS])
    if path.startswith("/documents/"):
        doc = DOCUMENTS[path.rsplit("/", 1)[1]]
        return httpx.Response(200, json={**doc.__dict__, "submitter_type": "kommune"})
    if path == "/search":
        query = request.url.params["q"]
        qid = next(q.id for q in QUESTIONS if q.question == query)
        results = [p.__dict__ for p in RANKINGS.get((qid, "hybrid"), [])]
        return httpx.Response(200, json={"query": query, "results": results})
    if path == "/ask":
        question = json.loads(request.content)["question"]
        reply = REPLIES[next(q.id for q in QUESTIONS if q.question == question)]
        citations = [c.__dict__ for c in reply.citations]
        return httpx.Response(200, json={"no_answer": reply.no_answer, "citations": citations})
    return httpx.Response(404, json={"detail": f"no route {path}"})


def backend() -> HttpBackend:
    client = httpx.Client(transport=httpx.MockTransport(fake_api), base_url="http://api")
    return HttpBackend("http://api/", client)


def test_http_eval_scores_hybrid_and_notes_the_rest() -> None:
    result = run_eval(backend(), QUESTIONS)
    assert list(result.retrieval["test"]) == ["hybrid"]
    assert result.retrieval["test"]["hybrid"]["overall"].mrr_at_10 == 1.0
    assert (
        result.ask["test"]["overall"].citation_exactness == 0.75
    )  # checked against /documents/{id}
    assert result.target == "http://api"
    assert result.notes == ("dense, sentence, bm25: only available in-process; not evaluated",)


def test_http_errors_carry_the_apis_detail() -> None:
    with pytest.raises(EvalError, match=r"GET /nope -> 404: no route /nope"):
        backend().call("GET", "/nope")


def test_non_hybrid_search_over_http_is_refused() -> None:
    with pytest.raises(EvalError, match="in-process"):
        backend().search("x", 10, "bm25")


def test_cli_retriever_choices_match_the_retrieval_modes() -> None:
    assert cli.RETRIEVERS == MODES


def test_rag_eval_reports_an_unreachable_api_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["eval", "--api", f"http://127.0.0.1:{free_port()}", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("rag eval: cannot reach the API at http://127.0.0.1:")
    assert not list(tmp_path.iterdir())  # no report for a run that did not happen


def test_confidence_is_read_when_the_api_reports_it_and_none_when_it_does_not() -> None:
    def with_confidence(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/ask":
            return httpx.Response(
                200, json={"no_answer": False, "citations": [], "confidence": "low"}
            )
        return fake_api(request)

    client = httpx.Client(transport=httpx.MockTransport(with_confidence), base_url="http://api")
    assert HttpBackend("http://api", client).ask(QUESTIONS[0].question).confidence == "low"
    assert backend().ask(QUESTIONS[0].question).confidence is None  # field absent


def test_an_unknown_confidence_level_is_an_error() -> None:
    assert parse_confidence(None) is None
    assert parse_confidence("none") == "none"
    with pytest.raises(EvalError, match="unknown confidence 'medium'; valid: high, low, none"):
        parse_confidence("medium")


def test_rag_eval_split_option_reaches_the_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[EvalRequest] = []

    def refuse(request: EvalRequest, settings: object) -> None:
        seen.append(request)
        raise EvalError("stop here")

    monkeypatch.setattr(runner, "evaluate", refuse)
    assert cli.main(["eval", "--split", "dev", "--out", str(tmp_path)]) == 1
    assert cli.main(["eval", "--out", str(tmp_path)]) == 1
    assert [r.split for r in seen] == ["dev", "all"]
    with pytest.raises(SystemExit):
        cli.main(["eval", "--split", "train"])
