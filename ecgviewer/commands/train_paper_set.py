"""``ecgviewer train-paper-set DATA_DIR``: print and digitise every CinC record, once (cached).

Builds the paper round-trip set that ``ecgviewer train --paper-frac`` and the image
benchmarks read (:mod:`ecgviewer.rhythm.training.image_data`; about a CPU second per record),
then says how well it was read.
"""

from __future__ import annotations

import argparse

NAME = "train-paper-set"
HELP = "Print and digitise every CinC record for training (cached paper round-trip set)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data_dir", help="folder with CinC-style records and REFERENCE*.csv")
    p.add_argument("--cache-dir", default=None, help="cache folder (default ~/.cache/ecgviewer)")
    p.add_argument("--seed", type=int, default=2017, help="seed of the page styles and distortions")
    p.add_argument("--workers", type=int, default=2, help="worker processes")
    p.add_argument("--limit", type=int, default=None, help="smoke test: only the first N records")


def run(args: argparse.Namespace) -> int:
    import logging
    import time

    from ecgviewer.rhythm.training.image_data import describe, load_image_derived

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t0 = time.time()
    s = load_image_derived(args.data_dir, args.cache_dir, args.seed, args.workers, limit=args.limit)
    print(f"{len(s.dataset)} records in {time.time() - t0:.0f} s: " + describe(s, args.data_dir))
    return 0
