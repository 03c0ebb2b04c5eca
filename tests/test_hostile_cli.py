"""The hostile corpus of issue 19: signals, options and output folders as a careless or
hostile user would give them. Every probe gets its expected exit code and one line that
says why, never a traceback; then the cases that need more than one command line: resume by
provenance, files we did not write, the folder lock, workers outliving their parent, model
cards, session sidecars bound to their image.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hostile import PROBES, Probe, make_signal_corpus, make_tiny_model, synthetic_ecg

from ecgviewer.cli import main
from ecgviewer.paths import resources_dir

STRIP = resources_dir() / "samples" / "cinc2017_A00004_strip.png"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("hostile")
    make_signal_corpus(d)
    return d, make_tiny_model(d)


def cli(*argv) -> tuple[int, str]:
    """Run the command in this process: (exit code, stdout + stderr)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse refusals
            code = exc.code
    return code, out.getvalue()


def _argv(probe: Probe, d: Path, model: Path) -> list[str]:
    return [a.replace("{d}", str(d)).replace("{model}", str(model)) for a in probe.argv]


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_probe(corpus, probe):
    d, model = corpus
    if "/proc" in " ".join(probe.argv) and not Path("/proc/self").exists():
        pytest.skip("no /proc here")
    code, text = cli(*_argv(probe, d, model))
    assert "Traceback" not in text, text
    assert any(probe.says in line for line in text.splitlines()), text
    assert code == probe.rc, text
    if probe.never:
        assert probe.never not in text, text


def test_render_never_copies_a_file_outside_the_header_folder(corpus):
    d, _ = corpus
    cli("render", d / "wfdb" / "escape.hea", "-o", d / "r_escape2")
    assert not list((d / "r_escape2").glob("escape*"))


# --------------------------------------------------------------------------- resume


class TestResumeByProvenance:
    def test_same_name_other_input_settings_model_or_content_is_redone(self, corpus, tmp_path):
        d, model = corpus
        a, b = tmp_path / "dirA", tmp_path / "dirB"
        a.mkdir(), b.mkdir()
        shutil.copy(d / "rate300.csv", a / "rec.csv")
        x = synthetic_ecg(rate_bpm=120)
        (b / "rec.csv").write_text("# fs_hz=300\nECG\n" + "\n".join(f"{v:.4f}" for v in x))
        out = tmp_path / "out"

        def run(path, *more):
            code, text = cli("classify", path, "-o", out, "--model", model, "--json",
                             "--no-progress", *more)
            return code, json.loads(text.strip().splitlines()[-1])

        code, first = run(a / "rec.csv")
        assert code == 0 and first["input"] == str(a / "rec.csv")
        _, again = run(a / "rec.csv")
        assert again.get("resumed") is True  # the same input and settings: skipped, said so
        _, other = run(b / "rec.csv")  # same file name, another record: never A's result
        assert other["input"] == str(b / "rec.csv") and "resumed" not in other
        assert "another input" in other["note"]
        assert other["heart_rate_bpm"] == pytest.approx(120, abs=3)
        _, lead = run(b / "rec.csv", "--lead", "ECG")
        assert "settings changed" in lead["note"]
        other_model = make_tiny_model(tmp_path, "other", temperature=2.0)
        _, remodel = run(b / "rec.csv", "--lead", "ECG", "--model", other_model)
        assert "another rhythm model" in remodel["note"]
        time.sleep(0.01)
        (b / "rec.csv").write_text((a / "rec.csv").read_text())
        _, changed = run(b / "rec.csv", "--lead", "ECG", "--model", other_model)
        assert "input changed" in changed["note"]
        stored = json.loads((out / "rec.rhythm.json").read_text())
        prov = stored["provenance"]
        assert prov["input"]["path"] == str((b / "rec.csv").absolute())
        assert len(prov["input"]["sha256"]) == 64 and prov["model_sha256"]
        assert prov["version"] and prov["settings"]["lead"] == "ECG"

    def test_digitize_redoes_on_other_settings_and_keeps_report_reason(self, tmp_path):
        src = tmp_path / "in"
        src.mkdir()
        shutil.copy(STRIP, src / "strip.png")
        out = tmp_path / "out"
        assert cli("digitize", src, "-o", out, "--no-progress")[0] == 0
        code, text = cli("digitize", src, "-o", out, "--no-progress")
        assert code == 0 and "already complete" in text
        code, text = cli("digitize", src, "-o", out, "--fs", "250", "--no-progress",
                         "--report", tmp_path / "r.csv")
        assert code == 0, text
        from ecgviewer.batch import read_report

        row = read_report(tmp_path / "r.csv")[0]
        assert row["status"] == "ok" and "redone: settings changed" in row["reason"]
        summary = json.loads((out / "strip.json").read_text())
        assert summary["provenance"]["settings"]["settings"]["output_fs_hz"] == 250.0


