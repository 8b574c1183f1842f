"""What a Markdown string becomes: its HTML under CommonMark (raw HTML allowed, so escaping
that failed would show as tags) and the text a reader sees."""

from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def to_html(markdown: str) -> str:
    return _MARKDOWN.render(markdown)


def shown(markdown: str) -> str:
    """The visible text: tags dropped, entities decoded, outer whitespace trimmed."""
    return html.unescape(re.sub(r"<[^>]+>", "", to_html(markdown))).strip()


def links(markdown: str) -> list[str]:
    return re.findall(r'<a href="([^"]*)"', to_html(markdown))


def markup_tags(markdown: str) -> list[str]:
    """Tags other than paragraphs, lists, bold and links: none may come from document text."""
    tags = re.findall(r"<(/?[a-z0-9]+)", to_html(markdown))
    allowed = {"p", "ul", "ol", "li", "strong", "a"}
    return [tag for tag in tags if tag.lstrip("/") not in allowed]
