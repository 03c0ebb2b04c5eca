"""``run_batch``: one task over many items, in this process, a process pool or on Dask, with
resume, a per-file report, a progress bar and a summary."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ecgviewer.batch.dask_runner import run_dask
from ecgviewer.batch.plan import BatchItem
from ecgviewer.batch.pool import PoolRun
from ecgviewer.batch.provenance import output_state
from ecgviewer.batch.report import BatchItemResult, BatchSummary, ReportWriter, item_result
from ecgviewer.batch.worker import peak_rss_mb, run_item

DEFAULT_TIMEOUT_S = 300.0


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
    provenance_of: Callable[[BatchItem, Any], dict] | None = None,
) -> BatchSummary:
    """Run ``task`` over ``items`` and return what happened to each.

    ``workers == 1`` runs in this process; more use a spawn-safe ``ProcessPoolExecutor`` with
    at most ``workers`` items in flight (memory stays flat for any number of inputs).
    ``scheduler`` (a Dask scheduler address like ``tcp://host:8786``, or a
    ``distributed.Client``) runs the same task on a cluster instead. ``timeout_s`` bounds each
    item: it is reported as ``"timeout"`` and the batch goes on. With ``resume``, items whose
    summary JSON is complete and whose provenance (``provenance_of``: input, settings,
    version, model) matches are ``"skipped"``; an earlier output of ours that does not match
    is redone and its result's reason says why. Files no run of ours wrote are replaced only
    with ``overwrite``, as are finished outputs when ``resume`` is off. Each failure is printed
    as one line on stderr (``echo_failures``); ``on_result`` sees every result as it comes.
    """
    t0 = time.perf_counter()
    workers = max(1, min(workers, len(items)))  # no idle processes to start
    recorder = _Recorder(report_path, len(items), progress, echo_failures, on_result)
    try:
        todo = _pending(
            items, options, recorder, resume, overwrite, expected_outputs, provenance_of
        )
        if scheduler is not None:
            n_workers = run_dask(todo, task, options, scheduler, timeout_s, recorder)
        elif workers <= 1:
            n_workers = 1
            for item in todo:
                recorder(run_item(task, item, options, timeout_s))
        else:
            n_workers = workers
            PoolRun(todo, task, options, workers, timeout_s, recorder).run()
    finally:
        recorder.close()
    worker_rss = [r.peak_rss_mb for r in recorder.results if r.peak_rss_mb]
    return BatchSummary(
        results=tuple(recorder.results),
        wall_s=time.perf_counter() - t0,
        workers=n_workers,
        parent_peak_rss_mb=peak_rss_mb(),
        worker_peak_rss_mb=max(worker_rss) if worker_rss and (workers > 1 or scheduler) else None,
    )


class _Recorder:
    """Where every result goes: the list, the report row, the progress bar, the failure
    line on stderr and the caller's ``on_result``."""

    def __init__(
        self,
        report_path: str | os.PathLike | None,
        total: int,
        progress: bool,
        echo_failures: bool,
        on_result: Callable[[BatchItemResult], None] | None,
    ) -> None:
        self.results: list[BatchItemResult] = []
        self._report = ReportWriter(report_path)
        self._bar = _progress_bar(total, progress)
        self._echo_failures = echo_failures
        self._on_result = on_result

    def __call__(self, r: BatchItemResult) -> None:
        self.results.append(r)
        self._report.add(r)
        bar = self._bar
        if bar is not None:
            bar.update(1)
        if self._echo_failures and r.status in ("error", "timeout"):
            page = "" if r.page == 0 else f" (page {r.page + 1})"
            line = f"{r.input}{page}: {r.status}: {r.reason}"
            bar.write(line, file=sys.stderr) if bar is not None else print(line, file=sys.stderr)
        if self._on_result is not None:
            self._on_result(r)

    def close(self) -> None:
        self._report.close()
        if self._bar is not None:
            self._bar.close()


def _pending(
    items: Sequence[BatchItem],
    options: Any,
    record: Callable[[BatchItemResult], None],
    resume: bool,
    overwrite: bool,
    expected_outputs: Callable[[BatchItem, Any], Sequence[Path]] | None,
    provenance_of: Callable[[BatchItem, Any], dict] | None = None,
) -> Iterator[BatchItem]:
    """The items still to run, lazily. Complete ones with the same provenance are recorded as
    skipped (``resume``); without ``overwrite``, finished results (``resume`` off) and files
    no run of ours wrote are errors, never replaced."""
    for item in items:
        expected = list(expected_outputs(item, options)) if expected_outputs else []
        prov = None
        if provenance_of is not None and (resume or not overwrite):
            prov = _lazy(provenance_of, item, options)
        try:
            state = output_state(item.summary_path, expected, prov)
        except OSError:  # the input is missing or unreadable: the task reports why
            yield dataclasses.replace(item, overwrite=overwrite)
            continue
        if resume and state.complete:
            record(item_result(item, "skipped", "already complete (same input and settings)"))
            continue
        if overwrite:
            yield dataclasses.replace(item, overwrite=True)
            continue
        if state.foreign:
            record(
                item_result(
                    item,
                    "error",
                    f"{state.foreign[0]} exists and no run of ecgviewer wrote it "
                    "(use --overwrite to replace it)",
                )
            )
            continue
        if state.complete:  # resume is off: a finished result is replaced only on request
            record(
                item_result(
                    item,
                    "error",
                    f"outputs exist at {item.out_base} (use --overwrite or --resume)",
                )
            )
            continue
        # every existing file is ours (partial, or made from another input/settings): redo
        yield dataclasses.replace(item, overwrite=True, redo_reason=state.redo_reason)


def _lazy(fn: Callable[[BatchItem, Any], dict], item: BatchItem, options: Any):
    """``fn(item, options)`` computed on first use (hashing the input costs a read)."""
    cache: list[dict] = []

    def get() -> dict:
        if not cache:
            cache.append(fn(item, options))
        return cache[0]

    return get


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total, file=sys.stderr, unit="page", dynamic_ncols=True, smoothing=0.1)
