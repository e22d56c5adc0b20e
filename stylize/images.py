"""Reading and writing images: the only module that imports PIL.

Everything else sees float32 RGB tensors of shape (1, 3, H, W) with values in [0, 1].
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import ExifTags, Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from stylize.colorspace import luminance
from stylize.config import MAX_PIXELS
from stylize.errors import ImageError, MissingExtraError, StylizeError, TooLargeError, WriteError
from stylize.extras import available, require
from stylize.files import atomic_output, is_regular_file
from stylize.png16 import write_png16
from stylize.tensors import check_pixels, fit_longest_side
from stylize.version import __version__

# An animated PNG of one frame is a PNG: `-o x.apng` for a still (a one-frame APNG read is one) writes one.
SAVE_FORMATS = {".png": "PNG", ".apng": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}

# Camera RAW files: the sensor's data before demosaicing, developed by LibRaw through rawpy (the raw extra). Most
# are TIFF files whose first image is the camera's small preview (a Nikon NEF's 160x120, a DNG's 256 px), which
# Pillow would read as if it were the photo, so a file of these extensions is never given to Pillow. (".raw", a
# Panasonic's and also any headerless dump, is left out.)
RAW_EXTENSIONS = frozenset({
    ".dng", ".nef", ".nrw", ".cr2", ".cr3", ".crw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2", ".rwl", ".pef",
    ".srw", ".x3f", ".3fr", ".fff", ".iiq", ".erf", ".kdc", ".dcr", ".mrw", ".mos", ".mef",
})
# Extensions taken as images when scanning folders; reading itself accepts whatever Pillow can decode. AVIF and
# JPEG 2000 (archives' scans) Pillow reads itself; HEIF (an iPhone's .HEIC, a Canon's or Fujifilm's .HIF) with
# the heic extra; camera RAW with the raw extra; an animated PNG named .apng as a PNG.
IMAGE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm",
    ".pbm", ".pnm", ".tga", ".avif", ".jp2", ".j2k", ".jpf", ".jpx", ".heic", ".heif", ".hif", *RAW_EXTENSIONS,
})
# A HEIF file: an ISO base media file ('ftyp' at byte 4) of one of these brands (ISO/IEC 23008-12, annex B;
# AVIF's own brands, which Pillow reads, are not among them).
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"})

# Transparent pixels are laid on white, as a viewer or printer shows them (batch.with_transparency gives a
# result the image's transparency back).
ALPHA_BACKGROUND = (255, 255, 255)

_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
# One-channel modes (with or without alpha): a black-and-white scan or photo.
_GRAY_MODES = {"1", "L", "LA", "La", "F", *_SIXTEEN_BIT_MODES}
# RGB-family modes whose ICC profile still describes the pixels after conversion to RGB; a CMYK profile
# would not, so it is dropped. A grayscale image's profile is kept for grayscale outputs only (save_image).
_RGB_PROFILE_MODES = {"RGB", "RGBA", "RGBX", "RGBa", "P", "PA"}
_GRAY_OUTPUT_MODES = {"L", "LA", "I;16"}

# Pillow decodes 16-bit colour (and 16-bit gray with alpha) at 8 bits a channel: such PNGs and TIFFs (a
# film scanner's, an editor's export) are decoded with OpenCV instead, when it is installed (the 16bit
# extra). PNG: the signature, then IHDR's bit depth and colour type at bytes 24 and 25 (PNG spec 11.2.1;
# types 2 RGB, 4 gray and alpha, 6 RGBA).
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_MULTICHANNEL = {2, 4, 6}
_TIFF_SIGNATURES = (b"II*\0", b"MM\0*")  # little- and big-endian (TIFF 6.0, section 2)
_TIFF_BITS_PER_SAMPLE = 258
# PhotometricInterpretation 1 (gray, black is zero) and 2 (RGB); CMYK (5) and the others go through Pillow.
_TIFF_PHOTOMETRIC = 262
_TIFF_GRAY_OR_RGB = {1, 2}
# EXIF Orientation -> how to turn (C, H, W) pixels upright, as Pillow's ImageOps.exif_transpose does
# (TIFF 6.0 Orientation: 2 mirrored, 3 upside down, 4 flipped, 5 transposed, 6 turned, 7 transversed, 8).
_UPRIGHT = {
    2: lambda pixels: pixels.flip(-1),
    3: lambda pixels: pixels.flip(-2, -1),
    4: lambda pixels: pixels.flip(-2),
    5: lambda pixels: pixels.transpose(-2, -1),
    6: lambda pixels: pixels.rot90(-1, (-2, -1)),
    7: lambda pixels: pixels.transpose(-2, -1).flip(-2, -1),
    8: lambda pixels: pixels.rot90(1, (-2, -1)),
}


def _describes_gray(profile: bytes) -> bool:
    """True for an ICC profile of gray data: the header's data colour space (bytes 16-19, ICC.1:2010
    section 7.2.6) is 'GRAY'."""
    return profile[16:20] == b"GRAY"


# Every output says it was made by stylize (PNG text chunk or EXIF Software tag), so that a rerun whose
# output folder is its input folder can tell its earlier outputs from photos.
SOFTWARE = f"stylize {__version__}"
_EXIF_SOFTWARE = 0x0131
# A photo's EXIF (camera, lens, exposure, date, place) goes into its outputs, as photo editors keep it, less
# what stylize's work makes wrong: the Orientation (open_image turns the pixels upright), the pixel
# dimensions (PixelXDimension, PixelYDimension), the maker note (a vendor blob whose offsets point into the
# original file) and the thumbnail (Pillow writes no IFD1).
_EXIF_ORIENTATION = 0x0112
_EXIF_STALE = (0xA002, 0xA003, 0x927C)
# A camera RAW file's first directory: ImageDescription, Make, Model, DateTime, Artist, Copyright (TIFF 6.0).
_RAW_EXIF_TAGS = (0x010E, 0x010F, 0x0110, 0x0132, 0x013B, 0x8298)
# A JPEG's EXIF is one APP1 marker segment: at most 65535 bytes with its 2-byte length (ITU T.81, annex B);
# Pillow refuses more than this many bytes of EXIF data (measured).
_JPEG_EXIF_LIMIT = 65533

# Largest side each encoder accepts (libwebp: 16383 px; JPEG: 65535 px).
_FORMAT_MAX_SIDE = {"WEBP": 16383, "JPEG": 65535}


@dataclass(frozen=True)
class LoadedImage:
    """Pixels as a (1, 3, H, W) float32 tensor in [0, 1], the ICC profile and EXIF to carry into outputs,
    the transparency as (1, 1, H, W) when it was asked for and the image has one, whether the file was
    grayscale (its pixels are then three equal channels), and whether it had 16 bits a channel (a scan or
    an editor's export, read at its size: its pixels keep all 65536 levels)."""

    pixels: torch.Tensor
    icc_profile: bytes | None = None
    alpha: torch.Tensor | None = None
    exif: bytes | None = None
    grayscale: bool = False
    sixteen_bit: bool = False


# The luminance quantization table of the JPEG standard (ITU-T T.81, Annex K, table K.1), which libjpeg scales
# by its quality setting (the Independent JPEG Group's jcparam.c: quality q gives 5000/q percent below 50,
# 200 - 2q above). Cameras, phones and editors scale it the same way or use tables close to it.
_JPEG_LUMINANCE = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
                   14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
                   92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)


