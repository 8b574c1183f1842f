"""`rag eval --calibrate` on the seeds' dev questions chooses the policy the service ships with.

rag/models/default_policy.json is what `rag eval --calibrate --write-default` wrote; if the
sweeps, the encoders or the shipped file drift apart, this fails (the test split is never read).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.calibrate_policy import calibrate_subsets, policy_file
from eval.questions import load_questions
from rag.config import IndexSettings, Settings
from rag.encoders import make_encoders
from rag.policy import DEFAULT_POLICY, read_policy
from rag.service import Service

pytestmark = pytest.mark.slow


def test_calibration_chooses_the_shipped_policy(seeds_index: Path) -> None:
    settings = Settings(index=IndexSettings(path=seeds_index))
    service = Service.load(settings, make_encoders(settings.embedding))
    questions = [q for q in load_questions() if q.split == "dev"]
    found = calibrate_subsets(service, questions, lambda _: None)
    shipped = read_policy(DEFAULT_POLICY)
    assert shipped is not None, f"no shipped policy at {DEFAULT_POLICY}"
    written = policy_file(service, found, "questions.jsonl")
    identities = tuple(e.identity for e in service.index.manifest.encoders)
    key = "+".join(identities)
    assert key in shipped.policies, f"the shipped policy has no entry for {key}"
    for subset, policy in written.policies.items():
        chosen, expected = policy.model_dump(), shipped.policies[subset].model_dump()
        assert chosen.keys() == expected.keys()
        for name in ("fusion", "support", "context_mix"):
            assert chosen[name] == expected[name], (subset, name)
        for group in ("weights", "support_weights", "thresholds"):
            assert chosen[group] == pytest.approx(expected[group], abs=5e-4), (subset, group)
    assert all(r.false_refusals < 0.02 for r in found[0].refusal.rows[:1])
