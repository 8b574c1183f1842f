"""A stand-in consultation: a few hundred synthetic submissions cut from the seeds' own text.

What it imitates. The real round of input to «Nasjonal helse- og samhandlingsplan» had a few
hundred submissions: mostly municipalities, a dozen health communities, some county
municipalities, professional and patient organisations and state bodies; most of one to six
pages, a few long ones with attachments; and, as in any public consultation, campaigns: groups of
senders who post the same letter with only their name changed (Regulations.gov's «mass comment
campaigns»). The five seeds are real submissions of that round; the rest is imitated here.

How. Every sentence comes from the seeds' stored (cleaned) text:

- Senders: real names (eval/standin_senders.py) in the real round's mix: of 300, 200 «X
  kommune», 12 «Helsefellesskapet i …», 8 «X fylkeskommune», 50 organisations, 30 state bodies.
  A municipality whose place the seeds mention is not used, nor a county or health community
  whose full name they mention, so such a name in a text is that sender speaking.
- Structure: a title line naming the sender; an opening sentence in which the sender speaks (a
  seed's own, «Stange kommune viser til …»); sections, each a seed heading with a sample of its
  paragraphs (runs of whole sentences) and list items; «Med vennlig hilsen» and the name. The
  text is written as the indexer's cleaning leaves it, so the stored text is the file's text.
- Length: drawn per document (log-normal, median 7,000 characters, about two pages; 3 % long
  ones of 30,000-70,000 like the seeds with attachments); sections are drawn, one seed at a time,
  until the length is reached.
- The sender's own voice: where a seed sentence names its own sender by name, genitive or place
  («Stange kommune erfarer at …», «Bergens», «Byråden», «Helsefellesskapet Ahus og kommuner»),
  the new sender's name goes in its place. A sentence naming its seed sender by place is left out
  for a sender without a place (an organisation, a state body); sentences in another body's
  voice (LSU, IPR, a city council, the drug policy council), URLs and sign-offs are left out.
- Campaigns: five template letters on one theme each (sentences of the seeds on that theme),
  each sent by 5-25 senders of one type, identical but for the sender's name; about a third of
  the senders add one sentence of their own at the end of the first paragraph.

It is synthetic: the senders never wrote these texts, and the mix of sentences is random. Use it
to try scale (indexing, answers, grouping, the UI), never as evidence of what anyone said. With
about 1,300 seed sentences spread over 300 letters, a sentence recurs in a dozen or more letters,
so identical quotes from different senders are far more common than in a real round outside its
campaigns. A fixed seed gives byte-identical output.

    python -m eval.standin --out DIR [--documents 300] [--seed 2024]
"""

from __future__ import annotations

import argparse
import csv
import random
import re
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from pathlib import Path

from eval.standin_letters import (
    CLOSING,
    SeedText,
    compose,
    load_seeds,
    opening,
    swap,
    usable,
)
from eval.standin_senders import Forms, Sender, StandinError, mentioned, senders
from indexer.clean import PARAGRAPH_BREAK
from rag.sentences import sentence_spans

DEFAULT_DOCUMENTS = 300
DEFAULT_SEED = 2024
DEFAULT_SEEDS = Path("seeds")
METADATA_COLUMNS = ("file", "submitter", "submitter_type", "title")


# ---------------------------------------------------------------------------------------------
# Campaigns

ADD_SHARE = 0.3  # chance that a campaign's sender adds a sentence of its own


@dataclass(frozen=True)
class Campaign:
    """A template letter: its theme, its senders, and the sentence some of them added."""

    theme: str
    members: tuple[str, ...]
    added: dict[str, str]


@dataclass(frozen=True)
class CampaignSpec:
    theme: str
    kind: str  # the submitter type of its senders
    size: int  # senders at 300 submissions
    pattern: str  # picks the seed sentences on its theme


