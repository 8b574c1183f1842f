"""The relevance policy as data: encoder weights and every calibrated value of retrieval and of
the decision, written by `rag eval --calibrate --write`, read by the service.

A policy file holds one entry per set of encoders that may be present (both, or each alone when
the other cannot be loaded), keyed to the index's encoders and its corpus fingerprint:

    data/index.policy.json      beside the index `data/index`: calibrated on this corpus's
                                questions (the dev split)
    rag/models/default_policy.json
                                the fallback for a corpus without its own calibration: the
                                seeds' calibration, matched on the encoders alone

Values the user set explicitly (`RAG_RETRIEVAL__…`, `RAG_ANSWER__…`) win over the policy; the
settings' code defaults apply only where no policy has an entry for the encoders present.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.config import AnswerSettings, RetrievalSettings
from rag.manifest import Manifest

log = logging.getLogger(__name__)

POLICY_SUFFIX = ".policy.json"
DEFAULT_POLICY = Path(__file__).parent / "models" / "default_policy.json"
CALIBRATED_RETRIEVAL = (
    "sentence_weight",
    "dense_weight",
    "bm25_weight",
    "chunk_mix",
    "context_mix",
    "typicality_weight",
    "support_sentences",
    "vocabulary_weight",
)
CALIBRATED_ANSWER = (
    "low_confidence",
    "high_confidence",
    "submitter_threshold",
    "corpus_gap",
    "specific_gap",
)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EncoderPolicy(_Record):
    """What to do when exactly these encoders are present."""

    weights: dict[str, float] = Field(
        description="Encoder identity -> weight in the similarity that ranks and quotes."
    )
    support_weights: dict[str, float] = Field(
        default_factory=dict,
        description="The same for the support that decides whether to answer (empty: weights).",
    )
    retrieval: dict[str, float] = Field(default_factory=dict)
    answer: dict[str, float] = Field(default_factory=dict)


class PolicyFile(_Record):
    schema_version: int = 1
    encoders: tuple[str, ...] = Field(description="Identities of the index's encoders.")
    fingerprint: str = Field(description="The corpus fingerprint of the index ('' for any).")
    calibrated_on: str
    written_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    subsets: dict[str, EncoderPolicy]


def subset_key(identities: tuple[str, ...] | list[str]) -> str:
    return "+".join(identities)


def policy_path(index_path: Path) -> Path:
    """`data/index` -> `data/index.policy.json` (beside the symlink, so it outlives builds)."""
    return index_path.with_name(index_path.name + POLICY_SUFFIX)


def write_policy(path: Path, policy: PolicyFile) -> None:
    """Atomically: a reader sees the old file or the new one."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(policy.model_dump_json(indent=2), encoding="utf-8")
    partial.replace(path)


def read_policy(path: Path) -> PolicyFile | None:
    """The policy in `path`, or None (logged) when it is absent or unreadable."""
    if not path.exists():
        return None
    try:
        return PolicyFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        log.warning("ignoring the policy %s: %s", path, str(exc).splitlines()[0])
        return None


@dataclass(frozen=True)
class Resolved:
    """The policy in force for one loaded index."""

    weights: NDArray[np.float64]  # per encoder in block order (0 for a missing one)
    support_weights: NDArray[np.float64]
    retrieval: RetrievalSettings
    answer: AnswerSettings
    source: str  # where it came from, for /health and the eval report


def applies(policy: PolicyFile, manifest: Manifest, own: bool) -> bool:
    """A calibrated policy is for this index's encoders and corpus; the default only needs
    the encoders."""
    identities = tuple(e.identity for e in manifest.encoders)
    if own:
        return policy.encoders == identities and policy.fingerprint == manifest.fingerprint
    return True


def resolve(
    manifest: Manifest,
    index_path: Path,
    present: tuple[str, ...],
    retrieval: RetrievalSettings,
    answer: AnswerSettings,
    default_policy: Path = DEFAULT_POLICY,
) -> Resolved:
    """The policy for the encoders `present` (identities, in block order): the index's own
    calibration, else the packaged default, else equal weights and the settings as they are."""
    key = subset_key(present)
    for path, own in ((policy_path(index_path), True), (default_policy, False)):
        policy = read_policy(path)
        if policy is None or not applies(policy, manifest, own) or key not in policy.subsets:
            continue
        entry = policy.subsets[key]
        source = f"{'calibrated' if own else 'default'}: {path.name} ({policy.calibrated_on})"
        return Resolved(
            block_weights(manifest, entry.weights),
            block_weights(manifest, entry.support_weights or entry.weights),
            over(retrieval, entry.retrieval),
            over(answer, entry.answer),
            source,
        )
    equal = {identity: 1.0 / len(present) for identity in present}
    weights = block_weights(manifest, equal)
    return Resolved(weights, weights, retrieval, answer, "settings (no policy)")


def block_weights(manifest: Manifest, weights: dict[str, float]) -> NDArray[np.float64]:
    return np.array([weights.get(e.identity, 0.0) for e in manifest.encoders], dtype=np.float64)


Section = TypeVar("Section", RetrievalSettings, AnswerSettings)


def over(settings: Section, values: dict[str, float]) -> Section:
    """`settings` with the policy's `values`, except those the user set explicitly."""
    chosen = {k: v for k, v in values.items() if k not in settings.model_fields_set}
    fields = type(settings).model_fields
    typed = {k: int(v) if fields[k].annotation is int else v for k, v in chosen.items()}
    return settings.model_copy(update=typed)
