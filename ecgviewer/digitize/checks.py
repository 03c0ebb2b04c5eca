"""Self-checks of a finished digitisation: reasons why a result cannot be right.

The pipeline reads whatever looks like rows of trace. On a page it does not understand (a
phone photo, a dark grid, a layout it does not know) it may read grid lines as rows, join the
rows of a 12-lead page into one long "single" lead, or follow a grid line instead of the
trace, and still return leads. These checks look at the finished
:class:`~ecgviewer.digitize.types.Digitization` (page size in mm from its calibration, rows,
signals) for results that are physically or physiologically implausible and return short
human sentences; any reason makes the result's status ``"needs_review"``.

Each check is a small function ``check_...(dig) -> list[str]``; :func:`review_reasons` runs
them all. Thresholds were set on real scans, rendered clean pages (none may be flagged) and
hard generated pages (see ``benchmarks/bench_scans.py`` and the tests).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.signal import butter, find_peaks, sosfiltfilt

from ecgviewer.digitize.labels import names_a_lead, row_start_labels
from ecgviewer.digitize.types import Digitization, Lead

# a row of single-lead strip needs room for about +-1 mV at 5..10 mm/mV: printers (and our
# renderer) space rows at least 15 mm apart; grid lines are 5 mm (or 10 mm) apart
MIN_SINGLE_ROW_PITCH_MM = 15.0
GRID_ROW_PITCH_MM = 11.0  # rows closer than this are grid lines, not traces
MIN_ROW_LENGTH_RATIO = 0.7  # a full row shorter than this times the longest is suspicious
MAX_ROW_START_SHIFT_MM = 25.0  # rows of a single strip start in the same column
MAX_STEPS_PER_S = 0.3  # abrupt baseline level changes (jumps between rows or grid lines)
STEP_MV = 0.5  # ... of the 0.5 s running median (QRS complexes and pulses removed)
STEP_MEDIAN_S = 0.5
STEP_EDGE_S = 0.3  # the ends of a lead hold calibration pulses: no steps, no beats there
# rows of a single-lead strip are consecutive: their beats line up column by column only by
# chance, and their beat shape stays. (beats in step, shape changes needed) pairs: 0 of 293
# CinC records cut in 10 s rows are flagged, all of 67 PTB-XL records cut as 3x4, 3x4+1,
# 6x2 and 12x1 rows are (simultaneous rows: in step; leads change: shapes change)
ROW_SYNC_TIERS = ((0.95, 0.0), (0.8, 0.15), (0.6, 0.25))
MIN_SHAPE_CORRELATION = 0.6  # two median beats of one lead correlate better than this
MAX_SHAPE_HEIGHT_RATIO = 2.5
# the halves of one lead's 10 s differ in 3.7 % of CinC windows; 6x2 rows read as strips:
# two of three differ in 83 % of PTB-XL records, true V1/II/V5 strips in none of 100
MIN_CHANGED_STRIPS = 2.0 / 3.0
# pairs of leads with different beat shapes on 12-lead pages: at least a third (rendered
# PTB-XL, scans); a single-lead strip read as 3x4: none
MIN_LEADS_COMPARED = 6
MAX_ALIKE_FRACTION = 0.1
MIN_BEAT_AMPLITUDE_MV = 0.1
MIN_RATE_BPM = 20.0  # the detector keeps beats 0.25 s apart: at most 240 bpm
MIN_BEAT_LEAD_S = 4.0  # leads shorter than this are not asked to show beats
MIN_VALID_FRACTION = 0.6
FLAT_MV = 0.1
MAX_FLAT_FRACTION = 0.5
MIN_QUALITY = 0.4
MIN_STRIP_QUALITY = 0.5
# measured pulse height / expected above this: the grid scale is too small (a 2 mm or 5 mm
# period taken for 1 mm). Lower ratios are not checked: on photos the pulse finder often
# measures half a pulse on pages that are read right.
MAX_PULSE_RATIO = 1.7
# row starts whose printed label is clearly a lead of another family (V, aV, limb) than the
# layout puts there: a close-up of part of a sheet (only V4-V6) read as a whole page, or a
# layout the labels do not fit
MIN_LABEL_CONTRADICTIONS = 2
# a 12-lead page's rows hold 10 s at 25 mm/s (or 5 s at 50): about 250 mm of paper on A4 and
# Letter sheets; a row much shorter than that is part of a sheet (a close-up photo that shows
# its right quarter read as a whole 3x4+1 page: 83 mm)
MIN_TWELVE_LEAD_ROW_MM = 150.0


def page_size_mm(dig: Digitization) -> tuple[float, float]:
    """(width, height) of the page image in mm at the calibrated scale."""
    h_px, w_px = dig.image_rgb.shape[:2]
    cal = dig.calibration
    return w_px / cal.px_per_mm_x, h_px / cal.px_per_mm_y


def _finite(signal_mv: np.ndarray) -> np.ndarray:
    """The samples as floats with any NaN (an untraced stretch) bridged linearly."""
    x = np.asarray(signal_mv, float)
    bad = ~np.isfinite(x)
    if bad.any():
        x = x.copy()
        x[bad] = (
            np.interp(np.flatnonzero(bad), np.flatnonzero(~bad), x[~bad]) if (~bad).any() else 0.0
        )
    return x


def _rows(dig: Digitization) -> list[tuple[float, float, float]]:
    """(x0, x1, baseline_y) in px of every row of the layout, top to bottom."""
    by_row: dict[int, list] = {}
    for box in dig.layout.boxes:
        by_row.setdefault(box.row, []).append(box)
    rows = []
    for boxes in by_row.values():
        ys = [b.baseline_y for b in boxes]
        rows.append((min(b.x0 for b in boxes), max(b.x1 for b in boxes), float(np.median(ys))))
    return sorted(rows, key=lambda r: r[2])


def _strips(dig: Digitization) -> list[Lead]:
    """The leads of a multi-lead layout that fill a row alone and run at least
    :data:`MIN_BEAT_LEAD_S` (rhythm strips; every row of 12x1)."""
    if dig.layout.name == "single":
        return []
    per_row: dict[int, list[Lead]] = {}
    for box, lead in zip(dig.layout.boxes, dig.leads):
        per_row.setdefault(box.row, []).append(lead)
    return [
        ls[0] for ls in per_row.values() if len(ls) == 1 and ls[0].duration_s >= MIN_BEAT_LEAD_S
    ]


def check_single_lead_duration(dig: Digitization) -> list[str]:
    """A single-lead strip longer than the page can hold at the calibrated speed, or in more
    rows than fit its height: a 12-lead page or grid lines read as rows of one strip."""
    if dig.layout.name != "single" or not dig.leads:
        return []
    w_mm, h_mm = page_size_mm(dig)
    n_rows = len(_rows(dig))
    max_rows = max(1, int(h_mm // MIN_SINGLE_ROW_PITCH_MM))
    capacity_s = max_rows * w_mm / dig.calibration.paper_speed_mm_s
    duration_s = dig.leads[0].duration_s
    if n_rows <= max_rows and duration_s <= 1.05 * capacity_s:
        return []
    return [
        f"a {duration_s:.0f} s single lead in {n_rows} rows on a {w_mm:.0f} x {h_mm:.0f} mm "
        f"page (room for about {max_rows} rows, {capacity_s:.0f} s): probably a 12-lead page "
        "or grid lines read as rows"
    ]


def check_row_pitch(dig: Digitization) -> list[str]:
    """Rows of trace closer together than a printed row can be: grid lines read as rows."""
    ys = [r[2] for r in _rows(dig)]
    if len(ys) < 3:
        return []
    pitch_mm = float(np.median(np.diff(ys))) / dig.calibration.px_per_mm_y
    if pitch_mm >= GRID_ROW_PITCH_MM:
        return []
    return [f"{len(ys)} rows only {pitch_mm:.0f} mm apart: grid lines were probably read as rows"]


def check_row_lengths(dig: Digitization) -> list[str]:
    """Rows of very different lengths or starts. The last row of a single-lead strip may end
    early (the record ends); every other row spans the same time on paper."""
    rows = _rows(dig)
    if len(rows) < 2:
        return []
    px_mm = dig.calibration.px_per_mm_x
    lengths = np.array([x1 - x0 for x0, x1, _ in rows], float)
    full = lengths[:-1] if dig.layout.name == "single" else lengths
    reasons = []
    shortest = float(full.min())
    if shortest < MIN_ROW_LENGTH_RATIO * lengths.max():
        reasons.append(
            f"rows of very different lengths ({shortest / px_mm:.0f} to "
            f"{lengths.max() / px_mm:.0f} mm): rows were probably mis-read"
        )
    if dig.layout.name == "single":
        starts = np.array([r[0] for r in rows[:-1]] or [rows[0][0]], float)
        shift_mm = float(starts.max() - starts.min()) / px_mm
        if shift_mm > MAX_ROW_START_SHIFT_MM:
            reasons.append(
                f"the rows of the strip start up to {shift_mm:.0f} mm apart: part of a row "
                "was missed, or the rows are not one lead printed in rows"
            )
    return reasons


def step_rate_per_s(lead: Lead) -> float:
    """Abrupt, lasting baseline jumps per second: the 0.5 s running median (which removes QRS
    complexes and calibration pulses) moving by more than :data:`STEP_MV` within 40 ms. A
    traced ECG has none; a path that hops between rows or grid lines has many."""
    x = _finite(lead.signal_mv)
    fs = lead.fs_hz
    if x.size < fs:
        return 0.0
    med = ndimage.median_filter(x, int(STEP_MEDIAN_S * fs) | 1, mode="nearest")
    k = max(1, int(0.04 * fs))
    jumps = np.abs(med[k:] - med[:-k]) > STEP_MV
    edge = int(STEP_EDGE_S * fs)  # calibration pulses and row ends are legitimate steps
    jumps[:edge] = False
    jumps[max(0, jumps.size - edge) :] = False
    n_steps = int(np.count_nonzero(np.diff(jumps.astype(np.int8)) == 1))
    return n_steps / (x.size / fs)


def check_steps(dig: Digitization) -> list[str]:
    """Leads whose baseline jumps like a staircase: the tracer followed grid lines or hopped
    between rows."""
    bad = [ld for ld in dig.leads if step_rate_per_s(ld) > MAX_STEPS_PER_S]
    if not bad or len(bad) < max(1, len(dig.leads) // 4):
        return []
    names = ", ".join(dict.fromkeys(ld.name for ld in bad))
    return [
        f"the trace of {names} jumps in steps (level changes that never return): the path "
        "probably follows grid lines or hops between rows"
    ]


def _qrs_peaks(
    x: np.ndarray,
    fs: float,
    valid: np.ndarray | None = None,
    ref_percentile: float = 99.0,
    n_parts: int = 1,
) -> np.ndarray:
    """Sample indices of steep deflections: peaks of the 5-30 Hz energy above a fifth of its
    ``ref_percentile`` (taken in each of ``n_parts`` equal parts, so that a part printed from
    a smaller lead keeps its beats), at least 0.25 s apart; the first and last
    :data:`STEP_EDGE_S` (where calibration pulses stand) never hold one."""
    x = _finite(x)
    if x.size < 2 * fs:
        return np.zeros(0, int)
    sos = butter(2, [5.0 / (fs / 2), min(30.0, 0.45 * fs) / (fs / 2)], "bandpass", output="sos")
    energy = ndimage.uniform_filter1d(sosfiltfilt(sos, x) ** 2, max(1, int(0.08 * fs)))
    if valid is not None:
        energy[~valid] = 0.0
    edge = int(STEP_EDGE_S * fs)
    energy[:edge] = 0.0
    energy[energy.size - edge :] = 0.0
    bounds = np.linspace(0, energy.size, n_parts + 1).astype(int)
    height = np.concatenate(
        [
            np.full(hi - lo, 0.2 * np.percentile(energy[lo:hi], ref_percentile))
            for lo, hi in zip(bounds[:-1], bounds[1:])
        ]
    )
    peaks = find_peaks(energy, distance=max(1, int(0.25 * fs)))[0]
    return peaks[(energy[peaks] >= height[peaks]) & (height[peaks] > 0)]


def beat_times_s(lead: Lead) -> np.ndarray:
    """Times of QRS-like events: steep deflections of at least :data:`MIN_BEAT_AMPLITUDE_MV`
    that come back to the level they left (a step does not). The energy reference is a low
    percentile so that small beats beside a few large ectopic ones (or tracing errors) count."""
    fs = lead.fs_hz
    x = _finite(lead.signal_mv)
    # the level before and after: medians over 0.5 s, mostly baseline beside a beat (even with
    # a wide QRS and a tall T wave), the new level after a step
    half, off, win = int(0.06 * fs), int(0.1 * fs), int(0.5 * fs)
    beats = []
    for p in _qrs_peaks(x, fs, np.asarray(lead.valid_mask, bool), ref_percentile=90.0):
        core = x[max(0, p - half) : p + half + 1]
        amplitude = float(core.max() - core.min())
        before = float(np.median(x[max(0, p - off - win) : max(1, p - off)]))
        after = float(np.median(x[min(p + off, x.size - 1) : p + off + win]))
        if amplitude >= MIN_BEAT_AMPLITUDE_MV and abs(after - before) < 0.5 * amplitude:
            beats.append(p / fs)
    return np.array(beats)


def trace_rows_mv(lead: Lead, px_per_mv: float) -> list[tuple[int, np.ndarray]]:
    """(first pixel column, mV per pixel column about the row's median) of every row the
    lead's traced path crosses: a single-lead strip runs left to right once per row."""
    xs = np.asarray(lead.trace_x_px, float)
    ys = np.asarray(lead.trace_y_px, float)
    rows = []
    for part in np.split(np.arange(xs.size), np.flatnonzero(np.diff(xs) < 0) + 1):
        if part.size < 2:
            continue
        cols = np.arange(np.ceil(xs[part[0]]), np.floor(xs[part[-1]]) + 1)
        if cols.size < 2:
            continue
        y = np.interp(cols, xs[part], ys[part])
        rows.append((int(cols[0]), (np.median(y) - y) / px_per_mv))
    return rows


def _beats_in_step(rows: list[tuple[int, np.ndarray]], px_per_s: float) -> float:
    """Median over adjacent rows of the fraction of beats that have a beat of the other row
    in the same column (within 80 ms): about 1 for rows recorded at the same time (the leads
    of a 12-lead page), low for consecutive stretches of one lead."""
    events = [x0 + _qrs_peaks(v, px_per_s, n_parts=4) for x0, v in rows]
    tol_px = 0.08 * px_per_s
    fractions = []
    for a, b in zip(events[:-1], events[1:]):
        if a.size < 2 or b.size < 2:
            continue
        gaps = np.abs(a[:, None] - b[None, :])
        fractions.append(0.5 * (np.mean(gaps.min(1) <= tol_px) + np.mean(gaps.min(0) <= tol_px)))
    return float(np.median(fractions)) if fractions else 0.0


def _segment_templates(v: np.ndarray, fs: float, n_segments: int) -> list[np.ndarray | None]:
    """The median beat (+-100 ms about each QRS) of each of ``n_segments`` equal parts of a
    row; None for a part with fewer than two beats."""
    half = int(0.1 * fs)
    peaks = _qrs_peaks(v, fs, n_parts=n_segments)
    peaks = peaks[(peaks >= half) & (peaks + half < v.size)]
    edges = np.linspace(0, v.size, n_segments + 1)
    out: list[np.ndarray | None] = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = peaks[(peaks >= lo) & (peaks < hi)]
        if inside.size < 2:
            out.append(None)
            continue
        beats = np.array([v[p - half : p + half + 1] for p in inside])
        out.append(np.median(beats - np.median(beats, axis=1, keepdims=True), axis=0))
    return out


def _shapes_differ(a: np.ndarray, b: np.ndarray, fs: float) -> bool:
    """Two median beats that cannot be one lead: poorly correlated at any shift within
    20 ms, or of very different heights."""
    heights = (np.ptp(a) + 1e-9) / (np.ptp(b) + 1e-9)
    if max(heights, 1.0 / heights) > MAX_SHAPE_HEIGHT_RATIO:
        return True
    best = -1.0
    for d in range(-int(0.02 * fs), int(0.02 * fs) + 1):
        u, w = (a[d:], b[: b.size - d]) if d >= 0 else (a[:d], b[-d:])
        if u.std() > 0 and w.std() > 0:
            best = max(best, float(np.corrcoef(u, w)[0, 1]))
    return best < MIN_SHAPE_CORRELATION


def _shape_changes(rows: list[tuple[int, np.ndarray]], fs: float) -> float:
    """Fraction of neighbouring quarter rows (along the strip, and from the end of one row to
    the start of the next) whose beats have different shapes: a lead changes there."""
    templates = [t for _, v in rows for t in _segment_templates(v, fs, 4)]
    pairs = [
        (a, b) for a, b in zip(templates[:-1], templates[1:]) if a is not None and b is not None
    ]
    if len(pairs) < 3:
        return 0.0
    return sum(_shapes_differ(a, b, fs) for a, b in pairs) / len(pairs)


def check_rows_in_step(dig: Digitization) -> list[str]:
    """Rows of a "single-lead strip" whose beats line up column by column (recorded at the same
    time), the less so the more the beat shape changes along the rows (see
    :data:`ROW_SYNC_TIERS`): the rows are different leads of a 12-lead page, not one strip."""
    if dig.layout.name != "single" or not dig.leads:
        return []
    cal = dig.calibration
    rows = trace_rows_mv(dig.leads[0], cal.px_per_mv)
    rows = [r for r in rows if r[1].size >= MIN_BEAT_LEAD_S * cal.px_per_s]
    if len(rows) < 2:
        return []
    sync = _beats_in_step(rows, cal.px_per_s)
    if sync < ROW_SYNC_TIERS[-1][0]:
        return []
    changes = _shape_changes(rows, cal.px_per_s)
    if not any(sync >= s and changes >= c for s, c in ROW_SYNC_TIERS):
        return []
    return [
        f"the beats of the {len(rows)} rows line up ({sync:.0%} in the same column) and the "
        f"beat shape changes at {changes:.0%} of the quarter rows: these are probably "
        "different leads of a 12-lead page, not one long strip"
    ]


def check_strips_one_lead(dig: Digitization) -> list[str]:
    """The full-width strips of a 12-lead layout each show one lead: the beat shape of the
    first half matches the second. When it changes at the half in most strips they are rows
    of two leads each (a 6x2 page read as 3x4+3, say)."""
    verdicts = []
    for lead in _strips(dig):
        first, second = _segment_templates(_finite(lead.signal_mv), lead.fs_hz, 2)
        if first is not None and second is not None:
            verdicts.append(_shapes_differ(first, second, lead.fs_hz))
    if len(verdicts) < 2 or sum(verdicts) < MIN_CHANGED_STRIPS * len(verdicts):
        return []
    return [
        f"the beat shape changes half-way along {sum(verdicts)} of {len(verdicts)} full-width "
        f"strips: they probably hold two leads each, not the {dig.layout.name} layout"
    ]


def check_leads_differ(dig: Digitization) -> list[str]:
    """The leads of a 12-lead page look different (aVR is inverted, V1 mostly negative...);
    when every lead has the same beat shape the page is one lead read as a 12-lead layout."""
    if dig.layout.name == "single":
        return []
    templates = []
    for ld in dig.leads:
        t = _segment_templates(_finite(ld.signal_mv), ld.fs_hz, 1)[0]
        if t is not None:
            templates.append((t, ld.fs_hz))
    if len(templates) < MIN_LEADS_COMPARED:
        return []
    pairs = [(a, b) for i, a in enumerate(templates) for b in templates[i + 1 :]]
    differ = float(np.mean([_shapes_differ(a, b, fs) for (a, fs), (b, _) in pairs]))
    if differ > MAX_ALIKE_FRACTION:
        return []
    return [
        f"all {len(templates)} leads compared have the same beat shape: probably one lead "
        f"(a single-lead strip) read as a {dig.layout.name} page"
    ]


def check_beats(dig: Digitization) -> list[str]:
    """The rhythm lead (when long enough to hold several beats) must show heartbeats, at
    least one per 3 s of traced signal (20 bpm)."""
    lead = dig.rhythm_lead
    if lead is None or lead.duration_s < MIN_BEAT_LEAD_S:
        return []
    traced_s = np.count_nonzero(lead.valid_mask) / lead.fs_hz
    n_beats = beat_times_s(lead).size
    rate_bpm = 60.0 * n_beats / max(traced_s, 1e-9)
    if n_beats >= 2 and rate_bpm >= MIN_RATE_BPM:
        return []
    return [
        f"{n_beats} heartbeat(s) found in the {lead.duration_s:.0f} s of lead {lead.name} "
        f"({rate_bpm:.0f} per minute): probably not an ECG trace"
    ]


def check_flat_leads(dig: Digitization) -> list[str]:
    """Most leads flat (under :data:`FLAT_MV` peak to peak): the "traces" are grid lines or
    blank paper. A real page has at most a few small leads (15 % on the scans)."""
    flat = [
        ld.name
        for ld in dig.leads
        if ld.signal_mv.size == 0
        or np.ptp(np.percentile(_finite(ld.signal_mv), [0.5, 99.5])) < FLAT_MV
    ]
    if len(flat) < MAX_FLAT_FRACTION * len(dig.leads) or not flat:
        return []
    return [
        f"{len(flat)} of {len(dig.leads)} leads are flat lines (under {FLAT_MV:g} mV): "
        "probably grid lines or blank paper were traced"
    ]


def check_valid_fraction(dig: Digitization) -> list[str]:
    """Most samples bridged over gaps rather than traced."""
    sizes = np.array([ld.signal_mv.size for ld in dig.leads], float)
    valid = np.array([np.count_nonzero(ld.valid_mask) for ld in dig.leads], float)
    fraction = float(valid.sum() / sizes.sum()) if sizes.sum() else 0.0
    if fraction >= MIN_VALID_FRACTION:
        return []
    return [f"only {fraction:.0%} of the samples were traced; the rest is bridged over gaps"]


def check_quality(dig: Digitization) -> list[str]:
    """A low mean lead quality (traced fraction, ink and path consistency), or a poorly traced
    long strip: the rhythm lead that rhythm analysis reads, or a "strip" that is really the
    page edge or a shadow (the GUI calls quality under 0.5 low)."""
    reasons = []
    if dig.quality < MIN_QUALITY:
        reasons.append(f"low trace quality ({dig.quality:.2f})")
    rhythm = dig.rhythm_lead
    long_leads = _strips(dig) + ([rhythm] if rhythm is not None and len(dig.leads) > 1 else [])
    poor = {ld.name: ld.quality for ld in long_leads if ld.quality < MIN_STRIP_QUALITY}
    if poor:
        names = ", ".join(f"{name} ({q:.2f})" for name, q in poor.items())
        reasons.append(f"poorly traced strip(s): {names}")
    return reasons


def check_pulse(dig: Digitization) -> list[str]:
    """A calibration pulse much taller than 1 mV at the calibrated scale and gain: the scale
    (grid) or the gain is wrong, so amplitudes and times are too."""
    cal = dig.calibration
    if not cal.pulse_found or not cal.pulse_height_mm:
        return []
    if cal.pulse_height_mm / cal.gain_mm_mv <= MAX_PULSE_RATIO:
        return []
    return [
        f"the 1 mV calibration pulse measures {cal.pulse_height_mm:.1f} mm but the gain is "
        f"{cal.gain_mm_mv:g} mm/mV: the scale or the gain is wrong"
    ]


def check_partial_sheet(dig: Digitization) -> list[str]:
    """A multi-lead page whose longest row spans much less paper than a 12-lead page's rows
    (:data:`MIN_TWELVE_LEAD_ROW_MM`, on the grid's own scale): a photo of part of the sheet,
    whose leads are then misnamed and cut short."""
    if dig.layout.name == "single" or not dig.calibration.grid_found or not dig.layout.boxes:
        return []
    longest_mm = max(x1 - x0 for x0, x1, _ in _rows(dig)) / dig.calibration.px_per_mm_x
    if longest_mm >= MIN_TWELVE_LEAD_ROW_MM:
        return []
    return [
        f"the longest row spans only {longest_mm:.0f} mm of paper (a 12-lead page's rows are "
        "about 250 mm long): probably a photo of part of the sheet; the leads may be misnamed "
        "and cut short"
    ]


def _family(lead: str) -> str:
    """"V" (chest), "aV" (augmented) or "" (I, II, III) for a standard lead name."""
    return "V" if lead.startswith("V") else ("aV" if lead.startswith("aV") else "")


def check_labels(dig: Digitization) -> list[str]:
    """Printed lead labels at the row starts that clearly name leads of another family than
    the layout puts there (a chest lead for a limb lead: at least
    :data:`MIN_LABEL_CONTRADICTIONS`, more than the labels that agree): the leads are
    misnamed, e.g. a photo of part of a 12-lead sheet read as a whole page. Within a family
    the label reader miscounts strokes (II read as I on rendered pages), so that is no proof."""
    if dig.layout.name == "single" or not dig.layout.boxes:
        return []
    c = dig.crop
    reads = row_start_labels(
        dig.image_rgb, (c.x0, c.y0), dig.layout.boxes, dig.calibration.px_per_mm_x
    )
    against = [
        (b.name, r.name if names_a_lead(r) else f"{r.name}?")  # ?: a near tie (V5 or V6)
        for b, r in reads
        if r is not None and r.contradicts(b.name) and _family(r.name) != _family(b.name)
    ]
    agree = sum(r is not None and r.supports(b.name) for b, r in reads)
    if len(against) < MIN_LABEL_CONTRADICTIONS or len(against) <= agree:
        return []
    printed = ", ".join(got for _, got in against)
    placed = ", ".join(name for name, _ in against)
    return [
        f"the printed lead labels read {printed} where the {dig.layout.name} layout puts "
        f"{placed}: part of a sheet, or another layout; the leads are probably misnamed"
    ]


CHECKS = (
    check_single_lead_duration,
    check_row_pitch,
    check_row_lengths,
    check_rows_in_step,
    check_strips_one_lead,
    check_leads_differ,
    check_steps,
    check_beats,
    check_flat_leads,
    check_valid_fraction,
    check_quality,
    check_pulse,
    check_labels,
    check_partial_sheet,
)


def review_reasons(dig: Digitization) -> tuple[str, ...]:
    """Every reason, from all :data:`CHECKS`, why ``dig`` needs review (empty when none). A
    check that fails on an odd result says so instead of stopping the digitisation."""
    reasons: list[str] = []
    for check in CHECKS:
        try:
            reasons.extend(check(dig))
        except (ValueError, IndexError, FloatingPointError) as exc:
            reasons.append(f"self-check {check.__name__} could not run ({exc})")
    return tuple(reasons)
