"""Read the printed lead labels ("I", "aVR", "V1" ...) beside the start of a lead.

A label is a small word of ink near the start of a lead's segment: above, below or on its
baseline. The word is cut out of the page's text ink, scaled to a fixed height and compared
with the twelve standard names drawn in a few fonts (Pillow's own font, and DejaVu Sans when
the system has it); the best name counts only when it matches well and clearly better than
the next one. :mod:`ecgviewer.digitize.layout` uses confident reads to confirm or correct
the layout's naming.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from ecgviewer.digitize.binarize import binarize
from ecgviewer.digitize.preprocess import trace_darkness
from ecgviewer.paper import STANDARD_LEADS, LeadBox

_H_PX = 24  # words and templates are compared at this height
_MIN_SCORE = 0.62  # overlap (Dice) of a word with its best name
_MIN_MARGIN = 0.08  # per telling letter, the best name's lead to name a lead on its own
_TIE = 0.08  # a name this close to the best one (per telling letter) is as likely
_CLEAR = 0.2  # a name this far below the best one (per telling letter) is not what is printed
_LETTER_MM = (1.6, 7.0)  # height of a printed label
_MAX_WORD_MM = 14.0
_FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf")
_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/TTF"))


@dataclass(frozen=True)
class LabelRead:
    """A word read off the page near a lead's start: how well each standard name matches it
    (0..1) and where it is (pixels)."""

    scores: dict[str, float]
    x0: int
    x1: int
    y0: int
    y1: int

    @property
    def name(self) -> str:
        return max(self.scores, key=self.scores.__getitem__)

    @property
    def score(self) -> float:
        return self.scores[self.name]

    def lead_by(self, name: str) -> float:
        """How much better the best name matches than ``name``, per letter that tells them
        apart (aVR and aVF differ in one letter of three: the mean alone would hide it)."""
        best = self.name
        if len(name) != len(best):
            return self.score - self.scores.get(name, 0.0)
        differ = sum(a != b for a, b in zip(best, name)) or 1
        return (self.score - self.scores.get(name, 0.0)) * len(best) / differ

    @property
    def margin(self) -> float:
        """How much the best name beats the next one (see :meth:`lead_by`)."""
        return min(self.lead_by(n) for n in self.scores if n != self.name)

    def supports(self, name: str) -> bool:
        """The word may well be ``name`` (within a near tie of the best)."""
        return self.lead_by(name) <= _TIE

    def contradicts(self, name: str) -> bool:
        """The word is clearly another name than ``name``."""
        return self.lead_by(name) >= _CLEAR


def _fonts() -> list[ImageFont.ImageFont | ImageFont.FreeTypeFont]:
    fonts: list = []
    try:
        fonts.append(ImageFont.load_default(size=2 * _H_PX))
    except (TypeError, OSError):  # Pillow without FreeType: no scalable default font
        pass
    for d in _FONT_DIRS:
        for f in _FONT_FILES:
            if (d / f).is_file():
                fonts.append(ImageFont.truetype(str(d / f), 2 * _H_PX))
    return fonts


@functools.lru_cache(maxsize=1)
def _templates() -> dict[str, tuple[np.ndarray, ...]]:
    """Every character of the standard names in every font, cropped to its ink, scaled to
    :data:`_H_PX` rows and thickened by a pixel."""
    out: dict[str, list[np.ndarray]] = {}
    for font in _fonts():
        for char in sorted(set("".join(STANDARD_LEADS))):
            img = Image.new("L", (4 * _H_PX, 4 * _H_PX), 0)
            ImageDraw.Draw(img).text((_H_PX, _H_PX), char, fill=255, font=font)
            glyph = _normalised(np.asarray(img) > 127)
            if glyph is not None:
                out.setdefault(char, []).append(_thicken(glyph))
    return {c: tuple(g) for c, g in out.items()}


def _normalised(ink: np.ndarray) -> np.ndarray | None:
    """The word's ink cropped to its bounding box and scaled to :data:`_H_PX` rows."""
    ys, xs = np.nonzero(ink)
    if ys.size == 0:
        return None
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    width = max(2, round(w * _H_PX / h))
    img = Image.fromarray(crop.astype(np.uint8) * 255).resize((width, _H_PX), Image.BILINEAR)
    return np.asarray(img) > 96


