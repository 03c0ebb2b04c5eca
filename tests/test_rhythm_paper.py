"""Image-derived training data: real CinC records printed, digitised back, trained on, scored.

The round trip is checked against the raw record it came from (length and shape); the
training/packaging path runs end to end on a few real records with paper round trips mixed
in, fine-tuning from a first run, and must report raw and paper scores for the same records.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from ecgviewer.io.signals import read_cinc_mat
from ecgviewer.render.style import PAPER_SIZES_MM
from ecgviewer.rhythm.training.data import read_reference
from ecgviewer.scoring import resample_to, score_lead

PER_CLASS = 4  # two folds: each training part keeps 2 per class, 1 of them for the inner split


@pytest.fixture(scope="module")
def small_cinc(cinc_dir, tmp_path_factory):
    """A CinC-layout folder with the first few real records of every class and their labels."""
    d = tmp_path_factory.mktemp("cinc_small")
    rows = read_reference(cinc_dir)
    picked = [r for c in "NAO~" for r in [r for r in rows if r[1] == c][:PER_CLASS]]
    for name, _ in picked:
        for ext in (".mat", ".hea"):
            if (cinc_dir / f"{name}{ext}").exists():
                shutil.copy(cinc_dir / f"{name}{ext}", d / f"{name}{ext}")
    (d / "REFERENCE-v3.csv").write_text("".join(f"{n},{c}\n" for n, c in picked))
    return d


def test_paper_variety_draws_issue_18s_styles():
    """The strips vary as issue 18 lists: every pulse place (before, apart from, without the
    trace), every grid family (red, pink, orange, green, blue, grey, black, none), handwriting
    on some pages; the same seed draws the same choices."""
    from ecgviewer.rhythm.training.paper_variety import GRID_FAMILIES, PULSE_PLACES, page_choices

    picks = [page_choices(s) for s in range(300)]
    assert {p.pulse for p in picks} == set(PULSE_PLACES)
    assert {p.grid for p in picks} == set(GRID_FAMILIES) >= {"black", "blue", "none", "red"}
    assert {p.handwriting for p in picks} == {True, False}
    apart = next(p for p in picks if p.pulse == "apart")
    assert apart.style.pulse_gap_s == pytest.approx(0.3) and apart.style.calibration_pulse
    assert not next(p for p in picks if p.pulse == "none").style.calibration_pulse
    assert page_choices(41) == page_choices(41)


def _seed_where(want) -> int:
    from ecgviewer.rhythm.training.paper_variety import page_choices

    return next(s for s in range(1000) if want(page_choices(s)))


VARIED_PAGES = {  # chosen by what the page has, before anything is drawn or read
    "pulse apart from the trace, orange/green/blue/pink grid": lambda c: (
        c.pulse == "apart" and c.grid in ("orange", "green", "blue", "pink")
    ),
    "pulse apart from the trace, handwriting, red grid": lambda c: (
        c.pulse == "apart" and c.handwriting and c.grid == "red"
    ),
}


@pytest.mark.parametrize("kind", sorted(VARIED_PAGES))
def test_varied_strip_draws_and_reads_back(cinc_dir, kind):
    """A real CinC record on a strip of the new variety, read back by the automatic (learned,
    shipped segmenter) digitiser: the whole record, the right length (a pulse apart from the
    trace adds no time), the same waveform, and the shipped rhythm model calls it as it calls
    the raw record."""
    from ecgviewer.rhythm import classify, load_model
    from ecgviewer.rhythm.training.image_data import print_and_read
    from ecgviewer.rhythm.training.paper_variety import DPI, draw_page, page_choices

    seed = _seed_where(VARIED_PAGES[kind])
    rec = read_cinc_mat(cinc_dir / "A00001.mat")
    page = draw_page(rec, seed)
    assert page.tags == page_choices(seed).tags
    assert page.image_rgb.dtype == np.uint8 and page.image_rgb.shape[2] == 3
    width_mm = PAPER_SIZES_MM[page.style.paper][0]
    assert page.image_rgb.shape[1] == pytest.approx(page.style.dpi / 25.4 * width_mm, abs=2)
    assert page.style.dpi == DPI
    trip = print_and_read(rec, seed=seed)
    assert trip.error is None and trip.tags == page.tags
    assert trip.printed_s == pytest.approx(rec.duration_s, abs=0.05)
    assert trip.duration_s == pytest.approx(rec.duration_s, rel=0.02)
    ref = rec.signal_mv[:, 0]
    est = resample_to(trip.signal_mv, trip.fs_hz, rec.fs_hz, ref.size)
    score = score_lead(ref, est, rec.fs_hz)
    assert score.coverage > 0.9
    assert score.pearson_r > 0.8, f"digitised record correlates {score.pearson_r:.2f}"
    model = load_model()
    raw_label = classify(ref, rec.fs_hz, model).label
    assert classify(trip.signal_mv, trip.fs_hz, model).label == raw_label == "N"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One cache for the module: the paper round trips are built once (a CPU second each)."""
    return tmp_path_factory.mktemp("cache")


