"""Session sidecar: exact round trip, portable paths, and typed errors for damaged files."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from ecgviewer import session as sess
from ecgviewer.digitize.types import CropBox, DigitizeSettings
from ecgviewer.session import (
    Correction,
    Session,
    SessionFormatError,
    image_changed,
    image_ref,
    load_session,
    save_session,
    sidecar_path,
)


@pytest.fixture
def image(tmp_path):
    p = tmp_path / "scan.png"
    p.write_bytes(b"\x89PNG pretend image bytes")
    return p


@pytest.fixture
def full_session(image):
    settings = DigitizeSettings(
        crop=CropBox(10, 20, 900, 700),
        rotation_deg=-1.25,
        binarize_method="manual",
        threshold=0.42,
        paper_speed_mm_s=50.0,
        gain_mm_mv=20.0,
        px_per_mm=11.8,
        dpi=300.0,
        layout="3x4+1",
        rhythm_lead="V1",
        output_fs_hz=250.0,
        correct_perspective=False,
    )
    corrections = (
        Correction(12, "II", 1500, (0.1, 0.25, -0.3)),
        Correction(0, "I", 0, (0.0, float("nan"), 1.5)),
    )
    return Session(image_ref(image, page=0), settings, corrections, notes="checked by hand ✓")


def _same(a: Session, b: Session) -> bool:
    """Equality that treats NaN gaps in corrections as equal."""
    if dataclasses.replace(a, corrections=(), saved_utc="") != dataclasses.replace(
        b, corrections=(), saved_utc=""
    ):
        return False
    for ca, cb in zip(a.corrections, b.corrections, strict=True):
        if (ca.lead_index, ca.lead_name, ca.start) != (cb.lead_index, cb.lead_name, cb.start):
            return False
        for x, y in zip(ca.values_mv, cb.values_mv, strict=True):
            if not (x == y or (math.isnan(x) and math.isnan(y))):
                return False
    return True


class TestRoundTrip:
    def test_every_field_survives(self, tmp_path, full_session):
        path = save_session(full_session, sidecar_path(tmp_path / "scan.png"))
        assert path.name == "scan.png.ecgsession.json"
        back = load_session(path)
        assert _same(back, full_session)
        assert back.saved_utc.endswith("Z")
        assert image_changed(back) is None

    def test_default_settings_and_no_corrections(self, tmp_path, image):
        s = Session(image_ref(image))
        back = load_session(save_session(s, tmp_path / "s.json"))
        assert _same(back, s) and back.settings == DigitizeSettings()

    def test_image_next_to_sidecar_is_stored_relative_and_moves_with_it(self, tmp_path, image):
        path = save_session(Session(image_ref(image)), sidecar_path(image))
        data = json.loads(path.read_text())
        assert data["image"]["path"] == "scan.png"
        moved = tmp_path / "moved"
        moved.mkdir()
        (moved / "scan.png").write_bytes(image.read_bytes())
        (moved / path.name).write_bytes(path.read_bytes())
        back = load_session(moved / path.name)
        assert back.image.path == str((moved / "scan.png").resolve())
        assert image_changed(back) is None

    def test_changed_or_missing_image_is_reported(self, tmp_path, image):
        path = save_session(Session(image_ref(image)), tmp_path / "s.json")
        image.write_bytes(b"other bytes")
        assert "changed" in image_changed(load_session(path))
        image.unlink()
        assert "missing" in image_changed(load_session(path))

    def test_older_file_without_new_settings_gets_defaults(self, tmp_path, full_session):
        path = save_session(full_session, tmp_path / "s.json")
        data = json.loads(path.read_text())
        del data["settings"]["output_fs_hz"], data["corrections"], data["notes"]
        path.write_text(json.dumps(data))
        back = load_session(path)
        assert back.settings.output_fs_hz == DigitizeSettings().output_fs_hz
        assert back.settings.threshold == 0.42 and back.corrections == ()

    def test_save_is_atomic(self, tmp_path, full_session, monkeypatch):
        path = save_session(full_session, tmp_path / "s.json")
        before = path.read_bytes()

        def broken(*a, **k):
            raise OSError("disk full")

        monkeypatch.setattr("ecgviewer.io.signals.os.replace", broken)
        with pytest.raises(OSError):
            save_session(dataclasses.replace(full_session, notes="new"), path)
        assert path.read_bytes() == before
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []

    def test_save_refuses_what_load_would_refuse(self, tmp_path, image):
        bad = Session(image_ref(image), corrections=(Correction(0, "I", 0, (5000.0,)),))
        with pytest.raises(SessionFormatError, match="1000 mV"):
            save_session(bad, tmp_path / "bad.json")
        assert not (tmp_path / "bad.json").exists()


class TestMigration:
    def test_hook_upgrades_old_versions_step_by_step(self, tmp_path, full_session, monkeypatch):
        path = save_session(full_session, tmp_path / "s.json")
        data = json.loads(path.read_text())
        # pretend version 0 stored the speed as "speed" and v1 is current
        data["version"] = 0
        data["settings"]["speed"] = data["settings"].pop("paper_speed_mm_s")
        path.write_text(json.dumps(data))

        def v0_to_v1(d):
            d["settings"] = dict(d["settings"])
            d["settings"]["paper_speed_mm_s"] = d["settings"].pop("speed")
            return d

        monkeypatch.setitem(sess.MIGRATIONS, 0, v0_to_v1)
        assert load_session(path).settings.paper_speed_mm_s == 50.0

    def test_newer_version_refused(self, tmp_path, full_session):
        path = save_session(full_session, tmp_path / "s.json")
        data = json.loads(path.read_text())
        data["version"] = sess.SESSION_VERSION + 1
        path.write_text(json.dumps(data))
        with pytest.raises(SessionFormatError, match="newer ECG Viewer"):
            load_session(path)


def _mutations():
    """(description, change to a valid dict, expected words in the reason)."""
    return [
        ("not an object", lambda d: [d], "JSON object"),
        ("foreign format", lambda d: {**d, "format": "something-else"}, "not an ECG Viewer"),
        ("version as text", lambda d: {**d, "version": "1"}, "version"),
        ("version 0 unknown", lambda d: {**d, "version": 0}, "not supported"),
        ("no image", lambda d: {k: v for k, v in d.items() if k != "image"}, "image: missing"),
        ("bad hash", lambda d: _set(d, "image", "sha256", "xyz"), "sha256"),
        ("negative page", lambda d: _set(d, "image", "page", -1), "image.page"),
        ("page as float", lambda d: _set(d, "image", "page", 1.5), "image.page"),
        ("threshold > 1", lambda d: _set(d, "settings", "threshold", 3), "settings.threshold"),
        ("speed 0", lambda d: _set(d, "settings", "paper_speed_mm_s", 0), "paper_speed_mm_s"),
        ("gain text", lambda d: _set(d, "settings", "gain_mm_mv", "10"), "gain_mm_mv"),
        ("unknown method", lambda d: _set(d, "settings", "binarize_method", "magic"), "magic"),
        ("unknown layout", lambda d: _set(d, "settings", "layout", "5x5"), "layout"),
        ("perspective 1", lambda d: _set(d, "settings", "correct_perspective", 1), "true or false"),
        (
            "empty crop",
            lambda d: _set(d, "settings", "crop", {"x0": 5, "y0": 5, "x1": 5, "y1": 9}),
            "empty box",
        ),
        ("crop list", lambda d: _set(d, "settings", "crop", [0, 0, 1, 1]), "settings.crop"),
        ("settings list", lambda d: {**d, "settings": []}, "settings"),
        ("corrections obj", lambda d: {**d, "corrections": {}}, "corrections"),
        ("correction text value", lambda d: _corr(d, "values_mv", ["a"]), "values_mv"),
        ("correction empty", lambda d: _corr(d, "values_mv", []), "values_mv"),
        ("correction huge mV", lambda d: _corr(d, "values_mv", [1e6]), "1000 mV"),
        ("correction start -1", lambda d: _corr(d, "start", -1), "start"),
        ("correction bool index", lambda d: _corr(d, "lead_index", True), "lead_index"),
    ]


def _set(d, section, key, value):
    d = json.loads(json.dumps(d))
    d[section][key] = value
    return d


def _corr(d, key, value):
    d = json.loads(json.dumps(d))
    d["corrections"][0][key] = value
    return d


class TestDamagedFiles:
    @pytest.mark.parametrize(
        ("change", "words"), [(m[1], m[2]) for m in _mutations()], ids=[m[0] for m in _mutations()]
    )
    def test_invalid_content_is_a_typed_one_line_error(self, tmp_path, full_session, change, words):
        path = save_session(full_session, tmp_path / "s.json")
        path.write_text(json.dumps(change(json.loads(path.read_text()))))
        with pytest.raises(SessionFormatError) as info:
            load_session(path)
        msg = str(info.value)
        assert words in msg and msg.startswith("s.json: ") and "\n" not in msg

    @pytest.mark.parametrize(
        "blob",
        [b"", b"{", b"\xff\xfe\x00garbage", b"[1, 2", b'{"format": NaN}', b"[" * 100_000, b"null"],
        ids=["empty", "open brace", "binary", "cut list", "NaN", "deep nesting", "null"],
    )
    def test_unparseable_files(self, tmp_path, blob):
        path = tmp_path / "bad.json"
        path.write_bytes(blob)
        with pytest.raises(SessionFormatError):
            load_session(path)

    def test_truncated_real_session(self, tmp_path, full_session):
        path = save_session(full_session, tmp_path / "s.json")
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
        with pytest.raises(SessionFormatError, match="damaged JSON"):
            load_session(path)

    def test_folder_or_pipe_is_refused_without_blocking(self, tmp_path):
        import os

        with pytest.raises(SessionFormatError, match="regular file"):
            load_session(tmp_path)
        if hasattr(os, "mkfifo"):
            os.mkfifo(tmp_path / "pipe.json")
            with pytest.raises(SessionFormatError, match="regular file"):
                load_session(tmp_path / "pipe.json")

    def test_missing_file(self, tmp_path):
        with pytest.raises(SessionFormatError, match="cannot read"):
            load_session(tmp_path / "none.json")
