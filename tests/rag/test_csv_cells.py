"""CSV cells never start a formula, and the metadata reader undoes exactly that escaping."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rag.csv_cells import FORMULA_START, cell_text, text_cell

# Text that starts with formula characters and apostrophes more often than chance would.
CELLS = st.text(alphabet=st.sampled_from([*FORMULA_START, "'", "a", "1", " ", "æ"])) | st.text()


@given(CELLS)
def test_no_cell_starts_a_formula_and_every_cell_reads_back(value: str) -> None:
    cell = text_cell(value)
    assert not cell.startswith(tuple(FORMULA_START))
    assert cell_text(cell) == value


def test_only_cells_that_would_start_a_formula_change() -> None:
    assert text_cell("=1+1") == "'=1+1"
    assert text_cell("-2") == "'-2"
    assert text_cell("'=1+1") == "''=1+1"  # its own apostrophe kept
    for plain in ("Moss kommune", "'sitat'", "", "1-2", "a=b"):
        assert text_cell(plain) == plain == cell_text(plain)