class TestForeignFiles:
    def test_digitize_never_replaces_a_record_it_did_not_write(self, tmp_path):
        src, out = tmp_path / "in", tmp_path / "out"
        src.mkdir(), out.mkdir()
        shutil.copy(STRIP, src / "ecg00001.png")
        (out / "ecg00001.hea").write_text("ecg00001 1 500 2\necg00001.dat 16 200 16 0 0 0 0 I\n")
        (out / "ecg00001.dat").write_bytes(b"\x01\x00\x02\x00")
        code, text = cli("digitize", src / "ecg00001.png", "-o", out, "--no-progress")
        assert code == 1 and "no run of ecgviewer wrote it" in text and "--overwrite" in text
        assert (out / "ecg00001.dat").read_bytes() == b"\x01\x00\x02\x00"
        assert not (out / "ecg00001.json").exists()

    def test_classify_foreign_json_refused_then_replaced_on_request(self, corpus, tmp_path):
        d, model = corpus
        out = tmp_path / "out"
        out.mkdir()
        (out / "rate300.rhythm.json").write_text('{"mine": true}')
        base = ("classify", d / "rate300.csv", "-o", out, "--model", model, "--no-progress")
        code, text = cli(*base)
        assert code == 1 and "no run of ecgviewer wrote it" in text
        assert json.loads((out / "rate300.rhythm.json").read_text()) == {"mine": True}
        assert cli(*base, "--overwrite")[0] == 0
        assert "provenance" in json.loads((out / "rate300.rhythm.json").read_text())


