"""The closing summary of an index build, for people."""

from __future__ import annotations

from indexer.build import BuildReport


def format_report(report: BuildReport) -> str:
    if report.unchanged:
        head = f"Index at {report.out} is up to date ({report.documents} documents, "
        head += f"{report.chunks} chunks); nothing to do."
    else:
        head = (
            f"Indexed {report.documents} documents into {report.chunks} chunks at {report.out} "
            f"in {report.seconds:.1f} s ({report.chunks_per_second:.1f} chunks/s; "
            f"{report.embedded} chunks embedded, the rest from the cache)."
        )
    lines = [head]
    lines += [f"  {source}: {submitter}" for source, submitter in report.submitters.items()]
    if report.guessed_submitters:
        lines.append(
            "Submitter guessed from the text (no metadata row): "
            + ", ".join(report.guessed_submitters)
        )
    if report.skipped:
        lines.append(f"Skipped {len(report.skipped)} file(s):")
        lines += [f"  {s.path}: {s.reason}" for s in report.skipped]
    return "\n".join(lines)
