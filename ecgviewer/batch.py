"""Run one task over many input files: worker processes or a Dask cluster, a time bound per
file, resumable, with an incremental per-file report.

Generic on purpose: ``digitize`` and ``classify`` both use it. A *task* is a picklable
top-level function ``task(item: BatchItem, options) -> BatchItemResult`` that writes its
outputs under ``item.out_base`` and writes its summary JSON (``item.summary_path``) **last**,
listing the files it wrote under ``"outputs"``. An item counts as complete (and is skipped on
resume) only when that JSON parses and every file it lists exists, so an interrupted item is
never mistaken for a finished one.

This module imports only the standard library at import time, so spawned workers set their
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

from __future__ import annotations

import csv
import dataclasses
import glob
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ecgviewer.errors import EcgViewerError

Status = Literal["ok", "error", "skipped", "timeout"]

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
REPORT_COLUMNS = ("input", "page", "status", "reason", "layout", "quality", "seconds")
DEFAULT_TIMEOUT_S = 300.0
_HARD_GRACE_S = 15.0  # beyond the soft (in-worker) bound before the parent kills a worker
_MAX_ATTEMPTS = 2  # an item in flight when a worker dies is retried once
_STARTUP_S = 120.0  # how long a queued item may wait for a (re)starting worker


@dataclass(frozen=True)
class BatchItem:
    """One unit of work: a page of an input file and where its outputs go (no extension)."""

    path: Path
    out_base: Path
    page: int = 0  # 0-based
    overwrite: bool = False  # set by the runner: may the task replace existing files?

    @property
    def summary_path(self) -> Path:
        return self.out_base.parent / (self.out_base.name + ".json")

    @property
    def label(self) -> str:
        return f"{self.path}" if self.page == 0 else f"{self.path} (page {self.page + 1})"


@dataclass(frozen=True)
class BatchItemResult:
    """What a task reports for one item. ``outputs`` are the files it wrote."""

    status: Status
    reason: str = ""
    layout: str = ""
    quality: float | None = None
    seconds: float = 0.0
    outputs: tuple[str, ...] = ()
    detail: str = ""  # one human line about the result (e.g. the leads found)
    input: str = ""
    page: int = 0
    pages: int = 1
    peak_rss_mb: float | None = None  # of the process that ran the item


@dataclass(frozen=True)
class BatchSummary:
    results: tuple[BatchItemResult, ...]
    wall_s: float
    workers: int
    parent_peak_rss_mb: float | None
    worker_peak_rss_mb: float | None

    def count(self, *statuses: str) -> int:
        return sum(r.status in statuses for r in self.results)

    @property
    def n_ok(self) -> int:
        return self.count("ok")

    @property
    def n_failed(self) -> int:
        return self.count("error", "timeout")

    @property
    def n_skipped(self) -> int:
        return self.count("skipped")

    @property
    def pages_per_s(self) -> float:
        done = sum(r.pages for r in self.results if r.status != "skipped")
        return done / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, 1 otherwise (the CLI's contract)."""
        return 1 if self.n_failed else 0

    def text(self, what: str = "batch") -> str:
        rss = [f"parent {self.parent_peak_rss_mb:.0f} MB"] if self.parent_peak_rss_mb else []
        if self.worker_peak_rss_mb:
            rss.append(f"worker {self.worker_peak_rss_mb:.0f} MB")
        return (
            f"{what}: {self.n_ok} ok, {self.n_failed} failed, {self.n_skipped} skipped "
            f"of {len(self.results)} in {self.wall_s:.1f} s "
            f"({self.pages_per_s:.2f} pages/s, {self.workers} worker(s))"
            + (f"; peak RSS {', '.join(rss)}" if rss else "")
        )


# --------------------------------------------------------------------------- inputs


