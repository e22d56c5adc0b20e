"""Old-print degradations (stylize/degrade.py): what the automatic colorizer trains on."""

import torch

from stylize.colorspace import rgb_to_lab
from stylize.degrade import fade, grain, old_print, scratches, tone


def ramp(size: int = 48) -> torch.Tensor:
    return torch.linspace(0, 100, size).view(1, 1, 1, size).expand(1, 1, size, size).clone()


def test_fade_lowers_contrast_and_lifts_the_blacks():
    faded = fade(ramp(), 0.6, 12)  # 20-80, then 12 + 0.88 of that
    assert torch.isclose(faded.min(), torch.tensor(29.6)) and torch.isclose(faded.max(), torch.tensor(82.4))
    assert torch.allclose(fade(ramp(), 1.0, 0.0), ramp())


def test_tones_are_warm_or_cold_and_dark_stays_dark():
    gray = torch.full((1, 1, 4, 4), 60.0)
    sepia, cyan = (rgb_to_lab(tone(gray, name))[0, 1:].mean(dim=(1, 2)) for name in ("sepia", "cyan"))
    assert sepia[1] > 10 and sepia[0] > 0  # yellow-red brown
    assert cyan[1] < -10  # blue
    assert torch.allclose(tone(gray, "sepia", 0.0), tone(gray, "cyan", 0.0))  # amount 0: neutral
    assert tone(torch.zeros(1, 1, 2, 2), "sepia").max() < 1e-3


def test_grain_is_zero_mean_noise_of_the_given_strength():
    torch.manual_seed(0)
    flat = torch.full((1, 1, 96, 96), 50.0)
    grainy = grain(flat, 4.0, 0.0)
    assert abs((grainy - flat).mean()) < 0.2
    assert 3.5 < (grainy - flat).std() < 4.5


def test_scratches_touch_few_pixels_with_bright_or_dark_values():
    torch.manual_seed(1)
    flat = torch.full((1, 1, 64, 64), 50.0)
    damaged = scratches(flat, 3)
    changed = damaged != flat
    assert 0 < changed.float().mean() < 0.2
    assert set(damaged[changed].unique().tolist()) <= {10.0, 95.0}


def test_old_print_is_seeded_sized_and_in_range():
    outputs = []
    for _ in range(2):
        torch.manual_seed(3)
        outputs.append(torch.stack([old_print(ramp()) for _ in range(12)]))
    assert torch.equal(*outputs)
    assert outputs[0].shape == (12, 1, 1, 48, 48)
    assert outputs[0].min() >= 0 and outputs[0].max() <= 100
    changed = [(item - ramp()).abs().max() > 0.5 for item in outputs[0]]
    assert any(changed) and not all(changed)  # some crops are aged, some stay clean
