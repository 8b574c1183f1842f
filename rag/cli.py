"""The `rag` command: index, serve, ask, search, eval."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rag.config import Settings, get_settings
from rag.errors import RagError

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="Log more.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_index_parser(commands)
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
