"""Running one item wherever it runs (this process, a pool worker, a Dask worker): one
BLAS/torch thread, a time bound, and every outcome turned into a :class:`BatchItemResult`.

Standard library only, so spawned workers set their thread limits before numpy, BLAS or
torch load.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ecgviewer.batch.plan import BatchItem
from ecgviewer.batch.report import BatchItemResult, one_line
from ecgviewer.errors import EcgViewerError

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
HARD_GRACE_S = 15.0  # beyond the soft (in-worker) bound before the parent gives up on an item


def hard_bound_s(timeout_s: float | None) -> float | None:
    """The parent's bound on one item: the in-worker bound plus a grace (None: unbounded)."""
    return None if not timeout_s else timeout_s + max(HARD_GRACE_S, 0.5 * timeout_s)


class _ItemTimeout(BaseException):  # BaseException: a task's `except Exception` can't eat it
    pass


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process in MB (None where it cannot be read)."""
    try:
        import resource
    except ImportError:  # Windows
        try:
            import psutil

            return psutil.Process().memory_info().peak_wset / 2**20
        except Exception:
            return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def limit_threads() -> None:
    """One thread per worker for BLAS/OpenMP/torch: workers, not threads, give the speed-up,
    and oversubscribed threads on a shared machine collapse throughput."""
    for var in THREAD_ENV_VARS:
        os.environ[var] = "1"
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            torch.set_num_threads(1)
        except Exception:  # pragma: no cover - torch refuses after parallel work started
            pass


@contextmanager
def _time_bound(timeout_s: float | None) -> Iterator[None]:
    """Raise :class:`_ItemTimeout` in this thread after ``timeout_s`` (POSIX main thread only;
    elsewhere the parent's hard bound applies)."""
    usable = (
        timeout_s
        and timeout_s > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def _raise(signum, frame):
        raise _ItemTimeout()

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, float(timeout_s))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_item(
    task: Callable, item: BatchItem, options: Any, timeout_s: float | None
) -> BatchItemResult:
    """Run ``task`` on one item and turn every outcome into a :class:`BatchItemResult`."""
    t0 = time.perf_counter()
    try:
        with _time_bound(timeout_s):
            result = task(item, options)
        if not isinstance(result, BatchItemResult):
            raise TypeError(f"task returned {type(result).__name__}, not BatchItemResult")
    except _ItemTimeout:
        result = BatchItemResult("timeout", f"took longer than {timeout_s:g} s")
    except EcgViewerError as exc:
        result = BatchItemResult("error", one_line(str(exc)))
    except MemoryError:
        result = BatchItemResult("error", "out of memory")
    except Exception as exc:  # an unexpected bug must not stop the batch; say what it was
        result = BatchItemResult("error", one_line(f"{type(exc).__name__}: {exc}"))
    if item.redo_reason:  # the report says why an earlier output was not kept
        why = f"redone: {item.redo_reason}"
        result = dataclasses.replace(
            result, reason=f"{why}; {result.reason}" if result.reason else why
        )
    return dataclasses.replace(
        result,
        input=str(item.path),
        page=item.page,
        seconds=round(time.perf_counter() - t0, 3),
        peak_rss_mb=peak_rss_mb(),
    )
