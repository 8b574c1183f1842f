"""The `rag` command: index, serve, ask, search, eval."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.config import Settings, get_settings
from rag.errors import RagError

if TYPE_CHECKING:
    from rag.service import Service

log = logging.getLogger(__name__)

Command = Callable[[argparse.Namespace, Settings], int]


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from indexer.build import build_index
    from indexer.report import format_report

    bar: tqdm | None = None  # type: ignore[type-arg]

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc="Embedding chunks", unit="chunk", file=sys.stderr)
        bar.update(done - bar.n)

    report = build_index(args.paths, args.out, settings, on_progress=progress)
    if bar is not None:
        bar.close()
    print(format_report(report))
    return 0


def add_index_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("index", help="Build or update the index from source files.")
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        default=[Path("seeds")],
        help="Files or folders to index (default: seeds/).",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="Index directory (default: data/index, or RAG_INDEX__PATH).",
    )
    parser.set_defaults(handler=cmd_index)


def with_index(settings: Settings, index: Path | None) -> Settings:
    if index is None:
        return settings
    return settings.model_copy(update={"index": settings.index.model_copy(update={"path": index})})


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from rag.api import create_app

    settings = with_index(settings, args.index)
    # A question is a few tokens: one OpenMP thread per request embeds it fastest and lets
    # concurrent requests use the other cores (must be set before the engine is loaded).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.getLogger("rag").setLevel(logging.INFO)
    print(f"API: http://{args.host}:{args.port}  (docs: http://{args.host}:{args.port}/docs)")
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
    return 0


def local_service(settings: Settings, index: Path | None) -> Service:
    from rag.embed import make_embedder
    from rag.service import Service

    settings = with_index(settings, index)
    return Service.load(settings, make_embedder(settings.embedding))


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from rag.output import answer_json, format_answer

    answer = local_service(settings, args.index).ask(args.question, args.k)
    print(
        json.dumps(answer_json(answer), ensure_ascii=False, indent=2)
        if args.json
        else format_answer(answer)
    )
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from rag.output import format_hits, search_json

    service = local_service(settings, args.index)
    hits = service.search(args.query, args.k)
    body = search_json(args.query, hits, service.index.documents)
    print(
        json.dumps(body, ensure_ascii=False, indent=2)
        if args.json
        else format_hits(hits, service.index.documents)
    )
    return 0


def add_query_parsers(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = commands.add_parser("serve", help="Run the HTTP API.")
    serve.add_argument("--index", type=Path, default=None, help="Index directory (data/index).")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=cmd_serve)
    ask = commands.add_parser("ask", help="Answer a question with cited quotes.")
    ask.add_argument("question")
    ask.add_argument("--k", type=int, default=None, help="Passages to consider (1-50).")
    ask.add_argument("--index", type=Path, default=None)
    ask.add_argument("--json", action="store_true", help="Print the API's JSON body.")
    ask.set_defaults(handler=cmd_ask)
    search = commands.add_parser("search", help="Show the best matching passages.")
    search.add_argument("query")
    search.add_argument("--k", type=int, default=10)
    search.add_argument("--index", type=Path, default=None)
    search.add_argument("--json", action="store_true", help="Print the API's JSON body.")
    search.set_defaults(handler=cmd_search)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="Log more.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_index_parser(commands)
    add_query_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    settings = get_settings()
    if getattr(args, "out", "unset") is None:
        args.out = settings.index.path
    handler: Command = args.handler
    try:
        return handler(args, settings)
    except RagError as exc:
        print(f"rag {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
