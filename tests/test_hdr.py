"""HDR video brought to SDR for the style networks (hdr.py): the curves' landmarks, grays stay gray, order kept."""

from pathlib import Path

import numpy as np
import pytest

from stylize.hdr import HLG, PQ, REFERENCE_WHITE, roll_off, to_sdr

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def gray(level: int) -> np.ndarray:
    return np.full((1, 1, 3), level, np.uint8)


@pytest.mark.parametrize(("transfer", "white"), [(HLG, 0.75), (PQ, 0.58)])
def test_hdr_reference_white_is_sdr_white_and_grays_stay_gray_in_order(transfer, white):
    # ITU-R BT.2408: HDR reference white (203 cd/m2) is HLG's 75 % and PQ's 58 % signal; it lands at the roll-off's
    # 0.9 of SDR's light, 244 of 255 after BT.1886's gamma 2.4, for both.
    assert abs(int(to_sdr(gray(round(white * 255)), transfer)[0, 0, 0]) - 244) <= 1
    levels = np.arange(256, dtype=np.uint8)
    sdr = to_sdr(np.repeat(levels[None, :, None], 3, axis=2), transfer)[0]
    assert (sdr[:, 0] == sdr[:, 1]).all() and (sdr[:, 1] == sdr[:, 2]).all()  # no colour cast on a gray
    assert (np.diff(sdr[:, 0].astype(int)) >= 0).all() and sdr[0, 0] == 0 and sdr[-1, 0] >= 250


def test_the_highlights_roll_off_without_a_crease_and_below_white():
    luminance = np.array([0.5, 0.8, 1.0, 2.0, 1000 / REFERENCE_WHITE, 10000 / REFERENCE_WHITE])
    out = roll_off(luminance)
    assert out[0] == 0.5 and out[1] == pytest.approx(0.8)  # below the knee: as it was
    assert out[2:] == pytest.approx([0.9, 0.9714, 0.9908, 0.9992], abs=1e-4)
    assert (out < 1).all()
    slope = (roll_off(np.array([0.8 + 1e-6])) - roll_off(np.array([0.8]))) / 1e-6
    assert slope == pytest.approx(1, abs=1e-3)  # the same slope on both sides of the knee


def test_bt2020_colours_keep_their_hue_in_bt709():
    # HLG at 75 %: a BT.2020 red, green and blue at reference white's signal. BT.2020's primaries lie outside
    # BT.709's, so each comes out as saturated as BT.709 allows, of the same hue: no channel of another colour.
    colours = np.array([[[191, 0, 0], [0, 191, 0], [0, 0, 191]]], np.uint8)
    sdr = to_sdr(colours, HLG)[0].astype(int)
    assert sdr[0].argmax() == 0 and sdr[1].argmax() == 1 and sdr[2].argmax() == 2
    assert sdr[0, 1:].max() == 0 and sdr[1, [0, 2]].max() == 0 and sdr[2, :2].max() <= 10


def _filmed_in_hdr(photo: np.ndarray, transfer: int, bits: int = 8) -> np.ndarray:
    """An SDR photo as an HDR camera would record it (BT.2408: SDR white at HDR reference white, 203 cd/m2), by
    the standards' forward formulas: BT.709 to BT.2020, then HLG's inverse OOTF and OETF, or PQ's inverse EOTF."""
    from stylize.hdr import BT2020_LUMA, BT2020_TO_BT709, HLG_A, HLG_B, HLG_C, PQ_C1, PQ_C2, PQ_C3, PQ_M1, PQ_M2

    display = (photo / 255) ** 2.4 @ np.linalg.inv(BT2020_TO_BT709.astype(np.float64)).T * REFERENCE_WHITE
    if transfer == PQ:
        power = np.clip(display / 10000, 0, 1) ** PQ_M1
        signal = ((PQ_C1 + PQ_C2 * power) / (1 + PQ_C3 * power)) ** PQ_M2
    else:
        scene_luminance = (np.maximum(display @ BT2020_LUMA, 1e-12) / 1000) ** (1 / 1.2)
        scene = np.clip(display / (1000 * scene_luminance[..., None] ** 0.2), 0, 1)
        signal = np.where(scene <= 1 / 12, np.sqrt(3 * scene),
                          HLG_A * np.log(np.maximum(12 * scene - HLG_B, 1e-12)) + HLG_C)
    if bits == 8:
        return np.rint(np.clip(signal, 0, 1) * 255).astype(np.uint8)
    # A 10-bit file's levels, read as 16 bits a channel (videoio.read_frames' deep).
    return (np.rint(np.clip(signal, 0, 1) * 1023) * 65535 / 1023).round().astype(np.uint16)


@pytest.mark.parametrize(("transfer", "bits", "error"), [(HLG, 8, 1.0), (PQ, 8, 1.0), (HLG, 10, 0.5), (PQ, 10, 0.5)])
def test_a_photo_filmed_in_hdr_comes_back_as_itself_below_the_knee(transfer, bits, error):
    """The standards' forward formulas against hdr.py's inverse: curves, OOTF and primaries' matrix agree, within
    the rounding of an 8-bit signal or, closer, a 10-bit one."""
    from PIL import Image

    with Image.open(EXAMPLES / "chelsea.jpg") as image:
        photo = np.asarray(image.convert("RGB").resize((160, 120))).astype(np.float64)
    back = to_sdr(_filmed_in_hdr(photo, transfer, bits), transfer).astype(np.float64)

    def luminance(pixels):
        return (pixels / 255) ** 2.4 @ [0.2126, 0.7152, 0.0722]

    below = luminance(photo) < 0.7  # the roll-off starts at 0.8 of white
    assert below.mean() > 0.5
    assert np.abs(back - photo)[below].mean() < error
    assert (luminance(back) <= luminance(photo) + 0.01).all()  # the highlights only ever roll off
