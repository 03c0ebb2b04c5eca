"""Items on local worker processes: a spawn-safe ``ProcessPoolExecutor`` with at most
``workers`` items in flight, a hard time bound per item enforced by killing the pool, and a
retry of the items caught in a crash (the one that crashes alone is reported)."""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ecgviewer.batch.plan import BatchItem
from ecgviewer.batch.report import BatchItemResult, error_result, item_result
from ecgviewer.batch.worker import THREAD_ENV_VARS, hard_bound_s, limit_threads, run_item

_MAX_ATTEMPTS = 2  # an item in flight when a worker dies is retried once
_STARTUP_S = 120.0  # how long a queued item may wait for a (re)starting worker

_START_QUEUE = None  # in pool workers: where run_item announces that an item started


def _end_with_parent(poll_s: float = 1.0) -> None:
    """End this worker when the batch's parent process dies (even by ``kill -9``): a daemon
    thread polls the parent id, which changes when the worker is orphaned."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(70)  # no cleanup: the parent that wanted the result is gone

    threading.Thread(target=watch, name="ecgviewer-parent-watch", daemon=True).start()


def _worker_init(start_queue=None) -> None:
    global _START_QUEUE
    _START_QUEUE = start_queue
    _end_with_parent()
    limit_threads()
    try:  # Ctrl-C goes to the parent, which shuts the pool down
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):  # pragma: no cover
        pass


def _pool_run_item(
    token: int, task: Callable, item: BatchItem, options: Any, timeout_s: float | None
) -> BatchItemResult:
    """``run_item`` in a pool worker, first telling the parent when the item really starts
    (queued items must not use up their time bound while waiting for a worker)."""
    if _START_QUEUE is not None:
        _START_QUEUE.put((token, time.monotonic()))
    return run_item(task, item, options, timeout_s)


@contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Spawned children inherit this environment, so BLAS/OpenMP read the limits at import."""
    saved = {v: os.environ.get(v) for v in THREAD_ENV_VARS}
    os.environ.update({v: "1" for v in THREAD_ENV_VARS})
    try:
        yield
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def _new_pool(workers: int, start_queue) -> ProcessPoolExecutor:
    import multiprocessing

    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_init,
        initargs=(start_queue,),
    )


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a pool whose worker hangs: terminate its processes (``shutdown`` alone waits)."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            proc.kill()
        except Exception:  # pragma: no cover - already gone
            pass
    pool.shutdown(wait=False, cancel_futures=True)


class PoolRun:
    """One run of ``todo``'s items on ``workers`` spawned processes, each result passed to
    ``record``: what is in flight, when each item really started, what to retry. A hung
    worker is killed and the pool restarted."""

    def __init__(
        self,
        todo: Iterator[BatchItem],
        task: Callable,
        options: Any,
        workers: int,
        timeout_s: float | None,
        record: Callable[[BatchItemResult], None],
    ) -> None:
        self.todo, self.task, self.options = todo, task, options
        self.workers, self.timeout_s, self.record = workers, timeout_s, record
        self.hard_s = hard_bound_s(timeout_s)
        self.retry: list[BatchItem] = []
        self.attempts: dict[tuple[Path, int], int] = {}
        self.inflight: dict[Future, tuple[BatchItem, int, float]] = {}  # item, token, submitted
        self.started: dict[int, float] = {}  # token -> when a worker began it
        self.tokens = iter(range(1 << 62))

    def run(self) -> None:
        import multiprocessing

        self.start_queue = multiprocessing.get_context("spawn").Queue()
        with _single_threaded_children():
            self.pool = _new_pool(self.workers, self.start_queue)
            try:
                while self._step():
                    pass
            finally:
                _kill_pool(self.pool) if self.inflight else self.pool.shutdown(wait=True)
                self.start_queue.close()
                self.start_queue.join_thread()

    def _step(self) -> bool:
        """Submit, wait up to 0.5 s, record what finished or hangs; False when all is done."""
        self._submit()
        if not self.inflight:
            return False
        alone = len(self.inflight) == 1
        done, _ = wait(self.inflight, timeout=0.5, return_when=FIRST_COMPLETED)
        broken = self._collect(done, alone)
        self._note_starts()
        hung = self._expire_hung()
        if hung or broken:  # the pool is unusable: restart it, redo the others in flight
            self.retry.extend(i for i, _tok, _t in self.inflight.values())
            self.inflight.clear()
            self.started.clear()
            _kill_pool(self.pool)
            self.pool = _new_pool(self.workers, self.start_queue)
        return True

    def _submit(self) -> None:
        # bounded submission keeps memory flat; after a crash the suspects run alone
        limit = 1 if self.retry else self.workers
        while len(self.inflight) < limit:
            item = self.retry.pop(0) if self.retry else next(self.todo, None)
            if item is None:
                break
            token = next(self.tokens)
            fut = self.pool.submit(
                _pool_run_item, token, self.task, item, self.options, self.timeout_s
            )
            self.inflight[fut] = (item, token, time.monotonic())

    def _collect(self, done: set[Future], alone: bool) -> bool:
        """Record the finished futures; True when a worker died (the pool is broken)."""
        broken = False
        for fut in done:
            item, token, _t = self.inflight.pop(fut)
            self.started.pop(token, None)
            try:
                self.record(fut.result())
            except BrokenProcessPool:
                broken = True
                self._worker_died(item, alone)
            except Exception as exc:  # pickling errors and the like
                self.record(error_result(item, exc))
        return broken

    def _worker_died(self, item: BatchItem, alone: bool) -> None:
        key = (item.path, item.page)
        self.attempts[key] = self.attempts.get(key, 0) + alone  # only a lone item is guilty
        if self.attempts[key] >= _MAX_ATTEMPTS:
            reason = "worker process died (crash or out of memory)"
            self.record(item_result(item, "error", reason))
        else:
            self.retry.append(item)

    def _note_starts(self) -> None:
        while True:
            try:
                token, t_start = self.start_queue.get_nowait()
            except queue.Empty:
                break
            self.started[token] = t_start

    def _expire_hung(self) -> bool:
        """Report items past the hard bound as timeouts; True when there were any."""
        now = time.monotonic()
        hard_s = self.hard_s
        hung = []
        for fut, (_item, token, t_sub) in self.inflight.items():
            t_start = self.started.get(token)
            if hard_s and (
                (t_start is not None and now - t_start > hard_s)
                or (t_start is None and now - t_sub > hard_s + _STARTUP_S)
            ):
                hung.append(fut)
        for fut in hung:
            item, token, t_sub = self.inflight.pop(fut)
            took = now - self.started.pop(token, t_sub)
            self.record(
                item_result(
                    item,
                    "timeout",
                    f"no answer after {took:.0f} s; worker killed",
                    seconds=round(took, 3),
                )
            )
        return bool(hung)
