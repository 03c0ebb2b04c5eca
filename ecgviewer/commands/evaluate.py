"""``ecgviewer evaluate``: score digitised signals against ground truth (Challenge-2024 SNR).

Pairs files by stem: truth ``TRUTH_DIR/<stem>_truth.hea`` (as ``ecgviewer render`` writes)
or ``TRUTH_DIR/<stem>.hea``, with the estimate ``EST_DIR/<stem>.hea`` (or ``.csv``/``.mat``),
and prints a per-record table and a summary (see :mod:`ecgviewer.scoring`).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from ecgviewer.commands.options import in_range
from ecgviewer.errors import EcgViewerError, SignalFormatError
from ecgviewer.io.signals import atomic_write_bytes, read_signal
from ecgviewer.scoring import DigitizationScore, challenge_snr, score_digitization, summarize

NAME = "evaluate"
HELP = "Score digitised signals against ground-truth signals (SNR, r, RMSE), paired by file stem."

_EST_SUFFIXES = (".hea", ".csv", ".mat")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("truth_dir", type=Path, help="folder of ground truth (<stem>_truth.hea)")
    parser.add_argument("est_dir", type=Path, help="folder of digitised signals (<stem>.hea)")
    parser.add_argument("--csv", type=Path, default=None, help="also write the per-record table")
    parser.add_argument(
        "--max-shift", type=in_range("max_shift_s"), default=0.5, help="alignment bound in s"
    )
    parser.add_argument("--per-lead", action="store_true",
                        help="also print each lead (SNR, r, RMSE, coverage, shift, offset)")


def find_truth_files(truth_dir: Path) -> dict[str, Path]:
    """stem -> truth header; ``<stem>_truth.hea`` wins over ``<stem>.hea``."""
    found: dict[str, Path] = {}
    for hea in sorted(truth_dir.glob("*.hea")):
        if hea.stem.endswith("_truth"):
            found[hea.stem[: -len("_truth")]] = hea
    if not found:  # a folder of plain records is the truth
        found = {hea.stem: hea for hea in sorted(truth_dir.glob("*.hea"))}
    return found


def find_estimate(est_dir: Path, stem: str) -> Path | None:
    for suffix in _EST_SUFFIXES:
        p = est_dir / f"{stem}{suffix}"
        if p.exists():
            return p
    return None


def _fmt(x: float, spec: str = "7.2f") -> str:
    return format(x, spec) if math.isfinite(x) else " " * (int(spec.split(".")[0]) - 3) + "  -"


def run(args: argparse.Namespace) -> int:
    if not args.truth_dir.is_dir():
        raise SignalFormatError(f"{args.truth_dir}: not a folder")
    if not args.est_dir.is_dir():
        raise SignalFormatError(f"{args.est_dir}: not a folder")
    if args.csv is not None and args.csv.is_dir():
        raise EcgViewerError(f"--csv {args.csv}: is a folder; name a CSV file")
    truths = find_truth_files(args.truth_dir)
    if not truths:
        raise SignalFormatError(f"{args.truth_dir}: no .hea ground-truth files")
    scores: list[DigitizationScore] = []
    official: list[float] = []
    lines = ["record,status,leads,snr_db,challenge_snr_db,r,rmse_uv,missing_leads"]
    print(f"{'record':<22}{'status':<9}{'leads':>6}{'SNR dB':>9}{'r':>8}{'RMSE uV':>10}{'missing':>9}")
    unscored: list[str] = []
    for stem, hea in truths.items():
        try:
            truth = read_signal(hea)
        except EcgViewerError as exc:
            unscored.append(f"{stem}: truth unreadable: {exc}")
            continue
        if not np.isfinite(truth.signal_mv).any():
            unscored.append(f"{stem}: truth holds no samples (all missing)")
            continue
        est_path = find_estimate(args.est_dir, stem)
        status = "ok"
        estimate = None
        if est_path is None:
            status = "missing"
        else:
            try:
                estimate = read_signal(est_path)
            except EcgViewerError:
                status = "unread"
        score = score_digitization(truth, estimate, args.max_shift)
        scores.append(score)
        present = np.isfinite(truth.signal_mv).any(axis=0)
        rec_official = [v for v, ok in zip(challenge_snr(truth, estimate).values(), present) if ok]
        official.extend(rec_official)
        print(
            f"{stem:<22}{status:<9}{len(score.leads):>6}{_fmt(score.mean_snr_db, '9.2f')}"
            f"{_fmt(score.mean_r, '8.3f')}{_fmt(score.mean_rmse_uv, '10.1f')}{score.n_missing:>9}"
        )
        if args.per_lead:
            for ls in score.leads:
                print(f"    {ls.lead:<6}SNR {_fmt(ls.snr_db, '6.2f')}  r {_fmt(ls.pearson_r, '6.3f')}"
                      f"  RMSE {_fmt(ls.rmse_uv, '6.1f')} uV  coverage {ls.coverage:4.2f}"
                      f"  shift {ls.shift_s * 1000:+6.1f} ms  offset {ls.offset_mv * 1000:+6.0f} uV")
        lines.append(
            f"{stem},{status},{len(score.leads)},{score.mean_snr_db:.3f},"
            f"{np.mean(rec_official) if rec_official else math.nan:.3f},{score.mean_r:.4f},{score.mean_rmse_uv:.2f},"
            f"{score.n_missing}"
        )
    for line in unscored:
        print(f"not scored: {line}", file=sys.stderr)
    if not scores:
        raise SignalFormatError(f"{args.truth_dir}: no record could be scored")
    s = summarize(scores)
    finite_official = [v for v in official if math.isfinite(v)]
    print()
    print(f"records {s.n_records}  failed/missing {s.n_failed}  leads {s.n_leads}  "
          f"missing leads {s.n_missing_leads}")
    print(f"SNR dB  mean {_fmt(s.mean_snr_db)}  median {_fmt(s.median_snr_db)}   "
          f"(unaligned Challenge SNR mean "
          f"{_fmt(float(np.mean(finite_official)) if finite_official else math.nan)})")
    print(f"r       mean {_fmt(s.mean_r, '7.3f')}  median {_fmt(s.median_r, '7.3f')}")
    print(f"RMSE uV mean {_fmt(s.mean_rmse_uv, '7.1f')}  median {_fmt(s.median_rmse_uv, '7.1f')}")
    if args.csv:
        try:
            atomic_write_bytes(args.csv, ("\n".join(lines) + "\n").encode())
        except OSError as exc:
            raise EcgViewerError(f"cannot write {args.csv}: {exc.strerror or exc}") from None
    if unscored:
        print(f"{len(unscored)} record(s) not scored (listed above)", file=sys.stderr)
    return 1 if unscored else 0
