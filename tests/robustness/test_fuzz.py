"""Property-based fuzzing of every endpoint over real HTTP: whatever arrives, the answer is
never a 500, and every error is JSON with a string `detail`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
JSON_TYPE = {"content-type": "application/json"}

# Any script, plus control and format characters, line separators and lone surrogates (the
# last arrive as JSON escapes such as "\\ud800", which decode to unencodable strings).
odd_characters = st.characters(categories=["Cc", "Cf", "Cs", "Zl", "Zp"])
any_text = st.text(st.characters() | odd_characters, max_size=80)
words = st.sampled_from(["fastlege", "KAD", "samhandling", "Moss kommune", " ", "\x00", "😀"])
question_text = st.one_of(any_text, st.lists(words | any_text, max_size=6).map(" ".join))
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), any_text)
junk = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
filter_values = st.lists(st.sampled_from(["Moss kommune", "kommune", "x"]) | any_text, max_size=3)
filters = st.one_of(
    junk,
    st.fixed_dictionaries(
        {}, optional={"submitter": filter_values, "submitter_type": filter_values}
    ),
)
ask_bodies = st.one_of(
    junk,
    st.fixed_dictionaries(
        {"question": question_text},
        optional={"k": st.integers(-3, 60) | junk, "filters": filters, "extra": junk},
    ),
)
DOCUMENT_ID_TRICKS = (
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f",
    "%2e%2e/%2e%2e/etc/passwd",
    "a/b",
    "\x00",
    "%00",
    "003_3d69ec6ad6cea8a3\x00",
    "003_3d69ec6ad6cea8a3/../..",
    "x" * 4000,
    "~",
    "?q=1",
    "#frag",
    "%ff%fe",
)


@pytest.fixture(scope="module")
def http(seeds_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=seeds_url, timeout=120) as client:
        yield client


def check(response: httpx.Response) -> None:
    """The invariant: no server error, and errors say what went wrong in JSON."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json"), response.text
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("detail"), str), body


def as_json(value: Any) -> bytes:
    """JSON with every non-ASCII character escaped, so lone surrogates arrive as `\\udxxx`."""
    return json.dumps(value, ensure_ascii=True).encode("ascii")


@FUZZ
@given(body=ask_bodies)
@example(body={"question": "fastlege \ud800"})
@example(body={"question": "fastlege", "\udcff": 1})
@example(body={"question": "fastlege", "filters": {"submitter": ["\ud800"]}})
@example(body={"question": "\x00\x1b[31m\u202e\u2028"})
def test_ask_never_fails_on_any_json(http: httpx.Client, body: Any) -> None:
    check(http.post("/ask", content=as_json(body), headers=JSON_TYPE))


@FUZZ
@given(
    body=st.binary(max_size=300),
    content_type=st.sampled_from(["application/json", "text/plain", ""]),
)
def test_ask_never_fails_on_any_bytes(http: httpx.Client, body: bytes, content_type: str) -> None:
    check(http.post("/ask", content=body, headers={"content-type": content_type}))


@FUZZ
@given(
    q=question_text,
    k=st.one_of(st.integers(-3, 60).map(str), any_text),
    submitters=filter_values,
    types=filter_values,
    raw=st.binary(max_size=12),
)
def test_search_never_fails_on_any_query(
    http: httpx.Client, q: str, k: str, submitters: list[str], types: list[str], raw: bytes
) -> None:
    params = [("q", q), ("k", k), *(("submitter", s) for s in submitters)]
    params += [("submitter_type", t) for t in types]
    encoded = "&".join(f"{key}={quote(value, errors='surrogatepass')}" for key, value in params)
    check(http.get(f"/search?{encoded}"))
    # The same query with raw (possibly invalid UTF-8) bytes appended to q.
    check(http.get(f"/search?q={quote(q, errors='surrogatepass')}{quote(raw)}"))


@FUZZ
@given(document_id=st.one_of(st.sampled_from(DOCUMENT_ID_TRICKS), any_text.filter(bool)))
def test_document_ids_never_escape_or_fail(http: httpx.Client, document_id: str) -> None:
    escaped = quote(document_id, safe="", errors="surrogatepass")
    for path in (
        f"/documents/{escaped}",
        f"/documents/{quote(document_id, safe='/%', errors='surrogatepass')}",
    ):
        response = http.get(path)
        check(response)
        assert "root:" not in response.text  # never a file from outside the index


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    path=st.sampled_from(["/health", "/documents", "/search", "/ask", "/admin/reload", "/nope"]),
    params=st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3),
)
def test_every_route_and_method_answers_in_json(
    http: httpx.Client, method: str, path: str, params: dict[str, str]
) -> None:
    check(http.request(method, path, params=params))


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (as_json({"question": "fastlege " * 116_509}), 413),  # about 1 MB
        (as_json({"question": "fastlege", "filters": {"submitter": ["x" * 1_000_000]}}), 413),
        (b"[" * 200_000 + b"]" * 200_000, 413),
        (b'{"question": ' * 50_000, 413),
        (as_json({"question": "fastlege", "extra": [[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]}), 422),
    ],
    ids=["1MB-question", "1MB-filter", "deep-nesting", "unclosed-nesting", "nested-junk"],
)
def test_huge_and_deep_bodies_are_refused_cleanly(
    http: httpx.Client, body: bytes, status: int
) -> None:
    response = http.post("/ask", content=body, headers=JSON_TYPE)
    check(response)
    assert response.status_code == status  # over 64 KiB: refused before it is parsed
