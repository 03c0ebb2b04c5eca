"""Run the hostile-file corpus (tests/badfiles.py) through load_image (+ digitize) in children.

Each file is handled in its own subprocess, under an address-space limit (``--mem-mib``,
default 2048 MiB via RLIMIT_AS) and a wall-clock limit (``--timeout-s``), so a hang or a
memory blow-up shows as a row instead of taking the benchmark down. Prints one row per file:
outcome (typed error name or ok), whether it matches the corpus's expectation, seconds spent
in load / digitize inside the child, the child's peak RSS (ru_maxrss from wait4) and the
one-line reason. A first "(baseline)" row is a child that only imports, for comparison.

With ``--scans DIR`` the real scans in DIR are run the same way after the corpus (expected:
load ok; digitize gives a result or NoTraceFoundError, never a RAW exception).

Usage: python benchmarks/bench_bad_files.py [--no-digitize] [--mem-mib 2048] [--timeout-s 60]
                                            [--scans ../shared/data/scans]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from badfiles import make_corpus

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from ecgviewer.errors import EcgViewerError
from ecgviewer.io.images import load_image
want_digitize = sys.argv[3] == "1"
import_note = None
if want_digitize:
    try:
        from ecgviewer.digitize import digitize
        from ecgviewer.digitize.types import DigitizeSettings
    except Exception as exc:  # not written yet, or mid-edit in the shared tree: say so
        want_digitize = False
        import_note = f"digitize not importable: {type(exc).__name__}: {exc}"[:200]
out = {"import_s": time.perf_counter() - t0, "load_s": None, "digitize_s": None}
if import_note:
    out["digest"] = import_note
path, page = sys.argv[1], int(sys.argv[2])
if path == "-":
    out.update(outcome="ok", reason="imports only")
else:
    stage = "load"
    try:
        t = time.perf_counter()
        im = load_image(path, page=page)
        out["load_s"] = time.perf_counter() - t
        out.update(outcome="ok", reason=f"{im.rgb.shape[1]}x{im.rgb.shape[0]} {im.format}")
        if want_digitize:
            stage = "digitize"
            t = time.perf_counter()
            try:
                res = digitize(im, DigitizeSettings())
                w = "; ".join(res.warnings) or "no warnings"
                out["digest"] = f"{len(res.leads)} lead(s), q={res.quality:.2f}: {w}"
            finally:
                out["digitize_s"] = time.perf_counter() - t
    except EcgViewerError as exc:
        key = "outcome" if stage == "load" else "digitize_outcome"
        out[key] = type(exc).__name__
        out["reason" if stage == "load" else "digest"] = str(exc)
    except BaseException as exc:
        key = "outcome" if stage == "load" else "digitize_outcome"
        out[key] = "RAW " + type(exc).__name__
        out["reason" if stage == "load" else "digest"] = str(exc).splitlines()[0][:200] if str(exc) else ""
print(json.dumps(out))
"""


def run_child(path: str, page: int, digitize: bool, mem_mib: int, timeout_s: float) -> dict:
    limit = mem_mib << 20

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, path, str(page), "1" if digitize else "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=cap,  # noqa: PLW1509 - single-threaded parent, only setrlimit
        env=env,
    )
    timer = threading.Timer(timeout_s, proc.kill)
    timer.start()
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    try:
        row = json.loads(stdout.decode().strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = stderr.decode(errors="replace").strip().splitlines()
        row = {
            "outcome": "KILLED" if proc.returncode < 0 else f"CRASH rc={proc.returncode}",
            "reason": tail[-1][:200] if tail else "",
        }
    row["wall_s"] = wall
    row["peak_rss_mib"] = usage.ru_maxrss / 1024  # Linux: kilobytes
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-digitize", action="store_true", help="load only")
    ap.add_argument("--mem-mib", type=int, default=2048, help="RLIMIT_AS of each child")
    ap.add_argument("--timeout-s", type=float, default=60.0, help="kill a child after this")
    ap.add_argument("--scans", type=Path, help="also run the real scans in this folder")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="ecgviewer-bench-bad-") as tmp:
        corpus = make_corpus(tmp)
        print(
            f"# {len(corpus)} files; each child capped at {args.mem_mib} MiB address space "
            f"(RLIMIT_AS) and {args.timeout_s:g} s; RSS = child's ru_maxrss"
        )
        header = (
            f"{'file':28} {'expected':20} {'outcome':20} {'match':5} {'load_s':>6} "
            f"{'digit_s':>7} {'wall_s':>6} {'rss_MiB':>7}  reason / digitize result"
        )
        print(header)
        print("-" * len(header))
        rows = [("(baseline)", None, "-", 0)] + [
            (f.name, f.expect, str(f.path), f.page) for f in corpus
        ]
        if args.scans:
            rows += [
                (p.name, None, str(p), 0)
                for p in sorted(args.scans.iterdir())
                if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pdf")
            ]
        n_bad = 0
        max_rss = 0.0
        for name, expect, path, page in rows:
            r = run_child(path, page, not args.no_digitize, args.mem_mib, args.timeout_s)
            got = r.get("outcome", "?")
            match = "-" if name == "(baseline)" else ("yes" if got == (expect or "ok") else "NO")
            n_bad += match == "NO" or str(r.get("digitize_outcome", "")).startswith("RAW")
            max_rss = max(max_rss, r["peak_rss_mib"])
            text = r.get("reason", "")
            if r.get("digest") or r.get("digitize_outcome"):
                text += (
                    " | digitize: "
                    + (f"{r['digitize_outcome']}: " if r.get("digitize_outcome") else "")
                    + r.get("digest", "")
                )

            def f(v, width):
                return f"{v:{width}.2f}" if isinstance(v, (int, float)) else f"{'-':>{width}}"

            print(
                f"{name:28} {expect or 'ok':20} {got:20} {match:5} {f(r.get('load_s'), 6)} "
                f"{f(r.get('digitize_s'), 7)} {f(r['wall_s'], 6)} {r['peak_rss_mib']:7.0f}  "
                f"{text[:150]}"
            )
        print(f"# mismatches: {n_bad}; max child peak RSS {max_rss:.0f} MiB")
    return 1 if n_bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
