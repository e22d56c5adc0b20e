"""Simulated damage (stylize/degrade.py): old prints for the automatic colorizer, cameras and the web for the
real-world upscaler."""

import torch

from stylize.colorspace import rgb_to_lab
from stylize.degrade import camera_and_web, fade, grain, jpeg, old_print, scratches, tone


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


def _blockiness(rgb: torch.Tensor) -> float:
    """How much larger the steps between columns 8k-1 and 8k (JPEG's block edges) are than the others."""
    steps = (rgb[..., 1:] - rgb[..., :-1]).abs().mean(dim=(0, 1, 2))
    edges = torch.arange(1, steps.numel() + 1) % 8 == 0
    return float(steps[edges].mean() / steps[~edges].mean())


def test_jpeg_leaves_blocks_that_grow_as_the_quality_falls():
    torch.manual_seed(0)
    smooth = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 8), size=(64, 64), mode="bicubic",
                                             align_corners=False).clamp(0, 1)
    fine, coarse = jpeg(smooth, 95), jpeg(smooth, 20)
    assert fine.shape == coarse.shape == smooth.shape
    assert (fine - smooth).abs().mean() < (coarse - smooth).abs().mean()
    assert _blockiness(coarse) > 1.5 > _blockiness(smooth) and _blockiness(fine) < _blockiness(coarse)


def test_camera_and_web_is_seeded_8_bit_and_leaves_some_crops_clean():
    torch.manual_seed(1)
    photo = (torch.rand(1, 3, 48, 48) * 255).round() / 255
    outputs = []
    for _ in range(2):
        torch.manual_seed(3)
        outputs.append(torch.stack([camera_and_web(photo) for _ in range(30)]))
    assert torch.equal(*outputs) and outputs[0].shape == (30, 1, 3, 48, 48)
    assert torch.equal(outputs[0], (outputs[0] * 255).round() / 255)  # 8-bit values, as a decoded file's
    clean = sum(bool(torch.equal(item, photo)) for item in outputs[0])
    assert 1 <= clean <= 15  # about one in five