def jpeg_quality(path: Path) -> int | None:
    """The quality (1 to 100, libjpeg's scale) a JPEG file was saved at, estimated from its luminance
    quantization table; None for another format or a file that cannot be read. Reads the header only."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a large photo's DecompressionBombWarning: its pixels are not read
            with Image.open(path) as image:
                tables = getattr(image, "quantization", None) if image.format == "JPEG" else None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    if not tables or len(tables.get(0, ())) != 64:
        return None
    # The table's sum against the standard's: the order the values are stored in does not matter.
    percent = 100 * sum(tables[0]) / sum(_JPEG_LUMINANCE)
    quality = (200 - percent) / 2 if percent <= 100 else 5000 / percent
    return int(min(100, max(1, round(quality))))


def is_image_file(path: Path) -> bool:
    """True for a regular file whose extension names an image format."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()


def frames_in(path: Path) -> int | None:
    """The frames (an animation's) or pages (a TIFF's) of an image file as Pillow counts them, 1 for a still
    image; None for a file Pillow cannot read. Reads headers only, and never raises: a damaged later frame or page
    raised TypeError, KeyError, IndexError or struct.error here (tests/test_fuzz.py), after the first picture had
    been done."""
    if not is_regular_file(path):  # a pipe would block Pillow's read
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a large scan's DecompressionBombWarning: its pixels are not read
            with Image.open(path) as image:
                return int(getattr(image, "n_frames", 1))
    except Exception:
        return None


def tiff_pages(path: Path) -> int:
    """The pages of a TIFF file (an album scanned into one file, a fax); 1 for another kind of file, or one that
    cannot be read (reported where it is read)."""
    return (frames_in(path) or 1) if Path(path).suffix.lower() in (".tif", ".tiff") else 1


def is_camera_raw(path: Path) -> bool:
    """True for a file named as a camera RAW file (developed by LibRaw, never read by Pillow)."""
    return Path(path).suffix.lower() in RAW_EXTENSIONS


# A camera set to RAW+JPEG writes both of one shot (IMG_0001.CR2 and IMG_0001.JPG; HEIF instead of JPEG on some),
# which would write one output. The camera's picture is taken (what it showed, and readable without the raw
# extra); its RAW twin is left out, and said so.
_CAMERA_PICTURES = frozenset({".jpg", ".jpeg", ".heic", ".heif", ".hif"})


def raw_twins(paths: Iterable[Path]) -> set[Path]:
    """The camera RAW files among `paths` with a camera picture of the same name beside them among `paths` (not
    one of stylize's own outputs, which an earlier run may have written beside its RAW input)."""
    paths = list(paths)
    raws = {(path.parent, path.stem): path for path in paths if is_camera_raw(path)}
    return {raws[path.parent, path.stem] for path in paths
            if (path.parent, path.stem) in raws and path.suffix.lower() in _CAMERA_PICTURES
            and not made_by_stylize(path)}


def _libraw(path: Path) -> Any:
    """rawpy (the raw extra), or MissingExtraError naming the file and the install command."""
    try:
        return require("rawpy")
    except MissingExtraError:
        raise MissingExtraError(f'{path} is a camera RAW file: pip install "stylize[raw]" to develop it (or export a '
                                "JPEG or TIFF from the camera's software)") from None


# One thread at a time holds the process's stderr for LibRaw (_libraw_said): file descriptors are the process's.
_STDERR_HELD = threading.Lock()
# How LibRaw's own messages begin: it names the file, and a stream it reads has none (its default callbacks in
# libraw_datastream.cpp: "unknown file: Unexpected end of file", "unknown file: data corrupted at 1234").
_LIBRAW_UNNAMED = "unknown file: "


