import math

import pytest
import torch

from stylize.metrics import ciede2000, luma, psnr_luma

# Test pairs of Sharma, Wu & Dalal 2005 (table 1: pairs 1, 2, 7, 8, 12, 13, 17 to 20, 24, 25, 26 and 34), chosen
# for the formula's corners: the hue's wrap-around near 0 and 180 degrees, neutral colours, large differences.
SHARMA_PAIRS = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, -1.0, 2.0), (50.0, 0.0, 0.0), 2.3669),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0009), 7.1792),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0011), 7.2195),
    ((50.0, 2.5, 0.0), (50.0, 0.0, -2.5), 4.3065),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (61.0, -5.0, 29.0), 22.8977),
    ((50.0, 2.5, 0.0), (56.0, -27.0, -3.0), 31.9030),
    ((50.0, 2.5, 0.0), (58.0, 24.0, 15.0), 19.4535),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def _as_image(colours):
    """A list of L*a*b* triples -> a (1, 3, 1, N) image."""
    return torch.tensor(colours, dtype=torch.float32).T[None, :, None, :]


def test_ciede2000_gives_the_published_differences_of_sharma_et_al():
    first, second, expected = zip(*SHARMA_PAIRS, strict=True)
    difference = ciede2000(_as_image(first), _as_image(second))
    assert difference.shape == (1, 1, len(SHARMA_PAIRS)) and difference.dtype == torch.float32
    assert difference.flatten().tolist() == pytest.approx(expected, abs=1e-4)


def test_ciede2000_is_zero_for_equal_colours_and_symmetric():
    colours = torch.rand(2, 3, 5, 7) * torch.tensor([100.0, 160, 160])[:, None, None] - torch.tensor(
        [0.0, 80, 80])[:, None, None]
    others = colours.flip(0)
    assert torch.all(ciede2000(colours, colours) == 0)
    assert torch.allclose(ciede2000(colours, others), ciede2000(others, colours), atol=1e-4)
    assert ciede2000(colours, others).shape == (2, 5, 7)


def test_luma_is_bt601_in_the_studio_range():
    black, white = torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1)
    assert luma(black).item() == pytest.approx(16) and luma(white).item() == pytest.approx(235)


def test_psnr_on_luma_with_the_border_shaved():
    truth = torch.full((2, 3, 12, 12), 0.5)
    off_by_one = truth + 1 / 255  # every channel one level up: luma up by 219 / 255
    assert psnr_luma(off_by_one, truth, 0).tolist() == pytest.approx([20 * math.log10(255 / (219 / 255))] * 2)
    # A difference inside the shaved border does not count; one inside does.
    framed = truth.clone()
    framed[..., :2, :] = 0
    assert psnr_luma(framed, truth, 2).tolist() == pytest.approx([10 * math.log10(255**2 / 1e-10)] * 2)
    assert psnr_luma(framed, truth, 1)[0] < 20
    # Values beyond [0, 1] count as a saved image would hold them.
    assert torch.allclose(psnr_luma(torch.full_like(truth, 1.7), truth, 0), psnr_luma(torch.ones_like(truth), truth, 0))
