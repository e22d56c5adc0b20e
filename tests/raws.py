"""Tiny camera RAW files for the tests: a DNG (Adobe's DNG Specification 1.4) laid out as cameras and converters
write one, a small RGB preview as the first image (which Pillow reads) and the sensor's Bayer mosaic in a
sub-image (which LibRaw develops)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

# TIFF field types (TIFF 6.0, section 2): their struct codes.
_BYTE, _ASCII, _SHORT, _LONG, _RATIONAL, _SRATIONAL = 1, 2, 3, 4, 5, 10
_CODES = {_BYTE: "B", _SHORT: "H", _LONG: "I", _RATIONAL: "II", _SRATIONAL: "ii"}
# XYZ (D65) -> camera, DNG's ColorMatrix1: this "camera" sees linear sRGB, so it is XYZ -> linear sRGB
# (IEC 61966-2-1), and the developed photo should come back as the picture it was made from.
_XYZ_TO_SRGB = (3.2406, -1.5372, -0.4986, -0.9689, 1.8758, 0.0415, 0.0557, -0.2040, 1.0570)
WHITE_LEVEL = 4095  # a 12-bit sensor


def _linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB levels in [0, 1] -> linear light (IEC 61966-2-1)."""
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _ifd(entries: dict[int, tuple[int, object]], offset: int, next_ifd: int = 0) -> tuple[bytes, dict[int, int]]:
    """One image file directory written at `offset`, its values after it: (the bytes, where each value that did not
    fit in its entry was put)."""
    fields, values, places = [], b"", {}
    heap = offset + 2 + 12 * len(entries) + 4
    for tag in sorted(entries):
        kind, value = entries[tag]
        if kind == _ASCII:
            data, count = str(value).encode() + b"\0", len(str(value)) + 1
        else:
            items = list(value) if isinstance(value, list | tuple) else [value]
            data = b"".join(struct.pack("<" + _CODES[kind], *(item if isinstance(item, tuple) else (item,)))
                            for item in items)
            count = len(items)
        if len(data) > 4:
            places[tag] = heap + len(values)
            values += data + b"\0" * (len(data) % 2)
            data = struct.pack("<I", places[tag])
        fields.append(struct.pack("<HHI", tag, kind, count) + data.ljust(4, b"\0"))
    return struct.pack("<H", len(entries)) + b"".join(fields) + struct.pack("<I", next_ifd) + values, places


def write_dng(path: Path, picture: np.ndarray, orientation: int = 1, preview_scale: int = 4,
              taken: str = "2024:05:01 10:30:00", layout: str = "mosaic") -> Path:
    """A DNG of `picture` ((H, W, 3) uint8 sRGB, H and W even): its mosaic (RGGB, 12 bits, linear light, camera
    white balance neutral), and a preview of it shrunk `preview_scale` times as the first image. `orientation` is
    the EXIF/TIFF one (6: the camera was turned right, the photo is stored on its side). The camera's EXIF: make
    and model, and an Exif directory with the date `taken` (DateTimeOriginal), an exposure of 1/250 s and a maker
    note. `layout`: "mosaic" (a camera's colour filter array), "linear" (the sensor's data already demosaiced,
    three samples a pixel: DNG's LinearRaw, as a phone's Apple ProRAW file holds it) or "monochrome" (one sample a
    pixel, no colour filter: a Leica Monochrom's; the picture's luma)."""
    height, width, _ = picture.shape
    light = _linear(picture.astype(np.float64) / 255)
    mosaic = np.empty((height, width))
    mosaic[0::2, 0::2] = light[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = light[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = light[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = light[1::2, 1::2, 2]
    samples = {"mosaic": mosaic, "linear": light, "monochrome": light @ np.array([0.2126, 0.7152, 0.0722])}[layout]
    sensor = np.round(samples * WHITE_LEVEL).astype("<u2").tobytes()
    preview = np.ascontiguousarray(picture[::preview_scale, ::preview_scale]).tobytes()
    small_height, small_width = -(-height // preview_scale), -(-width // preview_scale)

    def main_entries(preview_at: int, sub_ifd_at: int, exif_at: int) -> dict[int, tuple[int, object]]:
        return {
            306: (_ASCII, taken), 34665: (_LONG, exif_at),
            254: (_LONG, 1), 256: (_LONG, small_width), 257: (_LONG, small_height), 258: (_SHORT, (8, 8, 8)),
            259: (_SHORT, 1), 262: (_SHORT, 2), 271: (_ASCII, "Stylize"), 272: (_ASCII, "Test camera"),
            273: (_LONG, preview_at), 274: (_SHORT, orientation), 277: (_SHORT, 3), 278: (_LONG, small_height),
            279: (_LONG, len(preview)), 284: (_SHORT, 1), 330: (_LONG, sub_ifd_at),
            50706: (_BYTE, (1, 4, 0, 0)), 50708: (_ASCII, "Stylize Test camera"),
            50721: (_SRATIONAL, [(round(v * 10000), 10000) for v in _XYZ_TO_SRGB]),
            50728: (_RATIONAL, [(1, 1)] * 3), 50778: (_SHORT, 21),  # as-shot neutral white; D65
        }

    def raw_entries(sensor_at: int) -> dict[int, tuple[int, object]]:
        entries = {
            254: (_LONG, 0), 256: (_LONG, width), 257: (_LONG, height), 258: (_SHORT, 16), 259: (_SHORT, 1),
            262: (_SHORT, 32803), 273: (_LONG, sensor_at), 277: (_SHORT, 1), 278: (_LONG, height),
            279: (_LONG, len(sensor)), 284: (_SHORT, 1), 33421: (_SHORT, (2, 2)), 33422: (_BYTE, (0, 1, 1, 2)),
            50714: (_LONG, 0), 50717: (_LONG, WHITE_LEVEL),
        }
        if layout != "mosaic":  # LinearRaw (34892): no colour filter array
            channels = 3 if layout == "linear" else 1
            entries.update({258: (_SHORT, (16,) * channels), 262: (_SHORT, 34892), 277: (_SHORT, channels)})
            del entries[33421], entries[33422]
        return entries

    exif_entries = {33434: (_RATIONAL, [(1, 250)]), 36867: (_ASCII, taken), 37500: (_BYTE, tuple(b"Nikon\0maker"))}
    # Lay out: header, IFD0 and its values, the preview, the Exif IFD, the sub-IFD and its values, the mosaic
    # (sizes first, with placeholder offsets, as the entries' sizes do not depend on them).
    preview_at = 8 + len(_ifd(main_entries(0, 0, 0), 8)[0])
    exif_at = preview_at + len(preview) + len(preview) % 2
    exif, _ = _ifd(exif_entries, exif_at)
    sub_ifd_at = exif_at + len(exif)
    sensor_at = sub_ifd_at + len(_ifd(raw_entries(0), sub_ifd_at)[0])
    main, _ = _ifd(main_entries(preview_at, sub_ifd_at, exif_at), 8)
    sub, _ = _ifd(raw_entries(sensor_at), sub_ifd_at)
    data = b"II*\0" + struct.pack("<I", 8) + main + preview + b"\0" * (len(preview) % 2) + exif + sub + sensor
    Path(path).write_bytes(data)
    return Path(path)
