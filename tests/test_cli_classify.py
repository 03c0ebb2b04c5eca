"""``ecgviewer classify`` as a batch: JSON lines, bad inputs, workers, resume and report."""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import pytest

from ecgviewer.batch import read_report
from ecgviewer.cli import main
from ecgviewer.paths import models_dir, resources_dir

SAMPLES = resources_dir() / "samples"
STRIP = SAMPLES / "cinc2017_A00004_strip.png"  # rendered CinC AF record
TRUTH = SAMPLES / "cinc2017_A00004_strip_truth.hea"  # the same record as a WFDB signal

pytestmark = pytest.mark.skipif(
    not (models_dir() / "rhythm_cnn.pt").exists(), reason="rhythm model weights not present"
)


def classify_cli(*argv) -> tuple[int, list[dict], str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["classify", *map(str, argv), "--json", "--no-progress"])
    return code, [json.loads(ln) for ln in out.getvalue().splitlines()], err.getvalue()


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(STRIP, folder / STRIP.name)
    shutil.copy(TRUTH, folder / TRUTH.name)
    shutil.copy(TRUTH.with_suffix(".dat"), folder / TRUTH.with_suffix(".dat").name)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    return folder


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {row["input"].rsplit("/", 1)[-1]: row for row in rows}


def test_folder_gives_one_json_line_per_input_and_reports_the_bad_one(inputs):
    code, rows, _ = classify_cli(inputs)
    got = by_name(rows)
    assert code == 1 and set(got) == {STRIP.name, TRUTH.name, "broken.png"}
    assert got["broken.png"]["error"].startswith("broken.png: not an image")
    # the AF record is read as AF both from its signal and from its printed page
    for name in (STRIP.name, TRUTH.name):
        assert got[name]["label"] == "A"
        assert sum(got[name]["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)


def test_workers_resume_and_report(inputs, tmp_path):
    out = tmp_path / "out"
    code1, rows1, _ = classify_cli(inputs, "-o", out, "--workers", "2", "--report", out / "r.csv")
    assert code1 == 1
    assert sorted(p.name for p in out.glob("*.rhythm.json")) == [
        "cinc2017_A00004_strip.rhythm.json",
        "cinc2017_A00004_strip_truth.rhythm.json",
    ]
    status = {r["input"].rsplit("/", 1)[-1]: r["status"] for r in read_report(out / "r.csv")}
    assert status == {STRIP.name: "ok", TRUTH.name: "ok", "broken.png": "error"}

    code2, rows2, _ = classify_cli(inputs, "-o", out, "--report", out / "r2.csv")
    status2 = {r["input"].rsplit("/", 1)[-1]: r["status"] for r in read_report(out / "r2.csv")}
    assert status2 == {STRIP.name: "skipped", TRUTH.name: "skipped", "broken.png": "error"}
    # resumed items print the stored result, identical to the first run's, marked resumed
    for name in (STRIP.name, TRUTH.name):
        assert by_name(rows2)[name].pop("resumed") is True
        assert by_name(rows2)[name] == by_name(rows1)[name]


def test_paper_settings_reach_the_digitiser(tmp_path):
    """A strip printed at 50 mm/s is read at its true length only when told the speed."""
    import numpy as np
    from PIL import Image

    from ecgviewer.io.signals import read_signal
    from ecgviewer.render import RenderStyle, render_ecg

    rec = read_signal(TRUTH)
    page = render_ecg(rec, RenderStyle(layout="single", paper_speed_mm_s=50.0, row_seconds=5.0))
    Image.fromarray(page.image_rgb).save(tmp_path / "fast.png")
    _, told, _ = classify_cli(tmp_path / "fast.png", "--speed", "50", "--layout", "single")
    _, untold, _ = classify_cli(tmp_path / "fast.png", "--layout", "single")
    assert told[0]["duration_s"] == pytest.approx(rec.duration_s, rel=0.03)
    assert untold[0]["duration_s"] == pytest.approx(2 * rec.duration_s, rel=0.03)
    assert np.isfinite(told[0]["heart_rate_bpm"])
    code, rows, _ = classify_cli(tmp_path / "fast.png", "--threshold", "2")
    assert code != 0 or "error" in rows[0]
