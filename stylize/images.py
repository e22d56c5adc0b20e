"""Reading and writing images: the only module that imports PIL.

Everything else sees float32 RGB tensors of shape (1, 3, H, W) with values in [0, 1].
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from stylize.errors import ImageError
from stylize.files import atomic_output

# Anything larger is refused before decoding: a 100 MB PNG can claim billions of pixels (decompression bomb).
# 150 MP holds every camera on sale (the largest sensors give about 150 MP) with room to spare.
MAX_PIXELS = 150_000_000

SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}

# Extensions taken as images when scanning folders; reading itself accepts whatever Pillow can decode.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".pbm", ".tga"}
)

# Transparent pixels are laid on white, as a viewer or printer shows them; the output has no alpha.
ALPHA_BACKGROUND = (255, 255, 255)

_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
# RGB-family modes whose ICC profile still describes the pixels after conversion to RGB; a CMYK or
# grayscale profile would not, so it is dropped.
_RGB_PROFILE_MODES = {"RGB", "RGBA", "RGBX", "RGBa", "P", "PA"}


@dataclass(frozen=True)
class LoadedImage:
    """Pixels as a (1, 3, H, W) float32 tensor in [0, 1], and the ICC profile to carry into outputs."""

    pixels: torch.Tensor
    icc_profile: bytes | None = None


def is_image_file(path: Path) -> bool:
    """True for a regular file whose extension names an image format."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()


def has_readable_header(path: Path) -> bool:
    """True if Pillow recognizes the file from its header alone (cheap: no pixels are decoded)."""
    try:
        with Image.open(path):
            return True
    except Exception:  # any error from any decoder plugin means: not readable
        return False


def open_image(path: Path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open, decode and orient an image file, with a one-line ImageError for every way that can fail."""
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image")
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    try:
        if path.stat().st_size == 0:
            raise ImageError(f"{path} is empty (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
            if image.width * image.height > max_pixels:
                raise ImageError(
                    f"{path} is {image.width}x{image.height} ({image.width * image.height / 1e6:.0f} MP), "
                    f"over the limit of {max_pixels / 1e6:.0f} MP"
                )
            image.load()
            return ImageOps.exif_transpose(image)
    except Image.DecompressionBombError:
        # Pillow's own guard (above about 179 MP) fires inside Image.open, before ours can name the size.
        raise ImageError(f"{path} is over the limit of {max_pixels / 1e6:.0f} MP") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path} is not an image format Pillow can read") from None
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
    """PIL image of any mode -> (1, 3, H, W) float32 RGB in [0, 1]."""
    rgb = to_rgb(image)
    data = torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8)
    return data.view(rgb.height, rgb.width, 3).permute(2, 0, 1).unsqueeze(0).float().div_(255)


def tensor_to_pil(pixels: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) tensor in [0, 1] -> 8-bit RGB PIL image (values outside are clipped)."""
    if pixels.dim() == 4:
        if pixels.shape[0] != 1:
            raise ValueError(f"expected one image, got a batch of {pixels.shape[0]}")
        pixels = pixels[0]
    if pixels.dim() != 3 or pixels.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) RGB tensor, got shape {tuple(pixels.shape)}")
    data = pixels.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    # numpy comes with torchvision; its buffer hands the bytes over without a Python-level copy.
    return Image.fromarray(data.permute(1, 2, 0).contiguous().cpu().numpy())


def fit_longest_side(width: int, height: int, longest: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is `longest`, keeping the aspect ratio."""
    scale = longest / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def load_image(path: Path, max_side: int | None = None, max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """Read an image file as RGB in [0, 1], resized (Lanczos, up or down) so its longest side is max_side."""
    image = open_image(path, max_pixels)
    icc_profile = image.info.get("icc_profile") if image.mode in _RGB_PROFILE_MODES else None
    if max_side and max(image.size) != max_side:
        image = to_rgb(image).resize(fit_longest_side(*image.size, max_side), Image.Resampling.LANCZOS)
    return LoadedImage(pil_to_tensor(image), icc_profile or None)


def resize_longest(pixels: torch.Tensor, longest: int) -> torch.Tensor:
    """Resize a (N, 3, H, W) batch so its longer side is `longest`, antialiased when shrinking."""
    height, width = pixels.shape[-2:]
    new_width, new_height = fit_longest_side(width, height, longest)
    return resize_to(pixels, (new_height, new_width))


def resize_to(pixels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a (N, 3, H, W) batch to (height, width) with antialiased bicubic filtering, kept in [0, 1]."""
    if tuple(pixels.shape[-2:]) == tuple(size):
        return pixels
    resized = F.interpolate(pixels, size=size, mode="bicubic", align_corners=False, antialias=True)
    return resized.clamp_(0, 1)


def check_output_path(path: Path) -> None:
    """Raise ImageError unless `path` has an extension we can write."""
    if Path(path).suffix.lower() not in SAVE_FORMATS:
        known = ", ".join(sorted(SAVE_FORMATS))
        raise ImageError(f"{path}: cannot tell the format from the extension; use one of {known}")


def save_image(
    pixels: torch.Tensor | Image.Image,
    path: Path,
    icc_profile: bytes | None = None,
    quality: int = 95,
) -> Path:
    """Write an image atomically (temporary file in the same folder, then rename); format from extension.

    JPEG and WebP use `quality`; JPEG keeps full-resolution colour (4:4:4), since stylized images are
    rich in fine colour detail. A reader never sees a partial file, and a failed write leaves none.
    """
    path = Path(path)
    check_output_path(path)
    image = pixels if isinstance(pixels, Image.Image) else tensor_to_pil(pixels)
    fmt = SAVE_FORMATS[path.suffix.lower()]
    options: dict = {"icc_profile": icc_profile} if icc_profile else {}
    if fmt == "JPEG":
        options.update(quality=quality, subsampling=0)
    elif fmt == "WEBP":
        options.update(quality=quality, method=4)
    try:
        with atomic_output(path) as stream:
            image.save(stream, format=fmt, **options)
    except OSError as error:
        raise ImageError(f"cannot write {path}: {error.strerror or error}") from None
    return path