@contextlib.contextmanager
def _libraw_said() -> Iterator[list[str]]:
    """LibRaw (C) prints some of its errors to the process's stderr itself before rawpy raises, a line above the
    one-line error. While it works, stderr goes to a temporary file: its lines come back as the list yielded, for the
    error, and whatever else was written there meanwhile (another thread's progress bar) goes on to stderr after.
    Where no temporary file or descriptor can be had (a full disk, no stderr), LibRaw prints as it would."""
    said: list[str] = []
    with _STDERR_HELD, contextlib.ExitStack() as stack:
        try:
            held = stack.enter_context(tempfile.TemporaryFile())
            _flush_stderr()
            original = os.dup(2)
        except OSError:
            yield said
            return
        os.dup2(held.fileno(), 2)
        try:
            yield said
        finally:
            _flush_stderr()
            os.dup2(original, 2)
            os.close(original)
            held.seek(0)
            others = []
            for line in held.read().decode(errors="replace").splitlines(keepends=True):
                if line.startswith(_LIBRAW_UNNAMED):
                    said.append(line[len(_LIBRAW_UNNAMED):].strip())
                else:
                    others.append(line)
            if others:
                os.write(2, "".join(others).encode())


def _flush_stderr() -> None:
    """Python's buffered stderr written out to its descriptor (there is none without a console: pythonw)."""
    if sys.stderr is not None:
        sys.stderr.flush()


def _raw_size(path: Path) -> tuple[int, int]:
    """(width, height) of a camera RAW file's developed photo before its orientation is applied (the header
    only: nothing is decoded); ImageError for a file LibRaw cannot open."""
    rawpy = _libraw(path)
    with _libraw_said() as said:
        try:
            with open(path, "rb") as stream, rawpy.imread(stream) as raw:
                return raw.sizes.width, raw.sizes.height
        except rawpy.LibRawError as error:
            failure = error
    raise _raw_failure(path, failure, said) from None


