import pytest
import torch

from stylize.config import FastConfig
from stylize.errors import ConfigError
from stylize.masks import MaskSet
from stylize.nets.johnson import JohnsonNet
from stylize.nets.norm import norms
from stylize.tasks.fast import FastRegions, FastStylizer
from stylize.tasks.network import tile_spec
from stylize.tensors import tile_boxes


def _stylizer(residual_blocks: int) -> FastStylizer:
    torch.manual_seed(0)
    net = JohnsonNet(width=8, residual_blocks=residual_blocks)
    # Random but not trivial: larger norm affine weights make the output depend on the statistics.
    with torch.no_grad():
        for norm in norms(net):
            norm.weight.uniform_(0.5, 2.0)
            norm.bias.uniform_(-0.5, 0.5)
    return FastStylizer(net, device="cpu")


@pytest.fixture(scope="module")
def stylizer():
    return _stylizer(2)


def _image(height: int, width: int) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.nn.functional.avg_pool2d(torch.rand(1, 3, height, width), 5, 1, 2)  # some structure


@pytest.mark.parametrize("residual_blocks", [2, 10])
def test_tiled_output_matches_untiled_with_a_margin_from_the_receptive_field(residual_blocks):
    # Ten residual blocks reach 98 px, beyond the fixed 64 px margin tiling used to have.
    stylizer = _stylizer(residual_blocks)
    spec = tile_spec(stylizer.net)
    assert spec.margin == stylizer.net.receptive_radius() >= 18 + 8 * residual_blocks
    tile = spec.min_tile() + 196  # cores of 200 px
    image = _image(300, tile + 6)
    assert len(tile_boxes(*image.shape[-2:], tile, spec)) >= 4
    whole = stylizer(image, FastConfig(tile=0))
    tiled = stylizer(image, FastConfig(tile=tile))
    # Exact up to float rounding (about 1e-7); the old fixed 64 px margin was off by 6e-5 at ten blocks.
    assert (tiled - whole).abs().max() < 1e-6


def test_seam_free_join(stylizer):
    spec = tile_spec(stylizer.net)
    tile = max(128, spec.min_tile() + 40)
    image = _image(tile + 60, tile + 50)
    tiled = stylizer(image, FastConfig(tile=tile))
    border = tile_boxes(*image.shape[-2:], tile, spec)[0][3]
    steps = (tiled[..., 1:] - tiled[..., :-1]).abs().mean(dim=(0, 1, 2))
    assert steps[border - 1] < 2 * steps[border - 8 : border + 8].median()


def test_tiles_without_shared_statistics_would_differ(stylizer):
    # The reason for recording statistics: plain per-tile normalization changes the result.
    image = torch.rand(1, 3, 300, 260)
    whole = stylizer(image, FastConfig(tile=0))
    margin = tile_spec(stylizer.net).padded_margin
    with torch.inference_mode():
        alone = stylizer.net(image[..., : 168 + margin, : 168 + margin])[..., :168, :168]
    assert (alone - whole[..., :168, :168]).abs().max() > 1e-3


def test_odd_sizes_and_batches_keep_shape(stylizer):
    for shape in [(1, 3, 17, 31), (3, 3, 40, 40), (3, 40, 41)]:
        out = stylizer(torch.rand(shape))
        assert out.shape[-2:] == shape[-2:] and 0 <= out.min() and out.max() <= 1


def test_strength_blends_toward_the_photo(stylizer):
    image = torch.rand(1, 3, 32, 32)
    full = stylizer(image)
    assert torch.allclose(stylizer(image, FastConfig(strength=0.0)), image)
    half = stylizer(image, FastConfig(strength=0.5))
    assert torch.allclose(half, (full + image) / 2, atol=1e-5)


def test_preserve_color_keeps_the_photos_chroma(stylizer):
    from stylize.colorspace import rgb_to_yiq

    image = torch.rand(1, 3, 32, 32) * 0.5 + 0.25
    plain = stylizer(image)
    kept = stylizer(image, FastConfig(preserve_color=True))
    error = lambda x: (rgb_to_yiq(x)[:, 1:] - rgb_to_yiq(image)[:, 1:]).abs().mean()  # noqa: E731
    assert error(kept) < 0.2 * error(plain)


def test_options_are_validated(stylizer):
    with pytest.raises(ConfigError, match="strength"):
        FastConfig(strength=1.5)
    with pytest.raises(ConfigError, match="tile"):
        FastConfig(tile=50)
    with pytest.raises(ConfigError, match="at least .* px for this model"):
        FastStylizer(_stylizer(10).net, device="cpu", config=FastConfig(tile=150))


def test_progress_counts_every_tile_and_several_models_as_passes(stylizer, tmp_path):
    spec = tile_spec(stylizer.net)
    tile = 128  # the smallest --tile allowed
    image = _image(150, 200)
    tiles = len(tile_boxes(150, 200, tile, spec))
    calls = []
    tiled = FastStylizer(stylizer.net, device="cpu", config=FastConfig(tile=tile),
                         on_progress=lambda done, total: calls.append((done, total)))
    tiled(image)
    assert tiles >= 4 and calls == [(done, tiles) for done in range(tiles + 1)]
    # Two models over one photo (--mask): one count over both passes, never backwards.
    for source in ("a.png", "b.png"):
        (tmp_path / source).touch()
    untold = FastStylizer(stylizer.net, device="cpu", config=FastConfig(tile=tile))
    regions = FastRegions([untold, untold], MaskSet((tmp_path / "a.png", tmp_path / "b.png")),
                          on_progress=lambda done, total: calls.append((done, total)))
    calls.clear()
    half = torch.zeros(1, 1, 150, 200)
    half[..., :100] = 1
    regions(image, [half, 1 - half])
    done = [count for count, _ in calls]
    assert done == sorted(done) and set(done) == set(range(2 * tiles + 1))
    assert {total for _, total in calls} == {2 * tiles}


def test_work_size_paints_at_that_size_and_enlarges_to_the_photo(stylizer, monkeypatch):
    """Issue 35, item 7: a stroke-size control for --model: the model runs with the longest side at
    --work-size and the super-resolution model brings it back to the output size."""
    seen = []
    runner_class = type(stylizer.runner)
    real = runner_class.__call__

    def spy(self, pixels, on_tile=None):
        seen.append(tuple(pixels.shape[-2:]))
        return real(self, pixels, on_tile)

    monkeypatch.setattr(runner_class, "__call__", spy)
    photo = _image(150, 300)
    out = stylizer(photo, FastConfig(work_size=100))
    assert out.shape == photo.shape and seen[0] == (50, 100)
    assert not torch.allclose(out, stylizer(photo))  # larger strokes: another picture
    assert stylizer(_image(40, 60), FastConfig(work_size=100)).shape == (1, 3, 40, 60)  # smaller: as is
    with pytest.raises(ConfigError, match="at least 64"):
        FastConfig(work_size=10)
