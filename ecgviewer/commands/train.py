"""``ecgviewer train``: cross-validated training of the rhythm CNN, then packaging.

Trains (or resumes) every fold into ``--out`` and, with ``--package MODELS_DIR``, writes the
ensemble model, its card and the out-of-fold table there. CPU is fine (hours, not minutes on
2 cores): run it in the background.
"""

from __future__ import annotations

import argparse

NAME = "train"
HELP = "Train the rhythm CNN with stratified k-fold cross-validation (CinC 2017 layout)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data", required=True, help="folder with CinC-style records and REFERENCE*.csv"
    )
    p.add_argument("--out", required=True, help="run folder (fold weights, OOF logits, log)")
    p.add_argument(
        "--config",
        default=None,
        help="JSON with TrainConfig fields (e.g. models/train_config.json)",
    )
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=None, help="override the config's seed")
    p.add_argument(
        "--keep-epoch",
        choices=("best", "last"),
        default=None,
        help="keep the best inner-validation epoch or the last one (override the config)",
    )
    p.add_argument("--folds", type=int, nargs="*", default=None, help="train only these folds")
    p.add_argument("--max-batches", type=int, default=None, help="smoke test: batches per epoch")
    p.add_argument(
        "--cache",
        default=None,
        help="cache folder for preprocessed data (default ~/.cache/ecgviewer)",
    )
    p.add_argument(
        "--paper-frac",
        type=float,
        default=None,
        help="probability a training record is drawn printed-and-digitised (builds that set "
        "once: about a CPU hour for CinC 2017); held-out folds are then scored on both",
    )
    p.add_argument(
        "--init-from",
        default=None,
        metavar="RUN_DIR",
        help="fine-tune: start every fold from RUN_DIR/fold<k>.pt (and keep its folds)",
    )
    p.add_argument(
        "--package",
        default=None,
        metavar="MODELS_DIR",
        help="after training, write rhythm_cnn.pt/.json and the OOF table here",
    )


def run(args: argparse.Namespace) -> int:
    from ecgviewer.rhythm.training.train import TrainConfig, train_cv

    cfg = TrainConfig.from_json(
        args.config,
        data_dir=args.data,
        out_dir=args.out,
        epochs=args.epochs,
        seed=args.seed,
        keep_epoch=args.keep_epoch,
        folds=tuple(args.folds) if args.folds else None,
        max_batches=args.max_batches,
        cache_dir=args.cache,
        paper_frac=args.paper_frac,
        init_from=args.init_from,
    )
    train_cv(cfg)
    if args.package:
        from ecgviewer.rhythm.training.finalize import finalize

        card = finalize(args.out, args.package, args.data)
        print(
            f"packaged {args.package}/rhythm_cnn.pt (sha256 {card['sha256']}), "
            f"OOF challenge score {card['cv']['oof_uncalibrated']['challenge_score']:.4f}"
        )
    return 0
