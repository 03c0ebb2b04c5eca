"""Rhythm model: preprocessing, network, metrics, calibration, weights file, classify, CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ecgviewer.errors import ModelError, SignalFormatError
from ecgviewer.paths import models_dir
from ecgviewer.rhythm.calibrate import fit_temperature
from ecgviewer.rhythm.metrics import (
    challenge_score,
    confusion,
    expected_calibration_error,
    f1_per_class,
    softmax,
)
from ecgviewer.rhythm.model import ModelConfig, RhythmCNN
from ecgviewer.rhythm.preprocess import preprocess
from ecgviewer.rhythm.types import CLASSES

torch.set_num_threads(1)


def synthetic_ecg(
    fs_hz: float, duration_s: float, hr_bpm: float = 72.0, seed: int = 0
) -> np.ndarray:
    """Gaussian 'R waves' on a slow baseline: enough structure for filters and QRS detection."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * fs_hz)) / fs_hz
    x = 0.2 * np.sin(2 * np.pi * 0.3 * t)
    for tb in np.arange(0.3, duration_s, 60.0 / hr_bpm):
        x += 1.2 * np.exp(-0.5 * ((t - tb) / 0.012) ** 2)
    return x + 0.01 * rng.standard_normal(t.size)


class TestPreprocess:
    def test_resampling_keeps_duration(self):
        for fs in (250.0, 300.0, 360.0, 500.0, 1000.0):
            y, m = preprocess(synthetic_ecg(fs, 10.0), fs, 100.0)
            assert y.size == 1000 and m.size == 1000 and y.dtype == np.float32

    def test_polarity_is_antisymmetric(self):
        x = synthetic_ecg(300.0, 12.0)
        y, _ = preprocess(x, 300.0)
        y_neg, _ = preprocess(-x, 300.0)
        np.testing.assert_allclose(y_neg, -y, atol=1e-5)

    def test_normalised_amplitude(self):
        y, _ = preprocess(5.0 * synthetic_ecg(300.0, 20.0), 300.0)
        assert 0.5 < np.abs(y).max() < 3.0

    def test_nan_gaps(self):
        x = synthetic_ecg(300.0, 20.0)
        x[300:330] = np.nan  # 0.1 s: bridged
        x[3000:4500] = np.nan  # 5 s: masked
        y, m = preprocess(x, 300.0)
        assert np.all(np.isfinite(y))
        assert m[100:112].all()
        assert not m[1010:1490].any() and np.all(y[1010:1490] == 0)
        assert m[1600:].all()

    def test_all_nan_and_flat(self):
        y, m = preprocess(np.full(3000, np.nan), 300.0)
        assert not m.any() and not y.any()
        y, m = preprocess(np.zeros(3000), 300.0)
        assert m.all() and not y.any()


class TestModel:
    def test_any_length(self):
        net = RhythmCNN().eval()
        with torch.no_grad():
            for n in (37, 500, 1234, 6100):
                assert net(torch.randn(1, 1, n)).shape == (1, len(CLASSES))

    def test_masked_pooling_ignores_padding(self):
        torch.manual_seed(0)
        net = RhythmCNN().eval()
        for mod in net.modules():  # non-trivial BN statistics, so padding would show if it leaked
            if isinstance(mod, torch.nn.BatchNorm1d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
        lens = (1000, 733, 1500)
        xs = [torch.randn(1, 1, n) for n in lens]
        x = torch.zeros(3, 1, max(lens))
        m = torch.zeros(3, 1, max(lens))
        for i, (xi, n) in enumerate(zip(xs, lens)):
            x[i, :, :n] = xi
            m[i, :, :n] = 1
            x[i, :, n:] = 7.0  # garbage in the padding must not matter
        with torch.no_grad():
            batched = net(x, m)
            single = torch.cat([net(xi) for xi in xs])
        torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-5)

    def test_parameter_budget(self):
        from ecgviewer.rhythm.model import count_parameters

        assert count_parameters(RhythmCNN()) < 2_000_000


class TestMetrics:
    def test_f1_and_challenge_score(self):
        y = np.array([0, 0, 1, 1, 2, 2, 3])
        p = np.array([0, 1, 1, 1, 2, 0, 3])
        cm = confusion(y, p)
        assert cm.sum() == 7 and cm[0, 1] == 1 and cm[2, 0] == 1
        f1 = f1_per_class(cm)
        np.testing.assert_allclose(f1, [0.5, 0.8, 2 / 3, 1.0])
        assert challenge_score(y, p) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)

    def test_ece(self):
        probs = np.array([[1.0, 0, 0, 0]] * 10)
        assert expected_calibration_error(probs, np.zeros(10, int)) == pytest.approx(0.0)
        assert expected_calibration_error(probs, np.ones(10, int)) == pytest.approx(1.0)

    def test_temperature_recovers_known_value(self):
        rng = np.random.default_rng(1)
        z = rng.normal(0, 3, size=(4000, 4))
        p = softmax(z, 2.0)
        y = np.array([rng.choice(4, p=row) for row in p])
        assert fit_temperature(z, y) == pytest.approx(2.0, rel=0.15)


