"""The documents page's pure parts: filters and sorting, plain-text rows, and the template groups
(HTML with every name escaped and one link, to «Sammenlign», built from ids)."""

from __future__ import annotations

from ui.client import DocumentInfo, SharedText, Sharing
from ui.documents_render import (
    chosen_documents,
    document_rows,
    share_range,
    template_groups,
    template_groups_html,
)
from ui.workbench_render import compare_href

EVIL = '<img src=x onerror="alert(1)"> **fet** [lenke](http://example.com)'

DOCS = [
    DocumentInfo("a", "a.txt", "Ås kommune", "kommune", "A", 900, 3),
    DocumentInfo("b", "b.txt", "Bergen kommune", "kommune", "B", 5000, 9),
    DocumentInfo("c", "c.txt", "Askøy kommune", "kommune", "C", 1000, 3),
    DocumentInfo("d", "d.txt", f"Evil {EVIL}", "organisasjon", "D", 700, 2),
    DocumentInfo("e", "e.txt", "Eide kommune", "kommune", "E", 800, 2),
]
SHARING = {
    "a": Sharing(("c", "e"), (SharedText("c", 1.0, True), SharedText("e", 0.8, True))),
    "b": Sharing((), (SharedText("d", 0.6, False),)),
    "c": Sharing(("a", "e"), (SharedText("a", 0.857, True),)),
    "d": Sharing((), ()),
    "e": Sharing(("a", "c"), (SharedText("a", 0.9, True), SharedText("c", 0.75, True))),
}


def test_template_groups_come_from_near_duplicates_with_their_share_of_text() -> None:
    [group] = template_groups(DOCS, SHARING)
    assert (group.label, group.members) == ("Mal 1", ("c", "e", "a"))  # Askøy, Eide, Ås
    assert (group.lowest, group.highest) == (0.857, 1.0)
    assert share_range(group) == "86–100 %"
    assert compare_href(group.members) == "sammenlign?s=c&s=e&s=a"


def test_template_groups_are_a_table_with_a_link_to_compare_them() -> None:
    page = template_groups_html(template_groups(DOCS, SHARING), DOCS)
    assert "Askøy kommune, Eide kommune, Ås kommune" in page
    assert 'href="sammenlign?s=c&amp;s=e&amp;s=a" target="_self">Sammenlign 3</a>' in page
    assert "3 (kommune)" in page
    evil_group = {"d": Sharing(("b",), ()), "b": Sharing(("d",), ())}
    hostile = template_groups_html(template_groups(DOCS, evil_group), DOCS)
    assert "<img" not in hostile and "&lt;img" in hostile
    assert compare_href([f"x{n}" for n in range(9)]).count("s=") == 4


def test_documents_filter_by_type_and_shared_text_and_sort() -> None:
    def chosen(types: list[str], shared: str, sort: str) -> list[str]:
        return [d.document_id for d in chosen_documents(DOCS, SHARING, types, shared, sort)]  # type: ignore[arg-type]

    assert chosen([], "alle", "innsender") == ["c", "b", "e", "d", "a"]
    assert chosen(["organisasjon"], "alle", "innsender") == ["d"]
    assert chosen([], "mal", "innsender") == ["c", "e", "a"]
    assert chosen([], "halvparten", "delt") == ["a", "e", "c", "b"]
    assert chosen([], "ingen", "innsender") == ["d"]
    assert chosen([], "alle", "lengde")[0] == "b"


def test_document_rows_are_plain_text_with_group_and_share() -> None:
    groups = template_groups(DOCS, SHARING)
    rows = {r["Kilde"]: r for r in document_rows(DOCS, SHARING, groups)}
    assert rows["a.txt"]["Malgruppe"] == "Mal 1" and rows["a.txt"]["Delt tekst (%)"] == 100
    assert rows["b.txt"]["Malgruppe"] == "" and rows["b.txt"]["Delt tekst (%)"] == 60
    assert rows["d.txt"]["Delt tekst (%)"] is None
    assert rows["d.txt"]["Innsender"] == f"Evil {EVIL}"  # st.dataframe cells are not markup
