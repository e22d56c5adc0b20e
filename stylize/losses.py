"""Perceptual losses as pure functions, with one normalization for all of them.

Every loss is a mean over pixels (or Gram entries) and the feature losses are relative to their target's
energy, so the same weights work at any image size and for any choice of VGG layer. This deliberately
differs from Gatys et al. (2016), whose 1/(4 N^2 M^2) factor makes the right style weight depend on the
image size and on each layer's width; the anchors' default weights differ by orders of magnitude for that
reason. Default weights live in config.py next to this contract.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

_EPS = 1e-8


class _Gram(torch.autograd.Function):
    """F^T F for F (N, positions, C) with a one-product backward: the gradient F (dG + dG^T) uses the symmetry
    that autograd's bmm backward (two products) ignores. The Gram products are the main cost of a transfer
    step beyond the network itself, so this takes a third off that cost.

    The product runs in the rows' own dtype, outside autocast, and comes back as fp32. Rows in bf16 (only
    when a caller asks for low-precision Grams) are multiplied exactly, since the products of two bf16 values
    fit in fp32, and summed in fp32 by the CPU's and cuBLAS's bf16 kernels; only the result is rounded to bf16.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, rows: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(rows)
        with torch.autocast(rows.device.type, enabled=False):
            product = torch.bmm(rows.transpose(1, 2), rows)
        return product.to(torch.promote_types(product.dtype, torch.float32))  # bf16 -> fp32; fp64 stays

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        (rows,) = ctx.saved_tensors
        symmetric = (grad + grad.transpose(1, 2)).to(rows.dtype)
        with torch.autocast(rows.device.type, enabled=False):
            if rows.transpose(1, 2).is_contiguous():  # stored channels-major: give the gradient the same layout
                return torch.bmm(symmetric, rows.transpose(1, 2)).transpose(1, 2)
            return torch.bmm(rows, symmetric)


def _gram_sum(features: torch.Tensor, low_precision: bool = False) -> torch.Tensor:
    """Sum over positions of f f^T: (N, C, H, W) -> (N, C, C), returned in fp32. The product is taken in
    fp32 unless `low_precision` lets bf16 features be multiplied as they are (see _Gram).

    The product reads the features as (N, positions, C) in whichever layout they are stored, a free view
    either way (BLAS takes either operand transposed), and gives the gradient back in that layout. Flattening
    a channels_last tensor (the layout the networks run in, device.memory_format) to (N, C, positions)
    instead copies it, and its gradient then comes back in the other layout, so adding it to the network's
    own gradient is a strided copy too. A full-size optimization step at 512x380 on a 2-core CPU took 1.70 s
    that way and takes 1.59 s this way, and `stylize run` writes the same image to the bit.
    """
    n, c, h, w = features.shape
    if not (low_precision and features.dtype == torch.bfloat16):
        features = features.float()
    if features.is_contiguous():
        return _Gram.apply(features.reshape(n, c, h * w).transpose(1, 2))
    return _Gram.apply(features.permute(0, 2, 3, 1).reshape(n, h * w, c))


def gram(features: torch.Tensor, low_precision: bool = False) -> torch.Tensor:
    """Gram matrices (N, C, C) of features (N, C, H, W), averaged over positions, in fp32.

    Dividing by H*W (not C*H*W) makes the result a spatial mean: the same texture gives the same matrix at
    any image size, and the entries keep the scale of the activations. `low_precision` takes the product of
    bf16 features in bf16 (fp32 sums, the result rounded to bf16's 8 bits); every caller but the
    optimization's opt-in (GatysTransfer with bf16) leaves it off.
    """
    return _gram_sum(features, low_precision) / (features.shape[-2] * features.shape[-1])


def guided_gram(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Gram matrices (N, C, C) of the features inside a soft mask (Gatys et al. 2017, "Controlling Perceptual
    Factors in Neural Style Transfer", guided Gram matrices).

    The (N, 1, h, w) mask is area-averaged down to the layer's size (the paper's simplest propagation of
    the guidance channel), the features are weighted by it, and the sum is divided by the mask's weight
    (sum of m^2) instead of H*W: a masked-mean, so a small region gets the same statistics, and so the same
    loss scale, as a whole image with that texture (the paper normalizes by the full size instead).
    """
    n, _, h, w = features.shape
    weights = F.adaptive_avg_pool2d(mask.float(), (h, w))
    return _gram_sum(features.float() * weights) / (weights.pow(2).sum(dim=(1, 2, 3)).view(n, 1, 1) + _EPS)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared feature error relative to the target's energy: 0 when equal, about 1 for unrelated images."""
    dims = tuple(range(1, features.dim()))
    error = (features.float() - target.float()).pow(2).mean(dim=dims)
    return (error / (target.float().pow(2).mean(dim=dims) + _EPS)).mean()


def style_loss(features: torch.Tensor, target_gram: torch.Tensor, mask: torch.Tensor | None = None,
               low_precision: bool = False) -> torch.Tensor:
    """Squared Gram error relative to the target Gram's energy; target_gram is (C, C) or (N, C, C).

    With a mask, the Gram of the features is taken inside it (guided_gram, always fp32). `low_precision` as
    in gram().
    """
    current = gram(features, low_precision) if mask is None else guided_gram(features, mask)
    error = (current - target_gram).pow(2).sum(dim=(-2, -1))
    return (error / (target_gram.pow(2).sum(dim=(-2, -1)) + _EPS)).mean()


def tv_loss(pixels: torch.Tensor) -> torch.Tensor:
    """Total variation: mean squared difference between neighbouring pixels (values in [0, 1])."""
    dx = (pixels[..., :, 1:] - pixels[..., :, :-1]).pow(2).mean()
    dy = (pixels[..., 1:, :] - pixels[..., :-1, :]).pow(2).mean()
    return dx + dy


def range_loss(pixels: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of pixel values outside [0, 1] to the range; 0 for any image in range."""
    return (pixels - pixels.clamp(0, 1)).pow(2).mean()


def blend_grams(grams: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float]) -> dict[str, torch.Tensor]:
    """One target per layer from several styles: the weighted mean of their Gram matrices."""
    total = float(sum(weights))
    return {layer: sum(w / total * g[layer] for w, g in zip(weights, grams, strict=True)) for layer in grams[0]}


def perceptual_losses(
    features: Mapping[str, torch.Tensor],
    content_targets: Mapping[str, torch.Tensor],
    style_targets: Mapping[str, torch.Tensor] | Sequence[Mapping[str, torch.Tensor]],
    masks: Sequence[torch.Tensor] | None = None,
    low_precision_grams: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(content, style) losses, each the mean over its layers so that adding a layer keeps the balance.

    With masks, style_targets holds one target per mask (region): the style loss is the mean over regions
    of each region's guided style loss, so every region gets its own style in full whatever its size.
    `low_precision_grams` as in gram().
    """
    content = torch.stack([content_loss(features[k], t) for k, t in content_targets.items()]).mean()
    if masks is None:
        style = torch.stack([style_loss(features[k], t, low_precision=low_precision_grams)
                             for k, t in style_targets.items()]).mean()
        return content, style
    regions = [
        torch.stack([style_loss(features[k], t, mask) for k, t in targets.items()]).mean()
        for targets, mask in zip(style_targets, masks, strict=True)
    ]
    return content, torch.stack(regions).mean()