def collect_inputs(
    args: Iterable[str | os.PathLike],
    extensions: Iterable[str],
    exclude: Iterable[str | os.PathLike] = (),
) -> list[tuple[Path, Path | None]]:
    """Expand files, folders (recursively, by extension) and glob patterns, in a stable order.

    Returns ``(file, root)`` pairs: ``root`` is the folder argument a file was found under
    (its outputs mirror the sub-folders), ``None`` for files named directly or by a glob.
    A named file that does not exist is kept, so the task reports it as one failed item.
    Files under an ``exclude`` folder (e.g. the output folder inside the input folder) are
    left out; the same path named twice counts once (symlinks stay distinct inputs).
    """
    exts = {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}
    out: list[tuple[Path, Path | None]] = []
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            found = sorted(
                f
                for f in p.rglob("*")
                if f.suffix.lower() in exts
                and f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            out.extend((f, p) for f in found)
        elif not p.exists() and glob.has_magic(str(arg)):
            out.extend(
                (Path(f), None)
                for f in sorted(glob.glob(str(arg), recursive=True))
                if Path(f).is_file()
            )
        else:
            out.append((p, None))
    skip = [os.path.abspath(e) + os.sep for e in exclude]
    seen: set[str] = set()
    unique = []
    for f, root in out:
        key = os.path.abspath(f)
        if key not in seen and not any(key.startswith(e) for e in skip):
            seen.add(key)
            unique.append((f, root))
    return unique


def safe_stem(name: str) -> str:
    """A file stem usable as a WFDB record name: letters, digits, ``_`` and ``-`` only."""
    return re.sub(r"[^-\w]", "_", name, flags=re.ASCII) or "record"


def plan_items(
    inputs: Sequence[tuple[Path, Path | None]] | Sequence[Path],
    outdir: str | os.PathLike,
    pages_of: Callable[[Path], Sequence[int]] | None = None,
) -> list[BatchItem]:
    """One :class:`BatchItem` per (file, page), with unique output names under ``outdir``.

    Outputs are ``outdir/<stem>`` (``<stem>_p<N>`` for pages of multi-page files; sub-folders
    of a folder argument are mirrored). Clashing names get the extension, then a counter.
    """
    outdir = Path(outdir)
    items: list[BatchItem] = []
    used: set[str] = set()
    for entry in inputs:
        path, root = entry if isinstance(entry, tuple) else (Path(entry), None)
        rel_dir = path.parent.relative_to(root) if root is not None else Path()
        pages = list(pages_of(path)) if pages_of else [0]
        for page in pages:
            stem = safe_stem(path.stem) + (f"_p{page + 1}" if len(pages) > 1 else "")
            candidates = [stem, f"{stem}_{safe_stem(path.suffix.lstrip('.'))}"]
            candidates += [f"{candidates[1]}_{k}" for k in range(2, 10_000)]
            for cand in candidates:
                key = (rel_dir / cand).as_posix().lower()  # case-insensitive file systems
                if key not in used:
                    used.add(key)
                    break
            items.append(BatchItem(path=path, out_base=outdir / rel_dir / cand, page=page))
    return items


# --------------------------------------------------------------------------- command line


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    import argparse

    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def add_batch_arguments(parser) -> None:
    """The batch options every file-processing command shares (workers, resume, report, ...)."""
    import argparse

    g = parser.add_argument_group("batch")
    g.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes (default: 1 = in this process)",
    )
    g.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="skip inputs whose outputs are complete (default: on)",
    )
    g.add_argument(
        "--overwrite", action="store_true", help="redo every input, replacing existing outputs"
    )
    g.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="CSV",
        help="per-file report (input, status, reason, layout, quality, seconds)",
    )
    g.add_argument(
        "--timeout",
        type=positive_float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"give up on one file after S seconds (default: {DEFAULT_TIMEOUT_S:g})",
    )
    g.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on a Dask cluster, e.g. tcp://host:8786 (needs dask[distributed])",
    )
    g.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


# --------------------------------------------------------------------------- completeness


def summary_is_complete(item: BatchItem, expected: Sequence[Path] = ()) -> bool:
    """True when ``item``'s summary JSON is valid and every file it lists (and ``expected``)
    exists: the resume test. A missing, truncated or foreign JSON means "redo"."""
    try:
        data = json.loads(item.summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    outputs = data.get("outputs") if isinstance(data, dict) else None
    if not isinstance(outputs, list):
        return False
    folder = item.summary_path.parent
    files = [folder / str(o) for o in outputs] + list(expected)
    return all(f.is_file() and (f.stat().st_size > 0 or f.suffix == ".dat") for f in files)


# --------------------------------------------------------------------------- worker side


class _ItemTimeout(BaseException):  # BaseException: a task's `except Exception` can't eat it
    pass


def _peak_rss_mb() -> float | None:
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


_START_QUEUE = None  # in pool workers: where run_item announces that an item started


def _worker_init(start_queue=None) -> None:
    global _START_QUEUE
    _START_QUEUE = start_queue
    limit_threads()
    try:  # Ctrl-C goes to the parent, which shuts the pool down
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):  # pragma: no cover
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
        result = BatchItemResult("error", _one_line(str(exc)))
    except MemoryError:
        result = BatchItemResult("error", "out of memory")
    except Exception as exc:  # an unexpected bug must not stop the batch; say what it was
        result = BatchItemResult("error", _one_line(f"{type(exc).__name__}: {exc}"))
    return dataclasses.replace(
        result,
        input=str(item.path),
        page=item.page,
        seconds=round(time.perf_counter() - t0, 3),
        peak_rss_mb=_peak_rss_mb(),
    )


