"""Run one task over many input files: worker processes or a Dask cluster, a time bound per
file, resumable, with an incremental per-file report.

Generic on purpose: ``digitize`` and ``classify`` both use it. A *task* is a picklable
top-level function ``task(item: BatchItem, options) -> BatchItemResult`` that writes its
outputs under ``item.out_base`` and writes its summary JSON (``item.summary_path``) **last**,
listing the files it wrote under ``"outputs"`` and what made them under ``"provenance"``
(input path, size, mtime and sha256, settings, version, model hash:
:mod:`~ecgviewer.batch.provenance`). An item is skipped on resume only when that JSON parses,
every file it lists exists and its provenance matches this run; otherwise it is redone and the
report says why. Before writing, a task writes a ``"state": "writing"`` claim naming its files,
so an interrupted item is never mistaken for a finished one and its partial files count as
ours; a file in the output folder that no run of ours wrote is replaced only with
``overwrite``. :func:`~ecgviewer.batch.lock.folder_lock` keeps a second batch out of a folder
being written, and pool workers end when their parent dies.

Modules: :mod:`~ecgviewer.batch.plan` (inputs, items, resume test),
:mod:`~ecgviewer.batch.runner` (``run_batch``), :mod:`~ecgviewer.batch.worker` (one item:
thread limits, time bound), :mod:`~ecgviewer.batch.pool` (local processes),
:mod:`~ecgviewer.batch.dask_runner` (a Dask cluster), :mod:`~ecgviewer.batch.report`
(results, summary, CSV). The command-line options live in :mod:`ecgviewer.commands.options`.

The package imports only the standard library at import time, so spawned workers set their
thread limits before numpy, BLAS or torch load.

On a Dask cluster (every node needs the same ecgviewer environment and must see the inputs
and the output folder under the same paths, e.g. a shared file system)::

    dask scheduler --port 8786                                  # one machine
    OMP_NUM_THREADS=1 dask worker tcp://HOST:8786 --nworkers 8 --nthreads 1 \
        --memory-limit 4GB                                      # each compute node
    ecgviewer digitize /archive/scans -o /archive/signals --scheduler tcp://HOST:8786 \
        --report /archive/signals/report.csv                    # anywhere

(``dask-scheduler`` / ``dask-worker`` in older Dask; on SLURM/PBS, ``dask-jobqueue`` starts
the workers as jobs.) The per-file time bound is enforced by the client there: a hung task is
reported as ``timeout`` and abandoned, but only restarting that worker frees its thread.
"""

from ecgviewer.batch.plan import (
    BatchItem,
    collect_inputs,
    plan_items,
    safe_stem,
    summary_is_complete,
)
from ecgviewer.batch.report import (
    REPORT_COLUMNS,
    BatchItemResult,
    BatchSummary,
    Status,
    item_result,
    read_report,
)
from ecgviewer.batch.runner import DEFAULT_TIMEOUT_S, run_batch
from ecgviewer.batch.worker import THREAD_ENV_VARS, limit_threads, run_item

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "REPORT_COLUMNS",
    "THREAD_ENV_VARS",
    "BatchItem",
    "BatchItemResult",
    "BatchSummary",
    "Status",
    "collect_inputs",
    "item_result",
    "limit_threads",
    "plan_items",
    "read_report",
    "run_batch",
    "run_item",
    "safe_stem",
    "summary_is_complete",
]
