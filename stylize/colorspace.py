"""Colour spaces: YIQ for colour preservation (keep the photo's colours, take only luminance from the style)."""

from __future__ import annotations

import torch

from stylize.tensors import resize_to

# YIQ, the space Gatys et al. (2016, "Preserving Color in Neural Artistic Style Transfer") use for
# luminance-only transfer; coefficients of the FCC NTSC standard.
_RGB_TO_YIQ = torch.tensor(
    [
        [0.299, 0.587, 0.114],
        [0.595716, -0.274453, -0.321263],
        [0.211456, -0.522591, 0.311135],
    ]
)


def rgb_to_yiq(pixels: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB -> YIQ; Y is the luminance."""
    return torch.einsum("ij,njhw->nihw", _RGB_TO_YIQ.to(pixels), pixels)


def luminance(pixels: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB -> (N, 1, H, W) Y of YIQ (ITU-R BT.601 luma weights), one channel's memory."""
    return torch.einsum("j,njhw->nhw", _RGB_TO_YIQ[0].to(pixels), pixels).unsqueeze(1)


def yiq_to_rgb(pixels: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) YIQ -> RGB (not clipped)."""
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(_RGB_TO_YIQ).to(pixels), pixels)


def preserve_color(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The stylized image's luminance with the content's chroma (I and Q), in [0, 1].

    The content is resized to the stylized image's size first, so either may come at any resolution.
    """
    content = resize_to(content.to(stylized), tuple(stylized.shape[-2:]))
    chroma = rgb_to_yiq(content)[:, 1:]
    return yiq_to_rgb(torch.cat([luminance(stylized), chroma], dim=1)).clamp_(0, 1)


# CIE L*a*b* with the D65 white point, from sRGB (IEC 61966-2-1): the space of colorization (luminance
# L kept from the photo, chroma a, b predicted) and of the CIEDE2000 benchmark (skimage uses the same).
_SRGB_TO_XYZ = torch.tensor(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
_D65_WHITE = (0.95047, 1.0, 1.08883)
_DELTA = 6 / 29


def _srgb_to_linear(pixels: torch.Tensor) -> torch.Tensor:
    return torch.where(pixels <= 0.04045, pixels / 12.92, ((pixels.clamp(min=0) + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(linear: torch.Tensor) -> torch.Tensor:
    return torch.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear.clamp(min=0) ** (1 / 2.4) - 0.055)


def rgb_to_lab(pixels: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) sRGB in [0, 1] -> Lab: L in [0, 100], a and b about [-128, 127]."""
    xyz = torch.einsum("ij,njhw->nihw", _SRGB_TO_XYZ.to(pixels), _srgb_to_linear(pixels))
    xyz = xyz / torch.tensor(_D65_WHITE, dtype=pixels.dtype, device=pixels.device).view(1, 3, 1, 1)
    f = torch.where(xyz > _DELTA**3, xyz.clamp(min=1e-12) ** (1 / 3), xyz / (3 * _DELTA**2) + 4 / 29)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], dim=1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab -> (N, 3, H, W) sRGB, not clipped (out-of-gamut colours fall outside [0, 1])."""
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], dim=1)
    xyz = torch.where(f > _DELTA, f**3, 3 * _DELTA**2 * (f - 4 / 29))
    xyz = xyz * torch.tensor(_D65_WHITE, dtype=lab.dtype, device=lab.device).view(1, 3, 1, 1)
    linear = torch.einsum("ij,njhw->nihw", torch.linalg.inv(_SRGB_TO_XYZ).to(lab), xyz)
    return _linear_to_srgb(linear)


def gray_rgb(lightness: torch.Tensor) -> torch.Tensor:
    """The neutral gray sRGB image (N, 3, H, W) of a given L* (N, 1, H, W): the photo without its colour."""
    return lab_to_rgb(torch.cat([lightness, torch.zeros_like(lightness).expand(-1, 2, -1, -1)], dim=1)).clamp(0, 1)


def lab_to_rgb_in_gamut(lightness: torch.Tensor, chroma: torch.Tensor, iterations: int = 12) -> torch.Tensor:
    """sRGB in [0, 1] with exactly this L (N, 1, H, W) and the chroma (N, 2, H, W) scaled down per pixel
    just enough to fit the sRGB gamut: clipping RGB instead would change the lightness.

    A gray of any L in [0, 100] is in gamut, so a bisection on the chroma scale always finds one. Only the
    pixels out of gamut are bisected: most colours of a colorized photo fit as they are, and bisecting every
    pixel cost 14 conversions of the whole image (1.6 s for a 1080p frame's chroma blend on 2 cores, as much
    as colorizing the frame); the result is the same, to float rounding (3e-8).
    """
    rgb = lab_to_rgb(torch.cat([lightness, chroma], dim=1))
    outside = ~_fits(rgb)[:, 0]  # (N, H, W)
    if not bool(outside.any()):
        return rgb.clamp_(0, 1)
    # The pixels outside as a (1, C, K, 1) image, bisected alone, and put back.
    light = lightness.permute(0, 2, 3, 1)[outside].T[None, :, :, None]
    colour = chroma.permute(0, 2, 3, 1)[outside].T[None, :, :, None]
    low, high = torch.zeros_like(light), torch.ones_like(light)
    for _ in range(iterations):
        middle = (low + high) / 2
        ok = _fits(lab_to_rgb(torch.cat([light, colour * middle], dim=1)))
        low = torch.where(ok, middle, low)
        high = torch.where(ok, high, middle)
    fitted = lab_to_rgb(torch.cat([light, colour * low], dim=1))
    rgb = rgb.permute(0, 2, 3, 1)
    rgb[outside] = fitted[0, :, :, 0].T
    return rgb.permute(0, 3, 1, 2).clamp_(0, 1)


def _fits(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W): whether each pixel's sRGB (N, 3, H, W) lies in [0, 1] (within rounding)."""
    return ((rgb >= -1e-4) & (rgb <= 1 + 1e-4)).all(dim=1, keepdim=True)


# Zhang, Isola & Efros 2016 ("Colorful Image Colorization", section 2.1): the a*b* plane quantized in a grid of
# step 10, keeping the cells that hold some in-gamut colour (313 cells of their ImageNet pipeline; here every
# cell of the a*b* square within +-115 that holds an sRGB colour at some lightness, sampled every 2 units:
# 262). The cells of each a* column are contiguous in b*: the table gives their first and last b*, per a*
# (tests/test_colorize.py recomputes it from the gamut).
AB_STEP = 10
AB_CELLS = {-90: (80, 80), -80: (40, 80), -70: (20, 90), -60: (0, 90), -50: (-20, 90), -40: (-30, 90),
            -30: (-40, 90), -20: (-40, 90), -10: (-50, 90), 0: (-60, 90), 10: (-70, 80), 20: (-80, 80),
            30: (-80, 80), 40: (-90, 80), 50: (-90, 70), 60: (-100, 70), 70: (-110, 70), 80: (-110, 70),
            90: (-90, 0), 100: (-70, -50)}


def ab_bins() -> torch.Tensor:
    """(Q, 2) centres (a*, b*) of the quantized a*b* cells that hold some sRGB colour, row by row in a*."""
    return torch.tensor([(a, b) for a, (first, last) in AB_CELLS.items()
                         for b in range(first, last + 1, AB_STEP)], dtype=torch.float32)
