"""HDR video (ITU-R BT.2100: HLG or PQ, in BT.2020's primaries) brought to SDR (BT.709) for the style networks.

A phone films HDR by default (an iPhone's HLG, an Android's HLG or HDR10's PQ). Decoded as it is, such a frame is a
BT.2020 HDR signal: a style network, which learned from sRGB photos, saw it paler than it is (BT.2020's wider
primaries read as BT.709's), and its painting's colours, written back in HLG or PQ, were shown through BT.2020's
primaries and the HDR curve: more saturated than the painting, and its whites at up to 1000 cd/m2 (HLG) where the
film's own white is 203. The frames are brought to SDR instead, as a display would show them, and the output is SDR
BT.709:

1. the signal to light: HLG's inverse OETF and its OOTF for a 1000 cd/m2 display (BT.2100, Table 5: gamma 1.2),
   or PQ's EOTF (SMPTE ST 2084), in cd/m2;
2. relative to HDR reference white, 203 cd/m2 (ITU-R BT.2408: HLG at 75 % and PQ at 58 % of the signal), which
   stands for SDR's white; the luminance above KNEE (0.8 of it) rolls off smoothly towards 1, so that reference
   white lands at 0.9 and the highlights above it keep their gradation (the luminance only: a colour keeps its
   hue);
3. BT.2020's primaries to BT.709's (the matrix of ITU-R BT.2087, derived from the primaries), clipped to the gamut;
4. light to the SDR signal with BT.1886's display gamma, 2.4, as players show BT.709.

A 10-bit file is read at 16 bits a channel for it (videoio.read_frames' deep), which keeps its steps.
"""

from __future__ import annotations

import numpy as np

# The transfer characteristics as FFmpeg numbers them (ITU-T H.273): SMPTE ST 2084 (PQ) and ARIB STD-B67 (HLG).
PQ, HLG = 16, 18
HDR_NAMES = {PQ: "PQ", HLG: "HLG"}

REFERENCE_WHITE = 203.0  # cd/m2, ITU-R BT.2408's HDR reference white: SDR's white after the conversion
HLG_PEAK = 1000.0  # cd/m2, the display BT.2100's HLG OOTF is given for (gamma 1.2)
HLG_GAMMA = 1.2
# BT.2100's HLG constants (Table 5).
HLG_A, HLG_B, HLG_C = 0.17883277, 0.28466892, 0.55991073
# SMPTE ST 2084's PQ constants.
PQ_M1, PQ_M2, PQ_C1, PQ_C2, PQ_C3 = 0.1593017578125, 78.84375, 0.8359375, 18.8515625, 18.6875
PQ_PEAK = 10000.0
# The primaries' and D65 white's chromaticities (x, y): BT.2020 (and BT.2100), BT.709.
BT2020_PRIMARIES = ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046))
BT709_PRIMARIES = ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060))
D65 = (0.3127, 0.3290)


def rgb_to_xyz(primaries: tuple[tuple[float, float], ...], white: tuple[float, float] = D65) -> np.ndarray:
    """The 3x3 matrix from linear RGB with these primaries to CIE XYZ, white at Y = 1 (SMPTE RP 177's derivation)."""
    corners = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in primaries]).T
    x, y = white
    scale = np.linalg.solve(corners, [x / y, 1.0, (1 - x - y) / y])
    return corners * scale


# BT.2020 to BT.709 in linear light, derived (ITU-R BT.2087 prints it to four places, whose rows do not sum to 1
# and tinted a gray by a level), and BT.2020's luminance weights (0.2627, 0.6780, 0.0593 in BT.2100).
BT2020_TO_BT709 = (np.linalg.inv(rgb_to_xyz(BT709_PRIMARIES)) @ rgb_to_xyz(BT2020_PRIMARIES)).astype(np.float32)
BT2020_LUMA = rgb_to_xyz(BT2020_PRIMARIES)[1].astype(np.float32)
# Luminance up to this fraction of reference white stays as it is; above it, it rolls off towards 1 (roll_off).
KNEE = 0.8
SDR_GAMMA = 2.4  # ITU-R BT.1886


def is_hdr(transfer: int) -> bool:
    return transfer in HDR_NAMES


def _hlg_scene_light(levels: int) -> np.ndarray:
    """HLG's inverse OETF at every level of a signal of `levels` levels: scene light in [0, 1]."""
    signal = np.arange(levels, dtype=np.float64) / (levels - 1)
    low = signal**2 / 3
    high = (np.exp((signal - HLG_C) / HLG_A) + HLG_B) / 12
    return np.where(signal <= 0.5, low, high).astype(np.float32)


def _pq_display_light(levels: int) -> np.ndarray:
    """PQ's EOTF at every level of a signal of `levels` levels, in cd/m2."""
    power = (np.arange(levels, dtype=np.float64) / (levels - 1)) ** (1 / PQ_M2)
    return (PQ_PEAK * (np.maximum(power - PQ_C1, 0) / (PQ_C2 - PQ_C3 * power)) ** (1 / PQ_M1)).astype(np.float32)


# The curves at every level of 8- and 16-bit RGB (a 10-bit file read as 16 bits keeps its steps: videoio's deep).
_TABLES = {(transfer, dtype): curve(levels) for transfer, curve in ((HLG, _hlg_scene_light), (PQ, _pq_display_light))
           for dtype, levels in ((np.uint8, 256), (np.uint16, 65536))}


def roll_off(luminance: np.ndarray) -> np.ndarray:
    """Relative luminance (1: reference white) to SDR's [0, 1]: itself up to KNEE, then k + (1 - k) t / (1 + t) with
    t = (Y - k) / (1 - k) (Reinhard et al. 2002's curve above the knee), whose slope at the knee is 1 (no crease) and
    which never reaches 1: reference white lands at 0.9, twice it at 0.97, HLG's 1000 cd/m2 peak at 0.99."""
    over = np.maximum(luminance - KNEE, 0) / (1 - KNEE)
    return np.where(luminance <= KNEE, luminance, KNEE + (1 - KNEE) * over / (1 + over))


def to_sdr(rgb: np.ndarray, transfer: int) -> np.ndarray:
    """An (H, W, 3) uint8 or uint16 frame of an HDR signal (`transfer`: HLG or PQ, BT.2020 primaries) as SDR BT.709
    uint8 (about 0.15 s a 1080p frame on 2 cores)."""
    light = _TABLES[transfer, rgb.dtype.type][rgb]  # (H, W, 3) float32
    if transfer == HLG:
        scene_luminance = light @ BT2020_LUMA
        light = light * (HLG_PEAK * np.power(np.maximum(scene_luminance, 1e-9), HLG_GAMMA - 1))[..., None]
    light /= REFERENCE_WHITE
    luminance = light @ BT2020_LUMA
    light *= (roll_off(luminance) / np.maximum(luminance, 1e-9))[..., None]
    light = np.clip(light @ BT2020_TO_BT709.T, 0, 1)
    return np.rint(np.power(light, 1 / SDR_GAMMA) * 255).astype(np.uint8)
