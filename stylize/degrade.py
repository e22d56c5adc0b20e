"""What time, cameras and the web do to a photo: simulated damage that the networks learn to see through.

Two mixes: an old print's or its scan's, on the lightness (old_print, for the automatic colorizer), and a
small photo's from a camera and the web, on sRGB (camera_and_web, for the real-world upscaler).

The automatic colorizer learns from clean colour photos made gray; old photos are not clean gray photos.
Trained on the clean ones only, colours collapse on a real scan (the features of grain and scratches are not
those of any training photo). Wan et al. 2020 ("Bringing Old Photos Back to Life") train their restoration
on photos aged the same way: scratches and dust, film-grain noise, blur, and changes of contrast and colour.
Each is drawn with its own probability and strength, so that some crops stay clean.
- faded contrast and lifted blacks (a print's dyes and silver fade, the paper yellows);
- toning: sepia or cyan (selenium, cyanotype), which colorize reduces to lightness (what is left is a
  changed tone curve);
- blur (an old lens, a soft scan);
- film grain: noise, blurred a little (grain clumps), stronger in the mid-tones;
- scratches and dust: thin bright or dark lines and specks.
The old print's take and return lightness L* in [0, 100] as (1, 1, H, W). Everything here draws from the global
torch generator (the training data seeds it per sample, see training/data.py).
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from stylize.colorspace import gray_rgb, rgb_to_lab
from stylize.tensors import gaussian_blur, quantize

# Tones of old prints as sRGB multipliers of a gray (sepia: a warm brown; cyanotype: a Prussian blue).
TONES = {"sepia": (1.0, 0.82, 0.62), "cyan": (0.62, 0.84, 1.0)}


def _chance(probability: float) -> bool:
    return bool(torch.rand(()) < probability)


def _between(low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(()))


def fade(lightness: torch.Tensor, contrast: float, lift: float) -> torch.Tensor:
    """Contrast scaled about the mid-gray by `contrast`, then the blacks lifted by `lift` L* units."""
    faded = 50 + (lightness - 50) * contrast
    return lift + faded * (100 - lift) / 100


def tone(lightness: torch.Tensor, name: str, amount: float = 1.0) -> torch.Tensor:
    """sRGB of a gray tinted with one of TONES (amount 0: neutral gray, 1: the full tone)."""
    gray = gray_rgb(lightness)
    tint = torch.tensor(TONES[name], dtype=gray.dtype, device=gray.device).view(1, 3, 1, 1)
    return gray * (1 - amount + amount * tint)


def grain(lightness: torch.Tensor, strength: float, clump: float) -> torch.Tensor:
    """Film grain of `strength` L* units, blurred by `clump` px, strongest in the mid-tones."""
    noise = gaussian_blur(torch.randn_like(lightness), clump)
    noise = noise / noise.std().clamp(min=1e-6)
    midtones = 1 - ((lightness - 50) / 50) ** 2
    return lightness + strength * (0.4 + 0.6 * midtones) * noise


def scratches(lightness: torch.Tensor, count: int) -> torch.Tensor:
    """`count` thin, long, nearly vertical lines and as many specks of dust, each bright or dark."""
    height, width = lightness.shape[-2:]
    ys = torch.arange(height, dtype=lightness.dtype, device=lightness.device)[:, None]
    xs = torch.arange(width, dtype=lightness.dtype, device=lightness.device)[None]
    damaged = lightness.clone()
    for _ in range(count):
        value = 95.0 if _chance(0.6) else 10.0
        x0, slope = _between(0, width), _between(-0.15, 0.15)
        top, bottom = sorted((_between(0, height), _between(0, height)))
        line = ((xs - x0 - slope * ys).abs() < _between(0.5, 1.5)) & (ys >= top) & (ys <= bottom)
        damaged = torch.where(line, torch.full_like(damaged, value), damaged)
        cy, cx, radius = _between(0, height), _between(0, width), _between(0.7, 2.5)
        speck = (ys - cy) ** 2 + (xs - cx) ** 2 < radius**2
        damaged = torch.where(speck, torch.full_like(damaged, value), damaged)
    return damaged


def old_print(lightness: torch.Tensor) -> torch.Tensor:
    """A random mix of the degradations above (some crops untouched), lightness in and out.

    The ageing also keeps the colorizer from learning the few photos' fine texture: measured on clean held-out
    photos (issue 31), a colorizer trained on clean crops only scored CIEDE2000 10.52 against 9.82, and this
    heavier mix (one crop in ten clean, not one in four; fading, blur and grain more often) 10.08 against 10.17.
    """
    if _chance(0.1):
        return lightness
    if _chance(0.7):
        lightness = fade(lightness, _between(0.55, 1.0), _between(0.0, 18.0))
    if _chance(0.3):
        toned = tone(lightness, "sepia" if _chance(0.7) else "cyan", _between(0.3, 1.0))
        lightness = rgb_to_lab(toned)[:, :1]
    if _chance(0.5):
        lightness = gaussian_blur(lightness, _between(0.5, 1.5))
    if _chance(0.6):
        lightness = grain(lightness, _between(1.0, 5.0), _between(0.0, 1.0))
    if _chance(0.25):
        lightness = scratches(lightness, int(torch.randint(1, 5, ())))
    return lightness.clamp(0, 100)


def jpeg(rgb: torch.Tensor, quality: int) -> torch.Tensor:
    """(1, 3, H, W) sRGB in [0, 1] through a JPEG of `quality` (libjpeg's scale, 1 to 100; Pillow's defaults, as
    most software saves one: 4:2:0 chroma) and back."""
    pixels = (rgb[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    stream = io.BytesIO()
    Image.fromarray(pixels).save(stream, format="JPEG", quality=quality)
    stream.seek(0)
    with Image.open(stream) as image:
        decoded = torch.from_numpy(np.array(image.convert("RGB")))
    return decoded.permute(2, 0, 1)[None].to(rgb.device, rgb.dtype) / 255


def camera_and_web(rgb: torch.Tensor) -> torch.Tensor:
    """A small photo as cameras and the web leave it: some softness, sensor noise, then JPEG compression, each
    drawn with its own chance and strength; one crop in five is left clean, so that clean photos still gain.
    (1, 3, H, W) sRGB in [0, 1] of 8-bit values, in and out.

    A first-order version of the degradations of Zhang et al. 2021 (BSRGAN) and Wang et al. 2021 (Real-ESRGAN):
    their blur, Gaussian noise in colour or gray, and JPEG at a quality of 30 to 95, after the bicubic
    downscale; their second order, resizes and sinc filters are left out, as the photos users enlarge are more
    often a web image or a phone's crop than a twice-recompressed one. A network trained on the clean
    downscale only sharpens JPEG's 8x8 blocks and ringing as if they were detail (benchmarks/upscale_real.py).
    """
    if _chance(0.2):
        return rgb
    if _chance(0.3):
        rgb = gaussian_blur(rgb, _between(0.2, 0.8))
    if _chance(0.5):
        gray = _chance(0.4)  # a sensor's noise after its demosaicing is partly the same in all channels
        noise = torch.randn_like(rgb[:, :1] if gray else rgb)
        rgb = rgb + _between(1.0, 8.0) / 255 * noise
    rgb = quantize(rgb.clamp(0, 1))
    if _chance(0.8):
        rgb = jpeg(rgb, int(torch.randint(30, 96, ())))
    return rgb
