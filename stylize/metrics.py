"""Image-quality measures that training reports on held-back photos, as the benchmarks report them (which use
scikit-image for the colour science; these are the same formulas in torch, on any device, with no extra
dependency): CIEDE2000 colour difference and PSNR on the luma channel."""

from __future__ import annotations

import math

import torch

from stylize.colorspace import luminance


def ciede2000(lab: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """The CIEDE2000 colour difference of two CIELAB images (N, 3, ...) at each position, (N, ...).

    Sharma, Wu & Dalal 2005, "The CIEDE2000 color-difference formula: implementation notes, supplementary test
    data, and mathematical observations", equations 1 to 22 with k_L = k_C = k_H = 1 (as skimage's
    deltaE_ciede2000, which benchmarks/colorize_quality.py uses). Their test pairs are in tests/test_metrics.py.
    """
    # In float32: it gives Sharma et al.'s test pairs to 4e-5 and scikit-image's float64 to 3e-5, and float64 would
    # not run on Apple's GPUs (MPS has none).
    lab, reference = lab.float(), reference.float()
    (l1, a1, b1), (l2, a2, b2) = lab.unbind(1), reference.unbind(1)
    mean_chroma = (torch.hypot(a1, b1) + torch.hypot(a2, b2)) / 2
    g = 0.5 * (1 - torch.sqrt(mean_chroma**7 / (mean_chroma**7 + 25.0**7)))  # eq. 4
    a1, a2 = a1 * (1 + g), a2 * (1 + g)  # eq. 5
    c1, c2 = torch.hypot(a1, b1), torch.hypot(a2, b2)
    h1, h2 = (torch.atan2(b, a) % (2 * math.pi) for b, a in ((b1, a1), (b2, a2)))  # eq. 7 (0 where a = b = 0)
    chroma_product = c1 * c2
    dh = h2 - h1  # eq. 10: the hue difference in (-pi, pi], 0 where either colour is neutral
    dh = torch.where(dh > math.pi, dh - 2 * math.pi, torch.where(dh < -math.pi, dh + 2 * math.pi, dh))
    dh = torch.where(chroma_product == 0, torch.zeros_like(dh), dh)
    d_lightness, d_chroma = l2 - l1, c2 - c1
    d_hue = 2 * torch.sqrt(chroma_product) * torch.sin(dh / 2)  # eq. 11
    mean_l, mean_c = (l1 + l2) / 2, (c1 + c2) / 2
    h_sum = h1 + h2  # eq. 14: the mean hue, the sum itself where either colour is neutral
    mean_h = torch.where((h1 - h2).abs() <= math.pi, h_sum / 2,
                         torch.where(h_sum < 2 * math.pi, (h_sum + 2 * math.pi) / 2, (h_sum - 2 * math.pi) / 2))
    mean_h = torch.where(chroma_product == 0, h_sum, mean_h)
    t = (1 - 0.17 * torch.cos(mean_h - math.radians(30)) + 0.24 * torch.cos(2 * mean_h)
         + 0.32 * torch.cos(3 * mean_h + math.radians(6)) - 0.20 * torch.cos(4 * mean_h - math.radians(63)))  # eq. 15
    d_theta = math.radians(30) * torch.exp(-(((torch.rad2deg(mean_h) - 275) / 25) ** 2))  # eq. 16
    r_c = 2 * torch.sqrt(mean_c**7 / (mean_c**7 + 25.0**7))  # eq. 17
    s_l = 1 + 0.015 * (mean_l - 50) ** 2 / torch.sqrt(20 + (mean_l - 50) ** 2)  # eq. 18
    s_c, s_h = 1 + 0.045 * mean_c, 1 + 0.015 * mean_c * t  # eqs. 19, 20
    r_t = -torch.sin(2 * d_theta) * r_c  # eq. 21
    terms = d_lightness / s_l, d_chroma / s_c, d_hue / s_h
    return torch.sqrt(terms[0] ** 2 + terms[1] ** 2 + terms[2] ** 2 + r_t * terms[1] * terms[2])


def luma(pixels: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] (N, 3, H, W) -> ITU-R BT.601 luma Y in [16, 235] (N, H, W), as MATLAB's rgb2ycbcr: the
    channel on which super-resolution papers report PSNR since SRCNN (Dong et al. 2014)."""
    return 16 + 219 * luminance(pixels.float())[:, 0]  # rgb2ycbcr's weights are 219 times YIQ's Y


def psnr_luma(output: torch.Tensor, truth: torch.Tensor, border: int) -> torch.Tensor:
    """PSNR in dB of each image's luma, `border` pixels shaved off each side (the scale factor, by the same
    convention), one value per image (N,); `output` is clamped to [0, 1] first, as a saved image would be."""
    shave = slice(border, -border) if border else slice(None)
    difference = luma(output.clamp(0, 1))[:, shave, shave] - luma(truth)[:, shave, shave]
    mse = difference.pow(2).flatten(1).mean(dim=1)
    return 10 * torch.log10(255.0**2 / mse.clamp_min(1e-10))
