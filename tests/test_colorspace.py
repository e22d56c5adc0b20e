import torch

from stylize.colorspace import preserve_color, rgb_to_yiq, yiq_to_rgb


def test_yiq_round_trip():
    pixels = torch.rand(1, 3, 5, 5)
    assert torch.allclose(yiq_to_rgb(rgb_to_yiq(pixels)), pixels, atol=1e-5)


def test_preserve_color_keeps_content_chroma_and_stylized_luminance():
    content = torch.rand(1, 3, 16, 16) * 0.5 + 0.25  # away from the clipping range
    stylized = torch.rand(1, 3, 16, 16) * 0.5 + 0.25
    result = preserve_color(stylized, content)
    result_yiq, content_yiq, stylized_yiq = rgb_to_yiq(result), rgb_to_yiq(content), rgb_to_yiq(stylized)
    clipped = ((yiq_to_rgb(torch.cat([stylized_yiq[:, :1], content_yiq[:, 1:]], 1)) - 0.5).abs() > 0.5).any(1)
    kept = ~clipped[0]
    assert kept.float().mean() > 0.8
    assert torch.allclose(result_yiq[0, 1:, kept], content_yiq[0, 1:, kept], atol=1e-4)
    assert torch.allclose(result_yiq[0, 0, kept], stylized_yiq[0, 0, kept], atol=1e-4)


def test_preserve_color_resizes_the_content():
    result = preserve_color(torch.rand(1, 3, 20, 30), torch.rand(1, 3, 40, 60))
    assert result.shape == (1, 3, 20, 30)
    assert 0 <= result.min() and result.max() <= 1


def test_luminance_is_the_y_of_yiq_in_one_channel():
    from stylize.colorspace import luminance

    pixels = torch.rand(2, 3, 5, 4)
    assert torch.allclose(luminance(pixels), rgb_to_yiq(pixels)[:, :1], atol=1e-6)
    assert torch.allclose(luminance(torch.full((1, 3, 2, 2), 0.4)), torch.full((1, 1, 2, 2), 0.4))
