"""The ``ecgviewer`` command: one entry point, one module per subcommand in ``commands/``.

Each command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
With no subcommand (or a file path as the only argument) the desktop app starts.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ecgviewer import RESEARCH_NOTICE, __version__
from ecgviewer.errors import EcgViewerError

COMMAND_MODULES = (
    "digitize",
    "classify",
    "render",
    "evaluate",
    "evaluate_rhythm",
    "train",
    "gui",
)


def _load_commands() -> list:
    mods = []
    for name in COMMAND_MODULES:
        try:
            mods.append(importlib.import_module(f"ecgviewer.commands.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"ecgviewer.commands.{name}":
                raise
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecgviewer",
        description=f"ECG Viewer {__version__}: paper ECG images to signals and rhythm. "
        + RESEARCH_NOTICE,
    )
    parser.add_argument("--version", action="version", version=f"ecgviewer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _load_commands():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = {c for a in parser._subparsers._group_actions for c in a.choices}  # noqa: SLF001
    if not argv or (argv[0] not in commands and argv[0] not in ("-h", "--help", "--version")):
        argv = ["gui", *argv]  # `ecgviewer`, `ecgviewer scan.png`, `ecgviewer --screenshot x`
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except EcgViewerError as exc:
        print(f"ecgviewer: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ecgviewer: interrupted", file=sys.stderr)
        return 130