CAMPAIGNS = (
    CampaignSpec("fastlegeordningen", "kommune", 25, r"fastleg"),
    CampaignSpec(
        "betalingsplikt for utskrivningsklare pasienter",
        "kommune",
        12,
        r"betalingsplikt|utskrivningsklar",
    ),
    CampaignSpec("rehabilitering", "kommune", 8, r"rehabiliter"),
    CampaignSpec("psykisk helse og rus", "organisasjon", 6, r"psykisk|rusavhengig|\brus\b"),
    CampaignSpec("helsefellesskapene", "helsefellesskap", 5, r"helsefellesskap"),
)
TOKENS = Forms("⟦navn⟧", "⟦navns⟧", "⟦sted⟧", "⟦steds⟧")
TOKENS_WITHOUT_PLACE = Forms("⟦navn⟧", "⟦navns⟧", None, None)


@dataclass(frozen=True)
class Template:
    title: str
    paragraphs: tuple[str, ...]  # the opening, then the theme's sentences in paragraphs
    extras: tuple[str, ...]  # sentences on the theme a sender may add


def fill(template: str, forms: Forms) -> str:
    for token, value in zip(astuple(TOKENS), astuple(forms), strict=True):
        if value is not None:
            template = template.replace(token, value)
    return template


def theme_sentences(spec: CampaignSpec, texts: Sequence[SeedText], tokens: Forms) -> list[str]:
    pattern = re.compile(spec.pattern, re.IGNORECASE)
    found = [
        s
        for t in texts
        for section in t.sections
        for block in section.blocks
        if block.kind == "paragraph"
        for p in block.parts
        if usable(p) and pattern.search(p) and (s := swap(p, t.voice, tokens))
    ]
    return list(dict.fromkeys(found))


def template(
    spec: CampaignSpec, texts: Sequence[SeedText], tokens: Forms, rng: random.Random
) -> Template:
    """8-12 sentences on the theme, in the seeds' order, four to a paragraph."""
    pool = theme_sentences(spec, texts, tokens)
    size = min(rng.randint(8, 12), max(3, len(pool) - 2))  # leave some for senders to add
    chosen = sorted(rng.sample(range(len(pool)), min(len(pool), size)))
    body = [pool[i] for i in chosen]
    paragraphs = [" ".join(body[i : i + 4]) for i in range(0, len(body), 4)]
    title = f"Innspill om {spec.theme} til Nasjonal helse- og samhandlingsplan fra {tokens.name}"
    extras = tuple(s for i, s in enumerate(pool) if i not in chosen)
    return Template(title, (opening(texts, tokens, rng), *paragraphs), extras)


def letter(made: Template, forms: Forms, added: str | None) -> tuple[str, str]:
    """(title, text) of the template in one sender's name, with its own sentence if any."""
    paragraphs = [fill(p, forms) for p in made.paragraphs]
    if added is not None and len(paragraphs) > 1:
        paragraphs[1] = f"{paragraphs[1]} {added}"
    title = fill(made.title, forms)
    return title, PARAGRAPH_BREAK.join([title, *paragraphs, CLOSING, forms.name]) + "\n"


def make_campaigns(
    everyone: Sequence[Sender], texts: Sequence[SeedText], documents: int, rng: random.Random
) -> tuple[list[Campaign], dict[str, tuple[str, str]]]:
    """The campaigns and their senders' letters (sender name -> (title, text)); a sender is in
    at most one campaign, and no sender whose name the seeds mention."""
    campaigns: list[Campaign] = []
    letters: dict[str, tuple[str, str]] = {}
    seen = "\n".join(t.text for t in texts)  # no sender the seeds name is in a campaign
    for spec in CAMPAIGNS:
        candidates = [
            s
            for s in everyone
            if s.kind == spec.kind
            and s.name not in letters
            and not (mentioned(s.name, seen) or mentioned(s.place, seen))
        ]
        size = min(len(candidates), max(2, round(spec.size * documents / 300)))
        if size < 2:
            continue
        members = rng.sample(candidates, size)
        tokens = TOKENS if all(m.place for m in members) else TOKENS_WITHOUT_PLACE
        made = template(spec, texts, tokens, rng)
        added: dict[str, str] = {}
        for member in members:
            if made.extras and rng.random() < ADD_SHARE:
                added[member.name] = fill(rng.choice(made.extras), member.forms)
            letters[member.name] = letter(made, member.forms, added.get(member.name))
        campaigns.append(Campaign(spec.theme, tuple(m.name for m in members), added))
    return campaigns, letters


