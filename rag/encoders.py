"""Several encoders as one: each text's vector is every encoder's unit vector side by side.

With the blocks of a stored vector `[a, b]` and a question's blocks weighted `[w_a q_a, w_b q_b]`,
one inner product is the weighted sum of the encoders' cosines, `w_a cos_a + w_b cos_b`. So
FAISS, the sentence layer and the relevance decision work on one fused similarity, and the
weights (`rag.policy`) are chosen after the build, on the question side alone. An encoder the
index was built with but that cannot be loaded now is `Missing`: its block of a question is zero
and the policy for the encoders present applies (the service says it is degraded).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from rag.config import EmbeddingSettings
from rag.embed import Embedder, Vectors, make_embedder
from rag.errors import EmbedderUnavailable, IndexMismatch

log = logging.getLogger(__name__)


class Missing(Embedder):
    """An encoder an index was built with that cannot run here: zero vectors of its width."""

    backend = "missing"

    def __init__(self, model_name: str, identity: str, dimension: int, reason: str) -> None:
        self.model_name = model_name
        self._identity = identity
        self.dimension = dimension
        self.reason = reason

    @property
    def identity(self) -> str:
        return self._identity

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        raise EmbedderUnavailable(f"{self.model_name} is unavailable: {self.reason}")

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return np.zeros((len(texts), self.dimension), dtype=np.float32)


class EncoderSet(Embedder):
    """Encoders side by side; a question runs on all of them concurrently."""

    def __init__(self, members: Sequence[Embedder], unavailable: dict[str, str] | None = None):
        if not members:
            raise EmbedderUnavailable("no encoder can be loaded")
        self.members = tuple(members)
        self.unavailable = dict(unavailable or {})  # configured, not loadable: model -> why
        self.model_name = " + ".join(m.model_name for m in self.members)
        self.backend = "+".join(m.backend for m in self.members)
        self.precision = "+".join(m.precision for m in self.members)
        self.dimension = sum(m.dimension for m in self.members)
        self._pool = ThreadPoolExecutor(max_workers=len(self.members), thread_name_prefix="encode")

    @property
    def identity(self) -> str:
        return "+".join(m.identity for m in self.members)

    @property
    def present(self) -> tuple[Embedder, ...]:
        return tuple(m for m in self.members if not isinstance(m, Missing))

    @property
    def missing(self) -> tuple[Missing, ...]:
        return tuple(m for m in self.members if isinstance(m, Missing))

    def blocks(self) -> list[slice]:
        """Each member's columns in a stored vector."""
        edges = np.cumsum([0, *(m.dimension for m in self.members)]).tolist()
        return [slice(a, b) for a, b in itertools.pairwise(edges)]

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return np.hstack([m.embed_passages(texts) for m in self.members]).astype(np.float32)

    def release(self) -> None:
        for member in self.members:
            member.release()

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.embed_with_words(texts, ())[0]

    def embed_with_words(
        self, texts: Sequence[str], words: Sequence[str]
    ) -> tuple[Vectors, Vectors]:
        """Questions on every encoder, side by side, and `words` on the first (where the
        vocabulary is), all at once: the first encoder embeds both in one call while the others
        embed the questions on threads of their own. A missing encoder gives zeros."""
        first = self.members[0]
        asked = [*texts, *words]

        def run(member: Embedder) -> Vectors:
            return member.embed_queries(asked if member is first else texts)

        present = self.present
        if len(present) == 1:
            found = {present[0].identity: run(present[0])}
        else:
            calls = {m.identity: self._pool.submit(run, m) for m in present}
            found = {identity: call.result() for identity, call in calls.items()}
        parts = [
            found[m.identity][: len(texts)] if m.identity in found else m.embed_queries(texts)
            for m in self.members
        ]
        own = found.get(first.identity)
        word_vectors = own[len(texts) :] if own is not None else first.embed_queries(words)
        return np.hstack(parts).astype(np.float32), word_vectors

    def serving(self, built_with: Sequence[tuple[str, str, int]]) -> EncoderSet:
        """This set arranged as an index was built (model, identity, width per encoder): a
        member it lacks is `Missing`. IndexMismatch when none of the index's encoders is here,
        or one here gives vectors of another width."""
        by_identity = {m.identity: m for m in self.present}
        members: list[Embedder] = []
        for model, identity, width in built_with:
            found = by_identity.get(identity)
            if found is not None and found.dimension != width:
                raise IndexMismatch(
                    f"{model} gir vektorer med {found.dimension} tall, indeksen har {width}"
                )
            reason = self.unavailable.get(model, "not configured")
            members.append(found or Missing(model, identity, width, reason))
        serving = EncoderSet(members, self.unavailable)
        if not serving.present:
            built = ", ".join(identity for _, identity, _ in built_with)
            raise IndexMismatch(
                f"Indeksen er bygget med vektorer fra {built}, men innstillingene bruker "
                f"{self.identity}"
            )
        return serving


def make_encoders(
    settings: EmbeddingSettings, wrap: Callable[[Embedder], Embedder] = lambda e: e
) -> EncoderSet:
    """Every configured encoder that loads (each passed through `wrap`); the others are named
    with their reason (logged). The first model must load: the vocabulary lives in its space."""
    members: list[Embedder] = []
    unavailable: dict[str, str] = {}
    for position, model in enumerate(settings.models):
        try:
            members.append(wrap(make_embedder(settings, model)))
        except EmbedderUnavailable as exc:
            if position == 0:
                raise
            log.warning("%s left out: %s", model, exc)
            unavailable[model] = str(exc)
    return EncoderSet(members, unavailable)


def as_encoder_set(embedder: Embedder) -> EncoderSet:
    """`embedder` itself if it is a set, else a set of that one encoder."""
    return embedder if isinstance(embedder, EncoderSet) else EncoderSet([embedder])
