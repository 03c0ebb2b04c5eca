"""Generator of a hostile/odd input corpus, written into a folder the caller owns (a tmp dir).

Nothing here is stored in the repository: every file is made from a few lines of code, so the
corpus documents exactly what each case is. Used by tests/test_bad_inputs.py and
benchmarks/bench_bad_files.py.

Each :class:`BadFile` states what :func:`ecgviewer.io.images.load_image` must do with it:
``expect`` is an error class name from :mod:`ecgviewer.errors`, or ``None`` for "loads".
``page_kind`` marks files that do load but hold no ECG ("blank", "black", "photo"), which the
digitiser must turn into NoTraceFoundError or a result with warnings.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, features


@dataclass(frozen=True)
class BadFile:
    name: str
    path: Path
    expect: str | None  # error class name in ecgviewer.errors, None = loads
    note: str
    page: int = 0
    page_kind: str | None = None  # "blank" | "black" | "photo": loads, but holds no ECG
    shape: tuple[int, int] | None = None  # expected (H, W) when it loads


# --------------------------------------------------------------------------- helpers


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png_bytes(width: int, height: int, full: bool) -> bytes:
    """A 1-bit grey PNG declaring ``width``×``height``.

    ``full=True`` writes every (all-white) row, compressed by zlib to a few hundred kB, so the
    file is a genuine, valid decompression bomb; ``full=False`` writes one row only (a header
    that lies), which must be refused before any decoding is attempted.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    parts = []
    for _ in range(height if full else 1):
        parts.append(comp.compress(row))
    parts.append(comp.flush())
    idat = b"".join(parts)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _pdf_bytes(objects: list[bytes], trailer_extra: bytes = b"") -> bytes:
    """A syntactically correct PDF (with a right xref table) from numbered object bodies."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, trailer_extra, xref)
    )
    return out.getvalue()


def empty_pdf_bytes() -> bytes:
    return _pdf_bytes(
        [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    )


def encrypted_pdf_bytes() -> bytes:
    """A one-page PDF whose standard security handler needs an unknown user password.

    O and U are arbitrary 32-byte strings, so the empty password does not match U and the
    reader must ask for a password: exactly what a locked hospital export looks like.
    """
    o_hex = b"4f" * 32
    u_hex = b"9a" * 32
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <" + o_hex + b"> /U <" + u_hex + b"> /P -4 >>",
    ]
    return _pdf_bytes(
        objects,
        b"/Encrypt 4 0 R /ID [<00112233445566778899aabbccddeeff> "
        b"<00112233445566778899aabbccddeeff>] ",
    )


def ecg_like_rgb(height: int = 600, width: int = 1000, seed: int = 0) -> np.ndarray:
    """A small synthetic ECG-paper picture: pink grid and a dark wavy trace (for format tests)."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), 255, np.uint8)
    img[::8, :] = (250, 200, 200)
    img[:, ::8] = (250, 200, 200)
    img[::40, :] = (240, 150, 150)
    img[:, ::40] = (240, 150, 150)
    x = np.arange(width)
    y = np.clip(height / 2 + 40 * np.sin(x / 25.0) + rng.normal(0, 1, width), 2, height - 3)
    y = y.astype(int)
    for col in x:  # a connected stroke: fill from the previous column's row to this one's
        lo, hi = sorted((y[max(col - 1, 0)], y[col]))
        img[lo - 1 : hi + 2, col] = (20, 20, 20)
    return img