# ---------------------------------------------------------------------------------------------
# The corpus


@dataclass(frozen=True)
class StandinReport:
    """What was written: files, senders by type, campaigns, size."""

    folder: Path
    files: tuple[str, ...]
    counts: dict[str, int]
    campaigns: tuple[Campaign, ...]
    characters: int
    sentences: int


def slug(name: str) -> str:
    ascii_name = name.lower().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    return re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")


def write_corpus(out: Path, documents: Sequence[tuple[Sender, str, str]]) -> tuple[str, ...]:
    """`(sender, title, text)` as numbered .txt files and a metadata.csv beside them."""
    files = tuple(f"{i:03d}_{slug(s.name)}.txt" for i, (s, _, _) in enumerate(documents))
    for file, (_, _, text) in zip(files, documents, strict=True):
        (out / file).write_text(text, encoding="utf-8", newline="\n")
    with (out / "metadata.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(METADATA_COLUMNS)
        for file, (sender, title, _) in zip(files, documents, strict=True):
            writer.writerow((file, sender.name, sender.kind, title))
    return files


def standin_corpus(
    out: Path,
    documents: int = DEFAULT_DOCUMENTS,
    seed: int = DEFAULT_SEED,
    seeds: Path = DEFAULT_SEEDS,
) -> StandinReport:
    """Write `documents` synthetic submissions and their metadata.csv into the empty or new
    folder `out`; the same arguments give the same bytes."""
    if out.exists() and any(out.iterdir()):
        raise StandinError(f"{out} is not empty; give a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    texts: list[SeedText] = load_seeds(seeds)
    seen = "\n".join(t.text for t in texts)
    everyone = senders(documents, seen, rng)
    campaigns, letters = make_campaigns(everyone, texts, documents, rng)
    written = dict(letters)
    for sender in everyone:
        if sender.name not in written:
            written[sender.name] = compose(sender, texts, rng)
    order = sorted(everyone, key=lambda s: rng.random())
    corpus = [(s, *written[s.name]) for s in order]
    files = write_corpus(out, corpus)
    counts: dict[str, int] = {}
    for sender in everyone:
        counts[sender.kind] = counts.get(sender.kind, 0) + 1
    bodies = [text for _, _, text in corpus]
    return StandinReport(
        folder=out,
        files=files,
        counts=counts,
        campaigns=tuple(campaigns),
        characters=sum(len(t) for t in bodies),
        sentences=sum(len(sentence_spans(t)) for t in bodies),
    )


def summary(report: StandinReport) -> str:
    kinds = ", ".join(f"{kind} {n}" for kind, n in report.counts.items())
    lines = [
        f"{len(report.files)} submissions in {report.folder} ({kinds})",
        f"{report.characters:,} characters, {report.sentences:,} sentences",
    ]
    lines += [
        f"campaign «{c.theme}»: {len(c.members)} senders, {len(c.added)} with a sentence of "
        "their own"
        for c in report.campaigns
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a synthetic stand-in consultation.")
    parser.add_argument("--out", type=Path, required=True, help="a new or empty folder")
    parser.add_argument("--documents", type=int, default=DEFAULT_DOCUMENTS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS, help="the seed submissions")
    args = parser.parse_args(argv)
    try:
        report = standin_corpus(args.out, args.documents, args.seed, args.seeds)
    except StandinError as exc:
        parser.exit(2, f"error: {exc}\n")
    print(summary(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
