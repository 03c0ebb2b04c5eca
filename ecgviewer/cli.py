"""The ``ecgviewer`` command: one entry point, one module per subcommand in ``commands/``.

Each command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
With no subcommand (or a file path as the only argument) the desktop app starts.
"""

from __future__ import annotations

import argparse
import importlib
import os
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
    "train_soup",
    "train_finalize",
    "train_paper_set",
    "train_segmenter",
    "gui",
)

COMMAND_ALIASES = {"digitize": ("digitise",)}  # the British spelling the help text also uses


def _load_commands() -> list:
    mods = []
    for name in COMMAND_MODULES:
        try:
            mods.append(importlib.import_module(f"ecgviewer.commands.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"ecgviewer.commands.{name}":
                raise
    return mods


class _OneLineParser(argparse.ArgumentParser):
    """Option mistakes in one line (the usage is one ``--help`` away), never a traceback."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="ecgviewer",
        description=f"ECG Viewer {__version__}: paper ECG images to signals and rhythm. "
        + RESEARCH_NOTICE,
    )
    parser.add_argument("--version", action="version", version=f"ecgviewer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _load_commands():
        aliases = COMMAND_ALIASES.get(mod.NAME, ())
        p = sub.add_parser(mod.NAME, aliases=aliases, help=mod.HELP, description=mod.HELP)
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
    except MemoryError:
        print("ecgviewer: error: out of memory", file=sys.stderr)
        return 2
    except OSError as exc:  # a path the command could not use: one line, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"ecgviewer: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: still one line; ECGVIEWER_DEBUG=1 shows the traceback
        if os.environ.get("ECGVIEWER_DEBUG"):
            raise
        text = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        print(f"ecgviewer: internal error: {text} (ECGVIEWER_DEBUG=1 for details)", file=sys.stderr)
        return 3
