"""The stand-in consultation: deterministic, the real mix, loadable, campaigns that differ only
by the sender's name, and each sender speaking in its own name."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from pathlib import Path

import pytest

from eval.standin import StandinReport, standin_corpus
from eval.standin_senders import StandinError
from indexer.clean import clean_pages
from indexer.metadata import METADATA_FILE_NAME, read_metadata
from indexer.sources import discover, load_file
from rag.grouping import mask_submitter

SEED_SENDERS = (
    "Moss kommune",
    "Stange kommune",
    "Bergen kommune",
    "Helsefellesskapet for Ahus og kommunene",
    "Helsefellesskapet i Møre og Romsdal",
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> StandinReport:
    return standin_corpus(tmp_path_factory.mktemp("standin") / "corpus")


def texts_by_sender(report: StandinReport) -> dict[str, str]:
    metadata = read_metadata(report.folder / METADATA_FILE_NAME)
    return {
        m.submitter: (report.folder / f).read_text(encoding="utf-8") for f, m in metadata.items()
    }


def named(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_texts(
    corpus: StandinReport, tmp_path: Path
) -> None:
    again = standin_corpus(tmp_path / "again")
    assert again.files == corpus.files
    for name in (*corpus.files, METADATA_FILE_NAME):
        assert (again.folder / name).read_bytes() == (corpus.folder / name).read_bytes()
    other = standin_corpus(tmp_path / "other", documents=20, seed=7)
    first = standin_corpus(tmp_path / "first", documents=20)
    assert other.files != first.files


def test_counts_by_type_follow_the_real_mix(corpus: StandinReport) -> None:
    expected = {
        "kommune": 200,
        "helsefellesskap": 12,
        "fylkeskommune": 8,
        "organisasjon": 50,
        "statlig": 30,
    }
    assert corpus.counts == expected
    metadata = read_metadata(corpus.folder / METADATA_FILE_NAME)
    assert Counter(m.submitter_type for m in metadata.values()) == expected
    assert all(
        m.submitter.startswith("Helsefellesskapet")
        for m in metadata.values()
        if m.submitter_type == "helsefellesskap"
    )
    assert all(
        m.submitter.endswith(" kommune") for m in metadata.values() if m.submitter_type == "kommune"
    )


def test_names_and_files_are_unique(corpus: StandinReport) -> None:
    metadata = read_metadata(corpus.folder / METADATA_FILE_NAME)
    names = [m.submitter for m in metadata.values()]
    assert len(set(names)) == len(names) == 300
    assert len(set(corpus.files)) == 300


def test_every_file_is_listed_and_loads_as_written(corpus: StandinReport) -> None:
    metadata = read_metadata(corpus.folder / METADATA_FILE_NAME)
    paths, skipped = discover([corpus.folder])
    assert not skipped
    assert sorted(p.name for p in paths) == sorted(metadata) == sorted(corpus.files)
    for path in paths:
        stored = clean_pages(load_file(path).pages)[0].text
        assert stored == path.read_text(encoding="utf-8").rstrip("\n")  # offsets are the file's


def test_each_sender_speaks_in_its_own_name_and_no_seed_sender_is_left(
    corpus: StandinReport,
) -> None:
    texts = texts_by_sender(corpus)
    for sender, text in texts.items():
        assert text.splitlines()[0].endswith(sender)  # the title line names the sender
        assert text.rstrip().endswith(sender)
        assert not any(named(seed, text) for seed in SEED_SENDERS)
        assert not named("Byråden", text)


def test_lengths_are_mostly_one_to_six_pages_with_a_few_long_ones(corpus: StandinReport) -> None:
    lengths = [len(t) for t in texts_by_sender(corpus).values()]
    assert 3_000 <= statistics.median(lengths) <= 18_000
    assert sum(n > 30_000 for n in lengths) >= 3
    assert corpus.characters == sum(lengths)


def test_letters_have_headings_lists_and_differ(corpus: StandinReport) -> None:
    texts = texts_by_sender(corpus)
    assert sum("\n- " in t for t in texts.values()) > 100
    sections = [len(clean_pages([t])[0].sections) for t in texts.values()]
    assert statistics.median(sections) >= 4  # title, headings, the closing
    campaign = {m for c in corpus.campaigns for m in c.members}
    own = [mask_submitter(t, s) for s, t in texts.items() if s not in campaign]
    assert len(set(own)) == len(own)


def test_campaign_letters_differ_only_by_the_senders_name(corpus: StandinReport) -> None:
    texts = texts_by_sender(corpus)
    assert len(corpus.campaigns) == 5
    assert all(5 <= len(c.members) <= 30 for c in corpus.campaigns)
    assert sum(len(c.added) for c in corpus.campaigns) >= 5
    for campaign in corpus.campaigns:
        bodies = set()
        for member in campaign.members:
            text = texts[member]
            if member in campaign.added:
                assert f" {campaign.added[member]}" in text
                text = text.replace(f" {campaign.added[member]}", "", 1)
            bodies.add(mask_submitter(text, member))
        assert len(bodies) == 1, campaign.theme


def test_a_campaign_letter_names_its_sender_and_no_other_member(corpus: StandinReport) -> None:
    texts = texts_by_sender(corpus)
    for campaign in corpus.campaigns:
        for member in campaign.members:
            assert named(member, texts[member])
            others = [m for m in campaign.members if m != member]
            assert not any(named(other, texts[member]) for other in others)


def test_a_small_corpus_and_the_limits(tmp_path: Path) -> None:
    small = standin_corpus(tmp_path / "small", documents=20, seed=3)
    assert len(small.files) == 20 and sum(small.counts.values()) == 20
    with pytest.raises(StandinError, match="not empty"):
        standin_corpus(tmp_path / "small", documents=20)
    with pytest.raises(StandinError, match="names for"):
        standin_corpus(tmp_path / "huge", documents=2_000)
