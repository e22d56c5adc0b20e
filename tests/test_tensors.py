import numpy as np
import pytest
import torch

from stylize import tensors
from stylize.tensors import (
    TileSpec,
    check_pixels,
    enlarge_bilinear,
    periodic_radius,
    remove_periodic,
    run_tiled,
    tile_boxes,
)


@pytest.mark.parametrize("spec", [TileSpec(), TileSpec(scale=1, margin=10, multiple=4), TileSpec(scale=3, margin=5)])
def test_tile_grid_covers_the_image_once_on_the_stride_grid(spec):
    boxes = tile_boxes(301, 517, 96, spec)
    covered = torch.zeros(301, 517, dtype=torch.int)
    for top, bottom, left, right in boxes:
        assert top % spec.multiple == 0 and left % spec.multiple == 0
        covered[top:bottom, left:right] += 1
    assert torch.equal(covered, torch.ones_like(covered))


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_tiling_a_local_operation_with_an_output_scale_equals_one_pass(scale):
    # A 5x5 blur then nearest upscaling: radius 2 in input pixels, output `scale` times larger.
    def forward(x):
        blurred = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(x, (2, 2, 2, 2), mode="replicate"), 5, 1)
        return torch.nn.functional.interpolate(blurred, scale_factor=scale, mode="nearest")

    image = torch.rand(1, 3, 61, 47)
    spec = TileSpec(scale=scale, margin=2)
    tiled = run_tiled(forward, image, 16, spec)
    assert tiled.shape == (1, 3, 61 * scale, 47 * scale)
    assert torch.allclose(tiled, forward(image), atol=1e-6)
    with pytest.raises(AssertionError):  # too little margin shows
        assert torch.allclose(run_tiled(forward, image, 16, TileSpec(scale=scale, margin=1)), forward(image))


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (np.zeros((1, 3, 4, 4), dtype=np.float32), TypeError, "got ndarray"),
        (None, TypeError, "got NoneType"),
        ("photo.jpg", TypeError, "got str"),
        (torch.full((1, 3, 4, 4), 255, dtype=torch.uint8), ValueError, "divide by 255"),
        (torch.full((1, 3, 4, 4), 2.0), ValueError, "values in \\[0, 1\\]"),
        (torch.full((1, 3, 4, 4), float("nan")), ValueError, "values in \\[0, 1\\]"),
        (torch.zeros(1, 4, 4, 4), ValueError, "shape"),
        (torch.zeros(0, 3, 4, 4), ValueError, "an empty batch \\(0 images\\)"),
        (torch.zeros(1, 3, 4, 4, dtype=torch.int64), TypeError, "floats"),
    ],
)
def test_public_pixel_arguments_get_clear_errors(value, error, message):
    with pytest.raises(error, match=message):
        check_pixels(value)


def test_valid_pixels_pass_as_float_batches():
    assert check_pixels(torch.ones(3, 4, 5, dtype=torch.uint8)).shape == (1, 3, 4, 5)
    assert check_pixels(torch.rand(2, 3, 4, 5, dtype=torch.float64)).dtype == torch.float32


@pytest.mark.parametrize(("source", "target"), [((5, 7), (11, 13)), ((1, 3), (9, 24)), ((32, 24), (64, 48))])
def test_bilinear_by_products_matches_interpolate_and_its_gradient(source, target):
    # The CUDA path of enlarge_bilinear (products, reproducible gradients) computed here on the CPU.
    generator = torch.Generator().manual_seed(0)
    level = torch.rand(2, 3, *source, generator=generator, dtype=torch.float64)
    weights = torch.rand(2, 3, *target, generator=generator, dtype=torch.float64)
    ours = level.clone().requires_grad_(True)
    theirs = level.clone().requires_grad_(True)
    (tensors._bilinear_by_products(ours, target) * weights).sum().backward()
    (enlarge_bilinear(theirs, target) * weights).sum().backward()
    assert torch.allclose(tensors._bilinear_by_products(level, target), enlarge_bilinear(level, target), atol=1e-12)
    assert torch.allclose(ours.grad, theirs.grad, atol=1e-12)


@pytest.mark.parametrize("period", [8, 4])
def test_remove_periodic_takes_a_pattern_locked_to_the_grid_and_leaves_shading_and_texture(period):
    generator = torch.Generator().manual_seed(0)
    ys, xs = torch.meshgrid(torch.arange(96.0), torch.arange(128.0), indexing="ij")
    shading = (0.2 + 0.4 * xs / 128 + 0.2 * (ys / 96) ** 2).expand(1, 3, -1, -1).contiguous()  # a ramp, a curve
    texture = 0.2 * torch.nn.functional.avg_pool2d(torch.rand(1, 3, 96, 128, generator=generator), 3, 1, 1)
    cell = 0.05 * torch.randn(1, 3, period, period, generator=generator)
    cell = cell - cell.mean(dim=(2, 3), keepdim=True)  # its mean would be brightness, not a pattern
    pattern = cell.repeat(1, 1, 96 // period, 128 // period)

    def rms(t):
        return t.pow(2).mean().sqrt().item()

    picture = shading + texture
    # Measured at periods 8 and 4: 0.0035 and 0.0026 are left of the pattern's 0.053 and 0.055, about what
    # the filter takes from the texture alone (0.0033 and 0.0025 of its 0.020).
    assert rms(remove_periodic(picture + pattern, period) - picture) < 0.1 * rms(pattern)
    assert rms(remove_periodic(picture, period) - picture) < 0.25 * rms(texture - texture.mean())
    assert (remove_periodic(shading, period) - shading).abs().max() < 0.005  # 0.0015: the blur's borders


def test_remove_periodic_tiles_within_its_radius():
    image = torch.rand(1, 3, 120, 96)
    spec = TileSpec(margin=periodic_radius(8), multiple=8)
    tiled = run_tiled(lambda x: remove_periodic(x, 8), image, spec.min_tile(), spec)
    assert torch.allclose(tiled, remove_periodic(image, 8), atol=1e-6)
