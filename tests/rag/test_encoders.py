"""Several encoders as one: blocks side by side, a missing one served as zeros, and an index
built with two encoders served, degraded, with one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from fakes import FakeEmbedder, fake_policy, write_fake_policy

from indexer.build import build_index
from rag.encoders import EncoderSet, Missing
from rag.errors import IndexMismatch
from rag.policy import PolicyFile, policy_path, subset_key, write_policy
from rag.service import Service
from rag.store import load_index

if TYPE_CHECKING:
    from conftest import Corpus

TEXTS = ["Fastlegeordningen må styrkes.", "Legevakten har lange ventetider om natten."]


def pair() -> tuple[FakeEmbedder, FakeEmbedder]:
    return FakeEmbedder(32, "small"), FakeEmbedder(48, "large")


def test_vectors_are_each_encoders_side_by_side() -> None:
    small, large = pair()
    both = EncoderSet([small, large])
    assert both.dimension == 80 and both.blocks() == [slice(0, 32), slice(32, 80)]
    assert both.identity == "fake:small-32+fake:large-48"
    passages = both.embed_passages(TEXTS)
    np.testing.assert_array_equal(passages[:, :32], small.embed_passages(TEXTS))
    np.testing.assert_array_equal(passages[:, 32:], large.embed_passages(TEXTS))


def test_words_are_embedded_by_the_first_encoder_in_the_questions_call() -> None:
    small, large = pair()
    vectors, words = EncoderSet([small, large]).embed_with_words(TEXTS[:1], ["astma", "ME"])
    assert small.calls == [[TEXTS[0], "astma", "ME"]]  # one call for the question and words
    assert large.calls == [[TEXTS[0]]]  # the words are not embedded by the others
    np.testing.assert_array_equal(words, small.embed_queries(["astma", "ME"]))
    np.testing.assert_array_equal(vectors[0, 32:], large.embed_queries(TEXTS[:1])[0])


def test_an_encoder_the_index_has_but_the_service_lacks_is_zeros() -> None:
    small, large = pair()
    built_with = (("small", small.identity, 32), ("large", large.identity, 48))
    serving = EncoderSet([small], {"large": "not fetched"}).serving(built_with)
    assert [type(m) for m in serving.members] == [FakeEmbedder, Missing]
    assert serving.missing[0].reason == "not fetched"
    vectors = serving.embed_queries(TEXTS)
    assert vectors.shape == (2, 80) and not vectors[:, 32:].any()
    np.testing.assert_array_equal(vectors[:, :32], small.embed_queries(TEXTS))
    with pytest.raises(IndexMismatch, match="48"):
        EncoderSet([FakeEmbedder(32, "large")]).serving(((*built_with[1][:2], 48),))
    with pytest.raises(IndexMismatch, match="bygget med"):
        EncoderSet([FakeEmbedder(32, "other")]).serving(built_with)


def two_encoder_index(corpus: Corpus) -> Path:
    build_index([corpus.folder], corpus.index_path, corpus.settings, lambda: EncoderSet(pair()))
    return corpus.index_path


def test_an_index_of_two_encoders_is_served_degraded_by_one(corpus: Corpus) -> None:
    index = two_encoder_index(corpus)
    manifest = load_index(index).manifest
    identities = tuple(e.identity for e in manifest.encoders)
    assert [e.dimension for e in manifest.encoders] == [32, 48] and manifest.dimension == 80
    both, alone = fake_policy(identities), fake_policy(identities[:1])
    write_policy(
        policy_path(index),
        PolicyFile(
            encoders=identities,
            fingerprint=manifest.fingerprint,
            calibrated_on="tests",
            policies={subset_key(identities): both, subset_key(identities[:1]): alone},
        ),
    )
    full = Service.load(corpus.settings, EncoderSet(pair()))
    assert full.degraded_reasons == [] and full.retriever.policy == both
    small = FakeEmbedder(32, "small")
    degraded = Service.load(corpus.settings, EncoderSet([small], {"large-48": "ikke hentet"}))
    assert degraded.degraded_reasons == ["large-48 mangler (ikke hentet)"]
    assert degraded.retriever.policy == alone  # the policy calibrated for the one present
    hits = degraded.search("Hvor lange er ventetidene på legevakten?", k=3)
    assert hits and "Legevakten" in hits[0].chunk.text
    answer = degraded.ask("Hvor lange er ventetidene på legevakten?")
    assert not answer.no_answer
    # the fused cosine is the present encoder's own: the missing block counts nothing
    query = degraded.parse("Hvor lange er ventetidene på legevakten?")
    sentence_cosines, _ = degraded.retriever.cosines(query.vector)
    assert not sentence_cosines[:, 1].any()


def test_a_policy_for_other_encoders_is_not_used(corpus: Corpus) -> None:
    index = two_encoder_index(corpus)
    write_fake_policy(index)  # for both encoders only
    degraded = Service.load(corpus.settings, EncoderSet([FakeEmbedder(32, "small")]))
    assert degraded.policy.origin == "uncalibrated"  # nothing was calibrated for one alone


class Released(FakeEmbedder):
    """A fake that logs when it embeds and when it lets go of its model."""

    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__(dimension=16, name=name)
        self.log = log

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.log.append(f"embed {self.model_name}")
        return super().embed_passages(texts)

    def release(self) -> None:
        self.log.append(f"release {self.model_name}")


def test_a_build_holds_one_encoders_model_at_a_time(corpus: Corpus) -> None:
    log: list[str] = []
    members = [Released("first", log), Released("second", log)]
    build_index([corpus.folder], corpus.index_path, corpus.settings, lambda: EncoderSet(members))
    passes = [entry for entry in log if entry.startswith("release")]
    assert passes == ["release first-16", "release second-16"]
    assert log.index("release first-16") < log.index("embed second-16")
    assert log[-1] == "release second-16"
