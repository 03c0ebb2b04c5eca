"""The generic batch runner: naming, resume, report, time bound, worker processes, Dask.

Tasks here are tiny top-level functions (picklable by reference in spawned workers) whose
behaviour is chosen by the input's name, so every path of the runner is exercised in
seconds. The real digitisation task runs through the same runner in test_cli_digitize.py.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from ecgviewer import batch
from ecgviewer.batch import BatchItem, BatchItemResult, plan_items, read_report, run_batch, worker
from ecgviewer.errors import UnreadableImageError


def echo_task(item: BatchItem, options: dict) -> BatchItemResult:
    """Writes <out>.txt (input text upper-cased) then the summary JSON, like a real task."""
    name = item.path.stem
    if name.startswith("bad"):
        raise UnreadableImageError(f"{item.path.name}: not a readable image (test)")
    if name.startswith("hang"):
        time.sleep(60)
    if name.startswith("stuck"):  # a hang the in-worker alarm cannot interrupt (like C code)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(60)
    if name.startswith("crash") and options.get("crash", True):
        os._exit(3)
    txt = item.out_base.with_name(item.out_base.name + ".txt")
    if txt.exists() and not item.overwrite:
        raise FileExistsError(txt)
    txt.parent.mkdir(parents=True, exist_ok=True)
    txt.write_text(item.path.read_text().upper() + options.get("suffix", ""))
    if name.startswith("partial"):  # dies between the outputs and the JSON
        raise RuntimeError("interrupted before the summary")
    item.summary_path.write_text(json.dumps({"outputs": [txt.name], "pid": os.getpid()}))
    return BatchItemResult("ok", layout="test", quality=1.0, outputs=(str(txt),))


def _inputs(tmp_path: Path, names: list[str]) -> list[Path]:
    src = tmp_path / "in"
    src.mkdir(exist_ok=True)
    for n in names:
        (src / n).write_text(f"content of {n}")
    return [src / n for n in names]


class TestPlanning:
    def test_folders_globs_and_unique_names(self, tmp_path):
        src = tmp_path / "scans"
        (src / "sub").mkdir(parents=True)
        for rel in ["a.png", "a.jpg", "b c.png", "sub/a.png", "notes.txt", ".hidden/x.png"]:
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_bytes(b"x")
        found = batch.collect_inputs([src, str(src / "b*.png")], [".png", "jpg"])
        assert [f.relative_to(src).as_posix() for f, _ in found] == [
            "a.jpg",
            "a.png",
            "b c.png",
            "sub/a.png",
        ]  # glob duplicate dropped, .txt/.hidden out
        items = plan_items(found, tmp_path / "out")
        rel = [i.out_base.relative_to(tmp_path / "out").as_posix() for i in items]
        assert rel == ["a", "a_png", "b_c", "sub/a"]

    def test_output_folder_inside_input_is_excluded_symlinks_kept(self, tmp_path):
        (tmp_path / "out").mkdir()
        (tmp_path / "a.png").write_bytes(b"x")
        (tmp_path / "out" / "a.png").write_bytes(b"overlay from an earlier run")
        (tmp_path / "link.png").symlink_to(tmp_path / "a.png")
        found = batch.collect_inputs(
            [tmp_path, tmp_path / "a.png"], [".png"], exclude=[tmp_path / "out"]
        )
        assert [f.name for f, _ in found] == ["a.png", "link.png"]

    def test_missing_file_is_kept_for_reporting(self, tmp_path):
        found = batch.collect_inputs([tmp_path / "nope.png"], [".png"])
        assert found == [(tmp_path / "nope.png", None)]

    def test_pages_get_their_own_names(self, tmp_path):
        items = plan_items(
            [tmp_path / "doc.pdf", tmp_path / "one.png"],
            tmp_path,
            pages_of=lambda p: range(3) if p.suffix == ".pdf" else [0],
        )
        assert [(i.out_base.name, i.page) for i in items] == [
            ("doc_p1", 0),
            ("doc_p2", 1),
            ("doc_p3", 2),
            ("one", 0),
        ]


class TestRunInProcess:
    def test_bad_file_reported_others_written(self, tmp_path):
        paths = _inputs(tmp_path, ["x.txt", "bad.txt", "y.txt"])
        out = tmp_path / "out"
        report = tmp_path / "report.csv"
        summary = run_batch(
            plan_items(paths, out), echo_task, {}, report_path=report, progress=False
        )
        assert (summary.n_ok, summary.n_failed, summary.exit_code) == (2, 1, 1)
        assert (out / "x.txt").read_text() == "CONTENT OF X.TXT"
        rows = read_report(report)
        assert [(Path(r["input"]).name, r["status"]) for r in rows] == [
            ("x.txt", "ok"),
            ("bad.txt", "error"),
            ("y.txt", "ok"),
        ]
        assert "not a readable image" in rows[1]["reason"]
        assert "ok, 1 failed" in summary.text()

    def test_hanging_file_times_out_and_batch_goes_on(self, tmp_path):
        paths = _inputs(tmp_path, ["hang.txt", "z.txt"])
        summary = run_batch(
            plan_items(paths, tmp_path / "out"), echo_task, {}, timeout_s=0.5, progress=False
        )
        assert [r.status for r in summary.results] == ["timeout", "ok"]
        assert summary.results[0].seconds < 5

    def test_resume_skips_complete_and_redoes_partial(self, tmp_path):
        paths = _inputs(tmp_path, ["p.txt", "q.txt", "r.txt"])
        items = plan_items(paths, tmp_path / "out")
        assert run_batch(items, echo_task, {}, progress=False).n_ok == 3
        (tmp_path / "out" / "q.json").unlink()  # as if killed before the JSON
        (tmp_path / "out" / "r.json").write_text('{"outputs": ["r.txt"')  # truncated JSON
        stamp = (tmp_path / "out" / "p.txt").stat().st_mtime_ns
        again = run_batch(items, echo_task, {"suffix": "!"}, progress=False)
        assert [r.status for r in again.results] == ["skipped", "ok", "ok"]
        assert (tmp_path / "out" / "p.txt").stat().st_mtime_ns == stamp
        assert (tmp_path / "out" / "q.txt").read_text().endswith("!")
        assert (tmp_path / "out" / "r.txt").read_text().endswith("!")

    def test_interrupted_item_is_never_complete(self, tmp_path):
        items = plan_items(_inputs(tmp_path, ["partial.txt"]), tmp_path / "out")
        assert run_batch(items, echo_task, {}, progress=False).n_failed == 1
        assert (tmp_path / "out" / "partial.txt").exists()
        assert not batch.summary_is_complete(items[0])

    def test_no_silent_overwrite_without_resume(self, tmp_path):
        items = plan_items(_inputs(tmp_path, ["p.txt"]), tmp_path / "out")
        run_batch(items, echo_task, {}, progress=False)
        refused = run_batch(items, echo_task, {"suffix": "!"}, resume=False, progress=False)
        assert refused.results[0].status == "error" and "--overwrite" in refused.results[0].reason
        assert not (tmp_path / "out" / "p.txt").read_text().endswith("!")
        forced = run_batch(
            items, echo_task, {"suffix": "!"}, resume=False, overwrite=True, progress=False
        )
        assert forced.n_ok == 1 and (tmp_path / "out" / "p.txt").read_text().endswith("!")


class TestWorkerProcesses:
    def test_two_workers_same_outputs_and_report(self, tmp_path):
        paths = _inputs(tmp_path, [f"f{i}.txt" for i in range(5)] + ["bad.txt"])
        one = run_batch(plan_items(paths, tmp_path / "o1"), echo_task, {}, progress=False)
        two = run_batch(
            plan_items(paths, tmp_path / "o2"),
            echo_task,
            {},
            workers=2,
            report_path=tmp_path / "r2.csv",
            progress=False,
        )
        assert (two.n_ok, two.n_failed, two.workers) == (5, 1, 2)
        for p in paths[:5]:
            name = p.stem + ".txt"
            assert (tmp_path / "o1" / name).read_bytes() == (tmp_path / "o2" / name).read_bytes()
        pids = {
            json.loads((tmp_path / "o2" / f"{p.stem}.json").read_text())["pid"] for p in paths[:5]
        }
        assert os.getpid() not in pids  # really ran in workers
        assert sorted(r["input"] for r in read_report(tmp_path / "r2.csv")) == sorted(
            str(p) for p in paths
        )
        assert one.worker_peak_rss_mb is None and two.worker_peak_rss_mb > 10

    def test_stuck_worker_is_killed_and_crash_is_reported(self, tmp_path, monkeypatch):
        monkeypatch.setattr(worker, "HARD_GRACE_S", 1.0)
        paths = _inputs(tmp_path, ["stuck.txt", "crash.txt", "a.txt", "b.txt"])
        t0 = time.monotonic()
        summary = run_batch(
            plan_items(paths, tmp_path / "out"),
            echo_task,
            {},
            workers=2,
            timeout_s=1.0,
            progress=False,
        )
        status = {Path(r.input).stem: r for r in summary.results}
        assert status["stuck"].status == "timeout" and "killed" in status["stuck"].reason
        assert status["crash"].status == "error" and "worker process died" in status["crash"].reason
        assert status["a"].status == status["b"].status == "ok"
        assert len(summary.results) == 4 and time.monotonic() - t0 < 45


@pytest.fixture(scope="module")
def dask_cluster():
    """One local cluster of two single-threaded worker processes for the Dask tests."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster


