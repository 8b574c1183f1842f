"""The letters of the stand-in consultation (eval/standin.py): the seeds cut into sections, and
one sender's letter drawn from them with the sender's name in the seed senders' place."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from eval.standin_senders import Forms, Sender, StandinError
from indexer.clean import PARAGRAPH_BREAK, CleanText, clean_pages
from indexer.metadata import METADATA_FILE_NAME, read_metadata
from indexer.sources import discover, load_file
from rag.grouping import NOT_THE_SENDER, place_of
from rag.sentences import sentences, word_count

MEDIAN_CHARS = 7_000
LENGTH_SPREAD = 0.6  # standard deviation of the log length
SHORTEST, LONGEST_USUAL = 1_800, 25_000
LONG_SHARE, LONG_CHARS = 0.03, (30_000, 70_000)
KEEP_BLOCK = 0.7  # chance that a paragraph or list of a drawn section is kept
RUN_SHARE = 0.5  # chance that a paragraph of 3+ sentences is cut to a run of them
TITLES = (
    "Innspill til Nasjonal helse- og samhandlingsplan fra {name}",
    "Høringsinnspill til Nasjonal helse- og samhandlingsplan fra {name}",
    "Nasjonal helse- og samhandlingsplan – innspill fra {name}",
    "Høringssvar fra {name}",
)
CLOSING = "Med vennlig hilsen"

# Seed senders' other names for themselves, beside their own name (genitive handled apart).
SEED_NAME_FORMS: dict[str, tuple[str, ...]] = {
    "Bergen kommune": (r"Byråd(?:en|et)",),
    "Helsefellesskapet for Ahus og kommunene": (
        r"[Hh]elsefellesskapet (?:for )?(?:Ahus|AHUS) og kommune(?:ne|r)",
    ),
    "Helsefellesskapet i Møre og Romsdal": (
        r"Helsefellesskap(?:et)? (?:i )?(?:Møre og Romsdal|M&R)",
    ),
}
# Ahus is the hospital the community is named after, not the community speaking.
NO_SEED_PLACE = frozenset({"Helsefellesskapet for Ahus og kommunene"})
# Other voices, page furniture and sign-offs: never in a stand-in text.
LEFT_OUT = re.compile(
    r"\b(?:LSU|IPR|bystyre|Ruspolitisk råd|Byråd for|vedlegg|vennlig hilsen|signatur"
    r"|godkjent elektronisk|Edialog)\b|https?:|www\.|@|\.no\b",
    re.IGNORECASE,
)
OPENING = re.compile(r"\b(?:viser til|takker|oversender|ønsker å svare|støtter|avgir)\b")


@dataclass(frozen=True)
class Block:
    kind: Literal["paragraph", "list"]
    parts: tuple[str, ...]  # a paragraph's sentences, a list's items


@dataclass(frozen=True)
class Section:
    heading: str | None
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class SeedText:
    submitter: str
    text: str
    voice: re.Pattern[str]  # how the seed names its own sender (groups name/ngen/place/pgen)
    openings: tuple[str, ...]
    sections: tuple[Section, ...]


# ---------------------------------------------------------------------------------------------
# The seeds


def voice_pattern(submitter: str) -> re.Pattern[str]:
    names = "|".join([re.escape(submitter), *SEED_NAME_FORMS.get(submitter, ())])
    name = rf"\b(?P<name>{names})(?P<ngen>n?s)?(?!\w)"
    place = None if submitter in NO_SEED_PLACE else place_of(submitter)
    if place is None:
        return re.compile(name)
    return re.compile(rf"{name}|{NOT_THE_SENDER}\b(?P<place>{re.escape(place)})(?P<pgen>s)?(?!\w)")


def usable(sentence: str) -> bool:
    """A whole sentence of the sender's own, fit to stand anywhere in a letter."""
    starts = sentence[:1].isupper() or sentence[:1] in '«"'
    ends = sentence.rstrip('»")').endswith((".", "!", "?"))
    return starts and ends and 5 <= word_count(sentence) <= 80 and not LEFT_OUT.search(sentence)


def usable_item(item: str) -> bool:
    return 3 <= word_count(item) <= 80 and not LEFT_OUT.search(item)


def usable_heading(heading: str, voice: re.Pattern[str]) -> bool:
    starts = heading[:1].isupper() or heading[:1].isdigit()
    return (
        starts
        and word_count(heading) <= 12
        and not (LEFT_OUT.search(heading) or voice.search(heading))
    )


def cut(cleaned: CleanText) -> list[Section]:
    """The cleaned text as sections: a heading and its paragraphs and lists; the title (the
    first heading) left out."""
    headings = {s.start for s in cleaned.sections}
    found: list[Section] = []
    heading: str | None = None
    blocks: list[Block] = []
    offset = 0
    for raw in cleaned.text.split(PARAGRAPH_BREAK):
        start, offset = offset, offset + len(raw) + len(PARAGRAPH_BREAK)
        if start in headings:
            found.append(Section(heading, tuple(blocks)))
            heading, blocks = (raw if start else None), []
        elif raw.startswith("- "):
            blocks.append(Block("list", tuple(line[2:] for line in raw.split("\n"))))
        else:
            blocks.append(Block("paragraph", tuple(sentences(raw))))
    found.append(Section(heading, tuple(blocks)))
    return [s for s in found if s.blocks]


