"""The one rule that makes text plain: what every stored or compared string goes through.

Document text (indexer/clean.py builds its paragraphs on `normalise`), file names, submitters,
titles and metadata fields (`plain_line`), and what users send: questions, topics and filter
values. So «lege\\u200bvakt», «\\u202elegevakt» and «l\\u00adegevakt» are the same word as
«legevakt» wherever they appear, and no escape sequence, NUL or carriage return reaches a
terminal, a file name in an answer or a CSV row.

It imports nothing of rag, so the UI may use it too (tests/test_layers.py keeps it so).
"""

from __future__ import annotations

import re
import unicodedata

# C0 controls but tab and newlines, DEL, and C1 controls (U+0080-U+009F; NEL, U+0085, is a line
# break and turned into one before this applies): terminal escapes (ESC, CSI), NUL, bells.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")
# Characters that show nothing yet change what a reader sees: zero-width spaces and joiners,
# direction marks and overrides (an RLO shows «gpj.exe» as «exe.jpg»), word joiners and
# invisible operators, the byte order mark, the soft hyphen, and the tag characters that can
# spell hidden ASCII text («ASCII smuggling», read by a language model, unseen by a person).
_INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
    "\U000e0000-\U000e007f]"
)
_LINE_SEPARATORS = re.compile("[\u2028\u2029\x85]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f]+")


def strip_invisible(text: str) -> str:
    """`text` without invisible formatting characters (zero-width, bidi controls, soft hyphens)."""
    return _INVISIBLE.sub("", text)


def normalise(raw: str) -> str:
    """Unicode NFC, unix newlines, no control or invisible characters, single spaces, no
    trailing spaces."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = _LINE_SEPARATORS.sub("\n", text)
    text = unicodedata.normalize("NFC", strip_invisible(_CONTROL.sub("", text)))
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


def plain_line(text: str) -> str:
    """`text` cleaned as document text is, on one line: every run of white space (line breaks
    included) one space, no space at either end. For names, titles, metadata fields, questions,
    topics and filter values."""
    return " ".join(normalise(text).split())


# What `shown` escapes: the hidden characters above, and the white space that would break a
# line or hide in one.
_SHOWN_ESCAPED = re.compile(f"{_CONTROL.pattern}|{_INVISIBLE.pattern}|[\t\n\r\u2028\u2029\x85]")


def shown(text: str) -> str:
    """`text` for a one-line message about a file that is not indexed (a skipped file's path):
    every character `plain_line` would remove or fold written as an escape («\\x1b», «\\u202e»),
    and the bytes of a file name that is not UTF-8 (Python's surrogate escapes) as «\\xff», so
    the user can find the file and the terminal shows it as it is."""
    escaped = _SHOWN_ESCAPED.sub(lambda m: m.group().encode("unicode_escape").decode(), text)
    try:
        data = escaped.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that stands for no byte
        data = escaped.encode("utf-8", "backslashreplace")
    return data.decode("utf-8", "backslashreplace")
