"""The CLI's export formats are the API's (spelt out in cli.main so that --help stays light)."""

from __future__ import annotations

from cli.main import EXPORT_FORMATS, build_parser
from rag.export import DOWNLOAD_FORMATS


def test_cli_formats_are_json_and_the_download_formats() -> None:
    assert ("json", *DOWNLOAD_FORMATS) == EXPORT_FORMATS


def test_matrix_parser_takes_topics_a_file_a_format_and_an_output() -> None:
    args = build_parser().parse_args(
        ["matrix", "legevakt", "barn og unge", "--format", "docx", "-o", "r.docx"]
    )
    assert args.topics == ["legevakt", "barn og unge"]
    assert (args.format, str(args.output), args.topics_file) == ("docx", "r.docx", None)
