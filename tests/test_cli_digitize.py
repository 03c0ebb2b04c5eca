"""``ecgviewer digitize`` end to end on the bundled real samples (no data folder needed).

Checks what a user gets: files re-read by the ``wfdb`` package and by our own readers, values
equal to what the pipeline found, a rendered CinC strip against its ground truth, one bad
file not stopping a batch, resume, no silent overwrite, atomic writes, worker processes.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.batch import read_report
from ecgviewer.cli import main
from ecgviewer.digitize.types import DigitizeSettings
from ecgviewer.paths import resources_dir

SAMPLES = resources_dir() / "samples"
SCAN = SAMPLES / "ecg00015.png"  # real 12-lead export, 3x4
STRIP = SAMPLES / "cinc2017_A00004_strip.png"  # rendered CinC record, single lead, with truth


def digitize_cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["digitize", *map(str, argv), "--no-progress"])
    return code, out.getvalue(), err.getvalue()


def _copy_inputs(folder: Path, *paths: Path, bad: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for p in paths:
        shutil.copy(p, folder / p.name)
    if bad:
        (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)  # truncated PNG
    return folder


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory):
    """One batch of three inputs (scan, strip, broken file), shared by the read-back tests."""
    root = tmp_path_factory.mktemp("digitize")
    inputs = _copy_inputs(root / "in", SCAN, STRIP)
    out = root / "out"
    code, stdout, stderr = digitize_cli(
        inputs, "-o", out, "--overlay", "--report", root / "report.csv"
    )
    return dict(
        code=code, stdout=stdout, stderr=stderr, out=out, report=root / "report.csv", inputs=inputs
    )


class TestBatchCommand:
    def test_bad_file_reported_others_written(self, batch_run):
        assert batch_run["code"] == 1
        rows = {Path(r["input"]).name: r for r in read_report(batch_run["report"])}
        assert set(rows) == {"broken.png", SCAN.name, STRIP.name}
        assert rows["broken.png"]["status"] == "error" and rows["broken.png"]["reason"]
        assert rows[SCAN.name]["status"] == rows[STRIP.name]["status"] == "ok"
        assert rows[SCAN.name]["layout"] and float(rows[SCAN.name]["quality"]) > 0
        assert [ln for ln in batch_run["stderr"].splitlines() if ln.strip()] == [
            f"{batch_run['inputs'] / 'broken.png'}: error: {rows['broken.png']['reason']}"
        ]
        assert "2 ok, 1 failed, 0 skipped" in batch_run["stdout"]
        out = batch_run["out"]
        for stem in (SCAN.stem, STRIP.stem):
            for ext in (".hea", ".dat", ".png", ".json"):
                assert (out / (stem + ext)).stat().st_size > 0
        assert not list(out.glob("broken*")) and not list(out.glob(".*.tmp"))

    def test_prints_the_leads_of_each_page(self, batch_run):
        lines = batch_run["stdout"].splitlines()
        scan = next(ln for ln in lines if "ecg00015.png" in ln)
        assert "12 leads (I II III aVR aVL aVF V1 V2 V3 V4 V5 V6)" in scan
        strip = next(ln for ln in lines if STRIP.name in ln)
        assert "1 lead (ECG)" in strip and "rhythm lead ECG 30.0 s" in strip
        assert not any("broken.png" in ln for ln in lines)  # failures go to stderr

    def test_summary_json(self, batch_run):
        summary = json.loads((batch_run["out"] / f"{SCAN.stem}.json").read_text())
        assert summary["outputs"] == [f"{SCAN.stem}.hea", f"{SCAN.stem}.dat", f"{SCAN.stem}.png"]
        assert summary["calibration"]["source"] in ("grid", "pulse", "user", "dpi", "default")
        assert summary["calibration"]["px_per_mm_x"] > 0
        assert summary["layout"]["boxes"] and set(summary["layout"]["boxes"][0]) >= {
            "name",
            "x0",
            "x1",
            "y0",
            "y1",
            "baseline_y",
        }
        assert len(summary["leads"]) >= len(summary["record"]["lead_names"]) >= 1
        lead = summary["leads"][0]
        assert set(lead) >= {"name", "fs_hz", "start_s", "duration_s", "valid_fraction", "quality"}
        assert 0 < lead["valid_fraction"] <= 1
        assert summary["settings"]["paper_speed_mm_s"] == 25.0
        assert summary["record"]["fs_hz"] == 500.0

    def test_wfdb_reread_by_wfdb_and_ecgviewer_equals_pipeline(self, batch_run):
        wfdb = pytest.importorskip("wfdb")
        from ecgviewer.digitize import digitize
        from ecgviewer.digitize.pipeline import digitization_to_record
        from ecgviewer.io.signals import read_wfdb

        base = batch_run["out"] / SCAN.stem
        theirs = wfdb.rdrecord(str(base))
        ours = read_wfdb(base.with_suffix(".hea"))
        direct = digitization_to_record(digitize(SCAN, DigitizeSettings()), fs_hz=500.0)
        assert tuple(theirs.sig_name) == ours.lead_names == direct.lead_names
        assert set(theirs.units) == {"mV"} and theirs.fs == ours.fs_hz == 500.0
        np.testing.assert_allclose(theirs.p_signal, ours.signal_mv, atol=1e-9, equal_nan=True)
        assert direct.signal_mv.shape == ours.signal_mv.shape
        assert np.array_equal(np.isnan(direct.signal_mv), np.isnan(ours.signal_mv))
        np.testing.assert_allclose(
            ours.signal_mv, direct.signal_mv, atol=0.0005 + 1e-9, equal_nan=True
        )  # 1 µV steps of format 16

    def test_single_lead_strip_matches_ground_truth(self, batch_run):
        """The 30 s CinC strip (3 rows of 10 s) comes back as one lead on the right timeline."""
        from ecgviewer.io.signals import read_wfdb
        from ecgviewer.scoring import score_digitization

        got = read_wfdb(batch_run["out"] / f"{STRIP.stem}.hea")
        truth = read_wfdb(SAMPLES / "cinc2017_A00004_strip_truth.hea")
        assert got.lead_names == ("ECG",)
        assert got.duration_s == pytest.approx(truth.duration_s, rel=0.02)
        score = score_digitization(truth, got).leads[0]  # aligned by one shift for all rows
        assert score.pearson_r > 0.95 and score.coverage > 0.95, score
        assert abs(score.shift_s) < 0.1 and abs(score.offset_mv) < 0.2, score


class TestFormats:
    def test_csv_and_edf_reread(self, batch_run, tmp_path):
        from ecgviewer.io.edf import read_edf
        from ecgviewer.io.signals import read_csv, read_wfdb

        for fmt in ("wfdb", "csv", "edf"):  # same page, same settings, three formats
            code, _, err = digitize_cli(SCAN, "-o", tmp_path, "--format", fmt, "--layout", "3x4")
            assert code == 0, err
        summary = json.loads((tmp_path / f"{SCAN.stem}.json").read_text())
        assert summary["settings"]["layout"] == "3x4"  # the flag reached the digitiser
        assert summary["outputs"] == [f"{SCAN.stem}.edf"]
        wfdb_rec = read_wfdb(tmp_path / f"{SCAN.stem}.hea")
        for fmt, ext in (("csv", ".csv"), ("edf", ".edf")):
            path = tmp_path / f"{SCAN.stem}{ext}"
            rec = read_csv(path) if fmt == "csv" else read_edf(path)
            assert rec.fs_hz == 500.0 and rec.lead_names == wfdb_rec.lead_names
            assert rec.signal_mv.shape == wfdb_rec.signal_mv.shape
            ok = np.isfinite(wfdb_rec.signal_mv)  # on 3x4 pages a lead is printed for 2.5 s
            assert ok.mean() > 0.2
            if fmt == "csv":  # CSV keeps gaps as empty cells; EDF cannot mark them
                assert np.array_equal(ok, np.isfinite(rec.signal_mv))
            np.testing.assert_allclose(rec.signal_mv[ok], wfdb_rec.signal_mv[ok], atol=0.01)
        assert (tmp_path / f"{SCAN.stem}.csv").read_text().startswith("# fs_hz=500\n")

    def test_pdf_all_pages(self, tmp_path):
        from PIL import Image

        page = Image.open(SCAN).convert("RGB")
        pdf = tmp_path / "two pages.pdf"
        page.save(pdf, save_all=True, append_images=[page], resolution=100.0)
        code, out, err = digitize_cli(
            pdf, "-o", tmp_path / "out", "--page", "all", "--pdf-dpi", 100, "--format", "csv"
        )
        assert code == 0, err
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
            "two_pages_p1.csv",
            "two_pages_p1.json",
            "two_pages_p2.csv",
            "two_pages_p2.json",
        ]
        assert json.loads((tmp_path / "out" / "two_pages_p2.json").read_text())["page"] == 2

    def test_no_input_is_a_clean_error(self, tmp_path, capsys):
        assert main(["digitize", str(tmp_path), "-o", str(tmp_path / "o")]) == 2
        assert "no images found" in capsys.readouterr().err


class TestResumeAndOverwrite:
    def test_resume_skips_complete_and_redoes_partial(self, batch_run, tmp_path):
        out = tmp_path / "out"
        shutil.copytree(batch_run["out"], out)
        # as if interrupted before the summary: the claim written before the signal files
        # remains (it marks them as ours), with a half-written signal
        summary = json.loads((out / f"{STRIP.stem}.json").read_text())
        claim = {"state": "writing", "outputs": summary["outputs"]}
        (out / f"{STRIP.stem}.json").write_text(json.dumps(claim))
        (out / f"{STRIP.stem}.dat").write_bytes(b"\0" * 10)
        before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
        code, _, _ = digitize_cli(
            batch_run["inputs"], "-o", out, "--overlay", "--report", tmp_path / "r.csv"
        )
        status = {Path(r["input"]).name: r["status"] for r in read_report(tmp_path / "r.csv")}
        assert status == {SCAN.name: "skipped", STRIP.name: "ok", "broken.png": "error"}
        assert code == 1  # the broken file still fails
        for ext in (".hea", ".dat", ".png", ".json"):
            assert (out / f"{SCAN.stem}{ext}").stat().st_mtime_ns == before[f"{SCAN.stem}{ext}"]
        ref = batch_run["out"] / f"{STRIP.stem}.dat"
        assert (out / f"{STRIP.stem}.dat").read_bytes() == ref.read_bytes()

    def test_never_silently_overwrites(self, batch_run, tmp_path):
        out = tmp_path / "out"
        shutil.copytree(batch_run["out"], out)
        (out / f"{SCAN.stem}.dat").write_bytes(b"mine")
        (out / f"{SCAN.stem}.json").unlink()  # not complete, but resume is off: refuse
        code, _, err = digitize_cli(SCAN, "-o", out, "--no-resume")
        assert code == 1 and "exists" in err and "--overwrite" in err
        assert (out / f"{SCAN.stem}.dat").read_bytes() == b"mine"
        code, _, err = digitize_cli(SCAN, "-o", out, "--overwrite")  # --overwrite redoes
        assert code == 0, err
        assert (out / f"{SCAN.stem}.dat").read_bytes() == (
            batch_run["out"] / f"{SCAN.stem}.dat"
        ).read_bytes()


class TestAtomicWrites:
    def test_failed_write_keeps_previous_files(self, batch_run, tmp_path, monkeypatch):
        from ecgviewer.digitize import digitize
        from ecgviewer.export import export_signal, write_overlay_png, write_summary_json

        dig = digitize(SCAN, DigitizeSettings())
        base = tmp_path / "rec"
        written = [
            *export_signal(dig, base, "wfdb"),
            *export_signal(dig, base, "csv"),
            write_summary_json(dig, tmp_path / "rec.json"),
            write_overlay_png(dig, tmp_path / "rec.png"),
        ]
        before = {p: p.read_bytes() for p in written}

        def disk_full(fd):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "fsync", disk_full)  # fails after the data went to the temp file
        for write in (
            lambda: export_signal(dig, base, "wfdb", overwrite=True),
            lambda: export_signal(dig, base, "csv", overwrite=True),
            lambda: write_summary_json(dig, tmp_path / "rec.json", overwrite=True),
            lambda: write_overlay_png(dig, tmp_path / "rec.png", overwrite=True),
        ):
            with pytest.raises(OSError, match="No space"):
                write()
        assert {p: p.read_bytes() for p in written} == before
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)

    def test_refuses_to_overwrite_by_default(self, tmp_path):
        from ecgviewer.digitize import digitize
        from ecgviewer.export import OutputExistsError, export_signal

        dig = digitize(SCAN, DigitizeSettings())
        export_signal(dig, tmp_path / "rec", "csv")
        with pytest.raises(OutputExistsError):
            export_signal(dig, tmp_path / "rec.csv", "csv")

    def test_crash_before_summary_is_redone_on_resume(self, tmp_path, monkeypatch):
        import ecgviewer.export

        def crash(*a, **k):
            raise RuntimeError("killed")

        monkeypatch.setattr(ecgviewer.export, "write_summary_json", crash)
        code, _, err = digitize_cli(SCAN, "-o", tmp_path)
        assert code == 1 and "killed" in err
        assert (tmp_path / f"{SCAN.stem}.dat").exists()
        claim = json.loads((tmp_path / f"{SCAN.stem}.json").read_text())
        assert claim["state"] == "writing"  # names the files as ours, never "complete"
        monkeypatch.undo()
        code, out, _ = digitize_cli(SCAN, "-o", tmp_path)
        assert code == 0 and "quality" in out
        assert json.loads((tmp_path / f"{SCAN.stem}.json").read_text())["outputs"]


class TestWorkers:
    def test_two_workers_identical_to_one(self, batch_run, tmp_path):
        inputs = _copy_inputs(tmp_path / "in", SCAN, STRIP, bad=False)
        one, two = tmp_path / "one", tmp_path / "two"
        assert digitize_cli(inputs, "-o", one)[0] == 0
        code, out, err = digitize_cli(inputs, "-o", two, "--workers", 2)
        assert code == 0, err
        assert "2 worker(s)" in out
        names = sorted(p.name for p in one.iterdir())
        assert names == sorted(p.name for p in two.iterdir()) and len(names) == 6
        for name in names:
            a, b = (one / name).read_bytes(), (two / name).read_bytes()
            if name.endswith(".json"):
                a, b = (json.loads(x) for x in (a, b))
                a.pop("timings_s"), b.pop("timings_s")
            assert a == b, name


def test_a_multi_page_file_says_which_page_was_read(tmp_path):
    """A two-page PDF read with the default --page tells the user it read page 1 of 2."""
    from PIL import Image

    page = Image.open(STRIP).convert("RGB")
    pdf = tmp_path / "two.pdf"
    page.save(pdf, save_all=True, append_images=[page], resolution=100)
    code, stdout, _ = digitize_cli(pdf, "-o", tmp_path / "out")
    assert code == 0
    assert "page 1 of 2" in stdout and "--page" in stdout
    summary = json.loads((tmp_path / "out" / "two.json").read_text())
    assert summary["page"] == 1 and summary["n_pages"] == 2
