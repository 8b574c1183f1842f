"""Benchmark `rag index` on the seeds in a subprocess: cold cache, warm cache, unchanged re-run.

Cold starts with an empty embedding cache; warm keeps the cache but deletes the index, so it
repeats everything except embedding; the unchanged re-run finds the fingerprint and stops. The
difference between cold and warm is the time spent embedding, which is what bounds a build.
"""

from __future__ import annotations

import logging
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

GNU_TIME = Path("/usr/bin/time")
RUN_TIMEOUT_S = 900.0
# the summary line of indexer/report.py's head_line
BUILT = re.compile(
    r"Indexed \d+ documents, (?P<chunks>\d+) chunks at .* in (?P<seconds>[\d.]+) s "
    r".*?(?:(?P<embedded>\d+) passages? embedded|nothing embedded)"
)
UP_TO_DATE = re.compile(r"up to date \(\d+ documents, (?P<chunks>\d+) chunks\)")
MAX_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


@dataclass(frozen=True)
class IndexRun:
    name: str
    wall_s: float  # the whole subprocess, Python start-up included
    build_s: float | None  # what the index command reports (None for an unchanged index)
    cpu_s: float  # user + system seconds of the subprocess
    peak_rss_bytes: int | None
    chunks: int | None
    embedded: int | None
    exit_code: int
    chunks_per_s: float | None  # over the build seconds


@dataclass(frozen=True)
class IndexBench:
    runs: tuple[IndexRun, ...]
    embedding_s: float | None  # cold build minus warm build
    embedding_share: float | None  # of the cold build
    peak_rss_source: str  # "/usr/bin/time -v" or "getrusage (max over all children so far)"


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(name: str, command: Sequence[str], env: dict[str, str]) -> IndexRun:
    """Run `command`, timing wall and CPU and recording the peak memory of the child."""
    use_gnu_time = GNU_TIME.exists()
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        full = [str(GNU_TIME), "-v", "-o", report.name, *command] if use_gnu_time else command
        cpu_before, started = children_cpu_s(), time.perf_counter()
        done = subprocess.run(
            full, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
        )
        wall, cpu = time.perf_counter() - started, children_cpu_s() - cpu_before
        found = MAX_RSS.search(report.read()) if use_gnu_time else None
    peak = int(found.group(1)) * 1024 if found else None
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    if done.returncode != 0:
        log.error("%s failed (%d): %s", name, done.returncode, done.stderr[-2000:])
    return parse_run(name, done.stdout, wall, cpu, peak, done.returncode)


def parse_run(
    name: str, stdout: str, wall_s: float, cpu_s: float, peak: int | None, exit_code: int
) -> IndexRun:
    """Chunks, embedded passages (chunks, sentences and words) and build seconds from the index
    command's summary line."""
    built, unchanged = BUILT.search(stdout), UP_TO_DATE.search(stdout)
    if built:
        build_s: float | None = float(built["seconds"])
        chunks: int | None = int(built["chunks"])
        embedded: int | None = int(built["embedded"] or 0)
    elif unchanged:
        build_s, chunks, embedded = None, int(unchanged["chunks"]), 0
    else:
        build_s, chunks, embedded = None, None, None
    rate = chunks / build_s if chunks and build_s else None  # nothing is built when unchanged
    return IndexRun(name, wall_s, build_s, cpu_s, peak, chunks, embedded, exit_code, rate)


def remove_index(out: Path) -> None:
    """Delete the index symlink and every build behind it."""
    if out.is_symlink() or out.is_file():
        out.unlink()
    elif out.exists():
        shutil.rmtree(out)
    shutil.rmtree(out.parent / f"{out.name}.builds", ignore_errors=True)


def index_command(sources: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "cli", "index", str(sources), "--out", str(out)]


def bench_indexing(sources: Path, out: Path, cache_dir: Path) -> IndexBench:
    """Cold, warm and unchanged builds of `sources` into `out` with the cache in `cache_dir`."""
    env = {**os.environ, "RAG_INDEX__CACHE_DIR": str(cache_dir)}
    shutil.rmtree(cache_dir, ignore_errors=True)
    remove_index(out)
    runs = []
    for name in ("cold", "warm", "unchanged"):
        if name == "warm":
            remove_index(out)
        log.info("indexing %s (%s)", sources, name)
        runs.append(timed_run(name, index_command(sources, out), env))
    cold, warm = runs[0], runs[1]
    embedding_s = (
        cold.build_s - warm.build_s
        if cold.build_s is not None and warm.build_s is not None
        else None
    )
    share = embedding_s / cold.build_s if embedding_s is not None and cold.build_s else None
    source = "/usr/bin/time -v" if GNU_TIME.exists() else "getrusage (max over all children)"
    return IndexBench(tuple(runs), embedding_s, share, source)
