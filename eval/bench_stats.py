"""Helpers the benchmark parts share: latency summaries, neighbour recall, memory, load."""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from eval.metrics import percentile


@dataclass(frozen=True)
class Latency:
    """Milliseconds over `n` timed calls (None when nothing was timed)."""

    n: int
    p50_ms: float | None
    p95_ms: float | None
    mean_ms: float | None
    max_ms: float | None


def summarise_ms(samples_ms: Sequence[float]) -> Latency:
    if not samples_ms:
        return Latency(0, None, None, None, None)
    return Latency(
        n=len(samples_ms),
        p50_ms=percentile(samples_ms, 50),
        p95_ms=percentile(samples_ms, 95),
        mean_ms=sum(samples_ms) / len(samples_ms),
        max_ms=max(samples_ms),
    )


def neighbour_recall(found: NDArray[np.int64], exact: NDArray[np.int64], k: int) -> float:
    """Mean share of each query's exact top-k that the approximate top-k also returned."""
    if len(exact) == 0:
        raise ValueError("neighbour_recall needs at least one query")
    shares = [
        len((set(f[:k].tolist()) & set(e[:k].tolist())) - {-1}) / min(k, len(e))
        for f, e in zip(found, exact, strict=True)
    ]
    return float(np.mean(shares))


def release_free_memory() -> None:
    """Hand freed heap back to the OS (glibc), so RSS deltas show what a step really keeps."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: deltas are upper bounds
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def current_rss_bytes() -> int | None:
    """Resident memory of this process now (Linux /proc), None where unavailable."""
    status = Path(f"/proc/{os.getpid()}/status")
    try:
        for row in status.read_text().splitlines():
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) * 1024
    except OSError:
        return None
    return None


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None