def _pool_run_item(
    token: int, task: Callable, item: BatchItem, options: Any, timeout_s: float | None
) -> BatchItemResult:
    """``run_item`` in a pool worker, first telling the parent when the item really starts
    (queued items must not use up their time bound while waiting for a worker)."""
    if _START_QUEUE is not None:
        _START_QUEUE.put((token, time.monotonic()))
    return run_item(task, item, options, timeout_s)


def _dask_run_item(
    task: Callable, item: BatchItem, options: Any, timeout_s: float | None
) -> BatchItemResult:
    """``run_item`` on a Dask worker: one BLAS/torch thread per task there too (env vars are
    read at import, so start workers with ``OMP_NUM_THREADS=1`` for the BLAS part)."""
    limit_threads()
    return run_item(task, item, options, timeout_s)


def item_result(item: BatchItem, status: Status, reason: str, **fields) -> BatchItemResult:
    """A result the runner itself decides for ``item`` (skipped, timed out, worker died)."""
    return BatchItemResult(status, reason, input=str(item.path), page=item.page, **fields)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]


# --------------------------------------------------------------------------- report


class _Report:
    """The per-file CSV, one flushed row per finished item, so a crash keeps what was done."""

    def __init__(self, path: str | os.PathLike | None) -> None:
        self._fh = None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115
            self._csv = csv.writer(self._fh)
            self._csv.writerow(REPORT_COLUMNS)
            self._fh.flush()

    def add(self, r: BatchItemResult) -> None:
        if self._fh is None:
            return
        q = "" if r.quality is None else f"{r.quality:.3f}"
        self._csv.writerow(
            [r.input, r.page + 1, r.status, r.reason, r.layout, q, f"{r.seconds:.3f}"]
        )
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def read_report(path: str | os.PathLike) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- runner


def run_batch(
    items: Sequence[BatchItem],
    task: Callable[[BatchItem, Any], BatchItemResult],
    options: Any = None,
    *,
    workers: int = 1,
    resume: bool = True,
    overwrite: bool = False,
    report_path: str | os.PathLike | None = None,
    scheduler: Any = None,
    progress: bool = True,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    expected_outputs: Callable[[BatchItem, Any], Sequence[Path]] | None = None,
    on_result: Callable[[BatchItemResult], None] | None = None,
    echo_failures: bool = True,
) -> BatchSummary:
    """Run ``task`` over ``items`` and return what happened to each.

    ``workers == 1`` runs in this process; more use a spawn-safe ``ProcessPoolExecutor`` with
    at most ``workers`` items in flight (memory stays flat for any number of inputs).
    ``scheduler`` (a Dask scheduler address like ``tcp://host:8786``, or a
    ``distributed.Client``) runs the same task on a cluster instead. ``timeout_s`` bounds each
    item: it is reported as ``"timeout"`` and the batch goes on. With ``resume``, items whose
    summary JSON is complete are ``"skipped"``; other items may replace their own partial
    files, and existing files are replaced only with ``overwrite``. Each failure is printed
    as one line on stderr (``echo_failures``); ``on_result`` sees every result as it comes.
    """
    t0 = time.perf_counter()
    workers = max(1, min(workers, len(items)))  # no idle processes to start
    report = _Report(report_path)
    results: list[BatchItemResult] = []
    bar = _progress_bar(len(items), progress)

    def record(r: BatchItemResult) -> None:
        results.append(r)
        report.add(r)
        if bar is not None:
            bar.update(1)
        if echo_failures and r.status in ("error", "timeout"):
            page = "" if r.page == 0 else f" (page {r.page + 1})"
            line = f"{r.input}{page}: {r.status}: {r.reason}"
            bar.write(line, file=sys.stderr) if bar is not None else print(line, file=sys.stderr)
        if on_result is not None:
            on_result(r)

    def todo() -> Iterator[BatchItem]:
        for item in items:
            expected = expected_outputs(item, options) if expected_outputs else ()
            complete = summary_is_complete(item, expected)
            if resume and complete:
                record(item_result(item, "skipped", "already complete"))
                continue
            if complete and not overwrite:
                # a finished result is replaced only on request; a partial one is ours to redo
                record(
                    item_result(
                        item,
                        "error",
                        f"outputs exist at {item.out_base} (use --overwrite or --resume)",
                    )
                )
                continue
            yield dataclasses.replace(item, overwrite=overwrite or resume)

    try:
        if scheduler is not None:
            n_workers = _run_dask(todo(), task, options, scheduler, timeout_s, record)
        elif workers <= 1:
            n_workers = 1
            for item in todo():
                record(run_item(task, item, options, timeout_s))
        else:
            n_workers = workers
            _run_pool(todo(), task, options, workers, timeout_s, record)
    finally:
        report.close()
        if bar is not None:
            bar.close()
    worker_rss = [r.peak_rss_mb for r in results if r.peak_rss_mb]
    return BatchSummary(
        results=tuple(results),
        wall_s=time.perf_counter() - t0,
        workers=n_workers,
        parent_peak_rss_mb=_peak_rss_mb(),
        worker_peak_rss_mb=max(worker_rss) if worker_rss and (workers > 1 or scheduler) else None,
    )


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total, file=sys.stderr, unit="page", dynamic_ncols=True, smoothing=0.1)


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


