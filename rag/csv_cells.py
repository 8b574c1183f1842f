"""CSV cells a spreadsheet reads as text, never as a formula (CSV or formula injection).

Excel, LibreOffice and Google Sheets evaluate a cell that begins with `=`, `+`, `-` or `@` (and
some with a leading tab, carriage return or NUL): a submitter named `=HYPERLINK(...)` or a
quote beginning `+cmd|' /C calc'!A0` would run when an analyst opens the export. As OWASP
recommends, such a cell is written with a leading apostrophe, which the spreadsheet takes as
«this is text» and does not show. Every CSV the project writes goes through `text_cell`: the
exports (rag/export.py) and `metadata.suggested.csv` (indexer/metadata.py), whose reader undoes
exactly this with `cell_text`, so a suggested file saved as metadata.csv reads back unchanged.
"""

from __future__ import annotations

import re

# Characters a spreadsheet may start a formula with (OWASP CSV Injection; OWASP ASVS 1.2.10).
FORMULA_START = "=+-@\t\r\x00"
# A cell that needs the apostrophe: a formula start, after any apostrophes already there (so
# that a value that itself begins «'=» is written «''=» and reads back as «'=»).
_NEEDS_MARK = re.compile(f"'*[{re.escape(FORMULA_START)}]")
TEXT_MARK = "'"


def text_cell(value: str) -> str:
    """`value` as a CSV cell that no spreadsheet reads as a formula."""
    return TEXT_MARK + value if _NEEDS_MARK.match(value) else value


def cell_text(cell: str) -> str:
    """The value `text_cell` wrote into `cell` (its exact inverse); any other cell unchanged."""
    if cell.startswith(TEXT_MARK) and _NEEDS_MARK.match(cell, 1):
        return cell[1:]
    return cell
