"""``ecgviewer train-soup``: average the fold weights of fine-tunes of one base run.

The result is a run folder (a model soup, :mod:`ecgviewer.rhythm.training.soup`) that
``ecgviewer train-finalize`` packages like any other run.
"""

from __future__ import annotations

import argparse

NAME = "train-soup"
HELP = (
    "Average the fold weights of fine-tuning runs of one base run (a model soup) into a run "
    "folder that `ecgviewer train-finalize` packages."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", nargs="+", required=True, help="fine-tuning run folders")
    p.add_argument("--out", required=True, help="soup run folder to write")
    p.add_argument("--data", required=True, help="the CinC folder the runs were trained on")
    p.add_argument("--cache", default=None, help="cache folder (default ~/.cache/ecgviewer)")


def run(args: argparse.Namespace) -> int:
    import json
    import logging

    from ecgviewer.rhythm.training.soup import make_soup

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    infos = make_soup(args.runs, args.out, args.data, args.cache)
    for i in infos:
        print(json.dumps({k: v for k, v in i.items() if k != "soup_of"}))
    return 0