def _run_pool(
    todo: Iterator[BatchItem],
    task: Callable,
    options: Any,
    workers: int,
    timeout_s: float | None,
    record: Callable[[BatchItemResult], None],
) -> None:
    import multiprocessing
    import queue

    hard_s = None if not timeout_s else timeout_s + max(_HARD_GRACE_S, 0.5 * timeout_s)
    retry: list[BatchItem] = []
    attempts: dict[tuple[Path, int], int] = {}
    inflight: dict[Future, tuple[BatchItem, int, float]] = {}  # item, token, submitted at
    started: dict[int, float] = {}
    tokens = iter(range(1 << 62))
    start_queue = multiprocessing.get_context("spawn").Queue()
    with _single_threaded_children():
        pool = _new_pool(workers, start_queue)
        try:
            while True:
                # bounded submission keeps memory flat; after a crash the suspects run alone
                limit = 1 if retry else workers
                while len(inflight) < limit:
                    item = retry.pop(0) if retry else next(todo, None)
                    if item is None:
                        break
                    token = next(tokens)
                    fut = pool.submit(_pool_run_item, token, task, item, options, timeout_s)
                    inflight[fut] = (item, token, time.monotonic())
                if not inflight:
                    break
                alone = len(inflight) == 1
                done, _ = wait(inflight, timeout=0.5, return_when=FIRST_COMPLETED)
                broken = False
                for fut in done:
                    item, token, _t = inflight.pop(fut)
                    started.pop(token, None)
                    try:
                        record(fut.result())
                    except BrokenProcessPool:
                        broken = True
                        key = (item.path, item.page)
                        attempts[key] = attempts.get(key, 0) + alone  # only a lone item is guilty
                        if attempts[key] >= _MAX_ATTEMPTS:
                            record(
                                item_result(
                                    item,
                                    "error",
                                    "worker process died (crash or out of memory)",
                                )
                            )
                        else:
                            retry.append(item)
                    except Exception as exc:  # pickling errors and the like
                        record(
                            item_result(
                                item,
                                "error",
                                _one_line(f"{type(exc).__name__}: {exc}"),
                            )
                        )
                while True:
                    try:
                        token, t_start = start_queue.get_nowait()
                    except queue.Empty:
                        break
                    started[token] = t_start
                now = time.monotonic()
                hung = []
                for fut, (item, token, t_sub) in inflight.items():
                    t_start = started.get(token)
                    if hard_s and (
                        (t_start is not None and now - t_start > hard_s)
                        or (t_start is None and now - t_sub > hard_s + _STARTUP_S)
                    ):
                        hung.append(fut)
                for fut in hung:
                    item, token, t_sub = inflight.pop(fut)
                    took = now - started.pop(token, t_sub)
                    record(
                        item_result(
                            item,
                            "timeout",
                            f"no answer after {took:.0f} s; worker killed",
                            seconds=round(took, 3),
                        )
                    )
                if hung or broken:  # the pool is unusable: restart it, redo the others in flight
                    retry.extend(i for i, _tok, _t in inflight.values())
                    inflight.clear()
                    started.clear()
                    _kill_pool(pool)
                    pool = _new_pool(workers, start_queue)
        finally:
            _kill_pool(pool) if inflight else pool.shutdown(wait=True)
            start_queue.close()
            start_queue.join_thread()


def _run_dask(
    todo: Iterator[BatchItem],
    task: Callable,
    options: Any,
    scheduler: Any,
    timeout_s: float | None,
    record: Callable[[BatchItemResult], None],
) -> int:
    """The same loop on a Dask cluster: bounded in-flight futures, a parent-side time bound
    (a hung task is reported and abandoned; Dask cannot kill a running task)."""
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
    try:
        n_threads = max(1, sum(client.nthreads().values()))
        limit = n_threads  # at most one queued item per worker thread
        hard_s = None if not timeout_s else timeout_s + max(_HARD_GRACE_S, 0.5 * timeout_s)
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
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and not any(f.done() for f in inflight):
                time.sleep(0.05)
            now = time.monotonic()
            for fut in [f for f in inflight if f.done()]:
                item, _t = inflight.pop(fut)
                try:
                    record(fut.result())
                except Exception as exc:  # worker died, unpicklable result, ...
                    record(
                        item_result(
                            item,
                            "error",
                            _one_line(f"{type(exc).__name__}: {exc}"),
                        )
                    )
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
        return n_threads
    finally:
        if own_client:
            client.close()
