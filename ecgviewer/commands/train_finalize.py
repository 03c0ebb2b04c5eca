"""``ecgviewer train-finalize``: package a finished cross-validation run as the shipped model.

Writes ``rhythm_cnn.pt``, ``rhythm_cnn.json``, ``MODEL_CARD.md`` and the OOF tables into
``--models`` (see :mod:`ecgviewer.rhythm.training.finalize`); ``ecgviewer train --package``
does the same right after training.
"""

from __future__ import annotations

import argparse

NAME = "train-finalize"
HELP = "Package a finished CV run (or a soup) as the shipped rhythm model."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", default="work_tmp/rhythm_cv", help="finished run folder")
    p.add_argument("--models", default="models", help="folder to write the model and card to")
    p.add_argument("--data", required=True, help="the CinC folder the run was trained on")


def run(args: argparse.Namespace) -> int:
    from ecgviewer.rhythm.metrics import format_summary
    from ecgviewer.rhythm.training.finalize import finalize

    card = finalize(args.run, args.models, args.data)
    print("OOF, uncalibrated:\n" + format_summary(card["cv"]["oof_uncalibrated"]))
    print(
        "OOF, shipped post-processing (cross-fitted):\n"
        + format_summary(card["cv"]["oof_shipped_postprocessing_crossfit"])
    )
    if card.get("cv_paper"):
        print(
            "OOF on image-derived signals, shipped post-processing (cross-fitted):\n"
            + format_summary(card["cv_paper"]["oof_shipped_postprocessing_crossfit"])
        )
    print(
        f"temperature {card['temperature']:.3f}; ECE after (cross-fitted): "
        f"{card['cv']['oof_calibrated_crossfit']['ece']:.4f}; sha256 {card['sha256']}"
    )
    return 0