class TestDask:
    def test_local_cluster_runs_the_same_task(self, tmp_path, dask_cluster):
        paths = _inputs(tmp_path, ["d1.txt", "d2.txt", "bad.txt"])
        summary = run_batch(
            plan_items(paths, tmp_path / "out"),
            echo_task,
            {},
            scheduler=dask_cluster.scheduler_address,
            report_path=tmp_path / "r.csv",
            progress=False,
        )
        assert (summary.n_ok, summary.n_failed, summary.workers) == (2, 1, 2)
        assert (tmp_path / "out" / "d2.txt").read_text() == "CONTENT OF D2.TXT"
        pid = json.loads((tmp_path / "out" / "d1.json").read_text())["pid"]
        assert pid != os.getpid()
        assert {r["status"] for r in read_report(tmp_path / "r.csv")} == {"ok", "error"}

    def test_unreachable_scheduler_is_one_clear_error(self, tmp_path):
        pytest.importorskip("distributed")
        from ecgviewer.errors import EcgViewerError

        items = plan_items(_inputs(tmp_path, ["d1.txt"]), tmp_path / "out")
        with pytest.raises(EcgViewerError, match="Dask scheduler"):
            import dask

            with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
                run_batch(items, echo_task, {}, scheduler="tcp://127.0.0.1:9", progress=False)

    def test_digitize_command_on_local_cluster(self, tmp_path, dask_cluster):
        """The real task (a DigitizeJob of frozen settings) travels to Dask workers intact."""
        from ecgviewer.cli import main
        from ecgviewer.paths import resources_dir

        scan = resources_dir() / "samples" / "ecg00015.png"
        bad = tmp_path / "bad.jpg"
        bad.write_bytes(b"not a jpeg")
        argv = [str(scan), str(bad), "-o", str(tmp_path / "out"), "--no-progress"]
        argv += ["--scheduler", dask_cluster.scheduler_address, "--report", str(tmp_path / "r.csv")]
        code = main(["digitize", *argv])
        assert code == 1
        status = {Path(r["input"]).name: r["status"] for r in read_report(tmp_path / "r.csv")}
        assert status == {"ecg00015.png": "ok", "bad.jpg": "error"}
        assert batch.summary_is_complete(plan_items([scan], tmp_path / "out")[0])
