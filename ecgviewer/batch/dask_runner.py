"""Items on a Dask cluster: the same bounded loop as the process pool, with the time bound
kept by the client (a hung task is reported as ``timeout`` and abandoned; Dask cannot kill a
running task, only restarting that worker frees its thread).

``distributed`` is imported only when a scheduler is given. Every node needs the same
ecgviewer environment and must see the inputs and the output folder under the same paths.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from ecgviewer.batch.plan import BatchItem
from ecgviewer.batch.report import BatchItemResult, error_result, item_result
from ecgviewer.batch.worker import hard_bound_s, limit_threads, run_item
from ecgviewer.errors import EcgViewerError


def _dask_run_item(
    task: Callable, item: BatchItem, options: Any, timeout_s: float | None
) -> BatchItemResult:
    """``run_item`` on a Dask worker: one BLAS/torch thread per task there too (env vars are
    read at import, so start workers with ``OMP_NUM_THREADS=1`` for the BLAS part)."""
    limit_threads()
    return run_item(task, item, options, timeout_s)


def _connect(scheduler: Any):
    """(client, whether we opened it) for a scheduler address or an existing Client."""
    try:
        from distributed import Client
    except ImportError:
        raise EcgViewerError(
            '--scheduler needs Dask: pip install "dask[distributed]" (same on every worker)'
        ) from None
    own_client = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler, set_as_default=False) if own_client else scheduler
    except (OSError, TimeoutError, ValueError) as exc:
        raise EcgViewerError(f"cannot reach Dask scheduler {scheduler!r}: {exc}") from None
    return client, own_client


def _settle(
    inflight: dict[Any, tuple[BatchItem, float]],
    hard_s: float | None,
    record: Callable[[BatchItemResult], None],
) -> None:
    """Wait up to a second for a future, then record the finished ones and the overdue."""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline and not any(f.done() for f in inflight):
        time.sleep(0.05)
    now = time.monotonic()
    for fut in [f for f in inflight if f.done()]:
        item, _t = inflight.pop(fut)
        try:
            record(fut.result())
        except Exception as exc:  # worker died, unpicklable result, ...
            record(error_result(item, exc))
    for fut in [f for f, (_i, t) in inflight.items() if hard_s and now - t > hard_s]:
        item, t = inflight.pop(fut)
        fut.cancel()
        record(
            item_result(
                item,
                "timeout",
                f"no answer after {now - t:.0f} s",
                seconds=round(now - t, 3),
            )
        )


def run_dask(
    todo: Iterator[BatchItem],
    task: Callable,
    options: Any,
    scheduler: Any,
    timeout_s: float | None,
    record: Callable[[BatchItemResult], None],
) -> int:
    """The same loop on a Dask cluster: bounded in-flight futures, a parent-side time bound
    (a hung task is reported and abandoned; Dask cannot kill a running task). Returns the
    number of worker threads."""
    client, own_client = _connect(scheduler)
    try:
        n_threads = max(1, sum(client.nthreads().values()))
        limit = n_threads  # at most one queued item per worker thread
        hard_s = hard_bound_s(timeout_s)
        inflight: dict[Any, tuple[BatchItem, float]] = {}
        exhausted = False
        while True:
            while not exhausted and len(inflight) < limit:
                item = next(todo, None)
                if item is None:
                    exhausted = True
                    break
                fut = client.submit(
                    _dask_run_item,
                    task,
                    item,
                    options,
                    timeout_s,
                    pure=False,
                    key=f"ecgviewer-{item.out_base.name}-{time.time_ns()}",
                )
                inflight[fut] = (item, time.monotonic())
            if not inflight:
                break
            _settle(inflight, hard_s, record)
        return n_threads
    finally:
        if own_client:
            client.close()