def _thicken(mask: np.ndarray) -> np.ndarray:
    """The mask grown by one pixel up, down, left and right."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def _dice(word: np.ndarray, template: np.ndarray) -> float:
    """Overlap of a word with a (thickened) template at the template's width, the word
    thickened by a pixel too (stroke widths differ between fonts and printers), less for a
    different aspect."""
    tw = template.shape[1]
    cols = ((np.arange(tw) + 0.5) * word.shape[1] / tw).astype(int)  # nearest column
    a = _thicken(word[:, cols])
    dice = 2.0 * np.count_nonzero(a & template) / max(1, np.count_nonzero(a) + template.sum())
    aspect = abs(np.log(word.shape[1] / tw))
    return float(dice * np.exp(-1.5 * aspect))


def _letters(word: np.ndarray) -> list[np.ndarray]:
    """The letters of a word, left to right: its connected pieces at least a quarter of the
    word's height (specks dropped), pieces that overlap in columns joined."""
    labels, n = ndimage.label(word, structure=np.ones((3, 3), bool))
    spans: list[list[int]] = []
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl[0].stop - sl[0].start >= 0.25 * word.shape[0]:
            spans.append([sl[1].start, sl[1].stop, k])
    spans.sort()
    merged: list[list] = []
    for x0, x1, k in spans:
        if merged and x0 < merged[-1][1] - 0.5 * (x1 - x0):
            merged[-1][1] = max(merged[-1][1], x1)
            merged[-1][2].append(k)
        else:
            merged.append([x0, x1, [k]])
    return [np.isin(labels[:, x0:x1], ks) for x0, x1, ks in merged]


def classify_word(ink: np.ndarray) -> dict[str, float]:
    """How well each standard lead name matches a word's ink (0..1; empty for no ink): the
    mean match of its letters with the name's characters, for names of that many letters."""
    letters = [g for g in (_normalised(p) for p in _letters(ink)) if g is not None]
    if not letters:
        return {}
    tpl = _templates()
    cache: dict[tuple[int, str], float] = {}

    def match(k: int, char: str) -> float:
        if (k, char) not in cache:
            cache[k, char] = max(_dice(letters[k], t) for t in tpl.get(char, ()))
        return cache[k, char]

    return {
        name: (
            float(np.mean([match(k, c) for k, c in enumerate(name)]))
            if len(name) == len(letters)
            else 0.0
        )
        for name in STANDARD_LEADS
    }


def _words(ink: np.ndarray, px_per_mm: float) -> list[tuple[int, int, int, int]]:
    """Boxes ``(x0, x1, y0, y1)`` of words: letter-sized pieces of ink joined across letter
    gaps (under 1.2 mm) where they share rows."""
    labels, n = ndimage.label(ink, structure=np.ones((3, 3), bool))
    lo, hi = (v * px_per_mm for v in _LETTER_MM)
    pieces = []
    for sl in ndimage.find_objects(labels):
        h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        if 0.3 * lo <= h <= hi and w <= 0.6 * _MAX_WORD_MM * px_per_mm:
            pieces.append([sl[1].start, sl[1].stop, sl[0].start, sl[0].stop])
    pieces.sort()
    words: list[list[int]] = []
    gap = 1.2 * px_per_mm
    for p in pieces:
        for w in words:
            if p[0] - w[1] <= gap and min(p[3], w[3]) - max(p[2], w[2]) > 0:
                w[1], w[2], w[3] = max(w[1], p[1]), min(w[2], p[2]), max(w[3], p[3])
                break
        else:
            words.append(list(p))
    return [
        (a, b, c, d)
        for a, b, c, d in words
        if lo <= d - c <= hi and b - a <= _MAX_WORD_MM * px_per_mm
    ]