def _develop_raw(path: Path, max_pixels: int, longest: int | None) -> Image.Image:
    """A camera RAW file developed to upright sRGB as LibRaw develops it by default (dcraw's: AHD demosaicing,
    brightness set so that 1 % of the pixels clip), with the white balance the camera chose and the sRGB tone
    curve (IEC 61966-2-1: gamma 2.4, toe slope 12.92; LibRaw's default is BT.709's). Measured on a DNG made from an
    sRGB picture (tests/raws.py), without the brightening: back within 0.01 levels on average, where BT.709's curve
    left it 12.9 levels darker.

    Where the caller keeps the photo's own size (no `longest`: upscale, colorize), it is developed at 16 bits a
    channel, as a 12- or 14-bit sensor's data deserves: a monochrome sensor's as a 16-bit gray image, a colour one's
    as 8-bit RGB with its 16-bit samples, (3, H, W) uint16, in info[RAW_SAMPLES] (Pillow has no 16-bit RGB mode).
    LibRaw's 8- and 16-bit developments agree within a level of 8 bits (the same brightening). Where the caller
    shrinks the photo to `longest` px anyway and half the sensor's size is still as large, each 2x2 block of the
    mosaic is taken as one pixel instead (LibRaw's half_size: no demosaicing, 5 times faster on a 24 MP file, 1.3 s
    against 0.25 s on 2 cores), at 8 bits."""
    rawpy = _libraw(path)
    failure = None
    with _libraw_said() as said:
        try:
            with open(path, "rb") as stream, rawpy.imread(stream) as raw:
                width, height = raw.sizes.width, raw.sizes.height
                if width * height > max_pixels:
                    raise _too_large(path, width, height, max_pixels)
                half = bool(longest) and max(width, height) // 2 >= longest  # (0 or None: its own size)
                rgb = raw.postprocess(use_camera_wb=True, output_color=rawpy.ColorSpace.sRGB, gamma=(2.4, 12.92),
                                      output_bps=8 if longest else 16, half_size=half)
        except rawpy.LibRawError as error:
            failure = error
    if failure is not None:
        raise _raw_failure(path, failure, said) from None
    # One channel from a monochrome sensor's file (a Leica Monochrom's DNG): a gray photo, as a gray scan is.
    if rgb.ndim == 3 and rgb.shape[2] == 1:
        return Image.fromarray(np.ascontiguousarray(rgb[..., 0]))  # ("L", or "I;16" at 16 bits)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageError(f"{path} is corrupt or not a RAW format LibRaw reads (it developed to {rgb.shape})")
    if rgb.dtype != np.uint16:
        return Image.fromarray(rgb)
    # 16 bits to 8 rounded (x / 257), in place of a float copy of a 24 MP photo.
    image = Image.fromarray(((rgb.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8))
    image.info[RAW_SAMPLES] = torch.from_numpy(rgb).permute(2, 0, 1)
    return image


def _too_large(path: Path, width: int, height: int, max_pixels: int) -> TooLargeError:
    return TooLargeError(f"{path} is {width}x{height} ({width * height / 1e6:.0f} MP), over the limit of "
                         f"{max_pixels / 1e6:.0f} MP")


def _raw_failure(path: Path, error: Exception, said: list[str]) -> ImageError:
    """LibRaw's error as one line (its messages come as bytes), with what it printed itself (_libraw_said)."""
    reason = error.args[0] if error.args else type(error).__name__
    reason = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
    details = "; ".join(dict.fromkeys([reason, *said]))  # (each once, in order)
    return ImageError(f"{path} is corrupt, truncated or not a RAW format LibRaw reads ({details})")


def _is_heif(path: Path) -> bool:
    try:
        with open(path, "rb") as stream:
            head = stream.read(12)
    except OSError:
        return False
    return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS


def needs_heic_extra(path: Path) -> bool:
    """Whether the file is a HEIF photo that cannot be read because the heic extra is not installed."""
    return _is_heif(path) and not available("pillow_heif")


@functools.cache
def _read_heif() -> None:
    """Teach Pillow HEIF, once, through pillow-heif (the heic extra), or MissingExtraError naming it."""
    require("pillow_heif").register_heif_opener()


def read_header(path: Path) -> tuple[tuple[int, int], str] | None:
    """((width, height) as stored, Pillow's name for the format: JPEG, PNG, TIFF, HEIF, ...) if Pillow recognizes
    the file from its header alone, else None (cheap: no pixels are decoded)."""
    if not is_regular_file(path):
        return None
    if is_camera_raw(path):
        try:
            return _raw_size(path), "RAW"
        except StylizeError:
            return None
    try:
        if _is_heif(path):
            _read_heif()
        with Image.open(path) as image:
            return image.size, image.format
    except Exception:  # any error from any decoder plugin means: not readable
        return None


def header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) as stored, if Pillow recognizes the file from its header alone, else None (cheap: no
    pixels are decoded)."""
    header = read_header(path)
    return None if header is None else header[0]


# The key of Image.info where open_image keeps an image's upright (width, height) at full size, where it decoded
# a JPEG smaller (_draft_jpeg), so that the size it is shrunk to is the one its full size gives.
FULL_SIZE = "stylize_full_size"
# The key of Image.info where open_image keeps a camera RAW file's colour photo developed at 16 bits a channel.
RAW_SAMPLES = "stylize_raw_samples"


def _draft_jpeg(image: Image.Image, longest: int | None) -> None:
    """Where a JPEG will be shrunk to `longest` px and is at least twice as large, decode it smaller: libjpeg's
    scaled inverse DCT gives 1/2, 1/4 or 1/8 of the size from the coefficients (Pillow's Image.draft), the
    smallest of these that is still at least as large as `longest`. A 24 MP photo at --size 1024 loads almost 4
    times faster (0.114 s against 0.427 s on 2 cores), and the picture after the Lanczos shrink that follows is
    the full decoding's within 46 to 54 dB PSNR (2000x1336 at 300 px; 4032x3024 and 6000x4000 at 300 to 1024).

    Only a fraction that divides both sides: where it does not, the last row or column of the smaller picture
    stands for part of one (2000x1333 at 1/4: 334 rows for 333.25), and the shrink that follows stretched the
    picture by that part (35 dB, 41 levels off at the worst). Cameras' sizes divide by 8 (4032x3024, 6000x4000)."""
    if not longest or image.format not in ("JPEG", "MPO"):
        return
    width, height = image.size
    for fraction in (8, 4, 2):
        if width % fraction == 0 and height % fraction == 0 and max(width, height) // fraction >= longest:
            image.draft(image.mode, (width // fraction, height // fraction))
            return


def open_image(path: Path, max_pixels: int = MAX_PIXELS, longest: int | None = None) -> Image.Image:
    """Open, decode and orient an image file, with a one-line ImageError for every way that can fail.

    longest: the longest side the caller will shrink the image to, if it will (a camera RAW file is then
    developed at half its size, and a JPEG decoded at 1/2 to 1/8, where that is still as large: the image's
    full size is then in its info[FULL_SIZE])."""
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image")
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if not is_regular_file(path):
        raise ImageError(f"{path} is not a regular file (a pipe, device or socket)")
    try:
        if path.stat().st_size == 0:
            raise ImageError(f"{path} is empty (0 bytes)")
        if is_camera_raw(path):
            return _develop_raw(path, max_pixels, longest)
        if _is_heif(path):
            try:
                _read_heif()
            except MissingExtraError:
                raise MissingExtraError(f"{path} is a HEIF photo (as iPhones save them): pip install "
                                        '"stylize[heic]" to read it') from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # Damaged metadata costs only the metadata (see carried_exif): no warning line for it.
            warnings.filterwarnings("ignore", "Corrupt EXIF data", UserWarning)
            # Closed on every way out: exif_transpose returns a copy with the pixels, and a file refused here
            # (too large, truncated) or one Pillow keeps open after load (multi-frame formats) is not left to
            # the garbage collector (a ResourceWarning, and a descriptor held per bad file in a long batch).
            with Image.open(path) as image:
                if image.width * image.height > max_pixels:
                    raise _too_large(path, image.width, image.height, max_pixels)
                stored = image.size
                _draft_jpeg(image, longest)
                image.load()
                upright = ImageOps.exif_transpose(image)
                if image.size != stored:  # drafted: the full size, turned as the picture was
                    upright.info[FULL_SIZE] = stored if upright.size == image.size else stored[::-1]
                return upright
    except Image.DecompressionBombError:
        # Pillow's own guard (above about 179 MP) fires inside Image.open, before ours can name the size.
        raise TooLargeError(f"{path} is over the limit of {max_pixels / 1e6:.0f} MP") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path} is not an image: its content is none of the formats stylize reads (JPEG, PNG, "
                         "WebP, TIFF, GIF, BMP, AVIF, JPEG 2000, HEIF, camera RAW, ...)") from None
    except PermissionError:
        raise ImageError(f"{path}: permission denied") from None
    except (OSError, SyntaxError, ValueError) as error:
        # Pillow reports truncated and corrupt data as OSError, some plugins as SyntaxError or ValueError.
        raise ImageError(f"{path} is corrupt or truncated ({error})") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB: alpha on white, 16-bit scaled (not clipped), CMYK converted."""
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES:
        # Pillow's own I;16 -> L conversion clips at 255 instead of scaling; scale the full range down.
        image = image.convert("I").point(lambda value: value * (1 / 257)).convert("L")
    elif mode == "F":
        image = image.point(lambda value: value * 255).convert("L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    ):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, ALPHA_BACKGROUND + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image of any mode -> (1, 3, H, W) float32 RGB in [0, 1]; 16-bit grayscale at full precision."""
    if image.mode in _SIXTEEN_BIT_MODES:
        levels = torch.from_numpy(np.asarray(image.convert("I"), dtype=np.float32))
        return levels.div_(65535).clamp_(0, 1).expand(1, 3, *levels.shape).contiguous()
    rgb = to_rgb(image)
    data = torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8)
    return data.view(rgb.height, rgb.width, 3).permute(2, 0, 1).unsqueeze(0).float().div_(255)


# What the public API takes as an image: a PIL image, or a (3, H, W) / (N, 3, H, W) tensor in [0, 1].
ImageInput = Image.Image | torch.Tensor


def as_pixels(value: ImageInput, name: str = "image") -> torch.Tensor:
    """The public API's image argument as a float32 (N, 3, H, W) batch in [0, 1]: a PIL image (pil_to_tensor,
    a batch of one) or a tensor (tensors.check_pixels, whose errors say what is wrong with it)."""
    return pil_to_tensor(value) if isinstance(value, Image.Image) else check_pixels(value, name)


def _eight_bit(values: torch.Tensor) -> torch.Tensor:
    """Values in [0, 1] (clipped outside) as 8-bit levels, rounded: what a picture or a transparency is written as."""
    return values.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)