def test_image_derived_set_is_cached_and_aligned(small_cinc, cache_dir, monkeypatch):
    """Every record keeps its place (unreadable pages too, with their error), each page says
    what it had, a subset's pages are the full set's pages, and the cache is read back."""
    from ecgviewer.rhythm.training import image_data
    from ecgviewer.rhythm.training.paper_variety import page_choices

    first = image_data.load_image_derived(small_cinc, cache_dir, workers=1)
    assert first.dataset.names == tuple(n for n, _ in read_reference(small_cinc))
    assert np.all(first.printed_s > 5)
    assert (~first.failed).sum() >= len(first.failed) // 2, first.errors
    assert all(bool(e) == f for e, f in zip(first.errors, first.failed))
    assert first.tags == tuple(
        page_choices(image_data.record_seed(2017, i)).tags for i in range(len(first.tags))
    )
    sub = image_data.load_image_derived(small_cinc, cache_dir, workers=1, indices=[5, 2])
    assert sub.dataset.names == (first.dataset.names[5], first.dataset.names[2])
    for j, i in enumerate((5, 2)):
        np.testing.assert_array_equal(sub.dataset.signal(j), first.dataset.signal(i))
    # a second call reads the cache: building again would fail here
    monkeypatch.setattr(image_data, "_build_chunk", lambda *a, **k: 1 / 0)
    again = image_data.load_image_derived(small_cinc, cache_dir, workers=1)
    np.testing.assert_array_equal(again.dataset.samples, first.dataset.samples)
    # a build still running: its finished chunks are scored, nothing is built
    (final,) = cache_dir.glob("*_subset2_*[0-9a-f].npz")
    final.unlink()
    partial = image_data.load_image_derived(small_cinc, cache_dir, indices=[5, 2], build=False)
    assert partial.dataset.names == sub.dataset.names
    assert not final.exists()


def test_keep_epoch_is_checked():
    from ecgviewer.rhythm.training.train import TrainConfig

    with pytest.raises(ValueError, match="keep_epoch"):
        TrainConfig(keep_epoch="median")


