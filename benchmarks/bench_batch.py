"""Archive-scale throughput of ``ecgviewer digitize``: pages/s and memory vs worker count.

    python benchmarks/bench_batch.py [--n 1000] [--workers 1 2 4] [--data DIR] [--work DIR]

Builds a folder of N pages (symlinks cycling over the real scans and pages rendered from CinC
and PTB-XL records), digitises it once per worker count (each run in a fresh process, so
peak RSS is that run's own), then re-runs the last configuration with ``--resume`` to time
skipping finished pages. Prints one table row per run and the speed-up over one worker.
Without the data folder the bundled samples are used.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _render_pages(data: Path, cache: Path, n_each: int) -> list[Path]:
    """A few rendered pages (CinC single-lead strips, PTB-XL 3x4+1) cached in ``cache``."""
    from PIL import Image

    from ecgviewer.io.signals import read_wfdb
    from ecgviewer.render import RenderStyle, render_ecg

    cache.mkdir(parents=True, exist_ok=True)
    jobs = []
    cinc = data / "cinc2017" / "training2017"
    if cinc.is_dir():
        names = sorted(p.stem for p in cinc.glob("A0*.hea"))[:n_each]
        jobs += [(cinc / f"{n}.hea", RenderStyle(layout="single", dpi=150)) for n in names]
    ptb = data / "ptbxl" / "records500" / "00000"
    if ptb.is_dir():
        heads = sorted(ptb.glob("*_hr.hea"))[:n_each]
        jobs += [(h, RenderStyle(layout="3x4+1", dpi=150)) for h in heads]
    out = []
    for head, style in jobs:
        png = cache / f"{head.stem}_{style.layout.replace('+', 'p')}.png"
        if not png.exists():
            page = render_ecg(read_wfdb(head), style, seed=0)
            Image.fromarray(page.image_rgb).save(png, dpi=(style.dpi, style.dpi))
        out.append(png)
    return out


def build_folder(n: int, work: Path, data: Path | None, n_render: int) -> tuple[Path, dict]:
    """``work/pages`` with ``n`` symlinks cycling over the source pages."""
    from ecgviewer.io.images import IMAGE_EXTENSIONS
    from ecgviewer.paths import resources_dir

    sources: list[Path] = []
    if data is not None and (data / "scans").is_dir():
        sources += sorted(
            p for p in (data / "scans").iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS
        )
        sources += _render_pages(data, work / "rendered", n_render)
    if not sources:
        samples = resources_dir() / "samples"
        sources = sorted(p for p in samples.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    folder = work / "pages"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for i in range(n):
        src = sources[i % len(sources)]
        (folder / f"page{i:05d}{src.suffix.lower()}").symlink_to(src.resolve())
    kinds = {"scans": sum("scans" in str(s) for s in sources), "sources": len(sources)}
    return folder, kinds


def run_one(folder: Path, outdir: Path, workers: int, resume: bool, result_json: Path) -> None:
    """One configuration, in this (fresh) process; writes its figures to ``result_json``."""
    from ecgviewer.batch import collect_inputs, plan_items, run_batch
    from ecgviewer.commands.digitize import DigitizeJob, digitize_file, output_paths
    from ecgviewer.digitize.types import DigitizeSettings
    from ecgviewer.io.images import IMAGE_EXTENSIONS

    items = plan_items(collect_inputs([folder], IMAGE_EXTENSIONS), outdir)
    s = run_batch(
        items,
        digitize_file,
        DigitizeJob(DigitizeSettings()),
        workers=workers,
        resume=resume,
        overwrite=not resume,
        progress=True,
        timeout_s=300,
        expected_outputs=output_paths,
        report_path=outdir / "report.csv",
    )
    result_json.write_text(
        json.dumps(
            dict(
                workers=workers,
                resume=resume,
                n=len(s.results),
                ok=s.n_ok,
                failed=s.n_failed,
                skipped=s.n_skipped,
                wall_s=s.wall_s,
                pages_per_s=s.pages_per_s,
                items_per_s=len(s.results) / s.wall_s,
                parent_rss_mb=s.parent_peak_rss_mb,
                worker_rss_mb=s.worker_peak_rss_mb,
                timeouts=s.count("timeout"),
            )
        )
    )


def noop_task(item, options):
    """Writes only the summary JSON: measures the runner itself (submission, IPC, report)."""
    from ecgviewer.batch import BatchItemResult

    item.summary_path.parent.mkdir(parents=True, exist_ok=True)
    item.summary_path.write_text('{"outputs": []}')
    return BatchItemResult("ok")


def runner_overhead(n: int, work: Path, workers: list[int]) -> None:
    """Items per second of the runner with a task that does nothing, and the parent's RSS."""
    from ecgviewer.batch import plan_items, run_batch

    items = plan_items([work / f"item{i:06d}.png" for i in range(n)], work / "noop")
    print(f"\nrunner overhead, {n} no-op items:")
    for w in workers:
        s = run_batch(
            items,
            noop_task,
            workers=w,
            resume=False,
            overwrite=True,
            progress=False,
            report_path=work / f"noop_w{w}.csv",
        )
        print(
            f"  workers={w}: {len(s.results) / s.wall_s:.0f} items/s, parent peak RSS "
            f"{s.parent_peak_rss_mb:.0f} MB"
        )