def tensor_to_pil(pixels: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) tensor in [0, 1] -> 8-bit RGB PIL image (values outside are clipped)."""
    if pixels.dim() == 4:
        if pixels.shape[0] != 1:
            raise ValueError(f"expected one image, got a batch of {pixels.shape[0]}")
        pixels = pixels[0]
    if pixels.dim() != 3 or pixels.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) RGB tensor, got shape {tuple(pixels.shape)}")
    data = _eight_bit(pixels)
    # numpy comes with torchvision; its buffer hands the bytes over without a Python-level copy.
    return Image.fromarray(data.permute(1, 2, 0).contiguous().cpu().numpy())


def preview_png(pixels: torch.Tensor, longest: int) -> bytes:
    """A (1, 3, H, W) image in [0, 1] as PNG bytes in memory, shrunk so its longer side is at most `longest`
    (previews for the page: small and quick to encode, never written to disk)."""
    return _encoded(pixels, longest, format="PNG", compress_level=1)


def preview_jpeg(pixels: torch.Tensor, longest: int, quality: int = 90) -> bytes:
    """As preview_png, as JPEG: a camera frame for the page, several a second (the example photo at 640x480: 59 KB
    against the PNG's 404 KB, encoded in 0.6 of its time)."""
    return _encoded(pixels, longest, format="JPEG", quality=quality)


def _encoded(pixels: torch.Tensor, longest: int, **save: Any) -> bytes:
    image = tensor_to_pil(pixels)
    if max(image.size) > longest:
        image = image.resize(fit_longest_side(*image.size, longest), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, **save)
    return buffer.getvalue()


# What a browser's canvas encodes a camera frame as (canvas.toBlob): decode_frame reads these and no other format.
FRAME_FORMATS = ("JPEG", "PNG", "WEBP")


def decode_frame(data: bytes, max_pixels: int) -> torch.Tensor:
    """A camera frame sent by the page (JPEG, PNG or WebP bytes) as (1, 3, H, W) pixels, or a one-line ImageError:
    no other format, nothing over max_pixels (checked from the header, before the pixels are decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FRAME_FORMATS) as image:
                if image.width * image.height > max_pixels:
                    raise ImageError(f"the frame is {image.width}x{image.height}, over the limit of "
                                     f"{max_pixels:,} pixels for a camera frame")
                image.load()
                return pil_to_tensor(image)
    except Image.DecompressionBombError:  # Pillow's own guard (about 179 MP) fires inside Image.open, before ours
        raise ImageError(f"the frame is over the limit of {max_pixels:,} pixels for a camera frame") from None
    except UnidentifiedImageError:
        raise ImageError("the frame is not a JPEG, PNG or WebP image") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"the frame is corrupt or truncated ({error})") from None


def made_by_stylize(path: Path) -> bool:
    """Whether an image file carries the mark stylize puts in its outputs (header only, never raises)."""
    if not is_regular_file(path):
        return False
    try:
        with Image.open(path) as image:
            software = image.info.get("Software") or image.getexif().get(_EXIF_SOFTWARE) or ""
    except Exception:  # unreadable files are simply not ours
        return False
    return isinstance(software, str) and software.startswith("stylize")


def carried_exif(image: Image.Image) -> bytes | None:
    """The EXIF of an opened (upright) image to write into its outputs, or None when it has none."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Corrupt EXIF data", UserWarning)
            exif = image.getexif()
        return _without_stale(exif)
    except Exception:  # damaged metadata is left behind; it must never cost the picture
        return None


