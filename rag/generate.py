"""Optional generated answers: a fluent Norwegian answer written from the cited quotes only.

When an OpenAI-compatible endpoint is configured (Ollama, vLLM, ...), the language model gets
the extractive citations as numbered quotes and writes an answer with [n] markers. Every
sentence it returns must carry at least one marker and every marker must name a citation;
the other sentences are dropped. Any failure returns None, and the caller keeps the
extractive answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import httpx

from rag.config import GenerationSettings
from rag.types import Citation

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "Du svarer på spørsmål om høringsinnspill. Svar på norsk bokmål, kort og presist, og bare "
    "ut fra de nummererte sitatene brukeren gir deg. Hver setning i svaret skal ha minst én "
    "kildehenvisning i formen [n], der n er nummeret på sitatet setningen bygger på, for "
    "eksempel [1] eller [1][3]. Bruk bare numre som står i listen. Ikke finn på fakta, tall, "
    "navn eller synspunkter som ikke står i sitatene, og ikke bruk egen kunnskap. Hvis "
    "sitatene ikke svarer på spørsmålet, skriv det i én setning. Skriv vanlig tekst uten "
    "overskrifter og uten egen kildeliste."
)

MARKER = re.compile(r"\[(\d+)\]")
# Bracketed number lists such as [1, 2] or [1-3]: the UI links only [n], so they count as invalid.
MALFORMED_MARKER = re.compile(r"\[\s*\d+(?:\s*[,;–-]\s*\d+)+\s*\]")
# A sentence runs to . ! ? (plus closing quotes and the markers that follow it) before a space
# and a capital letter, digit, quote or dash, or to the end of the line. «f.eks. noe» stays whole.
_SENTENCE = re.compile(
    r"\S.*?(?:[.!?][»\")]*(?:[ \t]*\[\d+\])*(?=[ \t]+[A-ZÆØÅ0-9«\"(*–-])|$)", re.MULTILINE
)
_LINE_PREFIX = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")

Message = dict[str, str]


def is_enabled(settings: GenerationSettings) -> bool:
    return bool(settings.base_url and settings.model)


def quote_line(citation: Citation) -> str:
    """«[2] Bergen kommune (Fastlegeordningen): «sitat»»."""
    where = f" ({citation.section})" if citation.section else ""
    return f"[{citation.n}] {citation.submitter}{where}: «{citation.quote}»"


def build_messages(question: str, citations: Sequence[Citation]) -> list[Message]:
    quotes = "\n".join(quote_line(c) for c in citations)
    user = f"Sitater:\n{quotes}\n\nSpørsmål: {question}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def content_of(payload: Any) -> str | None:
    """choices[0].message.content of a chat completion, if it is a non-empty string."""
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) and content.strip() else None


def generate(
    question: str,
    citations: Sequence[Citation],
    settings: GenerationSettings,
    client: httpx.Client | None = None,
) -> str | None:
    """The model's answer, or None (with a warning that names why) on any failure.

    `timeout_s` bounds each network phase (connect, each read), as httpx timeouts do.
    """
    url = f"{(settings.base_url or '').rstrip('/')}/chat/completions"
    messages = build_messages(question, citations)
    body: dict[str, Any] = {"model": settings.model, "messages": messages, "temperature": 0}
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    owned = client is None
    http = client or httpx.Client()
    try:
        response = http.post(url, json=body, headers=headers, timeout=settings.timeout_s)
        if response.status_code != 200:
            log.warning("generation failed: %s returned HTTP %d", url, response.status_code)
            return None
        content = content_of(response.json())
    except httpx.TimeoutException:
        log.warning("generation failed: no answer from %s within %s s", url, settings.timeout_s)
        return None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        log.warning("generation failed: %s: %s", type(exc).__name__, exc)
        return None
    except ValueError as exc:
        log.warning("generation failed: response from %s is not JSON (%s)", url, exc)
        return None
    finally:
        if owned:
            http.close()
    if content is None:
        log.warning("generation failed: response from %s has no choices[0].message.content", url)
    return content


def is_supported(sentence: str, known: set[int]) -> bool:
    """At least one [n] marker, all of them naming a returned citation, none malformed."""
    numbers = [int(n) for n in MARKER.findall(sentence)]
    return bool(numbers) and set(numbers) <= known and not MALFORMED_MARKER.search(sentence)


def validate(text: str, citations: Sequence[Citation]) -> str | None:
    """The text without its unsupported sentences, lines kept; None if nothing survives."""
    known = {c.n for c in citations}
    lines: list[str] = []
    total = dropped = 0
    for line in text.strip().splitlines():
        prefix_match = _LINE_PREFIX.match(line)
        prefix = prefix_match.group() if prefix_match else ""
        sentences = _SENTENCE.findall(line, len(prefix))
        kept = [s for s in sentences if is_supported(s, known)]
        total, dropped = total + len(sentences), dropped + len(sentences) - len(kept)
        if kept or not line.strip():
            lines.append(prefix + " ".join(kept))
    if dropped:
        log.info("generation: dropped %d of %d sentences without valid [n] support", dropped, total)
    result = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return result or None


def generated_answer(
    question: str,
    citations: Sequence[Citation],
    settings: GenerationSettings,
    client: httpx.Client | None = None,
) -> str | None:
    """A validated generated answer, or None when the extractive answer should stand."""
    text = generate(question, citations, settings, client)
    answer = validate(text, citations) if text is not None else None
    if answer is None:
        log.info("answer: extractive (generation gave no usable answer)")
    else:
        log.info("answer: generated by %s", settings.model)
    return answer