def seed_text(submitter: str, cleaned: CleanText) -> SeedText:
    voice = voice_pattern(submitter)
    sections = cut(cleaned)
    openings = tuple(
        s
        for section in sections
        for block in section.blocks
        if block.kind == "paragraph"
        for s in block.parts
        if usable(s) and voice.match(s) and OPENING.search(s)
    )
    return SeedText(submitter, cleaned.text, voice, openings, tuple(sections))


def load_seeds(folder: Path) -> list[SeedText]:
    """The seed submissions as the indexer stores them, with the submitters of metadata.csv."""
    metadata = read_metadata(folder / METADATA_FILE_NAME)
    paths, _ = discover([folder])
    if not paths:
        raise StandinError(f"no seed submissions in {folder}")
    missing = [p.name for p in paths if p.name not in metadata]
    if missing:
        raise StandinError(f"{folder / METADATA_FILE_NAME} does not list {', '.join(missing)}")
    return [
        seed_text(metadata[p.name].submitter, clean_pages(load_file(p).pages)[0]) for p in paths
    ]


# ---------------------------------------------------------------------------------------------
# Letters


def swap(text: str, voice: re.Pattern[str], forms: Forms) -> str | None:
    """`text` with its seed sender's names replaced by the forms; None when it names the seed
    sender by place and the new sender has none."""
    missing = False

    def put(match: re.Match[str]) -> str:
        nonlocal missing
        if match.group("name") is not None:
            return forms.name_genitive if match.group("ngen") else forms.name
        if forms.place is None or forms.place_genitive is None:
            missing = True
            return match.group(0)
        return forms.place_genitive if match.group("pgen") else forms.place

    swapped = voice.sub(put, text)
    return None if missing else swapped


def paragraph(block: Block, seed: SeedText, forms: Forms, rng: random.Random) -> str:
    fit = (p for p in block.parts if usable(p) and p not in seed.openings)
    kept = [s for p in fit if (s := swap(p, seed.voice, forms))]
    if len(kept) >= 3 and rng.random() < RUN_SHARE:
        size = rng.randint(2, len(kept))
        first = rng.randint(0, len(kept) - size)
        kept = kept[first : first + size]
    return " ".join(kept)


def bullet_list(block: Block, seed: SeedText, forms: Forms, rng: random.Random) -> str:
    items = [s for p in block.parts if usable_item(p) and (s := swap(p, seed.voice, forms))]
    if len(items) < 2:
        return ""
    chosen = sorted(rng.sample(range(len(items)), rng.randint(2, len(items))))
    return "\n".join(f"- {items[i]}" for i in chosen)


def render(section: Section, seed: SeedText, forms: Forms, rng: random.Random) -> list[str]:
    """A sample of the section's blocks under its heading; [] when nothing is kept."""
    body: list[str] = []
    for block in section.blocks:
        if rng.random() < KEEP_BLOCK:
            make = paragraph if block.kind == "paragraph" else bullet_list
            piece = make(block, seed, forms, rng)
            if piece and body and piece.startswith("- ") and body[-1].startswith("- "):
                body[-1] = f"{body[-1]}\n{piece}"  # lists in a row are one list when read
            elif piece:
                body.append(piece)
    if not body:
        return []
    heading = section.heading
    lowercase_list = body[0].startswith("- ") and body[0][2:3].islower()  # would not stay one
    if heading is None or lowercase_list or not usable_heading(heading, seed.voice):
        return body
    return [heading, *body]


def target_length(rng: random.Random) -> int:
    if rng.random() < LONG_SHARE:
        return rng.randint(*LONG_CHARS)
    drawn = rng.lognormvariate(math.log(MEDIAN_CHARS), LENGTH_SPREAD)
    return int(min(LONGEST_USUAL, max(SHORTEST, drawn)))


def opening(texts: Sequence[SeedText], forms: Forms, rng: random.Random) -> str:
    """A seed's opening sentence («Stange kommune viser til …») in the sender's name."""
    candidates = [s for t in texts for o in t.openings if (s := swap(o, t.voice, forms))]
    if not candidates:
        raise StandinError("no opening sentence in the seeds fits this sender")
    return rng.choice(candidates)


def compose(sender: Sender, texts: Sequence[SeedText], rng: random.Random) -> tuple[str, str]:
    """(title, text) of one sender's letter: sections drawn seed by seed to a drawn length."""
    forms = sender.forms
    title = rng.choice(TITLES).format(name=sender.name)
    pieces = [title, opening(texts, forms, rng)]
    target = target_length(rng)
    queues = [rng.sample(t.sections, len(t.sections)) for t in texts]
    while sum(len(p) for p in pieces) < target and any(queues):
        i = rng.choice([i for i, queue in enumerate(queues) if queue])
        pieces += render(queues[i].pop(), texts[i], forms, rng)
    pieces += [CLOSING, sender.name]
    return title, PARAGRAPH_BREAK.join(pieces) + "\n"
