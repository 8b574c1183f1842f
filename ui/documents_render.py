"""Pure functions for the page «Dokumenter»: which documents the filters leave and in which order,
their rows (plain text for `st.dataframe`), and the template groups (safe HTML: every name goes
through `render.escape`, the only link is to «Sammenlign», built from ids)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from rag.contract import MAX_COMPARED
from ui.client import DocumentInfo, Sharing
from ui.render import escape
from ui.workbench_render import compare_href, norwegian_key

STYLE = """<style>
.maler { border-collapse: collapse; font-size: .88rem; width: 100%; }
.maler th, .maler td { border: 1px solid #dde2ec; padding: .3rem .5rem; text-align: left;
  vertical-align: top; }
.maler thead th { background: #f3f5fa; }
.maler td.tall, .maler td.navn, .maler td.lenke { white-space: nowrap; }
</style>"""

SharedFilter = Literal["alle", "mal", "halvparten", "ingen"]
SHARED_FILTERS: dict[SharedFilter, str] = {
    "alle": "Alle",
    "mal": "I en malgruppe",
    "halvparten": "Deler minst halvparten med et annet innspill",
    "ingen": "Uten delt tekst",
}
DocumentSort = Literal["innsender", "type", "delt", "lengde"]
DOCUMENT_SORTS: dict[DocumentSort, str] = {
    "innsender": "Innsender (A–Å)",
    "type": "Type",
    "delt": "Mest delt tekst",
    "lengde": "Lengst først",
}


@dataclass(frozen=True)
class TemplateGroup:
    """Submissions that are one template letter: their ids (by submitter name), the label the
    page gives the group, and the least and most any member shares with another member."""

    label: str
    members: tuple[str, ...]
    lowest: float
    highest: float


def template_groups(
    docs: Sequence[DocumentInfo], sharing: Mapping[str, Sharing]
) -> list[TemplateGroup]:
    """The API's template groups (each document and its `near_duplicates`), largest first,
    labelled «Mal 1», «Mal 2», …"""
    names = {d.document_id: d.submitter for d in docs}

    def by_name(document_id: str) -> tuple[str, str]:
        return norwegian_key(names.get(document_id, document_id)), document_id

    found = {
        tuple(sorted({i, *s.near_duplicates}, key=by_name))
        for i, s in sharing.items()
        if s.near_duplicates
    }
    ordered = sorted(found, key=lambda g: (-len(g), by_name(g[0])))
    groups = []
    for n, members in enumerate(ordered, start=1):
        shares = [share_in_group(sharing.get(m), members) for m in members]
        groups.append(TemplateGroup(f"Mal {n}", members, min(shares), max(shares)))
    return groups


def share_in_group(sharing: Sharing | None, members: Sequence[str]) -> float:
    """The largest share of the document's sentences that another member holds."""
    if sharing is None:
        return 0.0
    return max((s.share for s in sharing.shared if s.document_id in members), default=0.0)


def largest_share(sharing: Sharing | None) -> float | None:
    """The largest share of the document's sentences found in one other document, if any."""
    return sharing.shared[0].share if sharing is not None and sharing.shared else None


def percent(share: float) -> str:
    return f"{share:.0%}".replace("%", " %")


def share_range(group: TemplateGroup) -> str:
    low, high = percent(group.lowest), percent(group.highest)
    return low if low == high else f"{low.removesuffix(' %')}–{high}"


def document_rows(
    docs: Sequence[DocumentInfo],
    sharing: Mapping[str, Sharing] | None,
    groups: Sequence[TemplateGroup],
) -> list[dict[str, str | int | None]]:
    """Rows for `st.dataframe`, whose cells are plain text (no Markdown, no HTML)."""
    group_of = {m: g.label for g in groups for m in g.members}
    rows: list[dict[str, str | int | None]] = []
    for doc in docs:
        share = largest_share(sharing.get(doc.document_id)) if sharing else None
        rows.append(
            {
                "Innsender": doc.submitter,
                "Type": doc.submitter_type,
                "Malgruppe": group_of.get(doc.document_id, ""),
                "Delt tekst (%)": round(share * 100) if share is not None else None,
                "Tegn": doc.chars,
                "Tekstbiter": doc.chunks,
                "Kilde": doc.source,
                "Tittel": doc.title,
            }
        )
    return rows


def chosen_documents(
    docs: Sequence[DocumentInfo],
    sharing: Mapping[str, Sharing] | None,
    types: Sequence[str],
    shared: SharedFilter,
    sort: DocumentSort,
) -> list[DocumentInfo]:
    """The documents of the chosen types (all when none is chosen) that pass the shared-text
    filter, in the chosen order."""

    def passes(doc: DocumentInfo) -> bool:
        info = sharing.get(doc.document_id) if sharing else None
        if shared == "mal":
            return info is not None and bool(info.near_duplicates)
        if shared == "halvparten":
            return largest_share(info) is not None
        if shared == "ingen":
            return largest_share(info) is None
        return True

    kept = [d for d in docs if (not types or d.submitter_type in types) and passes(d)]
    by_name = sorted(kept, key=lambda d: (norwegian_key(d.submitter), d.document_id))
    if sort == "type":
        return sorted(by_name, key=lambda d: norwegian_key(d.submitter_type))
    if sort == "delt":
        info = sharing or {}
        return sorted(by_name, key=lambda d: -(largest_share(info.get(d.document_id)) or 0.0))
    if sort == "lengde":
        return sorted(by_name, key=lambda d: -d.chars)
    return by_name


def template_groups_html(groups: Sequence[TemplateGroup], docs: Sequence[DocumentInfo]) -> str:
    """One row per template group: its members, how much of their text they share, and a link
    that opens «Sammenlign» with (the first four of) them."""
    by_id = {d.document_id: d for d in docs}
    rows = []
    for group in groups:
        members = [by_id[m] for m in group.members if m in by_id]
        kinds = ", ".join(dict.fromkeys(m.submitter_type for m in members))
        names = ", ".join(m.submitter for m in members)
        first = min(len(members), MAX_COMPARED)
        rows.append(
            "<tr>"
            f'<td class="navn">{escape(group.label)}</td>'
            f'<td class="tall">{len(members)} ({escape(kinds)})</td>'
            f'<td class="tall">{escape(share_range(group))}</td>'
            f"<td>{escape(names)}</td>"
            f'<td class="lenke"><a href="{escape(compare_href(group.members))}" target="_self">'
            f"Sammenlign {first}</a></td>"
            "</tr>"
        )
    return (
        '<table class="maler"><thead><tr><th>Mal</th><th>Innspill</th>'
        "<th>Andel delt tekst</th><th>Innsendere</th><th></th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
