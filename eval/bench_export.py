"""How a download of the overview matrix affects other users' questions, against a running API.

Each round asks the questions one after another with nothing else running (idle), makes the
download alone (its time idle), then makes it again while the questions keep coming one after
another (its time under load, and the questions' latency meanwhile). Rounds are repeated
because the machine may be shared; medians are reported.

Every download asks for the topics in another order, so the server decides them afresh (it
reuses a matrix it has just made for the same topics in the same order, as when a page shows
it and then downloads it: `--shown` measures that case, the page's JSON fetched first).

    python -m eval.bench_export --url http://127.0.0.1:8000 --format xlsx --topics 30

The topics are those of topics.txt, then more of the plan's themes, up to the API's 30.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from rag.contract import MAX_TOPICS
from rag.matrix import read_topics

QUESTIONS = (
    "Hva sier kommunene om fastlegeordningen?",
    "Hva mener innsenderne om digital samhandling?",
    "Hvordan kan rekrutteringen av helsepersonell bedres?",
    "Hva sier helsefellesskapene om legevakt?",
    "Hva sier innspillene om barn og unge?",
    "Hva mener organisasjonene om rus?",
)
MORE_TOPICS = (
    "tannhelse", "legemidler", "ambulanse", "sykehjem", "hjemmetjenester", "pasientsikkerhet",
    "kommunehelsetjenesten", "spesialisthelsetjenesten", "velferdsteknologi", "folkehelse",
    "helsepersonell", "avtalespesialister", "jordmor", "helsestasjon", "samiske pasienter",
    "distriktene", "akuttmedisin", "fysioterapi",
)  # fmt: skip
IDLE_QUESTIONS = 30
TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Round:
    ask_p50_idle_ms: float
    export_idle_s: float
    export_loaded_s: float
    ask_p50_during_ms: float
    questions_during: int
    status: int
    file_bytes: int


def bench_topics(count: int, topics_file: Path = Path("topics.txt")) -> list[str]:
    topics = list(dict.fromkeys([*read_topics(topics_file), *MORE_TOPICS]))
    return topics[: min(count, MAX_TOPICS)]


def ask_ms(http: httpx.Client, n: int) -> float:
    started = time.perf_counter()
    http.post("/ask", json={"question": QUESTIONS[n % len(QUESTIONS)]}).raise_for_status()
    return (time.perf_counter() - started) * 1000


def export(url: str, fmt: str, topics: Sequence[str]) -> tuple[float, httpx.Response]:
    with httpx.Client(base_url=url, timeout=TIMEOUT_S) as http:
        started = time.perf_counter()
        response = http.post("/matrix", params={"format": fmt}, json={"topics": list(topics)})
        return time.perf_counter() - started, response


def rotated(topics: Sequence[str], by: int) -> list[str]:
    """The topics in another order: the same work for the server, nothing it can reuse."""
    by %= len(topics)
    return [*topics[by:], *topics[:by]]


def one_round(url: str, fmt: str, topics: Sequence[str], number: int, shown: bool) -> Round:
    alone, loaded = rotated(topics, 2 * number + 1), rotated(topics, 2 * number + 2)
    with httpx.Client(base_url=url, timeout=TIMEOUT_S) as http:
        if shown:  # the page shows both matrices before they are downloaded
            for order in (alone, loaded):
                http.post("/matrix", json={"topics": order}).raise_for_status()
        idle = [ask_ms(http, n) for n in range(IDLE_QUESTIONS)]
        export_idle_s, _ = export(url, fmt, alone)
        result: list[tuple[float, httpx.Response]] = []
        worker = threading.Thread(target=lambda: result.append(export(url, fmt, loaded)))
        worker.start()
        during: list[float] = []
        while worker.is_alive():
            during.append(ask_ms(http, len(during)))
        worker.join()
    seconds, response = result[0]
    return Round(
        ask_p50_idle_ms=round(statistics.median(idle), 1),
        export_idle_s=round(export_idle_s, 2),
        export_loaded_s=round(seconds, 2),
        ask_p50_during_ms=round(statistics.median(during), 1) if during else 0.0,
        questions_during=len(during),
        status=response.status_code,
        file_bytes=len(response.content),
    )


def median_of(rounds: Sequence[Round], field: str) -> float:
    return round(statistics.median(float(getattr(r, field)) for r in rounds), 2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--format", default="xlsx", choices=("csv", "xlsx", "docx", "md"))
    parser.add_argument("--topics", type=int, default=MAX_TOPICS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--shown", action="store_true", help="fetch the matrix first, as the page does"
    )
    args = parser.parse_args(argv)
    topics = bench_topics(args.topics)
    with httpx.Client(base_url=args.url, timeout=TIMEOUT_S) as http:
        for n in range(len(QUESTIONS)):  # warm up: embeddings, caches, connections
            ask_ms(http, n)
    rounds = [one_round(args.url, args.format, topics, n, args.shown) for n in range(args.rounds)]
    summary = {
        "format": args.format,
        "shown": args.shown,
        "topics": len(topics),
        **{f: median_of(rounds, f) for f in asdict(rounds[0]) if f not in ("status",)},
        "rounds": [asdict(r) for r in rounds],
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0 if all(r.status == 200 for r in rounds) else 1


if __name__ == "__main__":
    raise SystemExit(main())