def _smooth_noise(height: int, width: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 255, (height // 32 + 2, width // 32 + 2, 3))
    big = np.asarray(
        Image.fromarray(small.astype(np.uint8)).resize((width, height), Image.Resampling.BICUBIC)
    )
    return big


def _photo(height: int = 512, width: int = 512) -> np.ndarray:
    try:
        from skimage import data

        return data.astronaut()
    except Exception:  # noqa: BLE001 - skimage's bundled sample missing: fall back to noise
        return _smooth_noise(height, width)


def _save(img: Image.Image | np.ndarray, path: Path, fmt: str | None = None, **kw) -> Path:
    if isinstance(img, np.ndarray):
        img = Image.fromarray(img)
    img.save(path, format=fmt, **kw)
    return path


# --------------------------------------------------------------------------- the corpus


def make_corpus(folder: str | Path) -> list[BadFile]:
    """Write every corpus file into ``folder`` and return their descriptions."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    ecg = ecg_like_rgb()
    files: list[BadFile] = []

    def add(name, expect, note, writer, **kw):
        path = d / name
        writer(path)
        files.append(BadFile(name, path, expect, note, **kw))

    png_buf = io.BytesIO()
    Image.fromarray(ecg).save(png_buf, "PNG")
    png = png_buf.getvalue()
    jpg_buf = io.BytesIO()
    Image.fromarray(ecg).save(jpg_buf, "JPEG", quality=90)
    jpg = jpg_buf.getvalue()

    # --- valid, ordinary and odd formats: must load
    add("ok.png", None, "plain RGB PNG", lambda p: p.write_bytes(png), shape=(600, 1000))
    add(
        "png_named.jpg",
        None,
        "PNG bytes behind a .jpg name",
        lambda p: p.write_bytes(png),
        shape=(600, 1000),
    )
    add(
        "pdf_text_in.png",
        None,
        "PNG whose text chunk contains '%PDF-'",
        lambda p: _save(ecg, p, "PNG", pnginfo=_png_text("Comment", "%PDF-1.4 export")),
        shape=(600, 1000),
    )
    add(
        "fax_group4.tif",
        None,
        "1-bit TIFF, CCITT group 4 (fax)",
        lambda p: Image.fromarray(ecg).convert("1").save(p, compression="group4"),
        shape=(600, 1000),
    )
    add(
        "lzw.tif",
        None,
        "LZW-compressed TIFF",
        lambda p: _save(ecg, p, "TIFF", compression="tiff_lzw"),
        shape=(600, 1000),
    )
    add(
        "progressive.jpg",
        None,
        "progressive JPEG",
        lambda p: _save(ecg, p, "JPEG", progressive=True),
        shape=(600, 1000),
    )
    add(
        "échantillon ✓.pdf",
        None,
        "PDF with a non-ASCII file name",
        lambda p: Image.fromarray(ecg).save(p, "PDF", resolution=200.0),
        shape=(600, 1000),
    )
    if features.check("webp"):
        add("phone.webp", None, "WebP", lambda p: _save(ecg, p, "WEBP"), shape=(600, 1000))
    add("ok.bmp", None, "BMP", lambda p: _save(ecg, p, "BMP"), shape=(600, 1000))
    add(
        "deep16.tif",
        None,
        "16-bit grey TIFF",
        lambda p: _save(Image.fromarray(ecg[:, :, 0].astype(np.uint16) * 257), p, "TIFF"),
        shape=(600, 1000),
    )
    add(
        "deep16.png",
        None,
        "16-bit grey PNG",
        lambda p: _save(Image.fromarray(ecg[:, :, 0].astype(np.uint16) * 257), p, "PNG"),
        shape=(600, 1000),
    )
    add(
        "float32.tif",
        None,
        "32-bit float TIFF in [0, 1]",
        lambda p: _save(Image.fromarray(ecg[:, :, 0].astype(np.float32) / 255.0), p, "TIFF"),
        shape=(600, 1000),
    )
    add(
        "float_wide.tif",
        None,
        "32-bit float TIFF in [-1000, 3000] with a NaN",
        lambda p: _save(Image.fromarray(_float_wide(ecg)), p, "TIFF"),
        shape=(600, 1000),
    )
    add(
        "multipage.tif",
        None,
        "3-page TIFF, page 2 requested",
        lambda p: _save(
            Image.fromarray(ecg),
            p,
            "TIFF",
            save_all=True,
            append_images=[Image.fromarray(ecg[:300]), Image.fromarray(ecg[:, :500])],
        ),
        page=2,
        shape=(600, 500),
    )
    add(
        "multipage_missing_page.tif",
        "EmptyDocumentError",
        "3-page TIFF, page 7 requested",
        lambda p: _save(
            Image.fromarray(ecg), p, "TIFF", save_all=True, append_images=[Image.fromarray(ecg)] * 2
        ),
        page=7,
    )
    add(
        "cmyk.jpg",
        None,
        "CMYK JPEG",
        lambda p: _save(Image.fromarray(ecg).convert("CMYK"), p, "JPEG"),
        shape=(600, 1000),
    )
    add(
        "palette_alpha.png",
        None,
        "palette PNG with a transparent background",
        _palette_alpha,
        shape=(600, 1000),
    )
    add(
        "rgba_transparent.png",
        None,
        "RGBA PNG, fully transparent except the trace",
        _rgba_transparent,
        shape=(600, 1000),
    )
    add(
        "animated.gif", None, "animated GIF, 3 frames: first used", _animated_gif, shape=(600, 1000)
    )
    add(
        "exif_rotated.jpg",
        None,
        "JPEG stored landscape with EXIF orientation 6 (90° CW)",
        _exif_rotated,
        shape=(1000, 600),
    )
    add("two_pages.pdf", None, "image PDF with 2 pages, page 2 requested", _two_page_pdf, page=1)
    add(
        "pdf_page_out_of_range.pdf",
        "EmptyDocumentError",
        "2-page PDF, page 5 requested",
        _two_page_pdf,
        page=4,
    )
    add(
        "blank_white.png",
        None,
        "blank white page",
        lambda p: _save(np.full((850, 1100, 3), 255, np.uint8), p, "PNG"),
        page_kind="blank",
        shape=(850, 1100),
    )
    add(
        "all_black.png",
        None,
        "all-black page",
        lambda p: _save(np.zeros((850, 1100, 3), np.uint8), p, "PNG"),
        page_kind="black",
        shape=(850, 1100),
    )
    add(
        "photo_no_ecg.png",
        None,
        "photograph without an ECG",
        lambda p: _save(_photo(), p, "PNG"),
        page_kind="photo",
    )
    add(
        "smooth_noise.jpg",
        None,
        "smooth colour noise, no ECG",
        lambda p: _save(_smooth_noise(700, 1000), p, "JPEG"),
        page_kind="photo",
        shape=(700, 1000),
    )

    # --- refused, each with its typed error
    add("zero_byte.png", "ImageTooSmallError", "0-byte file", lambda p: p.write_bytes(b""))
    add(
        "truncated.png",
        "UnreadableImageError",
        "PNG cut in the middle of its pixel data",
        lambda p: p.write_bytes(png[: len(png) // 2]),
    )
    add(
        "truncated.jpg",
        "UnreadableImageError",
        "JPEG cut in the middle of its scan",
        lambda p: p.write_bytes(jpg[: len(jpg) // 2]),
    )
    add(
        "header_only.png",
        "UnreadableImageError",
        "PNG signature and IHDR, no data",
        lambda p: p.write_bytes(png[:33]),
    )
    add(
        "text_named.png",
        "UnreadableImageError",
        "a text file named .png",
        lambda p: p.write_text("lead II: 0.1 0.2 0.3\nthis is not an image\n"),
    )
    add(
        "random_bytes.jpg",
        "UnreadableImageError",
        "random bytes named .jpg",
        lambda p: p.write_bytes(np.random.default_rng(3).bytes(5000)),
    )
    add(
        "drawing.svg",
        "UnreadableImageError",
        "an SVG drawing",
        lambda p: p.write_text(
            '<svg xmlns="http://www.w3.org/2000/svg" width="800" '
            'height="600"><path d="M0 300 L800 300"/></svg>'
        ),
    )
    add(
        "photo.heic",
        "UnreadableImageError",
        "an ISO-media (HEIC) header Pillow cannot decode",
        lambda p: p.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200)),
    )
    add(
        "folder.png",
        "UnreadableImageError",
        "a folder named like an image",
        lambda p: p.mkdir(exist_ok=True),
    )
    if hasattr(os, "mkfifo"):
        add(
            "fifo.png",
            "UnreadableImageError",
            "a named pipe: opening it would block forever",
            lambda p: p.exists() or os.mkfifo(p),
        )
    add(
        "tiny_1x1.png",
        "ImageTooSmallError",
        "1×1 pixel",
        lambda p: _save(np.zeros((1, 1, 3), np.uint8), p, "PNG"),
    )
    add(
        "small_40x300.png",
        "ImageTooSmallError",
        "40 px high",
        lambda p: _save(np.full((40, 300, 3), 255, np.uint8), p, "PNG"),
    )
    add(
        "narrow_10x10000.png",
        "ImageTooSmallError",
        "10×10000, absurd aspect",
        lambda p: _save(np.full((10000, 10, 3), 255, np.uint8), p, "PNG"),
    )
    add(
        "sliver_100x9000.png",
        "ImageTooSmallError",
        "100×9000 (aspect 90:1)",
        lambda p: _save(np.full((100, 9000, 3), 255, np.uint8), p, "PNG"),
    )
    add(
        "bomb_header.png",
        "ImageTooLargeError",
        "1-bit PNG declaring 200000×200000 (40 GP), one row of data",
        lambda p: p.write_bytes(bomb_png_bytes(200_000, 200_000, full=False)),
    )
    add(
        "bomb_valid.png",
        "ImageTooLargeError",
        "valid 1-bit PNG, 10000×10000 white (100 MP, ~30 kB file)",
        lambda p: p.write_bytes(bomb_png_bytes(10_000, 10_000, full=True)),
    )
    add(
        "bomb_header.jpg",
        "ImageTooLargeError",
        "JPEG whose frame header was patched to 9000×9000 (81 MP)",
        lambda p: p.write_bytes(_patch_jpeg_size(jpg, 9000, 9000)),
    )
    add(
        "ztxt_bomb.png",
        "UnreadableImageError",
        "PNG with a zTXt metadata chunk inflating to 20 MB",
        lambda p: p.write_bytes(_with_ztxt_bomb(png, 20)),
    )
    add(
        "empty.pdf",
        "EmptyDocumentError",
        "PDF with no pages",
        lambda p: p.write_bytes(empty_pdf_bytes()),
    )
    add(
        "encrypted.pdf",
        "UnreadableImageError",
        "PDF locked with a user password",
        lambda p: p.write_bytes(encrypted_pdf_bytes()),
    )
    add(
        "corrupt.pdf",
        "UnreadableImageError",
        "PDF header followed by garbage",
        lambda p: p.write_bytes(b"%PDF-1.7\n" + np.random.default_rng(4).bytes(3000)),
    )
    add("huge_page.pdf", "ImageTooLargeError", "PDF page 200×200 inches at 200 dpi", _huge_page_pdf)
    return files


def _with_ztxt_bomb(png: bytes, inflated_mib: int) -> bytes:
    """Insert, after IHDR, a compressed text chunk that inflates to ``inflated_mib`` MiB."""
    comp = zlib.compressobj(9)
    data = b"".join(comp.compress(bytes(1 << 20)) for _ in range(inflated_mib)) + comp.flush()
    return png[:33] + _png_chunk(b"zTXt", b"Comment\x00\x00" + data) + png[33:]


def _png_text(key: str, value: str):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(key, value)
    return info


def _patch_jpeg_size(jpg: bytes, width: int, height: int) -> bytes:
    """Overwrite the baseline frame header (SOF0) so the JPEG declares another size."""
    at = jpg.index(b"\xff\xc0")
    return jpg[: at + 5] + struct.pack(">HH", height, width) + jpg[at + 9 :]


def _float_wide(ecg: np.ndarray) -> np.ndarray:
    a = ecg[:, :, 0].astype(np.float32) / 255.0 * 4000.0 - 1000.0
    a[0, 0] = np.nan
    return a


def _palette_alpha(path: Path) -> None:
    ecg = ecg_like_rgb()
    ink = ecg[:, :, 0] < 100
    p = np.zeros(ink.shape, np.uint8)  # index 0: transparent black, index 1: dark ink
    p[ink] = 1
    im = Image.fromarray(p, "L").convert("P")
    im.putpalette([0, 0, 0, 10, 10, 10] + [0, 0, 0] * 254)
    im.info["transparency"] = 0
    im.save(path, "PNG", transparency=0)


def _rgba_transparent(path: Path) -> None:
    ecg = ecg_like_rgb()
    rgba = np.zeros(ecg.shape[:2] + (4,), np.uint8)  # transparent *black* background
    ink = ecg[:, :, 0] < 100
    rgba[ink] = (20, 20, 20, 255)
    Image.fromarray(rgba, "RGBA").save(path, "PNG")


def _animated_gif(path: Path) -> None:
    ecg = ecg_like_rgb()
    frames = [Image.fromarray(np.roll(ecg, 50 * i, axis=1)) for i in range(3)]
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _exif_rotated(path: Path) -> None:
    im = Image.fromarray(ecg_like_rgb())
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° CW to display
    im.save(path, "JPEG", exif=exif.tobytes())


def _two_page_pdf(path: Path) -> None:
    ecg = Image.fromarray(ecg_like_rgb())
    ecg.save(path, "PDF", resolution=100.0, save_all=True, append_images=[ecg.rotate(180)])


def _huge_page_pdf(path: Path) -> None:
    side = 200 * 72
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] >>" % (side, side),
    ]
    path.write_bytes(_pdf_bytes(objects))
