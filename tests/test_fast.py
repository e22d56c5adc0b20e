import pytest
import torch

from stylize.errors import ConfigError
from stylize.fast import TILE_MARGIN, FastOptions, FastStylizer, tile_boxes
from stylize.transformer import TransformerNet


@pytest.fixture(scope="module")
def stylizer():
    torch.manual_seed(0)
    net = TransformerNet(width=8, residual_blocks=2)
    # Random but not trivial: larger norm affine weights make the output depend on the statistics.
    with torch.no_grad():
        for norm in net.norms():
            norm.weight.uniform_(0.5, 2.0)
            norm.bias.uniform_(-0.5, 0.5)
    return FastStylizer(net, device="cpu")


def test_tiled_output_matches_untiled_and_has_no_seam(stylizer):
    image = torch.rand(1, 3, 300, 260)
    image = torch.nn.functional.avg_pool2d(image, 5, 1, 2)  # some structure, less pure noise
    whole = stylizer(image, FastOptions(tile=0))
    tiled = stylizer(image, FastOptions(tile=2 * TILE_MARGIN + 40))
    assert len(tile_boxes(300, 260, 2 * TILE_MARGIN + 40)) > 4
    assert (tiled - whole).abs().max() < 1e-4

    # Seam check: the step across a tile border is no larger than steps between neighbouring columns.
    border = tile_boxes(300, 260, 2 * TILE_MARGIN + 40)[0][3]
    steps = (tiled[..., 1:] - tiled[..., :-1]).abs().mean(dim=(0, 1, 2))
    assert steps[border - 1] < 2 * steps[border - 8 : border + 8].median()


def test_tiles_without_shared_statistics_would_differ(stylizer):
    # The reason for recording statistics: plain per-tile normalization changes the result.
    image = torch.rand(1, 3, 300, 260)
    whole = stylizer(image, FastOptions(tile=0))
    y0, y1, x0, x1 = 0, 168, 0, 168
    with torch.inference_mode():
        alone = stylizer.net(image[..., y0 : y1 + TILE_MARGIN, x0 : x1 + TILE_MARGIN])[..., :y1, :x1]
    assert (alone - whole[..., :y1, :x1]).abs().max() > 1e-3


def test_tile_grid_covers_the_image_once_on_the_stride_grid():
    boxes = tile_boxes(301, 517, 256)
    covered = torch.zeros(301, 517, dtype=torch.int)
    for top, bottom, left, right in boxes:
        assert top % 4 == 0 and left % 4 == 0
        covered[top:bottom, left:right] += 1
    assert torch.equal(covered, torch.ones_like(covered))


def test_odd_sizes_and_batches_keep_shape(stylizer):
    for shape in [(1, 3, 17, 31), (3, 3, 40, 40), (3, 40, 41)]:
        out = stylizer(torch.rand(shape))
        assert out.shape[-2:] == shape[-2:] and 0 <= out.min() and out.max() <= 1


def test_strength_blends_toward_the_photo(stylizer):
    image = torch.rand(1, 3, 32, 32)
    full = stylizer(image)
    assert torch.allclose(stylizer(image, FastOptions(strength=0.0)), image)
    half = stylizer(image, FastOptions(strength=0.5))
    assert torch.allclose(half, (full + image) / 2, atol=1e-5)


def test_preserve_color_keeps_the_photos_chroma(stylizer):
    from stylize.color import rgb_to_yiq

    image = torch.rand(1, 3, 32, 32) * 0.5 + 0.25
    plain = stylizer(image)
    kept = stylizer(image, FastOptions(preserve_color=True))
    error = lambda x: (rgb_to_yiq(x)[:, 1:] - rgb_to_yiq(image)[:, 1:]).abs().mean()  # noqa: E731
    assert error(kept) < 0.2 * error(plain)


def test_options_are_validated():
    with pytest.raises(ConfigError, match="strength"):
        FastOptions(strength=1.5)
    with pytest.raises(ConfigError, match="tile"):
        FastOptions(tile=50)
