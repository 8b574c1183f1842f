"""What a Markdown string becomes: its HTML under CommonMark (raw HTML allowed, so escaping
that failed would show as tags), the text a reader sees, and what GFM's autolink literals (which
Streamlit applies to text after parsing) would still turn into links."""

from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt

WORD_JOINER = "\u2060"
# mdast-util-gfm-autolink-literal's patterns, applied to text nodes after parsing.
_GFM_AUTOLINK = re.compile(
    r"(?:(?<=^)|(?<=[\s\W]))(?:https?://|www(?=\.))[-.\w]+|(?:(?<=^)|(?<=[\s\W]))[-.\w+]+@[-\w]+(?:\.[-\w]+)+"
)
_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def to_html(markdown: str) -> str:
    return _MARKDOWN.render(markdown)


def text_nodes(markdown: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", to_html(markdown))).strip()


def shown(markdown: str) -> str:
    """The visible text: tags dropped, entities decoded, invisible word joiners removed."""
    return text_nodes(markdown).replace(WORD_JOINER, "")


def autolinks(markdown: str) -> list[str]:
    """URLs and e-mail addresses in the text that GFM autolinking would turn into links."""
    return [match.group() for match in _GFM_AUTOLINK.finditer(text_nodes(markdown))]


def links(markdown: str) -> list[str]:
    """Link targets: Markdown links, then what Streamlit would autolink in the text."""
    return re.findall(r'<a href="([^"]*)"', to_html(markdown)) + autolinks(markdown)


def markup_tags(markdown: str) -> list[str]:
    """Tags other than paragraphs, lists, bold and links: none may come from document text."""
    tags = re.findall(r"<(/?[a-z0-9]+)", to_html(markdown))
    allowed = {"p", "ul", "ol", "li", "strong", "a"}
    return [tag for tag in tags if tag.lstrip("/") not in allowed]