def _raw_exif(path: Path) -> bytes | None:
    """The EXIF of a camera RAW file to write into its outputs, where Pillow reads it (the TIFF-based formats:
    NEF, CR2, ARW, DNG, PEF, ...; not CR3, RAF or ORF): the first directory's camera, date, author and
    description, and the Exif and GPS directories. Its other tags describe the preview and the sensor's data
    (sizes, offsets, DNG's colour matrices), not the developed photo."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's complaints about a RAW's private tags
            with Image.open(path) as image:
                found = image.getexif()
                exif = Image.Exif()
                for tag in _RAW_EXIF_TAGS:
                    if tag in found:
                        exif[tag] = found[tag]
                for directory in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo):
                    if directory in found:
                        exif.get_ifd(directory).update({tag: value for tag, value in found.get_ifd(directory).items()
                                                        if tag not in _EXIF_STALE})
        return _without_stale(exif)
    except Exception:  # as in carried_exif: the photo is developed without it
        return None


def _without_stale(exif: Image.Exif) -> bytes | None:
    """EXIF less what the new pixels make wrong (_EXIF_STALE, the orientation) and the Software tag (stylize
    writes its own), as bytes; None when nothing is left."""
    if not exif:
        return None
    if ExifTags.IFD.Exif in exif:  # (get_ifd would add an empty one)
        details = exif.get_ifd(ExifTags.IFD.Exif)
        for tag in _EXIF_STALE:
            details.pop(tag, None)
    exif.pop(_EXIF_SOFTWARE, None)
    exif.pop(_EXIF_ORIENTATION, None)  # exif_transpose leaves an Orientation of 1 (upright) in place
    return exif.tobytes() if exif else None


def split_alpha(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """(colour, alpha as 8-bit "L" or None) of an image, colour not laid on any background: RGB, or the
    16-bit grayscale image itself."""
    if image.mode in _SIXTEEN_BIT_MODES:  # no alpha; kept as it is for pil_to_tensor's full precision
        return image, None
    if image.mode == "F":
        return to_rgb(image), None
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    if not has_alpha:
        return to_rgb(image), None
    rgba = image.convert("RGBA")
    return rgba.convert("RGB"), rgba.getchannel("A")


def _sixteen_bit_samples(path: Path) -> torch.Tensor | None:
    """The upright samples of a 16-bit colour or gray-and-alpha PNG or TIFF, which Pillow would read at 8
    bits, as (C, H, W) uint16 with C 2 (gray, alpha), 3 (RGB) or 4 (RGBA); None for any other file, and
    when OpenCV is not installed."""
    if is_camera_raw(path):  # a TIFF by its header, whose first image is the camera's preview
        return None
    with open(path, "rb") as stream:
        head = stream.read(26)
    png = head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR" and head[24] == 16 and head[25] in _PNG_MULTICHANNEL
    if not (png or head[:4] in _TIFF_SIGNATURES) or not available("cv2"):
        return None
    with warnings.catch_warnings():  # as in open_image, damaged metadata costs no warning line
        warnings.filterwarnings("ignore", "Corrupt EXIF data", UserWarning)
        with Image.open(path) as image:  # the header only: open_image has decoded the pixels
            try:
                orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
            except Exception:  # damaged metadata: the pixels are taken as stored
                orientation = 1
            tiff = image.format == "TIFF" and image.tag_v2.get(_TIFF_PHOTOMETRIC) in _TIFF_GRAY_OR_RGB
            tiff_bits = image.tag_v2.get(_TIFF_BITS_PER_SAMPLE) if tiff else None
    if not png and not (isinstance(tiff_bits, tuple) and len(tiff_bits) in (2, 3, 4) and set(tiff_bits) == {16}):
        return None
    import cv2

    # IMREAD_UNCHANGED: every channel at its depth, the orientation not applied (done below, as Pillow does).
    # Decoded from memory, since OpenCV's own file opening fails on some non-ASCII paths.
    planes = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if planes is None or planes.dtype != np.uint16 or planes.ndim != 3 or planes.shape[2] not in (2, 3, 4):
        return None
    if planes.shape[2] >= 3:  # OpenCV's channel order is BGR(A); it decodes gray and alpha as BGRA
        planes = cv2.cvtColor(planes, cv2.COLOR_BGRA2RGBA if planes.shape[2] == 4 else cv2.COLOR_BGR2RGB)
        if (png and head[25] == 4) or len(tiff_bits or ()) == 2:
            planes = planes[..., [0, 3]]
    samples = torch.from_numpy(np.ascontiguousarray(planes)).permute(2, 0, 1)
    upright = _UPRIGHT.get(orientation)
    return upright(samples) if upright else samples


def _sixteen_bit_image(samples: torch.Tensor, keep_alpha: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(1, 3, H, W) pixels and (1, 1, H, W) alpha or None, in [0, 1], from _sixteen_bit_samples' planes;
    without keep_alpha the pixels are laid on white, as to_rgb does."""
    levels = samples.unsqueeze(0).to(torch.float32).div_(65535)
    colour, alpha = (levels[:, :-1], levels[:, -1:]) if samples.shape[0] in (2, 4) else (levels, None)
    pixels = colour.expand(1, 3, *colour.shape[-2:]).contiguous()
    if alpha is not None and not keep_alpha:
        return on_white(pixels, alpha), None
    return pixels, alpha


def on_white(pixels: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Pixels (N, 3, H, W) laid on white through their transparency (N, 1, H, W), as a viewer shows them."""
    return pixels * alpha + (1 - alpha)


def white_where_clear(pixels: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Pixels (N, 3, H, W) white where their transparency (N, 1, H, W) is wholly clear and their own colour
    elsewhere: the picture a task that paints over it (a style, colours) works on before the transparency is
    put back on its result. The painter sees the cut-out's shape as a page shows it; each pixel that is not
    wholly clear keeps its colour (a PNG's or WebP's are stored straight, not premultiplied). Laid on white
    instead (on_white), a half-clear pixel came out paler twice, once laid and once shown: a cut-out's drop
    shadow at 40 % black came back from `colorize` at 16 % once shown on white. What a file stores under
    its clear pixels means nothing."""
    return torch.where(alpha > 0, pixels, 1.0)


def painted_over(image: Image.Image) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A PIL image as the (1, 3, H, W) pixels a task that paints over it works on (white_where_clear, where it
    has transparency) and its transparency (1, 1, H, W) or None: for the Python API, which puts the
    transparency back on the result (alpha_at, alpha_image), as the commands do (batch.with_transparency)."""
    colour, alpha = split_alpha(image)
    pixels = pil_to_tensor(colour)
    if alpha is None:
        return pixels, None
    transparency = _gray_to_tensor(alpha)
    return white_where_clear(pixels, transparency), transparency


def alpha_at(alpha: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """A transparency (N, 1, H, W) at the size (height, width) of a picture painted over its image: the one
    way a result gets its input's transparency back (the commands' results and steps, transfer())."""
    if tuple(alpha.shape[-2:]) != tuple(size):
        alpha = F.interpolate(alpha, size=tuple(size), mode="bilinear", antialias=True)
    return alpha.clamp(0, 1)


def alpha_image(alpha: torch.Tensor) -> Image.Image:
    """A transparency (1, 1, H, W) in [0, 1] as an 8-bit "L" image, for Pillow's putalpha and composite."""
    return Image.fromarray(_eight_bit(alpha)[0, 0].cpu().numpy())


