"""`rag eval --calibrate`: calibrate every set of encoders that may serve an index, report the
sweeps, and write the policy (`rag.policy`).

An index built with e5-small and EmbeddingGemma gets two policies: both encoders, and e5-small
alone (what the service uses when EmbeddingGemma cannot be loaded; the first encoder always can,
and the vocabulary lives in its space). `--write` puts the file beside the index, keyed to the
encoders and the corpus fingerprint; `--write-default` also makes it the shipped fallback for
corpora without their own calibration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from eval.calibrate import (
    FALSE_REFUSAL_COST,
    HALVINGS,
    SURE_PRECISION,
    Calibration,
    Corpus,
    RankingRow,
    calibrate,
    observe,
)
from eval.questions import Question
from eval.report import markdown_table
from rag.policy import PolicyFile, subset_key
from rag.service import Service


def subsets(count: int) -> list[tuple[bool, ...]]:
    """Every encoder together, then the first alone (when there are several)."""
    together = tuple(True for _ in range(count))
    return [together] if count == 1 else [together, tuple(i == 0 for i in range(count))]


def calibrate_subsets(
    service: Service, questions: Sequence[Question], on_step: Callable[[str], None]
) -> list[Calibration]:
    """Each set of encoders calibrated on the same observations of the dev questions: an encoder
    left out weighs 0, exactly as the service serves without it."""
    dev = [q for q in questions if q.split == "dev"]
    on_step(f"embedding {len(dev)} dev questions")
    observed = observe(service, dev)
    corpus = Corpus(service)
    names = [e.model for e in service.index.manifest.encoders]
    found = []
    for present in subsets(len(names)):
        on_step("calibrating " + " + ".join(n for n, p in zip(names, present, strict=True) if p))
        found.append(calibrate(corpus, observed, present))
    return found


def policy_file(service: Service, found: Sequence[Calibration], source: str) -> PolicyFile:
    manifest = service.index.manifest
    identities = tuple(e.identity for e in manifest.encoders)
    policies = {}
    for calibration in found:
        present = tuple(i for i, p in zip(identities, calibration.present, strict=True) if p)
        policies[subset_key(present)] = calibration.policy
    return PolicyFile(
        encoders=identities,
        fingerprint=manifest.fingerprint,
        calibrated_on=f"{source}, dev",
        policies=policies,
    )


# --- report ------------------------------------------------------------------------------


def ranking_table(rows: Sequence[RankingRow], top: int | None = None) -> str:
    header = ["weights", "fusion", "paraphrase R@10", "factual R@5", "MRR@10", "objective"]
    shown = rows[:top] if top else rows
    return markdown_table(
        header,
        [
            [
                " / ".join(f"{w:g}" for w in r.weights),
                "s{sentence_weight:g} d{dense_weight:g} b{bm25_weight:g} mix{chunk_mix:g}".format(
                    **r.fusion.model_dump()
                ),
                r.paraphrase_recall,
                r.factual_recall,
                r.mrr,
                r.objective,
            ]
            for r in shown
        ],
    )


def support_table(found: Calibration, top: int = 10) -> str:
    header = [
        "support weights",
        "typicality",
        "sentences",
        "vocabulary",
        "false refusals (CV)",
        "negatives refused (CV)",
        "ceiling (in-sample)",
    ]
    rows = [
        [
            " / ".join(f"{w:g}" for w in r.weights),
            f"{r.support.typicality_weight:g}",
            str(r.support.support_sentences),
            f"{r.support.vocabulary_weight:g}",
            r.false_refusals,
            r.negatives_refused,
            r.ceiling,
        ]
        for r in found.refusal.rows[:top]
    ]
    return markdown_table(header, rows)


def submitter_table(found: Calibration) -> str:
    header = [
        "context_mix",
        "submitter threshold / corpus gap",
        "specific gap",
        "aggregate precision / coverage",
        "quote hit",
    ]
    rows = [
        [
            f"{r.context_mix:g}",
            f"{r.submitter_threshold:g} / {r.corpus_gap:g}",
            f"{r.specific_gap:g}",
            f"{r.precision:.3f} / {r.coverage:.3f}",
            r.quote_hit,
        ]
        for r in found.submitters
    ]
    return markdown_table(header, rows)


def sure_line(found: Calibration) -> str:
    sure = found.sure
    if sure.bar is None:
        return (
            f"Sure cells: no bar reaches precision {SURE_PRECISION:g} on the {sure.quoted} quoted "
            "submitters of the aggregate dev questions; high_confidence stays the bar."
        )
    return (
        f"Sure cells (dev): from support {sure.bar:g}, {sure.sure} of the {sure.quoted} quoted "
        f"submitters of the aggregate questions, precision {sure.precision:.3f} "
        f"(asked: {SURE_PRECISION:g})."
    )


def calibration_report(found: Calibration, names: Sequence[str]) -> str:
    """The sweeps and the chosen policy of one set of encoders, as Markdown."""
    present = " + ".join(n for n, p in zip(names, found.present, strict=True) if p)
    refusal = found.refusal
    margins = markdown_table(
        ["margin (sd)", "false refusals (CV)", "negatives refused (CV)"],
        [[f"{m:g}", f, r] for m, f, r in refusal.margins],
    )
    nested_false, nested_refused = refusal.nested
    return "\n\n".join(
        [
            f"## {present}",
            "Encoder weights in the ranking (dev, default fusion):\n\n"
            + ranking_table(found.weights),
            "Fusion at the chosen weights (dev, best 10):\n\n" + ranking_table(found.fusion, 10),
            f"Support (dev, best 10; each figure on the half that did not set the threshold, "
            f"{HALVINGS} halvings; a false refusal counts {FALSE_REFUSAL_COST:g} negatives):"
            "\n\n" + support_table(found),
            "Margin of the refusal threshold under the weakest answerable question:\n\n" + margins,
            f"The whole choice cross-validated (nested): false refusals {nested_false:.3f}, "
            f"negatives refused {nested_refused:.3f}. Context mixes tried: "
            + ", ".join(f"{m:g}" for m in found.mixes),
            "Submitters (dev):\n\n" + submitter_table(found),
            sure_line(found),
            "Chosen policy:\n\n```json\n" + found.policy.model_dump_json(indent=2) + "\n```",
        ]
    )
