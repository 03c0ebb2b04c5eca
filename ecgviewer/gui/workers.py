"""Every background thread of the app lives here (napari keeps its workers in one module too).

A :class:`TaskRunner` owns one ``QThread`` with one worker object and runs one job at a time.
A job is a plain function ``fn(token, report, *args)``: it checks ``token`` between stages
(raising :class:`Cancelled`), and calls ``report.progress(fraction, text)`` and
``report.partial(value)`` to hand intermediate results to the GUI thread. Submitting while a
job runs queues the new job in place of any earlier queued one, so the last setting wins;
with ``cancel_running=True`` the running job is also told to stop and its later signals are
dropped. :meth:`TaskRunner.shutdown` (cancel, quit, wait) must be called by every owner before
it goes away: a ``QThread`` still running when Python exits aborts the process.
"""

from __future__ import annotations

import itertools
import threading
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

_LIVE_THREADS: weakref.WeakSet[QThread] = weakref.WeakSet()
_JOB_IDS = itertools.count(1)
_GUI_THREAD_GC: list = []  # the one collector, kept alive for the app's lifetime


def collect_garbage_in_gui_thread() -> None:
    """Run Python's cyclic garbage collector only in the GUI thread (idempotent).

    Automatic collection runs in whichever thread happens to allocate; when that is a worker
    and the garbage holds Qt objects, their destructors run there while the GUI thread deletes
    others, and the two deadlock (seen in the GUI tests: ``~QObject`` in a digitisation worker
    waiting for the GIL, ``~QMenu`` in the GUI thread waiting for Qt's lock). pyqtgraph's
    ``GarbageCollector`` turns automatic collection off and collects on a GUI-thread timer.
    """
    if not _GUI_THREAD_GC:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        import ecgviewer.gui._pg  # noqa: F401  (pyqtgraph configured before first use)

        _GUI_THREAD_GC.append(GarbageCollector(interval=1.0))


class Cancelled(Exception):
    """Raised inside a job by :meth:`CancelToken.check` once the job was cancelled."""


class CancelToken:
    """A thread-safe flag a job polls between its stages."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


@dataclass
class Job:
    """One submitted call: the function, its arguments, an id and its cancel token."""

    fn: Callable[..., Any]
    args: tuple
    kwargs: dict
    job_id: int = field(default_factory=lambda: next(_JOB_IDS))
    token: CancelToken = field(default_factory=CancelToken)


class Reporter:
    """Handed to a job so it can report progress and partial results (any thread)."""

    def __init__(self, worker: _Worker, job: Job) -> None:
        self._worker = worker
        self._job = job

    def progress(self, fraction: float, text: str = "") -> None:
        self._worker.progress.emit(self._job.job_id, float(fraction), str(text))

    def partial(self, value: Any) -> None:
        self._worker.partial.emit(self._job.job_id, value)


class _Worker(QObject):
    """Lives in the runner's thread; runs jobs it receives through a queued signal."""

    progress = Signal(int, float, str)
    partial = Signal(int, object)
    finished = Signal(int, object)
    failed = Signal(int, object)
    cancelled = Signal(int)

    @Slot(object)
    def execute(self, job: Job) -> None:
        try:
            job.token.check()
            result = job.fn(job.token, Reporter(self, job), *job.args, **job.kwargs)
            job.token.check()
        except Cancelled:
            self.cancelled.emit(job.job_id)
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the GUI thread
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            self.failed.emit(job.job_id, exc)
        else:
            self.finished.emit(job.job_id, result)


class TaskRunner(QObject):
    """Runs jobs one at a time on its own thread; see the module docstring.

    Signals carry the job id so a listener can tell which submission a result belongs to.
    ``idle`` fires when the last job ended and nothing is queued.
    """

    started = Signal(int)
    progress = Signal(int, float, str)
    partial = Signal(int, object)
    finished = Signal(int, object)
    failed = Signal(int, object)
    cancelled = Signal(int)
    idle = Signal()
    _request = Signal(object)

    def __init__(self, name: str, cancel_running: bool = True, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self.cancel_running = cancel_running
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self._running: Job | None = None
        self._pending: Job | None = None
        self._closed = False

    # -- public API ---------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._running is not None or self._pending is not None

    @property
    def running_job_id(self) -> int | None:
        return None if self._running is None else self._running.job_id

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
        """Queue ``fn(token, report, *args, **kwargs)``; returns the job id."""
        if self._closed:
            raise RuntimeError(f"runner {self.name!r} was shut down")
        job = Job(fn, args, kwargs)
        if self._running is None:
            self._start(job)
        else:
            if self.cancel_running:
                self._running.token.cancel()
            self._pending = job  # replaces any earlier queued job: the last one wins
        return job.job_id

    def cancel(self) -> None:
        """Drop the queued job and ask the running one to stop."""
        self._pending = None
        if self._running is not None:
            self._running.token.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel everything, stop the thread and wait for it; True when it stopped."""
        self._closed = True
        self.cancel()
        if self._thread is None:
            return True
        self._thread.quit()
        stopped = self._thread.wait(timeout_ms)
        if stopped:
            self._running = None
        return bool(stopped)

    # -- internals ----------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        self._thread = QThread()
        self._thread.setObjectName(f"ecgviewer-{self.name}")
        _LIVE_THREADS.add(self._thread)
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        self._request.connect(self._worker.execute)
        self._worker.progress.connect(self._on_progress)
        self._worker.partial.connect(self._on_partial)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.cancelled.connect(self._on_cancelled)
        self._thread.finished.connect(self._worker.deleteLater)
        self._thread.start()

    def _start(self, job: Job) -> None:
        self._ensure_thread()
        self._running = job
        self.started.emit(job.job_id)
        self._request.emit(job)

    def _live(self, job_id: int) -> bool:
        job = self._running
        return job is not None and job.job_id == job_id and not job.token.cancelled

    def _next(self) -> None:
        self._running = None
        if self._pending is not None and not self._closed:
            job, self._pending = self._pending, None
            self._start(job)
        else:
            self.idle.emit()

    @Slot(int, float, str)
    def _on_progress(self, job_id: int, fraction: float, text: str) -> None:
        if self._live(job_id):
            self.progress.emit(job_id, fraction, text)

    @Slot(int, object)
    def _on_partial(self, job_id: int, value: object) -> None:
        if self._live(job_id):
            self.partial.emit(job_id, value)

    @Slot(int, object)
    def _on_finished(self, job_id: int, result: object) -> None:
        if self._live(job_id):
            self.finished.emit(job_id, result)
        else:
            self.cancelled.emit(job_id)
        self._next()

    @Slot(int, object)
    def _on_failed(self, job_id: int, exc: object) -> None:
        if self._live(job_id):
            self.failed.emit(job_id, exc)
        else:
            self.cancelled.emit(job_id)
        self._next()

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        self.cancelled.emit(job_id)
        self._next()


def running_threads() -> list[QThread]:
    """Threads started by any :class:`TaskRunner` that are still running (tests check this)."""
    return [t for t in list(_LIVE_THREADS) if t.isRunning()]
