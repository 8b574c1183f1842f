"""Grouping an answer's quotes: masking the sender, same wording, viewpoints, labels, counts."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from rag import grouping
from rag.grouping import (
    LINKAGES,
    SENDER_MASK,
    QuoteItem,
    cluster,
    counts_by_type,
    distinctive_words,
    group_quotes,
    mask_submitter,
    place_of,
    representatives,
    same_wording_groups,
)
from rag.sentences import wording

DIM = 24


def direction(i: int) -> np.ndarray:
    vector = np.zeros(DIM)
    vector[i] = 1.0
    return vector


TOPIC = direction(0)


def point_vector(point: int, jitter: int) -> np.ndarray:
    """A quote on the answer's topic making point `point`, slightly different per `jitter`."""
    vector = TOPIC + 0.6 * direction(1 + point) + 0.05 * direction(12 + jitter % 12)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def item(
    key: str, submitter: str, text: str, vector: np.ndarray, kind: str = "kommune"
) -> QuoteItem:
    return QuoteItem(key, submitter, kind, text, vector.astype(np.float32))


# ---------------------------------------------------------------------------------------------
# Masking


def test_masks_every_form_of_a_municipalitys_name() -> None:
    text = (
        "Bamble kommune mener at Bambles innbyggere trenger mer. Bamble kommunes erfaring er god. "
        "I Bamble er kommunen vår liten. Kommunen støtter forslaget."
    )
    masked = mask_submitter(text, "Bamble kommune")
    assert "Bamble" not in masked
    assert "kommunen" not in masked.lower()
    assert masked.count(SENDER_MASK) == 6


def test_leaves_other_names_alone() -> None:
    text = "Bamble kommune samarbeider med Skien kommune og Skiens legevakt."
    assert mask_submitter(text, "Bamble kommune") == (
        f"{SENDER_MASK} samarbeider med Skien kommune og Skiens legevakt."
    )


def test_a_longer_place_name_is_not_the_sender() -> None:
    masked = mask_submitter("Telemark og Midt-Telemark samarbeider.", "Telemark fylkeskommune")
    assert masked == f"{SENDER_MASK} og Midt-Telemark samarbeider."


def test_a_hospital_named_after_the_place_is_not_the_sender() -> None:
    masked = mask_submitter("Bergen kommune og Helse Bergen; Bergens byråd.", "Bergen kommune")
    assert masked == f"{SENDER_MASK} og Helse Bergen; {SENDER_MASK} byråd."


def test_a_health_community_is_masked_by_its_region_but_not_the_health_trust() -> None:
    text = (
        "Helsefellesskapet i Møre og Romsdal og Helse Møre og Romsdal. Utdanning i Møre og Romsdal."
    )
    masked = mask_submitter(text, "Helsefellesskapet i Møre og Romsdal")
    assert masked == f"{SENDER_MASK} og Helse Møre og Romsdal. Utdanning i {SENDER_MASK}."


def test_an_organisation_has_no_place_and_kommunen_is_not_itself() -> None:
    text = "Den norske legeforening mener at kommunen må få mer. Den norske legeforenings syn."
    masked = mask_submitter(text, "Den norske legeforening")
    assert masked == f"{SENDER_MASK} mener at kommunen må få mer. {SENDER_MASK} syn."
    assert place_of("Den norske legeforening") is None
    assert place_of("Vestland fylkeskommune") == "Vestland"
    assert place_of("Helsefellesskapet for Ahus og kommunene") == "Ahus"


def test_fylkeskommunen_is_not_read_as_kommunen() -> None:
    masked = mask_submitter("Fylkeskommunen og kommunen samarbeider.", "Vestland fylkeskommune")
    assert masked == f"{SENDER_MASK} og kommunen samarbeider."


# ---------------------------------------------------------------------------------------------
# Same wording

TEMPLATE = "{} støtter forslaget om et nasjonalt løft for {} legevakt."


def test_template_sentences_differing_only_by_the_sender_are_one_group() -> None:
    senders = ("Bamble", "Skien", "Notodden")
    items = [
        item(str(i), f"{name} kommune", TEMPLATE.format(f"{name} kommune", f"{name}s"), TOPIC)
        for i, name in enumerate(senders)
    ]
    items.append(item("x", "Bamble kommune", "Bamble kommune ønsker flere fastleger.", TOPIC))
    groups = same_wording_groups(items)
    assert [len(g.items) for g in groups] == [3, 1]
    assert groups[0].submitters == ("Bamble kommune", "Skien kommune", "Notodden kommune")
    assert groups[0].shown.text == items[0].text  # shown as written, not masked


def test_a_sentence_naming_another_municipality_is_not_that_municipalitys_template() -> None:
    own = item("a", "Skien kommune", "Skien kommune støtter forslaget.", TOPIC)
    about_bamble = item("b", "Skien kommune", "Bamble kommune støtter forslaget.", TOPIC)
    assert len(same_wording_groups([own, about_bamble])) == 2


