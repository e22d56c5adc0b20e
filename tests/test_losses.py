import pytest
import torch

from stylize.losses import blend_grams, content_loss, gram, perceptual_losses, style_loss, tv_loss


def test_gram_is_invariant_to_image_size():
    features = torch.rand(2, 8, 5, 7)
    tiled = features.repeat(1, 1, 3, 2)  # the same texture over a 6x larger image
    assert torch.allclose(gram(features), gram(tiled), atol=1e-6)
    assert torch.allclose(style_loss(tiled, gram(features)), torch.tensor(0.0), atol=1e-6)


def test_gram_is_symmetric_and_fp32():
    g = gram(torch.rand(1, 4, 3, 3).half())
    assert g.dtype == torch.float32
    assert torch.allclose(g, g.transpose(1, 2))


def test_losses_do_not_depend_on_a_layers_activation_scale():
    a, b = torch.rand(1, 16, 8, 8), torch.rand(1, 16, 8, 8)
    assert content_loss(a * 100, b * 100) == pytest.approx(content_loss(a, b).item(), rel=1e-4)
    assert style_loss(a * 100, gram(b * 100)) == pytest.approx(style_loss(a, gram(b)).item(), rel=1e-4)


def test_zero_for_a_perfect_match_and_positive_otherwise():
    a, b = torch.rand(1, 4, 6, 6), torch.rand(1, 4, 6, 6)
    assert content_loss(a, a) == 0
    assert style_loss(a, gram(a)) < 1e-6
    assert content_loss(a, b) > 0.01
    assert style_loss(a, gram(b * 2)) > 0.01


def test_content_loss_is_per_image_in_a_batch():
    targets = torch.rand(2, 4, 6, 6)
    features = targets.clone()
    features[1] += 1
    assert content_loss(features, targets) == pytest.approx(
        (content_loss(features[1:], targets[1:]) / 2).item(), rel=1e-5
    )


def test_tv_loss():
    assert tv_loss(torch.full((1, 3, 8, 8), 0.3)) == 0
    smooth = torch.linspace(0, 1, 64).view(1, 1, 1, 64).expand(1, 3, 64, 64)
    assert tv_loss(torch.rand(1, 3, 64, 64)) > 100 * tv_loss(smooth)


def test_blend_grams_is_a_weighted_mean():
    g1, g2 = {"x": torch.ones(2, 2)}, {"x": torch.zeros(2, 2)}
    assert torch.allclose(blend_grams([g1, g2], [3, 1])["x"], torch.full((2, 2), 0.75))


def test_perceptual_losses_average_over_layers():
    features = {"a": torch.rand(1, 4, 4, 4), "b": torch.rand(1, 4, 4, 4)}
    content, style = perceptual_losses(features, {"a": features["a"]}, {k: gram(v) for k, v in features.items()})
    assert content == 0 and style < 1e-6


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_gram_gradient_matches_autograd_of_the_plain_product_in_the_features_layout(layout):
    from stylize.losses import _Gram

    rows = torch.rand(2, 12, 5, dtype=torch.float64)
    for stored in (rows, rows.transpose(1, 2).contiguous().transpose(1, 2)):  # positions- or channels-major
        assert torch.autograd.gradcheck(_Gram.apply, (stored.clone().requires_grad_(),))
    features = torch.rand(2, 5, 4, 3).contiguous(memory_format=layout).requires_grad_()
    target = torch.rand(5, 5)
    # autograd.grad, not .grad: a leaf's .grad is copied into the leaf's layout, which would hide a mismatch.
    (gradient,) = torch.autograd.grad(style_loss(features, target), features)
    flat = features.detach().reshape(2, 5, 12).requires_grad_()
    plain = torch.bmm(flat, flat.transpose(1, 2)) / 12
    ((plain - target).pow(2).sum(dim=(-2, -1)) / (target.pow(2).sum() + 1e-8)).mean().backward()
    assert torch.allclose(gradient.reshape(2, 5, 12), flat.grad, atol=1e-5)
    # In the features' own layout, autograd adds it to the network's gradient there without a strided copy.
    assert gradient.is_contiguous(memory_format=layout)


def test_gram_stays_fp32_under_autocast():
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert gram(torch.rand(1, 4, 3, 3)).dtype == torch.float32


def test_low_precision_gram_is_an_opt_in_for_bf16_features_only():
    features = torch.rand(2, 16, 12, 10).bfloat16()
    exact = gram(features)
    rounded = gram(features, low_precision=True)
    assert rounded.dtype == torch.float32  # the caller always gets fp32 back
    assert not torch.equal(rounded, exact)  # the product did run in bf16: its result is rounded to 8 bits
    assert torch.allclose(rounded, exact, rtol=2**-7, atol=0)  # bf16 keeps 8 significant bits
    fp32 = features.float()
    assert torch.equal(gram(fp32, low_precision=True), gram(fp32))  # fp32 features are never rounded
    target = gram(torch.rand(1, 16, 12, 10))
    leaf = features.clone().requires_grad_()
    (gradient,) = torch.autograd.grad(style_loss(leaf, target, low_precision=True), leaf)
    fp32 = fp32.requires_grad_()
    (reference,) = torch.autograd.grad(style_loss(fp32, target), fp32)
    assert gradient.dtype == torch.bfloat16  # it flows back into the autocast network in its own dtype
    assert (gradient.float() - reference).abs().max() < 0.02 * reference.abs().max()  # 0.010 measured
