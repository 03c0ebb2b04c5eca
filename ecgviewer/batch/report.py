"""What a batch reports: one :class:`BatchItemResult` per item, the :class:`BatchSummary` of
the run, and the per-file CSV written as items finish."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ecgviewer.batch.plan import BatchItem
from ecgviewer.errors import EcgViewerError

# "review": done and written, but a self-check says the result needs a person's review
# (ecgviewer.digitize.checks); counted apart from "ok", and not a failure (exit code 0)
Status = Literal["ok", "review", "error", "skipped", "timeout"]

REPORT_COLUMNS = ("input", "page", "status", "reason", "layout", "quality", "seconds")


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
    def n_review(self) -> int:
        return self.count("review")

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
            f"{what}: {self.n_ok} ok, "
            + (f"{self.n_review} need review, " if self.n_review else "")
            + f"{self.n_failed} failed, {self.n_skipped} skipped "
            f"of {len(self.results)} in {self.wall_s:.1f} s "
            f"({self.pages_per_s:.2f} pages/s, {self.workers} worker(s))"
            + (f"; peak RSS {', '.join(rss)}" if rss else "")
        )


def item_result(item: BatchItem, status: Status, reason: str, **fields) -> BatchItemResult:
    """A result the runner itself decides for ``item`` (skipped, timed out, worker died)."""
    return BatchItemResult(status, reason, input=str(item.path), page=item.page, **fields)


def one_line(text: str) -> str:
    """``text`` as one line of at most 500 characters (a report cell, a console line)."""
    return " ".join(text.split())[:500]


def error_result(item: BatchItem, exc: BaseException) -> BatchItemResult:
    """An ``"error"`` result for ``item`` naming the unexpected exception that ended it."""
    return item_result(item, "error", one_line(f"{type(exc).__name__}: {exc}"))


class ReportWriter:
    """The per-file CSV, one flushed row per finished item, so a crash keeps what was done."""

    def __init__(self, path: str | os.PathLike | None) -> None:
        self._fh = None
        if path is not None:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise EcgViewerError(
                    f"cannot write the report {path}: {exc.strerror or exc}"
                ) from None
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
    """The rows of a report CSV written by :class:`ReportWriter`, as dicts by column."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
