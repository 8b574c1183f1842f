"""The child process of the export lane (rag/export_lane.py), at a lower CPU priority:
`python -m rag.export_child` reads a pickled `ExportJob` on stdin (sent by the server's own
process) and writes the file on stdout."""

from __future__ import annotations

import contextlib
import os
import pickle
import sys

from rag.export import export_answer, export_matrix
from rag.export_lane import ExportJob
from rag.matrix import Matrix

CHILD_NICENESS = 10


def write(job: ExportJob) -> bytes:
    if isinstance(job.content, Matrix):
        return export_matrix(job.content, job.fmt)
    return export_answer(job.content, job.fmt)


def lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):  # no os.nice on Windows
        os.nice(CHILD_NICENESS)


def main() -> int:
    lower_priority()
    job = pickle.load(sys.stdin.buffer)
    if not isinstance(job, ExportJob):
        print(f"expected an ExportJob, got {type(job).__name__}", file=sys.stderr)
        return 2
    sys.stdout.buffer.write(write(job))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