# ----------------------------------------------------------------------------- weights file


@pytest.fixture()
def tiny_model_dir(tmp_path):
    """A randomly initialised two-member model with a valid card (no training needed)."""
    from ecgviewer.rhythm.infer import save_model

    torch.manual_seed(0)
    cfg = ModelConfig()
    states = [RhythmCNN(cfg).state_dict() for _ in range(2)]
    sha = save_model(tmp_path / "rhythm_cnn.pt", states, cfg, 1.5, 100.0)
    (tmp_path / "rhythm_cnn.json").write_text(json.dumps({"sha256": sha}))
    return tmp_path


class TestWeightsFile:
    def test_load_and_classify(self, tiny_model_dir):
        from ecgviewer.rhythm import classify, load_model

        model = load_model(tiny_model_dir / "rhythm_cnn.pt")
        assert len(model.nets) == 2 and model.temperature == 1.5
        r = classify(synthetic_ecg(500.0, 30.0), 500.0, model)
        assert r.label in CLASSES
        assert sum(r.probabilities.values()) == pytest.approx(1.0)
        assert r.timeline_probs.shape == (len(r.timeline_t_s), 4)
        np.testing.assert_allclose(r.timeline_probs.sum(axis=1), 1.0)
        assert r.timeline_t_s[0] == pytest.approx(5.0) and r.timeline_t_s[-1] == pytest.approx(25.0)
        assert r.heart_rate_bpm == pytest.approx(72.0, abs=2.0)
        assert r.rr_irregularity < 0.05
        assert r.duration_s == pytest.approx(30.0)
        again = classify(synthetic_ecg(500.0, 30.0), 500.0, model)
        assert again.probabilities == r.probabilities  # deterministic

    def test_short_flat_and_gaps(self, tiny_model_dir):
        from ecgviewer.rhythm import classify, load_model

        model = load_model(tiny_model_dir / "rhythm_cnn.pt")
        short = classify(synthetic_ecg(300.0, 3.0), 300.0, model)
        assert any("short" in w for w in short.warnings)
        assert classify(np.zeros(3000), 300.0, model).cannot_assess
        x = synthetic_ecg(300.0, 20.0)
        x[: int(0.7 * x.size)] = np.nan
        assert classify(x, 300.0, model).cannot_assess
        with pytest.raises(SignalFormatError):
            classify(np.ones(10), 300.0, model)

    def test_rate_across_a_gap_and_the_reason_for_a_withheld_irregularity(self, tiny_model_dir):
        """The result carries what the rate rests on and why the irregularity is withheld
        (the panel and the report show it); a 2 s untraced stretch is no RR interval."""
        from ecgviewer.rhythm import classify, load_model

        model = load_model(tiny_model_dir / "rhythm_cnn.pt")
        x = synthetic_ecg(500.0, 30.0)  # 72 bpm
        x[int(14.0 * 500) : int(16.0 * 500)] = np.nan
        r = classify(x, 500.0, model)
        assert r.heart_rate_bpm == pytest.approx(72.0, abs=2.0)
        assert r.rr_irregularity is not None and r.rr_irregularity < 0.05
        assert r.extra["rr_across_gaps"] == 1 and r.extra["rr_reason"] == ""
        assert r.extra["n_rr"] == r.extra["n_beats"] - 2 and r.extra["beats_consistent"]
        short = classify(synthetic_ecg(500.0, 3.5), 500.0, model)  # 4 beats, 3 intervals
        assert short.heart_rate_bpm == pytest.approx(72.0, abs=2.0)
        assert short.rr_irregularity is None
        assert short.extra["rr_reason"] == "too few beats to judge (3 RR intervals)"
        assert short.to_json()["rr_irregularity_withheld"] == short.extra["rr_reason"]
        assert r.to_json()["rr_irregularity_withheld"] is None  # given, not withheld
        none = classify(synthetic_ecg(500.0, 1.5), 500.0, model)
        assert none.heart_rate_bpm is None and none.extra["rr_reason"] == "fewer than 3 beats found"

    def test_hash_mismatch_raises(self, tiny_model_dir):
        from ecgviewer.rhythm import load_model

        path = tiny_model_dir / "rhythm_cnn.pt"
        data = bytearray(path.read_bytes())
        data[-100] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(ModelError, match="sha256"):
            load_model(path)

    def test_missing_weights_raise(self, tmp_path):
        from ecgviewer.rhythm import load_model

        with pytest.raises(ModelError, match="not found"):
            load_model(tmp_path / "rhythm_cnn.pt")

    def test_cli_json_lines(self, tiny_model_dir, cinc_dir, tmp_path, monkeypatch, capsys):
        from ecgviewer.cli import main

        monkeypatch.setenv("ECGVIEWER_MODELS", str(tiny_model_dir))
        bad = tmp_path / "bad.csv"
        bad.write_text("not,a\nsignal,file\n")
        rc = main(
            [
                "classify",
                "--json",
                str(cinc_dir / "A00001.mat"),
                str(cinc_dir / "A00002.hea"),
                str(bad),
            ]
        )
        lines = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
        assert rc == 1 and len(lines) == 3
        assert lines[0]["label"] in CLASSES and sum(
            lines[0]["probabilities"].values()
        ) == pytest.approx(1, abs=1e-3)
        assert lines[0]["duration_s"] == pytest.approx(30.0)
        assert "error" in lines[2] and lines[2]["input"] == str(bad)

    def test_evaluate_rhythm_on_labelled_folder(
        self, tiny_model_dir, cinc_dir, tmp_path, monkeypatch, capsys
    ):
        import shutil

        from ecgviewer.cli import main

        monkeypatch.setenv("ECGVIEWER_MODELS", str(tiny_model_dir))
        folder = tmp_path / "set"
        folder.mkdir()
        for name in ("A00001", "A00004"):
            for ext in (".hea", ".mat"):
                shutil.copy(cinc_dir / f"{name}{ext}", folder / f"{name}{ext}")
        (folder / "REFERENCE.csv").write_text("A00001,N\nA00004,A\n")
        assert main(["evaluate-rhythm", str(folder), "--json"]) == 0
        s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (
            s["n"] == 2 and np.array(s["confusion"]).sum() == 2 and 0 <= s["challenge_score"] <= 1
        )

    def test_folder_expansion_counts_each_record_once(self, cinc_dir, tmp_path):
        import shutil

        from ecgviewer.commands.classify import expand_inputs

        for ext in (".hea", ".mat"):
            shutil.copy(cinc_dir / f"A00001{ext}", tmp_path / f"A00001{ext}")
        shutil.copy(cinc_dir / "A00002.mat", tmp_path / "A00002.mat")
        (tmp_path / "notes.txt").write_text("ignored")
        assert [p.name for p, _ in expand_inputs([str(tmp_path)])] == ["A00001.hea", "A00002.mat"]


