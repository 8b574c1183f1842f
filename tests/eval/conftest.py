"""Fixtures for the eval tests: a fake backend and one evaluation run on it."""

from __future__ import annotations

import pytest
from eval_fakes import QUESTIONS, FakeBackend

from eval.runner import run_eval
from eval.summary import EvalResult


@pytest.fixture
def fake_backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def tiny_result(fake_backend: FakeBackend) -> EvalResult:
    return run_eval(fake_backend, QUESTIONS, settings={"chunk": {"size": 800}})
