"""What a batch will do: expand the inputs, name one output per (file, page), and tell a
finished item (skipped on resume) from an unfinished one."""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ecgviewer.batch.provenance import STATE_WRITING, output_state
from ecgviewer.io.names import safe_stem


@dataclass(frozen=True)
class BatchItem:
    """One unit of work: a page of an input file and where its outputs go (no extension)."""

    path: Path
    out_base: Path
    page: int = 0  # 0-based
    overwrite: bool = False  # set by the runner: may the task replace existing files?
    redo_reason: str = ""  # set by the runner: why an earlier output of ours is redone

    @property
    def summary_path(self) -> Path:
        return self.out_base.parent / (self.out_base.name + ".json")

    @property
    def label(self) -> str:
        return f"{self.path}" if self.page == 0 else f"{self.path} (page {self.page + 1})"


def collect_inputs(
    args: Iterable[str | os.PathLike],
    extensions: Iterable[str],
    exclude: Iterable[str | os.PathLike] = (),
) -> list[tuple[Path, Path | None]]:
    """Expand files, folders (recursively, by extension) and glob patterns, in a stable order.

    Returns ``(file, root)`` pairs: ``root`` is the folder argument a file was found under
    (its outputs mirror the sub-folders), ``None`` for files named directly or by a glob.
    A named file that does not exist is kept, so the task reports it as one failed item.
    Files under an ``exclude`` folder (e.g. the output folder inside the input folder) are
    left out; the same path named twice counts once (symlinks stay distinct inputs).
    """
    exts = {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}
    out: list[tuple[Path, Path | None]] = []
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            found = sorted(
                f
                for f in p.rglob("*")
                if f.suffix.lower() in exts
                and f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            out.extend((f, p) for f in found)
        elif not p.exists() and glob.has_magic(str(arg)):
            out.extend(
                (Path(f), None)
                for f in sorted(glob.glob(str(arg), recursive=True))
                if Path(f).is_file()
            )
        else:
            out.append((p, None))
    skip = [os.path.abspath(e) + os.sep for e in exclude]
    seen: set[str] = set()
    unique = []
    for f, root in out:
        key = os.path.abspath(f)
        if key not in seen and not any(key.startswith(e) for e in skip):
            seen.add(key)
            unique.append((f, root))
    return unique


def plan_items(
    inputs: Sequence[tuple[Path, Path | None]] | Sequence[Path],
    outdir: str | os.PathLike,
    pages_of: Callable[[Path], Sequence[int]] | None = None,
) -> list[BatchItem]:
    """One :class:`BatchItem` per (file, page), with unique output names under ``outdir``.

    Outputs are ``outdir/<stem>`` (``<stem>_p<N>`` for pages of multi-page files; sub-folders
    of a folder argument are mirrored). Clashing names get the extension, then a counter.
    """
    outdir = Path(outdir)
    items: list[BatchItem] = []
    used: set[str] = set()
    for entry in inputs:
        path, root = entry if isinstance(entry, tuple) else (Path(entry), None)
        rel_dir = path.parent.relative_to(root) if root is not None else Path()
        pages = list(pages_of(path)) if pages_of else [0]
        for page in pages:
            stem = safe_stem(path.stem) + (f"_p{page + 1}" if len(pages) > 1 else "")
            candidates = [stem, f"{stem}_{safe_stem(path.suffix.lstrip('.'))}"]
            candidates += [f"{candidates[1]}_{k}" for k in range(2, 10_000)]
            for cand in candidates:
                key = (rel_dir / cand).as_posix().lower()  # case-insensitive file systems
                if key not in used:
                    used.add(key)
                    break
            items.append(BatchItem(path=path, out_base=outdir / rel_dir / cand, page=page))
    return items


def summary_is_complete(item: BatchItem, expected: Sequence[Path] = ()) -> bool:
    """True when ``item``'s summary JSON is ours, finished, and every file it lists (and
    ``expected``) exists. A missing, truncated or foreign JSON means "redo". (The runner also
    compares the provenance: :func:`ecgviewer.batch.provenance.output_state`.)"""
    return output_state(item.summary_path, list(expected)).complete


def write_claim(item: BatchItem, outputs: Sequence[str], provenance: dict) -> None:
    """Before writing an item's files: a summary JSON in state "writing" that names them
    (so they count as ours if the run stops half-way) and says what is making them."""
    from ecgviewer.io.signals import atomic_write_bytes

    claim = {"state": STATE_WRITING, "outputs": list(outputs), "provenance": provenance}
    atomic_write_bytes(item.summary_path, json.dumps(claim).encode())
