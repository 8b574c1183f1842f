"""The HTTP client against a fake API that follows the contract, and against a closed port."""

from __future__ import annotations

import pytest
from fake_api import BROKEN_QUESTION, CITATIONS, QUESTION, TEXTS, FakeApi

from rag import api_client
from ui import client


def test_health_and_documents_are_parsed(fake_api: FakeApi) -> None:
    info = client.health(fake_api.url)
    assert (info.status, info.documents, info.embedding_model) == ("ok", len(TEXTS), "fake-e5")
    docs = client.documents(fake_api.url)
    assert [doc.document_id for doc in docs] == list(TEXTS)
    assert docs[0].submitter == "Moss kommune"


def test_document_carries_the_text_offsets_refer_to(fake_api: FakeApi) -> None:
    doc = client.document(fake_api.url, "moss")
    first = CITATIONS[0]
    assert doc.text[first["start"] : first["end"]] == first["quote"]


def test_ask_sends_only_the_filters_in_use(fake_api: FakeApi) -> None:
    filters = client.Filters(submitter=("Moss kommune",))
    answer = client.ask(fake_api.url, QUESTION, k=5, filters=filters)
    assert fake_api.asked == [
        {"question": QUESTION, "k": 5, "filters": {"submitter": ["Moss kommune"]}}
    ]
    assert [c.n for c in answer.citations] == [1, 2, 3, 4]
    assert answer.citations[2].submitter == "Bergen kommune" and not answer.no_answer


def test_ask_without_filters_sends_just_the_question(fake_api: FakeApi) -> None:
    client.ask(fake_api.url, QUESTION, filters=client.Filters())
    assert fake_api.asked == [{"question": QUESTION}]


def test_error_status_raises_api_error_with_the_detail(fake_api: FakeApi) -> None:
    with pytest.raises(client.ApiError) as caught:
        client.ask(fake_api.url, BROKEN_QUESTION)
    assert caught.value.status == 503
    assert caught.value.detail == "Indeksen mangler. Bygg den med `rag index`."


def test_unknown_document_raises_404(fake_api: FakeApi) -> None:
    with pytest.raises(client.ApiError) as caught:
        client.document(fake_api.url, "finnes/ikke")
    assert caught.value.status == 404 and "finnes/ikke" in caught.value.detail


def test_closed_port_raises_api_unavailable(closed_port_url: str) -> None:
    with pytest.raises(client.ApiUnavailable) as caught:
        client.health(closed_port_url, timeout_s=2)
    assert caught.value.url == closed_port_url
    assert caught.value.reason == "fikk ikke koblet til (kjører tjenesten?)"  # Norwegian, shown


def test_every_call_to_one_api_goes_through_one_pooled_client(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []
    real = api_client.httpx.Client

    def counted(*args: object, **kwargs: object) -> object:
        made.append(str(kwargs.get("base_url")))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(api_client.httpx, "Client", counted)
    base = fake_api.url + "/"  # another spelling of the same API: a new cache entry, one client
    client.health(base)
    client.documents(base)
    client.ask(base, QUESTION)
    assert made == [fake_api.url]
    assert client.connection(base) is client.connection(base)
