"""The closing summary of an index build, for people: what happened, and who each document is
from and how that was decided."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from indexer.build import BuildReport
from rag.manifest import DocumentEntry

LISTED = 20  # documents (and template members) named one by one; more are counted
ORIGIN_NOTE = {
    "metadata.csv": "metadata.csv",
    "avsenderlinje": "avsenderlinje (sender line in the text)",
    "filnavn": "filnavn (file name; type ukjent)",
}


def format_table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def document_table(documents: Sequence[DocumentEntry]) -> list[str]:
    rows = [("file", "submitter", "type", "from")]
    rows += [(d.source, d.submitter, d.submitter_type, d.submitter_origin) for d in documents]
    return format_table(rows)


def counted(values: Sequence[str]) -> str:
    """«200 kommune, 50 organisasjon», the most frequent first."""
    counts = Counter(values)
    return ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def submitter_lines(documents: Sequence[DocumentEntry]) -> list[str]:
    """Every document's submitter in a table; above LISTED documents, counts by type and by
    where the submitter came from, and the table of those not from metadata.csv (the ones to
    check), at most LISTED of them; the full list is the suggested metadata file."""
    if len(documents) <= LISTED:
        return ["Submitters:", *document_table(documents)]
    lines = [
        f"Submitters of {len(documents)} documents by type: "
        + counted([d.submitter_type for d in documents]),
        "  from: " + counted([d.submitter_origin for d in documents]),
    ]
    unsure = [d for d in documents if d.submitter_origin != "metadata.csv"]
    if unsure:
        lines.append(f"Not from metadata.csv ({len(unsure)}; check these):")
        lines += document_table(unsure[:LISTED])
        if len(unsure) > LISTED:
            lines.append(f"  … and {len(unsure) - LISTED} more (all in the suggested metadata)")
    return lines


def named(sources: Sequence[str]) -> str:
    """The sources, at most LISTED of them, then how many more."""
    shown = ", ".join(sources[:LISTED])
    more = len(sources) - LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def passages(n: int) -> str:
    return f"{n} passage" if n == 1 else f"{n} passages"


def embedding_line(report: BuildReport) -> str:
    """What the embedding step did, saying «from the cache» only when something came from it."""
    if report.embedded and report.cached:
        return f"{passages(report.embedded)} embedded, {report.cached} taken from the cache."
    if report.cached:
        return f"All {passages(report.cached)} taken from the cache; nothing embedded."
    return f"{passages(report.embedded)} embedded (none were in the cache)."


def head_line(report: BuildReport) -> str:
    count = f"{len(report.documents)} documents, {report.chunks} chunks"
    if report.unchanged:
        return f"Index at {report.out} is up to date ({count}); nothing to do."
    return (
        f"Indexed {count} at {report.out} in {report.seconds:.1f} s "
        f"({report.chunks_per_second:.1f} chunks/s). {embedding_line(report)}"
    )


def encoder_lines(report: BuildReport) -> list[str]:
    """Which models the index holds vectors of, and which configured ones it lacks and why."""
    lines = [f"Encoders: {', '.join(report.encoders)}"] if report.encoders else []
    for model, why in report.left_out:
        lines.append(f"Without {model}: {why}. The service answers with the encoders above.")
    return lines


def template_groups(documents: Sequence[DocumentEntry]) -> list[list[str]]:
    """The sources of each template group (a document and its `near_duplicates`), largest
    first."""
    source = {d.document_id: d.source for d in documents}
    groups = {
        tuple(sorted({d.document_id, *d.near_duplicates})) for d in documents if d.near_duplicates
    }
    listed = [[source.get(i, i) for i in group] for group in groups]
    return sorted(listed, key=lambda group: (-len(group), group))


def format_report(report: BuildReport) -> str:
    lines = [head_line(report), *encoder_lines(report), "", *submitter_lines(report.documents)]
    groups = template_groups(report.documents)
    if groups:
        lines.append(f"Template letters from different submitters (kept, marked): {len(groups)}")
        lines += [f"  {len(group)} documents: {named(group)}" for group in groups[:LISTED]]
        if len(groups) > LISTED:
            lines.append(f"  … and {len(groups) - LISTED} more groups")
    if report.duplicates:
        lines.append(f"Not indexed, {len(report.duplicates)} repeated submission(s):")
        lines += [
            f"  {d.source}: {d.kind} to {d.duplicate_of} ({d.shared:.0%} of sentences shared)"
            for d in report.duplicates
        ]
    if report.skipped:
        lines.append(f"Skipped {len(report.skipped)} file(s):")
        lines += [f"  {s.path}: {s.reason}" for s in report.skipped]
    if report.unmatched_metadata:
        lines.append(
            f"metadata.csv names {len(report.unmatched_metadata)} file(s) not found in the "
            "sources (misspelt or removed?):"
        )
        lines += [f"  {name}" for name in report.unmatched_metadata]
    guessed = report.guessed_submitters
    if guessed and len(report.documents) <= LISTED:
        lines.append(
            f"{len(guessed)} submitter(s) not from metadata.csv: "
            + ", ".join(
                f"{d.source} ({ORIGIN_NOTE[d.submitter_origin]})"
                for d in report.documents
                if d.source in guessed
            )
        )
    if report.suggested_metadata is not None:
        lines.append(
            f"Suggested metadata: {report.suggested_metadata} (to correct a submitter, edit it, "
            "save it as metadata.csv beside the sources and run rag index again)."
        )
    return "\n".join(lines)