def read_label(ink: np.ndarray, x: float, baseline_y: float, px_per_mm: float) -> LabelRead | None:
    """The lead label printed at a lead's start (column ``x``, baseline row ``baseline_y``):
    the word starting nearest ``x`` (from 2 mm before to 8 mm after it) within 20 mm above to
    12 mm below the baseline that matches some standard name well; else None."""
    h, w = ink.shape
    xa, xb = max(0, int(x - 2 * px_per_mm)), min(w, int(x + (8 + _MAX_WORD_MM) * px_per_mm))
    ya, yb = max(0, int(baseline_y - 20 * px_per_mm)), min(h, int(baseline_y + 12 * px_per_mm))
    if xb - xa < 4 or yb - ya < 4:
        return None
    sub = ink[ya:yb, xa:xb]
    words = [wd for wd in _words(sub, px_per_mm) if wd[0] <= x - xa + 8 * px_per_mm]
    reads = []
    for x0, x1, y0, y1 in words:
        scores = classify_word(sub[y0:y1, x0:x1])
        if scores and max(scores.values()) >= _MIN_SCORE:
            reads.append(LabelRead(scores, xa + x0, xa + x1, ya + y0, ya + y1))
    return min(reads, key=lambda r: abs(r.x0 - x), default=None)


def names_a_lead(read: LabelRead | None) -> str | None:
    """The lead name a read gives on its own (no layout to confirm): only a clear best."""
    return read.name if read is not None and read.margin >= _MIN_MARGIN else None


class LabelReader:
    """:func:`read_label` on one page's ink, each place read once (the layout vote and the
    lead boxes ask about the same lead starts)."""

    def __init__(self, ink: np.ndarray, px_per_mm: float) -> None:
        self.ink, self.px_per_mm = ink, px_per_mm
        self._reads: dict[tuple[int, int], LabelRead | None] = {}

    def __call__(self, x: float, baseline_y: float) -> LabelRead | None:
        key = (round(x), round(baseline_y))
        if key not in self._reads:
            self._reads[key] = read_label(self.ink, x, baseline_y, self.px_per_mm)
        return self._reads[key]


def row_start_labels(
    image_rgb: np.ndarray, offset_xy: tuple[int, int], boxes: tuple[LeadBox, ...], px_per_mm: float
) -> list[tuple[LeadBox, LabelRead | None]]:
    """Every row's first box (column 0) with the label printed at its start, read on the
    page's dark ink (:func:`~ecgviewer.digitize.preprocess.trace_darkness`, Otsu) in the one
    strip of the page that holds the row starts (the trace ink the leads were traced on
    leaves labels out), each row only in its band up to halfway to the next rows (rows of
    12x1 are so close that the label above is as near as its own). ``offset_xy``: where the
    boxes' (cropped) coordinates start on the page."""
    firsts = [b for b in boxes if b.col == 0]
    if not firsts or px_per_mm <= 0:
        return []
    dx, dy = offset_xy
    h, w = image_rgb.shape[:2]
    xa = max(0, int(min(b.x0 for b in firsts) + dx - 3 * px_per_mm))
    xb = min(w, int(max(b.x0 for b in firsts) + dx + (9 + _MAX_WORD_MM) * px_per_mm))
    ya = max(0, int(min(b.baseline_y for b in firsts) + dy - 21 * px_per_mm))
    yb = min(h, int(max(b.baseline_y for b in firsts) + dy + 13 * px_per_mm))
    if xb - xa < 32 or yb - ya < 32:
        return [(b, None) for b in firsts]
    ink = binarize(trace_darkness(image_rgb[ya:yb, xa:xb]), "otsu").binary
    ox, oy = dx - xa, dy - ya
    ys = sorted(b.baseline_y + oy for b in firsts)
    out = []
    for b in firsts:
        y = b.baseline_y + oy
        k = ys.index(y)  # each row reads only its own band: up to halfway to its neighbours
        top = int(0.5 * (ys[k - 1] + y)) if k > 0 else 0
        bottom = int(0.5 * (y + ys[k + 1])) if k + 1 < len(ys) else ink.shape[0]
        own = np.zeros_like(ink)
        own[max(0, top) : bottom] = ink[max(0, top) : bottom]
        out.append((b, read_label(own, b.x0 + ox, y, px_per_mm)))
    return out