def test_the_same_words_are_one_group_whoever_sends_them() -> None:
    """Masking «kommunens» for a municipality only must not split identical quotes."""
    text = "Reorganiseringen utfordrer kommunens helsebudsjett."
    by_municipality = item("a", "Bamble kommune", text, TOPIC)
    by_organisation = item("b", "KS", text, TOPIC, kind="organisasjon")
    template = item("c", "Skien kommune", "Reorganiseringen utfordrer Skiens helsebudsjett.", TOPIC)
    groups = same_wording_groups([by_municipality, by_organisation, template])
    assert [len(g.items) for g in groups] == [3]


def test_line_breaks_and_case_do_not_split_a_group() -> None:
    a = item("a", "Bamble kommune", "Bamble kommune støtter\nforslaget.", TOPIC)
    b = item("b", "Skien kommune", "Skien Kommune støtter forslaget.", TOPIC)
    assert len(same_wording_groups([a, b])) == 1
    assert wording(a.text) != wording(b.text)


# ---------------------------------------------------------------------------------------------
# Clustering


def test_near_duplicates_cluster_and_distinct_points_stay_apart() -> None:
    vectors = np.stack([point_vector(p, j) for p in range(3) for j in range(3)])
    assert cluster(vectors) == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_plain_cosine_without_centring_needs_a_high_threshold() -> None:
    vectors = np.stack([point_vector(p, j) for p in range(3) for j in range(3)])
    assert cluster(vectors, 0.0, centre=False) == [0] * 9  # all share the topic
    assert cluster(vectors, 0.95, centre=False) == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def reference_clusters(vectors: np.ndarray, threshold: float, linkage: str) -> list[int]:
    """Agglomerative clustering written out (Lance-Williams on the similarity matrix, the most
    similar pair joined first), to hold `cluster` to the definition."""
    n = len(vectors)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    sizes, root = np.ones(n), list(range(n))
    while True:
        a, b = sorted(divmod(int(np.argmax(similarity)), n))
        if n < 2 or similarity[a, b] < threshold:
            break
        row_a, row_b = similarity[a].copy(), similarity[b].copy()
        if linkage == "single":
            joined = np.maximum(row_a, row_b)
        elif linkage == "complete":
            joined = np.minimum(row_a, row_b)
        else:
            joined = (sizes[a] * row_a + sizes[b] * row_b) / (sizes[a] + sizes[b])
        sizes[a] += sizes[b]
        similarity[a], similarity[:, a] = joined, joined
        similarity[b], similarity[:, b] = -np.inf, -np.inf
        similarity[a, a] = -np.inf
        root = [a if r == b else r for r in root]
    return root


@pytest.mark.parametrize("linkage", LINKAGES)
def test_cluster_follows_the_definition_of_each_linkage(linkage: str) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(30, 6))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for threshold in (0.1, 0.3, 0.5):
        ours = cluster(vectors, threshold, linkage, centre=False)  # type: ignore[arg-type]
        theirs = reference_clusters(vectors, threshold, linkage)
        for i, j in itertools.combinations(range(30), 2):
            assert (ours[i] == ours[j]) == (theirs[i] == theirs[j])


def test_rows_past_the_exact_ones_join_the_closest_cluster_or_stand_alone() -> None:
    points = [point_vector(p, j) for j in range(4) for p in range(3)]  # 0,1,2,0,1,2,…
    outlier = direction(20) - TOPIC
    vectors = np.stack([*points, outlier / np.linalg.norm(outlier)])
    everything = cluster(vectors, exact_rows=len(vectors))
    bounded = cluster(vectors, exact_rows=6)
    assert bounded == everything
    assert bounded[:12] == [0, 1, 2] * 4
    assert bounded[12] == 3  # like nothing clustered exactly: its own viewpoint


def test_an_answer_clusters_at_most_exact_rows_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real_tree = grouping.similarity_tree

    def counted(rows: np.ndarray, linkage: str) -> np.ndarray:
        sizes.append(len(rows))
        return real_tree(rows, linkage)  # type: ignore[arg-type]

    monkeypatch.setattr(grouping, "similarity_tree", counted)
    items = [
        item(
            str(i),
            f"Sted{i} kommune",
            f"Setning nummer {i} om tema {i % 3}.",
            point_vector(i % 3, i),
        )
        for i in range(40)
    ]
    monkeypatch.setattr(grouping, "EXACT_ROWS", 10)
    grouping_of_answer = group_quotes(items)
    assert sizes == [10]
    assert sum(len(v.items) for v in grouping_of_answer.viewpoints) == 40


# ---------------------------------------------------------------------------------------------
# Labels, representatives, counts