def on_own_colours(pixels: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Pixels (N, 3, H, W) with their colours spread into their clear parts through their transparency
    (N, 1, H, W): the picture an upscaler enlarges before the enlarged transparency is put back on it.

    A pixel that is not wholly clear keeps its colour, as in white_where_clear. An upscaler spreads what is
    around an edge into it: what the file stores under its clear pixels (often black) or white became a
    dark or a light fringe. They take the colours near them by Gortler et al.'s pull-push ("The Lumigraph",
    SIGGRAPH 1996, section 3.4): the colours are averaged, weighted by their opacity, into ever coarser
    levels, and each level's gaps are filled from the level below it. With nothing to spread (every pixel
    clear), the picture is white. A painter is not given this picture: a one-colour logo spread so is a flat
    image, on which a style network sees no shape (its normalization removes a flat colour)."""
    colour, weight = pixels * alpha, alpha  # premultiplied colour and its weight, at most 1
    levels = []
    while max(weight.shape[-2:]) > 1:
        levels.append((colour, weight))
        mean_weight = F.avg_pool2d(weight, 2, ceil_mode=True)
        mean_colour = F.avg_pool2d(colour, 2, ceil_mode=True) / mean_weight.clamp_min(1e-12)
        weight = (4 * mean_weight).clamp_(max=1)  # four pixels' weights summed, a full pixel at most
        colour = mean_colour * weight
    while levels:  # in place, each level let go once used: at 30 megapixels 1.1 GB at most (1.8 GB otherwise)
        finer_colour, finer_weight = levels.pop()
        size = finer_weight.shape[-2:]
        gap = finer_weight.neg().add_(1)
        colour = F.interpolate(colour, size=size, mode="bilinear", align_corners=False).mul_(gap).add_(finer_colour)
        weight = F.interpolate(weight, size=size, mode="bilinear", align_corners=False).mul_(gap).add_(finer_weight)
        del finer_colour, finer_weight, gap
    spread = colour.div_(weight.clamp_min(1e-12)).masked_fill_(weight <= 1e-6, 1.0)
    return torch.where(alpha > 0, pixels, spread).clamp_(0, 1)


def load_image(
    path: Path, max_side: int | None = None, max_pixels: int = MAX_PIXELS, keep_alpha: bool = False,
    at_least: int | None = None,
) -> LoadedImage:
    """Read an image file as RGB in [0, 1], resized (Lanczos, up or down) so its longest side is max_side.

    keep_alpha: return the transparency separately (LoadedImage.alpha) instead of laying the image on
    white; the colour of transparent pixels is then kept as stored.
    at_least (without max_side): the caller shrinks the image itself, never below this longest side; a JPEG or
    RAW is then decoded smaller where that is still as large (open_image), and not resized here.
    """
    image = open_image(path, max_pixels, max_side or at_least)
    grayscale, sixteen_bit = image.mode in _GRAY_MODES, image.mode in _SIXTEEN_BIT_MODES
    icc_profile = image.info.get("icc_profile")
    if not (image.mode in _RGB_PROFILE_MODES or (grayscale and icc_profile and _describes_gray(icc_profile))):
        icc_profile = None
    exif = _raw_exif(path) if is_camera_raw(path) else carried_exif(image)
    full_size = image.info.get(FULL_SIZE, image.size)
    if not max_side or max(image.size) == max_side:
        samples = image.info[RAW_SAMPLES] if RAW_SAMPLES in image.info else _sixteen_bit_samples(Path(path))
        if samples is not None and tuple(samples.shape[-2:]) == (image.height, image.width):
            pixels, alpha = _sixteen_bit_image(samples, keep_alpha)
            gray = samples.shape[0] == 2  # (Pillow opens a 16-bit gray-and-alpha PNG as RGBA)
            if gray and icc_profile and not _describes_gray(icc_profile):
                icc_profile = None
            return LoadedImage(pixels, icc_profile or None, alpha, exif, gray, sixteen_bit=True)
    alpha = None
    if keep_alpha:
        image, alpha = split_alpha(image)
    if max_side and max(image.size) != max_side:
        size = fit_longest_side(*full_size, max_side)
        if size[0] * size[1] > max_pixels:
            raise TooLargeError(f"{path} resized to {size[0]}x{size[1]} would be over the limit of "
                                f"{max_pixels / 1e6:.0f} MP")
        image, sixteen_bit = to_rgb(image).resize(size, Image.Resampling.LANCZOS), False
        if alpha is not None:
            alpha = alpha.resize(size, Image.Resampling.LANCZOS)
    return LoadedImage(pil_to_tensor(image), icc_profile or None, None if alpha is None else _gray_to_tensor(alpha),
                       exif, grayscale, sixteen_bit)


def load_gray(path: Path, size: tuple[int, int] | None = None) -> torch.Tensor:
    """A grayscale image (a mask) as (1, 1, H, W) float32 in [0, 1], resized to (height, width) if given.

    Colour images are converted to luminance; transparent pixels count as black (not selected).
    """
    image = open_image(path)
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        image = Image.alpha_composite(black, rgba)
    gray = to_rgb(image).convert("L")
    if size is not None and gray.size != (size[1], size[0]):
        gray = gray.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return _gray_to_tensor(gray)


def _gray_to_tensor(image: Image.Image) -> torch.Tensor:
    data = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    return data.view(1, 1, image.height, image.width).float().div_(255)


def check_output_path(path: Path) -> None:
    """Raise ImageError unless `path` has an extension we can write."""
    if Path(path).suffix.lower() not in SAVE_FORMATS:
        known = ", ".join(sorted(SAVE_FORMATS))
        raise ImageError(f"{path}: unknown image extension; use one of {known}")


def check_output_size(path: Path, width: int, height: int) -> None:
    """ImageError if the format of `path` cannot hold an image of this size (WebP stops at 16383 px)."""
    fmt = SAVE_FORMATS.get(Path(path).suffix.lower())
    limit = _FORMAT_MAX_SIDE.get(fmt or "")
    if limit and max(width, height) > limit:
        raise ImageError(f"cannot write {path}: {fmt} images are at most {limit} px a side, this one is "
                         f"{width}x{height}; use .png")


def _exif_block(exif: bytes | None) -> bytes:
    """The EXIF to write: a photo's (LoadedImage.exif) or none, with stylize as its Software."""
    tags = Image.Exif()
    if exif:
        tags.load(exif)
    tags[_EXIF_SOFTWARE] = SOFTWARE
    return tags.tobytes()


