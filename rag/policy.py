"""The relevance policy as data: every value a calibration chooses, read by the service.

A `Policy` holds how the encoders are weighed (in the ranking and in the support that decides
whether to answer), how the rankings are fused, what the support rests on and the thresholds of
the decision (`rag.decide`). `rag eval --calibrate --write` chooses them on the dev questions and
writes a `PolicyFile`: one `Policy` per set of encoders that may be present (both, and each alone
for when the other cannot be loaded), keyed to the index's encoders and its corpus fingerprint.

Where the service looks, in order (`resolve`):

    <index>.policy.json         beside the index (`data/index.policy.json`): calibrated on this
                                corpus; also used, and said so, after the corpus has changed
    rag/models/default_policy.json
                                shipped: the seeds' calibration, for a corpus of your own until
                                you calibrate it (same encoders needed)
    `UNCALIBRATED`              no calibration for these encoders (another model): equal
                                weights, nothing refused, every answer cautious

There is no other copy of a calibrated value: code, README and tests read these files.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.manifest import Manifest

log = logging.getLogger(__name__)

POLICY_SUFFIX = ".policy.json"
DEFAULT_POLICY = Path(__file__).parent / "models" / "default_policy.json"
SCHEMA_VERSION = 1


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fusion(_Record):
    """/search: how the chunk rankings are fused (weighted reciprocal rank fusion)."""

    sentence_weight: float = Field(
        1.0, ge=0.0, description="Weight of the ranking by each chunk's best sentence."
    )
    dense_weight: float = Field(0.0, ge=0.0, description="Weight of the ranking by its vector.")
    bm25_weight: float = Field(0.0, ge=0.0, description="Weight of the BM25 ranking.")
    chunk_mix: float = Field(
        1.0, ge=0.0, description="Share of a chunk's own cosine added to its best sentence's."
    )


class Support(_Record):
    """What the decision to answer rests on (`rag.scoring.support`)."""

    typicality_weight: float = Field(
        1.0, ge=0.0, description="Share of a sentence's typicality taken off its cosine."
    )
    support_sentences: int = Field(
        2, ge=1, le=20, description="How many of the best distinct sentences count."
    )
    vocabulary_weight: float = Field(
        0.0, ge=0.0, description="Share of the question's words unknown to the corpus taken off."
    )


class Thresholds(_Record):
    """Where the decision falls (`rag.decide`)."""

    low_confidence: float = Field(description="Support under which a question is refused.")
    high_confidence: float = Field(description="Support from which an answer is confident.")
    submitter_threshold: float = Field(description="Score a submitter needs to be quoted.")
    corpus_gap: float = Field(
        ge=0.0, description="How far under the closest submitter another may be and be quoted."
    )
    specific_gap: float = Field(
        ge=0.0, description="The same for a question about one thing (not the whole corpus)."
    )
    sure_submitter: float | None = Field(
        None,
        description="A quoted submitter's own support from which it surely discusses the topic "
        "(the matrix's «omtaler», else «usikkert»); calibrated for the precision of those cells. "
        "Absent (a policy written before it was calibrated): high_confidence.",
    )

    @property
    def sure_bar(self) -> float:
        return self.high_confidence if self.sure_submitter is None else self.sure_submitter


class Policy(_Record):
    """What the service does with the encoders present: every calibrated value."""

    weights: dict[str, float] = Field(
        description="Encoder identity -> its share of the similarity that ranks and quotes "
        "(a missing identity counts 0)."
    )
    support_weights: dict[str, float] = Field(
        description="The same for the support that decides whether to answer."
    )
    fusion: Fusion = Fusion()
    context_mix: float = Field(
        1.0,
        ge=0.0,
        description="/ask: weight of the closest chunk's cosine averaged with a sentence's own.",
    )
    support: Support = Support()
    thresholds: Thresholds

    def weight(self, identity: str, support: bool = False) -> float:
        return (self.support_weights if support else self.weights).get(identity, 0.0)


# An encoder set nothing was calibrated for: the encoders weighed alike, no question refused
# (a threshold on an unknown model's scale would refuse at random), every answer cautious.
UNCALIBRATED_THRESHOLDS = Thresholds(
    low_confidence=-1.0,
    high_confidence=2.0,
    submitter_threshold=-1.0,
    corpus_gap=0.05,
    specific_gap=0.02,
)


def uncalibrated(identities: tuple[str, ...]) -> Policy:
    equal = {identity: 1.0 / len(identities) for identity in identities}
    return Policy(weights=equal, support_weights=equal, thresholds=UNCALIBRATED_THRESHOLDS)


class PolicyFile(_Record):
    schema_version: int = SCHEMA_VERSION
    encoders: tuple[str, ...] = Field(description="Identities of the index's encoders, in order.")
    fingerprint: str = Field(description="The corpus fingerprint it was calibrated on.")
    calibrated_on: str = Field(description="Which questions chose it.")
    written_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    policies: dict[str, Policy] = Field(
        description="Encoder identities present, joined by '+' -> the policy for them."
    )


def subset_key(identities: tuple[str, ...]) -> str:
    return "+".join(identities)


def policy_path(index_path: Path) -> Path:
    """`data/index` -> `data/index.policy.json` (beside the index link, so it outlives builds)."""
    return index_path.with_name(index_path.name + POLICY_SUFFIX)


def write_policy(path: Path, policy: PolicyFile) -> None:
    """Atomically: a reader sees the old file or the new one."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(policy.model_dump_json(indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def read_policy(path: Path) -> PolicyFile | None:
    """The policy file at `path`, or None (logged when it exists but cannot be read)."""
    if not path.exists():
        return None
    try:
        return PolicyFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        log.warning("ignoring the policy %s: %s", path, str(exc).splitlines()[0])
        return None


Origin = Literal["this corpus", "earlier corpus", "default", "uncalibrated"]


@dataclass(frozen=True)
class Resolved:
    """The policy in force for one loaded index, and where it came from."""

    policy: Policy
    origin: Origin
    source: str  # a line for /health, `rag index` and the eval report


def resolve(
    manifest: Manifest,
    index_path: Path,
    present: tuple[str, ...],
    default_policy: Path = DEFAULT_POLICY,
) -> Resolved:
    """The policy for the encoders `present` (identities, in the index's order)."""
    key = subset_key(present)
    built_with = tuple(e.identity for e in manifest.encoders)
    own = read_policy(policy_path(index_path))
    if own is not None and own.encoders == built_with and key in own.policies:
        same = own.fingerprint == manifest.fingerprint
        origin: Origin = "this corpus" if same else "earlier corpus"
        where = "dette korpuset" if same else "en tidligere versjon av korpuset"
        return Resolved(own.policies[key], origin, f"kalibrert på {where} ({own.calibrated_on})")
    shipped = read_policy(default_policy)
    if shipped is not None and key in shipped.policies:
        note = f"standard, kalibrert på eksempelinnspillene ({shipped.calibrated_on})"
        return Resolved(shipped.policies[key], "default", note)
    return Resolved(
        uncalibrated(present),
        "uncalibrated",
        "ukalibrert: ingen spørsmål avvises (kjør rag eval --calibrate --write)",
    )
