"""``ecgviewer train-segmenter``: make synthetic training windows and train the trace segmenter.

``--make-data N`` writes N training shards (plus the validation shards) to the shard folder;
without it, training runs on the shards there (resuming from the work folder's checkpoint)
and writes the best weights and their JSON card to ``--out``. torch is imported lazily.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ecgviewer.errors import EcgViewerError
from ecgviewer.paths import app_root, data_dir, models_dir

NAME = "train-segmenter"
HELP = "Train the learned trace segmenter on synthetic pages (research; slow on CPU)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    work = app_root() / "work_tmp"
    parser.add_argument("--shards", type=Path, default=work / "segdata", help="shard folder")
    parser.add_argument("--work", type=Path, default=work / "segtrain", help="checkpoint folder")
    parser.add_argument("--out", type=Path, default=None, help="weights (default models/segmenter.pt)")
    parser.add_argument("--data", type=Path, default=None, help="real-data folder (PTB-XL, CinC)")
    parser.add_argument("--make-data", type=int, default=0, metavar="N",
                        help="only generate N training shards (and the validation shards)")
    parser.add_argument("--first-shard", type=int, default=0, help="with --make-data: start index")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="stop after this much training time (the schedule follows it)")


def run(args: argparse.Namespace) -> int:
    from ecgviewer.segment.training import dataset
    from ecgviewer.segment.training.train import TrainConfig, train

    if args.make_data:
        source = args.data or data_dir()
        if source is None:
            raise EcgViewerError("real-data folder not found: pass --data or set ECGVIEWER_DATA")
        dataset.set_threads(args.threads)
        dataset.generate(args.shards, source, "val", 6, seed=args.seed, windows=3)
        dataset.generate(args.shards, source, "valheld", 4, seed=args.seed, windows=3)
        paths = dataset.generate(args.shards, source, "train", args.make_data, seed=args.seed,
                                 first=args.first_shard)
        print(f"{len(paths)} training shards in {args.shards}")
        return 0
    cfg = TrainConfig(
        shard_dir=args.shards,
        work_dir=args.work,
        out_path=args.out or models_dir() / "segmenter.pt",
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        seed=args.seed,
        threads=args.threads,
        time_budget_s=args.time_budget,
    )
    try:
        card = train(cfg)
    except FileNotFoundError as exc:
        raise EcgViewerError(str(exc)) from exc
    print(f"trained to step {card['step']}: validation trace Dice "
          f"{card['validation']['all']['dice']:.3f} -> {cfg.out_path}")
    return 0
