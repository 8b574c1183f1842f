"""`rag eval --calibrate`: calibrate every set of encoders that may serve, and write the policy.

For an index built with two encoders the policy has three entries: both (their weights chosen
on dev, `weight_sweep`), and each alone (what the service uses when the other cannot be loaded).
`--write` puts it beside the index (`rag.policy.policy_path`), keyed to the encoders and the
corpus fingerprint; `--write-default` also makes it the packaged fallback for corpora without
their own calibration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eval.calibrate import (
    Calibration,
    WeightRow,
    calibrate,
    ranking_weights,
    support_weights,
    weight_sweep,
)
from eval.questions import Question
from rag.encoders import EncoderSet, Missing
from rag.policy import (
    CALIBRATED_ANSWER,
    CALIBRATED_RETRIEVAL,
    EncoderPolicy,
    PolicyFile,
    subset_key,
)
from rag.config import Settings
from rag.service import Service


@dataclass(frozen=True)
class SubsetCalibration:
    key: str
    names: tuple[str, ...]  # the models present
    weights: tuple[WeightRow, ...]  # the weight sweep (two encoders), else empty
    calibration: Calibration


def subsets(present: Sequence[bool]) -> list[tuple[bool, ...]]:
    """All the encoders present together first, then each alone (when there are several)."""
    on = [i for i, p in enumerate(present) if p]
    alone = [tuple(i == j for i in range(len(present))) for j in on] if len(on) > 1 else []
    return [tuple(present), *alone]


def calibrate_subsets(
    service: Service,
    settings: Settings,
    questions: Sequence[Question],
    on_step: Callable[[str], None] = print,
) -> list[SubsetCalibration]:
    """Each set served as the service would serve it with only those encoders (a question's
    other blocks, and the vocabulary signal when the first encoder is missing, as served).
    `settings` are the ones `service` was loaded with (before its policy was applied)."""
    members = service.encoders.members
    present = [not isinstance(m, Missing) for m in members]
    found = []
    for subset in subsets(present):
        chosen = [m for m, on in zip(members, subset, strict=True) if on]
        names = tuple(m.model_name for m in chosen)
        on_step(f"calibrating {' + '.join(names)}")
        served = Service.load(settings, EncoderSet(chosen))
        rows = weight_sweep(served, questions, subset) if sum(subset) > 1 else []
        alone = tuple(float(on) for on in subset)
        weights = ranking_weights(rows) if rows else alone
        supporting = support_weights(rows) if rows else alone
        identities = tuple(m.identity for m in chosen)
        calibration = calibrate(served, questions, weights, supporting)
        found.append(SubsetCalibration(subset_key(identities), names, tuple(rows), calibration))
    return found


def entry_of(service: Service, found: Calibration) -> EncoderPolicy:
    identities = [m.identity for m in service.encoders.members]
    answers = found.answers
    retrieval = {k: float(v) for k, v in found.retrieval.items() if k in CALIBRATED_RETRIEVAL}
    return EncoderPolicy(
        weights={i: w for i, w in zip(identities, found.weights, strict=True) if w > 0},
        support_weights={
            i: w for i, w in zip(identities, found.support_weights, strict=True) if w > 0
        },
        retrieval=retrieval,
        answer={k: float(getattr(answers, k)) for k in CALIBRATED_ANSWER},
    )


def policy_of(
    service: Service, found: Sequence[SubsetCalibration], questions_file: str, any_corpus: bool
) -> PolicyFile:
    manifest = service.index.manifest
    dev = "dev split"
    return PolicyFile(
        encoders=tuple(e.identity for e in manifest.encoders),
        fingerprint="" if any_corpus else manifest.fingerprint,
        calibrated_on=f"{questions_file}, {dev}",
        subsets={f.key: entry_of(service, f.calibration) for f in found},
    )