FASTLEGE = [
    "Fastlegeordningen er underfinansiert, sier kommunene.",
    "Kommunene mener fastlegeordningen trenger mer penger.",
]
REHABILITERING = [
    "Rehabilitering i kommunene mangler kapasitet.",
    "Kommunene trenger flere rehabiliteringsplasser og rehabilitering nær hjemmet.",
]


def test_labels_are_distinctive_words_of_the_groups_own_quotes() -> None:
    fastlege, rehab = distinctive_words([FASTLEGE, REHABILITERING], k=2)
    assert fastlege[0] == "fastlegeordningen"
    assert rehab[0] == "rehabilitering"
    own_words = {w.strip(".,").lower() for text in FASTLEGE for w in text.split()}
    assert set(fastlege) <= own_words
    assert "kommunene" not in fastlege + rehab  # every group says it
    assert not {"er", "i", "og"} & set(fastlege + rehab)  # stopwords


def test_representatives_are_members_from_distinct_submitters() -> None:
    items = [
        item(str(j), name, f"Sitat {j}.", point_vector(0, j))
        for j, name in enumerate(
            ["Bamble kommune", "Bamble kommune", "Skien kommune", "Vinje kommune"]
        )
    ]
    groups = same_wording_groups(items)
    vectors = np.stack([g.items[0].vector for g in groups]).astype(np.float64)
    chosen = representatives(groups, vectors, k=3)
    assert len(chosen) == 3
    assert set(chosen) <= set(items)
    assert len({c.submitter for c in chosen}) == 3


def test_counts_are_distinct_submitters_by_type() -> None:
    items = [
        item("1", "Bamble kommune", "a", TOPIC),
        item("2", "Bamble kommune", "b", TOPIC),
        item("3", "Skien kommune", "c", TOPIC),
        item("4", "KS", "d", TOPIC, kind="organisasjon"),
    ]
    assert counts_by_type(items) == {"kommune": 2, "organisasjon": 1}


POINT_SENDERS = [
    "Bamble",
    "Skien",
    "Vinje",
    "Tokke",
    "Seljord",
    "Nissedal",
    "Drangedal",
    "Fyresdal",
    "Hjartdal",
]
TEMPLATE_SENDERS = ["Bamble", "Kragerø", "Porsgrunn", "Siljan"]
POINT_TEXTS = [
    [
        "Fastlegene har for lange lister.",
        "Fastlegelistene er for lange.",
        "Lange lister hos fastlegen.",
    ],
    [
        "Rehabilitering mangler plasser.",
        "For få rehabiliteringsplasser.",
        "Rehabilitering trenger plass.",
    ],
    [
        "Journalsystemene snakker ikke sammen.",
        "Felles journal mangler.",
        "Journal på tvers mangler.",
    ],
]


def sample_answer() -> list[QuoteItem]:
    """Three points, each made by three municipalities in their own words; a template sentence
    making the first point, sent by four municipalities (one of them also made it in its own
    words); and an organisation making the first point too."""
    items = [
        item(f"{p}.{j}", f"{POINT_SENDERS[3 * p + j]} kommune", text, point_vector(p, j))
        for p, texts in enumerate(POINT_TEXTS)
        for j, text in enumerate(texts)
    ]
    template = "{} kommune mener fastlegelistene er for lange."
    items += [
        item(f"t{j}", f"{name} kommune", template.format(name), point_vector(0, 5 + j))
        for j, name in enumerate(TEMPLATE_SENDERS)
    ]
    org = item("org", "Den norske legeforening", "Listene er for lange.", point_vector(0, 9))
    return [*items, QuoteItem(org.key, org.submitter, "organisasjon", org.text, org.vector)]


def test_every_item_ends_in_exactly_one_group_of_one_viewpoint() -> None:
    items = sample_answer()
    grouping = group_quotes(items)
    keys = [i.key for v in grouping.viewpoints for g in v.groups for i in g.items]
    assert Counter(keys) == Counter(i.key for i in items)


def test_viewpoints_follow_the_points_and_keep_the_template_as_one_group() -> None:
    grouping = group_quotes(sample_answer())
    points = [
        sorted({i.key.split(".")[0] for i in v.items if "." in i.key}) for v in grouping.viewpoints
    ]
    assert sorted(points) == [["0"], ["1"], ["2"]]
    first = grouping.viewpoints[0]  # the most submitters: the point the template makes
    assert max(len(g.items) for g in first.groups) == 4
    assert sum(first.counts.values()) == len(first.submitters)
    assert first.counts == {"kommune": 6, "organisasjon": 1}  # Bamble twice, counted once
    assert sum(grouping.counts.values()) == len({i.submitter for i in sample_answer()})


def test_no_items_no_viewpoints() -> None:
    assert group_quotes([]).viewpoints == ()