def save_image(
    pixels: torch.Tensor | Image.Image,
    path: Path,
    icc_profile: bytes | None = None,
    quality: int = 95,
    alpha: torch.Tensor | None = None,
    exif: bytes | None = None,
    grayscale: bool = False,
    sixteen_bit: bool = False,
) -> Path:
    """Write an image atomically (temporary file in the same folder, then rename); format from extension.

    JPEG and WebP use `quality` (a WebP at 100 is lossless); JPEG keeps full-resolution colour (4:4:4), since
    stylized images are rich in fine colour detail. `alpha` ((1, 1, H, W) in [0, 1]) is written where the format
    has an alpha channel and laid on white for JPEG. `exif` (LoadedImage.exif) is written with stylize as its
    Software. `icc_profile` is written where it describes the written pixels (a gray profile on grayscale output,
    others on colour). `grayscale` writes one channel (ITU-R BT.601 luma of the pixels; with alpha, gray and alpha
    in PNG). `sixteen_bit` writes a PNG with 16 bits a channel, alpha included (JPEG and WebP have 8).
    A reader never sees a partial file, and a failed write leaves none; every failure is an ImageError.
    """
    path = Path(path)
    check_output_path(path)
    fmt = SAVE_FORMATS[path.suffix.lower()]
    block = _exif_block(exif)
    if sixteen_bit and fmt == "PNG" and isinstance(pixels, torch.Tensor):
        colour = pixels.detach().float().reshape(1, 3, *pixels.shape[-2:])
        samples = luminance(colour) if grayscale else colour
        if alpha is not None:
            samples = torch.cat([samples, alpha.detach().float().reshape(1, 1, *samples.shape[-2:])], dim=1)
        if icc_profile and _describes_gray(icc_profile) != grayscale:
            icc_profile = None
        return _write(path, lambda stream: write_png16(stream, samples[0], icc_profile, {"Software": SOFTWARE},
                                                       block if exif else None))
    image = pixels if isinstance(pixels, Image.Image) else tensor_to_pil(pixels)
    if grayscale:
        image = image.convert("L")
    check_output_size(path, *image.size)
    if alpha is not None:
        mask = alpha_image(alpha)
        if fmt == "JPEG":
            background = Image.new(image.mode, image.size, ALPHA_BACKGROUND[: len(image.getbands())])
            image = Image.composite(image, background, mask)
        else:
            # WebP has no gray-and-alpha mode: a gray image with alpha is stored as RGBA there.
            image = image.convert("LA" if grayscale and fmt == "PNG" else "RGBA")
            image.putalpha(mask)
    # A profile goes only where it describes the pixels written: a gray one on gray pixels, others on colour.
    if icc_profile and _describes_gray(icc_profile) != (image.mode in _GRAY_OUTPUT_MODES):
        icc_profile = None
    options: dict = {"icc_profile": icc_profile} if icc_profile else {}
    if fmt == "JPEG" and len(block) > _JPEG_EXIF_LIMIT:  # a PNG's or TIFF's EXIF may not fit: the mark alone
        block = _exif_block(None)
    if fmt == "PNG":
        text = PngImagePlugin.PngInfo()
        text.add_text("Software", SOFTWARE)
        options["pnginfo"] = text
        if exif:  # the text chunk marks PNG outputs; an eXIf chunk only when there is a photo's EXIF to keep
            options["exif"] = block
    else:
        options.update(quality=quality, exif=block)
        if fmt == "JPEG":
            options["subsampling"] = 0
        else:
            # At 100 a WebP is lossless (libwebp's lossy 100 is not), as an animated WebP's (animation.webp_options).
            options.update(method=4, lossless=quality >= 100)
    return _write(path, lambda stream: image.save(stream, format=fmt, **options))


def _write(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Run `write` on a temporary file that becomes `path` when it succeeds; its failures as ImageError."""
    try:
        with atomic_output(path) as stream:
            write(stream)
    except WriteError as error:  # a full disk, an I/O error, or the encoder's own OSError
        raise ImageError(str(error)) from None
    except OSError as error:
        raise ImageError(f"cannot write {path}: {error.strerror or error}") from None
    except (ValueError, MemoryError) as error:  # encoder limits, and allocation failures in the encoder
        raise ImageError(f"cannot write {path}: {str(error).strip() or type(error).__name__}") from None
    return path