def _children_cpu_s() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="pages in the folder (default 1000)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--data", type=Path, default=None, help="data folder (default: found)")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    ap.add_argument("--render", type=int, default=8, help="records rendered per dataset")
    ap.add_argument("--overhead", type=int, default=2000, help="no-op items (0: skip)")
    ap.add_argument(
        "--run-one",
        nargs=5,
        metavar=("FOLDER", "OUT", "W", "RESUME", "JSON"),
        help=argparse.SUPPRESS,
    )
    args = ap.parse_args()
    if args.run_one:
        f, o, w, r, j = args.run_one
        run_one(Path(f), Path(o), int(w), r == "1", Path(j))
        return

    from ecgviewer.paths import data_dir

    data = args.data or data_dir()
    work = args.work or Path(tempfile.mkdtemp(prefix="ecgviewer-bench-batch-"))
    folder, kinds = build_folder(args.n, work, data, args.render)
    print(
        f"{args.n} pages from {kinds['sources']} source images ({kinds['scans']} real scans, "
        f"the rest rendered) in {folder}; cpus={os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    rows = []
    runs = [(w, False) for w in args.workers] + [(args.workers[-1], True)]
    for w, resume in runs:
        out = work / f"out_w{w}"
        res = work / f"result_w{w}_{int(resume)}.json"
        t0 = time.time()
        cpu0 = _children_cpu_s()
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--run-one",
                str(folder),
                str(out),
                str(w),
                "1" if resume else "0",
                str(res),
            ],
            check=True,
        )
        r = json.loads(res.read_text())
        r["load_end"] = os.getloadavg()[0]
        r["process_s"] = time.time() - t0
        r["cpu_s"] = _children_cpu_s() - cpu0  # the run's process and all its workers
        rows.append(r)
    base = next(r["pages_per_s"] for r in rows if not r["resume"])
    print()
    print(
        "| workers | mode | pages | ok | failed | wall s | pages/s | speed-up | parent RSS MB "
        "| worker RSS MB | CPU s/page | load avg (end) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        mode = "resume (all done)" if r["resume"] else "digitize"
        rate = r["items_per_s"] if r["resume"] else r["pages_per_s"]
        speed = "" if r["resume"] else f"{r['pages_per_s'] / base:.2f}x"
        wrss = f"{r['worker_rss_mb']:.0f}" if r["worker_rss_mb"] else "-"
        print(
            f"| {r['workers']} | {mode} | {r['n']} | {r['ok']} | {r['failed']} | "
            f"{r['wall_s']:.1f} | {rate:.2f} | {speed} | {r['parent_rss_mb']:.0f} | {wrss} | "
            f"{r['cpu_s'] / r['n']:.2f} | {r['load_end']:.2f} |"
        )
    if args.overhead:
        runner_overhead(args.overhead, work, args.workers)
    print(
        f"\n(resume row: items per second, failed items are retried; CPU s/page counts the "
        f"process start and imports; outputs in {work})"
    )


if __name__ == "__main__":
    main()