# ----------------------------------------------------------------------------- shipped model


@pytest.fixture(scope="module")
def shipped():
    path = models_dir() / "rhythm_cnn.pt"
    if not path.exists():
        pytest.skip(f"shipped weights {path} absent (train and package them first)")
    from ecgviewer.rhythm import load_model
    from ecgviewer.rhythm.training.finalize import read_oof

    oof_path = models_dir() / "rhythm_cnn_oof.csv.gz"
    return load_model(path), read_oof(oof_path)


@pytest.mark.data
class TestShippedModel:
    def test_out_of_fold_accuracy_on_random_records(self, shipped, cinc_dir):
        """Each record is scored by the fold member that never saw it (an honest OOF check)."""
        from ecgviewer.io.signals import read_cinc_mat
        from ecgviewer.rhythm import classify

        model, oof = shipped
        rng = np.random.default_rng(12345)
        pick = rng.choice(len(oof["names"]), size=40, replace=False)
        correct = []
        for i in pick:
            member = replace(model, nets=(model.nets[oof["folds"][i]],))
            rec = read_cinc_mat(cinc_dir / f"{oof['names'][i]}.mat")
            r = classify(rec.signal_mv[:, 0], rec.fs_hz, member)
            correct.append(r.label == CLASSES[oof["labels"][i]])
        assert np.mean(correct) >= 0.7

    def test_clear_normal_and_af_records(self, shipped, cinc_dir):
        """Records the OOF member classified confidently and right stay right with the ensemble."""
        from ecgviewer.io.signals import read_cinc_mat
        from ecgviewer.rhythm import classify

        model, oof = shipped
        p = softmax(oof["logits"], model.temperature)
        for cls in ("N", "A"):
            c = CLASSES.index(cls)
            clear = np.flatnonzero((oof["labels"] == c) & (p[:, c] > 0.9))[:3]
            assert clear.size == 3
            for i in clear:
                rec = read_cinc_mat(cinc_dir / f"{oof['names'][i]}.mat")
                r = classify(rec.signal_mv[:, 0], rec.fs_hz, model)
                assert r.label == cls, oof["names"][i]
                assert not r.cannot_assess

    def test_card_matches_weights(self, shipped):
        model, _ = shipped
        card = json.loads((models_dir() / "rhythm_cnn.json").read_text())
        assert card["sha256"] == model.sha256
        assert card["classes"] == list(CLASSES)
        assert Path(models_dir() / "rhythm_cnn.pt").stat().st_size < 10_000_000


def test_shipped_recipe_files_made_the_weights():
    """``train_config.json`` / ``finetune_paper_config.json`` are what the README tells a
    user to rerun: every field they set must be the one the shipped run used."""
    card = json.loads((models_dir() / "rhythm_cnn.json").read_text())
    for name, used in (
        ("train_config.json", card["training"]["base_config"]),
        ("finetune_paper_config.json", card["training"]["config"]),
    ):
        recipe = json.loads((models_dir() / name).read_text())
        differ = {k: (v, used.get(k)) for k, v in recipe.items() if used.get(k) != v}
        assert not differ, f"{name} differs from the shipped run: {differ}"


def test_package_import_does_not_load_torch():
    import subprocess
    import sys

    code = "import sys, ecgviewer.rhythm; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
