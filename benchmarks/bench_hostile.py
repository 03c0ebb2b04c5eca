"""Run the hostile signal/option/output-folder corpus (tests/hostile.py) as real command lines.

Each probe runs ``python -m ecgviewer ...`` in its own child process with a wall-clock limit
(``--timeout-s``), so a hang or a memory blow-up shows as a row instead of taking the
benchmark down. Prints one row per probe: whether the exit code and the one-line reason match
the corpus's expectation, whether a traceback appeared, the child's wall time and peak RSS
(ru_maxrss from wait4), and the last line it printed. The same probes run in-process, without
timing, in tests/test_hostile_cli.py.

Usage: python benchmarks/bench_hostile.py [--only NAME ...] [--timeout-s 120]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from hostile import PROBES, make_signal_corpus, make_tiny_model


def run_probe(argv: list[str], timeout_s: float) -> tuple[int | None, str, float, float]:
    """(exit code or None on timeout, output, seconds, peak RSS MiB) of one command line."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ecgviewer", *argv], stdout=out, stderr=subprocess.STDOUT
        )
        deadline = t0 + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                status = None
                break
            time.sleep(0.05)
        out.seek(0)
        text = out.read().decode(errors="replace")
    code = None if status is None else os.waitstatus_to_exitcode(status)
    return code, text, time.perf_counter() - t0, usage.ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, help="probe names to run")
    ap.add_argument("--timeout-s", type=float, default=120.0)
    args = ap.parse_args()
    probes = [p for p in PROBES if not args.only or p.name in args.only]
    with tempfile.TemporaryDirectory(prefix="ecgviewer-hostile-") as tmp:
        d = Path(tmp)
        make_signal_corpus(d)
        model = make_tiny_model(d)
        print(f"{'probe':<26}{'match':>6}{'rc':>4}{'tb':>4}{'s':>7}{'MiB':>7}  last line")
        bad = 0
        for p in probes:
            argv = [a.replace("{d}", str(d)).replace("{model}", str(model)) for a in p.argv]
            code, text, seconds, rss = run_probe(argv, args.timeout_s)
            lines = [ln for ln in text.splitlines() if ln.strip()]
            traceback = "Traceback" in text
            ok = code == p.rc and not traceback and any(p.says in ln for ln in lines)
            ok = ok and not (p.never and p.never in text)
            bad += not ok
            last = lines[-1][:90] if lines else ""
            print(
                f"{p.name:<26}{'yes' if ok else 'NO':>6}{code!s:>4}{'!' if traceback else '-':>4}"
                f"{seconds:7.1f}{rss:7.0f}  {last}"
            )
        print(f"\n{len(probes) - bad}/{len(probes)} probes give the expected outcome")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
