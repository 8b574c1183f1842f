"""`rag eval --calibrate` on the seeds' questions chooses the settings the service ships with.

The defaults in rag/config.py are what the calibration printed; if the sweeps, the model or the
defaults drift apart, this fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.calibrate import calibrate
from eval.questions import load_questions
from rag.config import IndexSettings, Settings
from rag.embed import make_embedder
from rag.service import Service

pytestmark = pytest.mark.slow


def test_calibration_chooses_the_default_settings(seeds_index: Path) -> None:
    settings = Settings(index=IndexSettings(path=seeds_index))
    service = Service.load(settings, make_embedder(settings.embedding))
    found = calibrate(service, load_questions())

    for name, value in found.retrieval.items():
        assert getattr(settings.retrieval, name) == value, name
    assert found.supports[0].false_refusals < 0.01
    chosen, shipped = found.answers, settings.answer
    for name in ("low_confidence", "high_confidence", "submitter_threshold", "corpus_gap"):
        assert getattr(chosen, name) == pytest.approx(getattr(shipped, name), abs=5e-4), name
