"""`rag eval --calibrate` on the seeds' dev questions chooses the settings the service ships with.

The defaults in rag/config.py are what the calibration printed; if the sweep, the model or the
defaults drift apart, this fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.calibrate import context_sweep, fusion_sweep, observe
from eval.questions import load_questions, select_split
from rag.config import IndexSettings, Settings
from rag.embed import make_embedder
from rag.service import Service

pytestmark = pytest.mark.slow


def test_calibration_on_dev_chooses_the_default_settings(seeds_index: Path) -> None:
    settings = Settings(index=IndexSettings(path=seeds_index))
    service = Service.load(settings, make_embedder(settings.embedding))
    dev = select_split(load_questions(), "dev")
    observed = observe(service, dev, settings.answer.k)

    fusion = fusion_sweep(service.retriever, observed, settings.retrieval)[0]
    assert fusion.settings == {name: getattr(settings.retrieval, name) for name in fusion.settings}
    context = context_sweep(service, observed)[0]
    assert context.context_mix == settings.retrieval.context_mix
    chosen, shipped = context.answers, settings.answer
    for name in ("low_confidence", "high_confidence", "submitter_threshold", "corpus_gap"):
        assert getattr(chosen, name) == pytest.approx(getattr(shipped, name), abs=5e-4), name