def test_fine_tune_on_paper_reports_raw_and_paper(small_cinc, cache_dir, tmp_path):
    """Train 2 folds raw, fine-tune them with paper round trips, package: the card and the OOF
    table carry raw and paper scores for the same records; ``keep_epoch="last"`` keeps the
    annealed final epoch whatever the inner split says."""
    from ecgviewer.rhythm.training.finalize import finalize
    from ecgviewer.rhythm.training.train import TrainConfig, train_cv

    common = dict(
        data_dir=str(small_cinc),
        cache_dir=str(cache_dir),
        k_folds=2,
        folds=(0, 1),
        epochs=1,
        batch_size=2,
        crop_s=(5.0, 8.0),
        inner_val_frac=0.2,
    )
    base = TrainConfig(out_dir=str(tmp_path / "base"), **common)
    train_cv(base)
    tuned = TrainConfig(
        out_dir=str(tmp_path / "tuned"),
        paper_frac=0.5,
        paper_workers=1,
        init_from=base.out_dir,
        keep_epoch="last",
        **{**common, "epochs": 2},
    )
    infos = train_cv(tuned)
    assert all("oof_score_paper" in i for i in infos)
    assert [i["best_epoch"] for i in infos] == [1, 1]
    assert json.loads((tmp_path / "tuned" / "folds.json").read_text()) == json.loads(
        (tmp_path / "base" / "folds.json").read_text()
    )
    card = finalize(tuned.out_dir, tmp_path / "models", small_cinc)
    paper = card["cv_paper"]
    assert paper["oof_uncalibrated"]["n"] == 4 * PER_CLASS
    assert card["training"]["base_config"]["epochs"] == 1
    assert "image-derived signals" in (tmp_path / "models" / "MODEL_CARD.md").read_text()
    assert "the last epoch is kept" in (tmp_path / "models" / "MODEL_CARD.md").read_text()
    assert (tmp_path / "models" / "rhythm_cnn_oof_paper.csv.gz").exists()

    # a second fine-tune (another seed) of the same base, averaged with the first: a model soup
    # is one network per fold, scored again on its held-out fold, packaged like any run
    from ecgviewer.rhythm.training.soup import make_soup

    other = TrainConfig(
        out_dir=str(tmp_path / "tuned_b"),
        paper_frac=0.5,
        paper_workers=1,
        init_from=base.out_dir,
        seed=7,
        **{**common, "epochs": 2},
    )
    train_cv(other)
    assert json.loads((tmp_path / "tuned_b" / "folds.json").read_text()) == json.loads(
        (tmp_path / "base" / "folds.json").read_text()
    ), "a fine-tune with another seed keeps its base run's folds and their seed"
    soup = tmp_path / "soup"
    infos = make_soup([tuned.out_dir, other.out_dir], soup, small_cinc, str(cache_dir))
    assert [i["fold"] for i in infos] == [0, 1]
    for k in (0, 1):
        a, b, s = (
            torch.load(d / f"fold{k}.pt", weights_only=True)
            for d in (tmp_path / "tuned", tmp_path / "tuned_b", soup)
        )
        torch.testing.assert_close(s["stem.weight"], (a["stem.weight"] + b["stem.weight"]) / 2)
        held = np.load(soup / f"oof_fold{k}.npz")
        assert held["logits"].shape == held["logits_paper"].shape == (2 * PER_CLASS, 4)
    card = finalize(soup, tmp_path / "models_soup", small_cinc)
    assert card["training"]["config"]["soup_of"] == [tuned.out_dir, other.out_dir]
    assert card["cv_paper"]["oof_uncalibrated"]["n"] == 4 * PER_CLASS
    assert "model soup" in (tmp_path / "models_soup" / "MODEL_CARD.md").read_text()


def test_soup_refuses_what_cannot_be_averaged(tmp_path):
    from ecgviewer.rhythm.model import ModelConfig, RhythmCNN
    from ecgviewer.rhythm.training.soup import make_soup, mean_state

    small, wide = RhythmCNN().state_dict(), RhythmCNN(ModelConfig(stem_channels=8)).state_dict()
    with pytest.raises(ValueError, match="architectures"):
        mean_state([small, wide])
    twice = mean_state([small, small])
    assert twice["stem_bn.num_batches_tracked"].dtype == torch.int64
    torch.testing.assert_close(twice["stem.weight"], small["stem.weight"])
    for name, init in (("a", "base1"), ("b", "base2")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(
            json.dumps({"model": {}, "init_from": init, "k_folds": 2})
        )
    with pytest.raises(ValueError, match="init_from"):
        make_soup([tmp_path / "a", tmp_path / "b"], tmp_path / "soup", tmp_path)