class TestOneBatchPerFolder:
    def test_second_batch_is_refused_while_the_first_writes(self, corpus, tmp_path):
        from ecgviewer.batch.lock import LOCK_NAME, folder_lock

        d, model = corpus
        out = tmp_path / "out"
        out.mkdir()
        with folder_lock(out):  # as a first batch would
            code, text = cli("classify", d / "rate300.csv", "-o", out, "--model", model)
            assert code == 2 and "another ecgviewer batch" in text and str(os.getpid()) in text
            code, text = cli("digitize", STRIP, "-o", out)
            assert code == 2 and "another ecgviewer batch" in text
        assert not (out / LOCK_NAME).exists()  # released and removed
        assert cli("classify", d / "rate300.csv", "-o", out, "--model", model)[0] == 0

    def test_lock_is_released_when_its_holder_is_killed(self, tmp_path):
        from ecgviewer.batch.lock import folder_lock

        script = f"from ecgviewer.batch.lock import folder_lock\nimport time\n" \
                 f"with folder_lock({str(tmp_path)!r}):\n    print('held', flush=True)\n" \
                 f"    time.sleep(60)\n"
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
        try:
            assert proc.stdout.readline().strip() == b"held"
            with pytest.raises(Exception, match="another ecgviewer batch"):
                with folder_lock(tmp_path):
                    pass
        finally:
            proc.kill()
            proc.wait()
        with folder_lock(tmp_path):  # the stale file is reused, the lock is free
            pass


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(c) for c in text)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_workers_end_when_the_parent_is_killed(tmp_path):
    """kill -9 of a ``--workers 2`` parent: its workers notice and end within seconds."""
    for n in ("a", "b"):
        (tmp_path / f"{n}.txt").write_text(n)
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from hostile import sleepy_task
        from ecgviewer.batch import plan_items, run_batch
        items = plan_items([Path({str(tmp_path)!r}) / n for n in ("a.txt", "b.txt")],
                           Path({str(tmp_path)!r}) / "out")
        run_batch(items, sleepy_task, None, workers=2, timeout_s=None, progress=False)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 120
        workers: set[int] = set()
        while time.monotonic() < deadline:
            workers = {
                c for c in _children(parent.pid)
                if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()
                and b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()
            }
            if len(workers) == 2:
                break
            time.sleep(0.2)
        assert len(workers) == 2, "the workers did not start"
        time.sleep(3.0)  # their initialiser (and parent watch) has run
    finally:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    left = [w for w in workers if _alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left, "workers outlived their parent"


# --------------------------------------------------------------------------- model cards


@pytest.mark.parametrize(
    ("name", "changes", "says"),
    [
        ("nan_temperature", {"temperature": float("nan")}, "temperature nan is not"),
        ("zero_temperature", {"temperature": 0.0}, "temperature 0.0 is not"),
        ("no_networks", {"states": []}, "holds no networks"),
        ("no_temperature", {"temperature": None}, "lacks 'temperature'"),
        ("bad_rate", {"fs_hz": float("inf")}, "input rate inf Hz"),
    ],
)
def test_broken_model_is_refused_at_load(corpus, tmp_path, name, changes, says):
    d, _ = corpus
    model = make_tiny_model(tmp_path, name, **changes)
    code, text = cli("classify", d / "rate300.csv", "--model", model)
    assert code == 2 and says in text and "p=nan" not in text and "Traceback" not in text


# --------------------------------------------------------------------------- settings


class TestSettingsValidatedInOnePlace:
    @pytest.mark.parametrize(
        ("field", "value"),
        [("output_fs_hz", 1e6), ("output_fs_hz", 0.01), ("rotation_deg", 1e9),
         ("rotation_deg", float("nan")), ("threshold", 3.0), ("dpi", float("inf")),
         ("px_per_mm", -1.0), ("layout", "4x4"), ("binarize_method", "magic"),
         ("rhythm_lead", "")],
    )
    def test_out_of_range_settings_raise_a_typed_error(self, field, value):
        from ecgviewer.digitize.types import DigitizeSettings
        from ecgviewer.errors import SettingsError

        with pytest.raises(SettingsError, match=field) as exc:
            DigitizeSettings(**{field: value})
        assert exc.value.field == field

    def test_session_reader_uses_the_same_ranges(self, tmp_path):
        from ecgviewer.session import (
            Session,
            SessionFormatError,
            image_ref,
            load_session,
            save_session,
        )

        img = tmp_path / "scan.png"
        img.write_bytes(b"pretend image")
        path = save_session(Session(image_ref(img)), tmp_path / "s.json")
        data = json.loads(path.read_text())
        data["settings"]["output_fs_hz"] = 1e6
        path.write_text(json.dumps(data))
        with pytest.raises(SessionFormatError, match=r"settings.output_fs_hz: 1e\+06 outside"):
            load_session(path)


class TestSessionBoundToItsImage:
    def test_sidecar_naming_another_image_is_refused_naming_both(self, tmp_path):
        from ecgviewer.session import (
            Session,
            SessionFormatError,
            image_ref,
            load_session,
            save_session,
            sidecar_path,
        )

        scan, other = tmp_path / "scan.png", tmp_path / "other.png"
        scan.write_bytes(b"the scan the user opened")
        other.write_bytes(b"somebody else's scan")
        sidecar = save_session(Session(image_ref(other)), sidecar_path(scan))
        with pytest.raises(SessionFormatError) as exc:
            load_session(sidecar)
        assert "scan.png" in str(exc.value) and "other.png" in str(exc.value)

    def test_same_content_under_another_name_binds_to_the_opened_image(self, tmp_path):
        from ecgviewer.session import Session, image_ref, load_session, save_session, sidecar_path

        old, scan = tmp_path / "old.png", tmp_path / "scan.png"
        old.write_bytes(b"the same scan")
        scan.write_bytes(b"the same scan")
        sidecar = save_session(Session(image_ref(old)), sidecar_path(scan))
        assert load_session(sidecar).image.path == str(scan.resolve())


def test_no_data_gives_no_label_in_the_report(corpus, tmp_path):
    from ecgviewer.batch import read_report

    d, model = corpus
    code, text = cli("classify", d / "all_nan.csv", d / "rate300.csv", "--model", model,
                     "--report", tmp_path / "r.csv", "--no-progress")
    rows = {Path(r["input"]).name: r for r in read_report(tmp_path / "r.csv")}
    assert code == 1
    assert rows["all_nan.csv"]["status"] == "error"
    assert rows["all_nan.csv"]["reason"] == "cannot assess: all samples are missing"
    assert rows["rate300.csv"]["status"] == "ok"
    assert "all_nan.csv: error: cannot assess" in text


def test_csv_memory_stays_near_the_data(tmp_path):
    """A 20 MB CSV: the table is filled row by row (no list of lists of floats)."""
    from ecgviewer.io.signals import read_csv

    x = np.tile(synthetic_ecg(seconds=10), 60)  # 180,000 rows
    text = "# fs_hz=300\nI,II,III,V1,V2,V3\n" + "\n".join(
        ",".join([f"{v:.5f}"] * 6) for v in x
    )
    (tmp_path / "big.csv").write_text(text)
    rec = read_csv(tmp_path / "big.csv")
    assert rec.signal_mv.shape == (x.size, 6) and rec.fs_hz == 300.0


def test_digitisation_warnings_travel_into_the_classify_json(corpus, monkeypatch):
    import dataclasses

    import ecgviewer.digitize

    real = ecgviewer.digitize.digitize

    def warned(*args, **kw):
        return dataclasses.replace(real(*args, **kw), warnings=("grid not found; dpi assumed",))

    monkeypatch.setattr(ecgviewer.digitize, "digitize", warned)
    _, model = corpus
    code, text = cli("classify", STRIP, "--model", model, "--json")
    d = json.loads(text.strip().splitlines()[-1])
    assert code == 0 and "digitisation: grid not found; dpi assumed" in d["warnings"]
