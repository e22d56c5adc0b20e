"""Pixel tensors: the one pixel contract, resizing, and tiling.

Everywhere outside vgg.py, images are float32 RGB batches (N, 3, H, W) with values in [0, 1].

Tiling runs a network on overlapping tiles of an image too large for one pass. A tile is computed with
a margin of context at least the network's receptive-field radius and with its origin on the network's
stride grid, so each kept output pixel sees exactly the input it would see in one pass; the output may be
`scale` times the input (super-resolution). Networks with instance normalization also need the statistics
of the whole image imposed on every tile (see nets/norm.py); the caller arranges that around the call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from stylize.errors import ImageError


def fit_longest_side(width: int, height: int, longest: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is `longest`, keeping the aspect ratio."""
    scale = longest / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_to(pixels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a (N, C, H, W) batch to (height, width) with antialiased bicubic filtering, kept in [0, 1]."""
    if tuple(pixels.shape[-2:]) == tuple(size):
        return pixels
    resized = F.interpolate(pixels, size=size, mode="bicubic", align_corners=False, antialias=True)
    return resized.clamp_(0, 1)


def enlarge_bilinear(pixels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """F.interpolate(mode="bilinear", align_corners=False) to `size`, with gradients that repeat exactly.

    On CUDA, interpolate's bilinear backward accumulates with atomic adds, so its gradients differ in the
    last bits from run to run (PyTorch's notes on reproducibility) and an optimization through it ends on a
    different image each time. There the resize is two matrix products, rows @ pixels @ cols.T, whose
    gradients are products too. Elsewhere interpolate is reproducible already, and cheaper: the dense
    matrices cost work in proportion to the side for every pixel.
    """
    if pixels.device.type != "cuda":
        return F.interpolate(pixels, size=size, mode="bilinear", align_corners=False)
    return _bilinear_by_products(pixels, size)


def _bilinear_by_products(pixels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    rows = _bilinear_matrix(pixels.shape[-2], size[0], pixels)
    cols = _bilinear_matrix(pixels.shape[-1], size[1], pixels)
    return rows @ pixels @ cols.T


def _bilinear_matrix(source: int, target: int, like: torch.Tensor) -> torch.Tensor:
    """The (target, source) matrix of 1-D bilinear resampling: interpolate applied to the identity (no
    gradient flows through it), resampled along one axis only (the other keeps its size: weight 1)."""
    eye = torch.eye(source, device=like.device, dtype=like.dtype).view(1, 1, source, source)
    return F.interpolate(eye, size=(target, source), mode="bilinear", align_corners=False)[0, 0]


def pad_to_multiple(pixels: torch.Tensor, multiple: int, min_side: int = 0) -> torch.Tensor:
    """Reflect-pad the bottom and right so both sides are multiples of `multiple` and at least `min_side`
    (replicate when tiny)."""
    height, width = pixels.shape[-2:]
    pad_h = max(min_side - height, (-height) % multiple)
    pad_w = max(min_side - width, (-width) % multiple)
    if not (pad_h or pad_w):
        return pixels
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(pixels, (0, pad_w, 0, pad_h), mode=mode)


# The longest side a long thin image may be raised to so that its shorter side reaches what VGG19 needs: strips up
# to 256:1 for relu5_1 (16 px) work; a narrower one is refused with its size.
MAX_STRIP_SIDE = 4096


def strip_side(height: int, width: int, side: int, minimum: int, purpose: str = "for VGG19") -> int:
    """The longer side to use an image at: `side`, or more for a long thin strip, so that its shorter side keeps
    `minimum` px (what VGG19's deepest layer in use needs). A strip that would need more than MAX_STRIP_SIDE is
    a one-line ImageError naming its size and `purpose`."""
    needed = math.ceil(minimum * max(height, width) / min(height, width))
    if needed <= side:
        return side
    if needed > MAX_STRIP_SIDE:
        raise ImageError(f"a {width}x{height} px image is too narrow {purpose}: its shorter side must be at least "
                         f"1/{MAX_STRIP_SIDE // minimum} of its longer")
    return needed


def resize_longest(pixels: torch.Tensor, longest: int) -> torch.Tensor:
    """Resize a (N, C, H, W) batch so its longer side is `longest`, antialiased when shrinking."""
    height, width = pixels.shape[-2:]
    new_width, new_height = fit_longest_side(width, height, longest)
    return resize_to(pixels, (new_height, new_width))


def check_pixels(value: object, name: str = "image") -> torch.Tensor:
    """A public API's image tensor as a float32 (N, 3, H, W) batch, or a clear TypeError / ValueError (PIL images
    are read by images.as_pixels, which calls this for the rest).

    Accepts (3, H, W) and (N, 3, H, W) tensors of floats in [0, 1], N at least 1; uint8 tensors only if their
    values are 0 and 1 (a 0-255 tensor is a mistake, not an image in [0, 1]).
    """
    if not isinstance(value, torch.Tensor):
        kind = type(value).__name__
        raise TypeError(f"{name} must be a PIL image or a torch tensor (N, 3, H, W) in [0, 1], got {kind}")
    pixels = value.unsqueeze(0) if value.dim() == 3 else value
    if pixels.dim() != 4 or pixels.shape[1] != 3 or pixels.shape[-1] < 1 or pixels.shape[-2] < 1:
        raise ValueError(f"{name} must have shape (N, 3, H, W) or (3, H, W), got {tuple(value.shape)}")
    if pixels.shape[0] == 0:  # the stylizers said "torch.cat(): expected a non-empty list" or warned per layer
        raise ValueError(f"{name} is an empty batch (0 images): give at least one")
    if pixels.dtype == torch.uint8:
        if pixels.numel() and pixels.max().item() > 1:
            raise ValueError(f"{name} is a uint8 tensor with values up to {pixels.max().item()}: stylize takes "
                             "floats in [0, 1] (divide by 255)")
    elif not pixels.is_floating_point():
        raise TypeError(f"{name} must hold floats in [0, 1], got {pixels.dtype}")
    pixels = pixels.float()
    if pixels.numel():
        low, high = pixels.min().item(), pixels.max().item()
        if not (low >= -1e-3 and high <= 1 + 1e-3):  # also false for NaN
            raise ValueError(f"{name} must hold values in [0, 1], got values from {low:g} to {high:g}")
    return pixels.clamp(0, 1)


def check_batch(pixels: torch.Tensor) -> torch.Tensor:
    """An internal (N, 3, H, W) or (3, H, W) float batch, with a ValueError for any other shape."""
    if pixels.dim() == 3:
        pixels = pixels.unsqueeze(0)
    if pixels.dim() != 4 or pixels.shape[1] != 3:
        raise ValueError(f"expected RGB images as an (N, 3, H, W) tensor, got shape {tuple(pixels.shape)}")
    return pixels.float()


@dataclass(frozen=True)
class TileSpec:
    """How a network tiles: scale = output side / input side; margin = input pixels of context a tile
    needs on each side (its receptive-field radius); multiple = the stride grid tile origins stay on."""

    scale: int = 1
    margin: int = 0
    multiple: int = 1

    @property
    def padded_margin(self) -> int:
        """The margin rounded up to the stride grid, so that a tile's input origin stays on it too."""
        return -(-self.margin // self.multiple) * self.multiple

    def min_tile(self) -> int:
        """The smallest tile that still keeps a core of one stride step."""
        return 2 * self.padded_margin + self.multiple


def tile_boxes(height: int, width: int, tile: int, spec: TileSpec) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) input boxes that cover the image once, origins on the stride grid.

    `tile` is the side of a tile including its margins; the cores are what remains, but never less than half
    the tile: near the smallest tile a deep network's context would leave cores of a few pixels (418 tiles of
    4 px for a 150x170 photo at --tile 128 with a style model, 20 s for the arbitrary-style model instead of
    0.2 s), so there a tile grows to at most 1.5 times its side.
    """
    multiple = spec.multiple
    core = max((tile - 2 * spec.padded_margin) // multiple * multiple, -(-max(tile // 2, 1) // multiple) * multiple)
    return [
        (top, min(top + core, height), left, min(left + core, width))
        for top in range(0, height, core)
        for left in range(0, width, core)
    ]


def run_tiled(
    forward: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, tile: int, spec: TileSpec,
    on_tile: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """forward() over tiles of a (1, C, H, W) image, stitched into its (1, C', s*H, s*W) output on the image's
    device (the tiles go wherever forward runs them).

    Equal to forward(image) wherever forward's output depends only on input within `spec.margin` pixels.
    on_tile(done, total) is called before the first tile and after each.
    """
    height, width = image.shape[-2:]
    margin, scale = spec.padded_margin, spec.scale
    output: torch.Tensor | None = None
    boxes = tile_boxes(height, width, tile, spec)
    if on_tile is not None:
        on_tile(0, len(boxes))
    for done, (top, bottom, left, right) in enumerate(boxes, 1):
        y0, x0 = max(0, top - margin), max(0, left - margin)
        y1, x1 = min(height, bottom + margin), min(width, right + margin)
        result = forward(image[..., y0:y1, x0:x1]).float().to(image.device)
        if output is None:
            output = torch.empty(image.shape[0], result.shape[1], height * scale, width * scale, device=image.device)
        output[..., top * scale : bottom * scale, left * scale : right * scale] = result[
            ..., (top - y0) * scale : (bottom - y0) * scale, (left - x0) * scale : (right - x0) * scale
        ]
        if on_tile is not None:
            on_tile(done, len(boxes))
    assert output is not None
    return output


def _cubic(x: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution kernel with a = -0.5, as MATLAB's imresize uses it."""
    absx = x.abs()
    absx2, absx3 = absx**2, absx**3
    return ((1.5 * absx3 - 2.5 * absx2 + 1) * (absx <= 1)
            + (-0.5 * absx3 + 2.5 * absx2 - 4 * absx + 2) * ((absx > 1) & (absx <= 2)))


def _matlab_weights(in_length: int, out_length: int, scale: float) -> torch.Tensor:
    """The (out_length, in_length) matrix of MATLAB imresize's bicubic resampling along one axis."""
    width = 4.0 / scale if scale < 1 else 4.0  # antialiasing: the kernel widens when shrinking
    x = torch.arange(1, out_length + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)  # the input coordinate (1-based) each output pixel maps to
    left = torch.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    indices = left.unsqueeze(1) + torch.arange(taps, dtype=torch.float64).unsqueeze(0)
    distance = u.unsqueeze(1) - indices
    weights = scale * _cubic(distance * scale) if scale < 1 else _cubic(distance)
    weights = weights / weights.sum(dim=1, keepdim=True)
    # Symmetric padding ("mirror with the edge pixel repeated"), as MATLAB does at the borders.
    mirrored = torch.cat([torch.arange(in_length), torch.arange(in_length - 1, -1, -1)])
    columns = mirrored[((indices - 1) % (2 * in_length)).long()]
    matrix = torch.zeros(out_length, in_length, dtype=torch.float64)
    matrix.scatter_add_(1, columns, weights)
    return matrix.float()


def resize_matlab(pixels: torch.Tensor, scale: float) -> torch.Tensor:
    """Resize (N, C, H, W) by `scale` as MATLAB's imresize(..., 'bicubic') does, antialiased when shrinking.

    This is the degradation the super-resolution literature's tables use (Set5, Set14, BSD100: LR images
    made by MATLAB), so training and benchmarks use it rather than PIL's or torch's bicubic, which differ
    at the borders and, for torch without antialiasing, in the kernel. Output sides are ceil(side * scale).
    Not clamped: bicubic overshoots a little at edges, as MATLAB's does before its uint8 rounding.
    """
    height, width = pixels.shape[-2:]
    out_height, out_width = math.ceil(height * scale - 1e-9), math.ceil(width * scale - 1e-9)
    rows = _matlab_weights(height, out_height, scale).to(pixels.device)
    columns = _matlab_weights(width, out_width, scale).to(pixels.device)
    resized = torch.einsum("oh,nchw->ncow", rows, pixels.float())
    return torch.einsum("pw,nchw->nchp", columns, resized)


def quantize(pixels: torch.Tensor) -> torch.Tensor:
    """Round to 8-bit levels in [0, 1], as saving to and reading from an 8-bit file would."""
    return pixels.clamp(0, 1).mul(255).round().div(255)


def box_mean(pixels: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over a (2r+1)^2 window around every pixel, the borders mirrored."""
    if radius <= 0:
        return pixels
    padded = F.pad(pixels, (radius, radius, radius, radius), mode="replicate")
    return F.avg_pool2d(padded, 2 * radius + 1, stride=1)


def guided_coefficients(guide: torch.Tensor, target: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """The guided filter's local linear model (He, Sun & Tang 2013): in every window target ~ a * guide + b.

    guide (N, 1, h, w), target (N, C, h, w) -> (N, 2C, h, w): the window-averaged a (first C channels)
    and b. eps is the ridge that keeps a small where the guide is flat (so flat areas just smooth).
    """
    mean_guide, mean_target = box_mean(guide, radius), box_mean(target, radius)
    covariance = box_mean(guide * target, radius) - mean_guide * mean_target
    variance = box_mean(guide * guide, radius) - mean_guide**2
    a = covariance / (variance + eps)
    b = mean_target - a * mean_guide
    return torch.cat([box_mean(a, radius), box_mean(b, radius)], dim=1)


def sample_bilinear(low: torch.Tensor, top: int, bottom: int, width: int, height: int) -> torch.Tensor:
    """Rows [top, bottom) of `low` (N, C, h, w) upsampled bilinearly to (height, width), computed for those
    rows only (the same values as upsampling the whole map, with align_corners=False)."""
    n = low.shape[0]
    ys = (torch.arange(top, bottom, dtype=torch.float32, device=low.device) + 0.5) / height * 2 - 1
    xs = (torch.arange(width, dtype=torch.float32, device=low.device) + 0.5) / width * 2 - 1
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).expand(n, -1, -1, -1)
    return F.grid_sample(low, grid.to(low.dtype), mode="bilinear", padding_mode="border", align_corners=False)


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """A separable Gaussian blur of an (N, C, H, W) batch, the kernel cut at 3 sigma, borders replicated."""
    if sigma <= 0:
        return image
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = int(image.shape[1])  # a constant when traced for ONNX (export.py): the kernel's shape must be known
    padded = F.pad(image, (radius, radius, radius, radius), mode="replicate")
    horizontal = F.conv2d(padded, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(horizontal, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


# remove_periodic's defaults, measured with benchmarks/arbitrary_grid.py's measure on the shipped decoders (6
# held-out photos, their plain relu4_1 reconstructions: 22.85 dB, grid 1.50): windows of 5, 7 and 11 cells all
# raised the PSNR (23.30, 23.29, 23.26) and took the grid to about 1.05; 7 cells keep the window local (56 px at
# period 8) where the pattern's strength changes across a picture. The high-pass's sigma of 3 px (2 px: the
# same within 0.01 dB) passes 94 % of a period of 8 px and removes every linear ramp.
PERIODIC_CELLS = 7
PERIODIC_SIGMA = 3.0


def periodic_radius(period: int, cells: int = PERIODIC_CELLS, sigma: float = PERIODIC_SIGMA) -> int:
    """Input pixels an output pixel of remove_periodic depends on, each side."""
    return math.ceil(3 * sigma) + (cells // 2 + 1) * period


def remove_periodic(pixels: torch.Tensor, period: int, cells: int = PERIODIC_CELLS,
                    sigma: float = PERIODIC_SIGMA) -> torch.Tensor:
    """An (N, C, H, W) picture, sides multiples of `period`, less its local pattern of that period.

    A local comb notch filter (periodic noise reduction, Gonzalez & Woods, "Digital Image Processing", 3rd ed.
    2008, Sec. 5.4), computed in space so that it tiles: the picture is high-passed (its Gaussian blur
    subtracted, which leaves no ramps nor smooth shading), and at each of the period x period phases of the
    grid the pattern is the mean of that phase over the `cells` x `cells` neighbouring cells, less the mean over
    all phases. Content that is not locked to the grid averages out; a pattern that repeats in every cell stays
    and is subtracted. Runs in fp32 whatever autocast is active.
    """
    with torch.autocast(pixels.device.type, enabled=False):
        pixels = pixels.float()
        detail = pixels - gaussian_blur(pixels, sigma)
        phases = F.pixel_unshuffle(detail, period)  # (N, C * period^2, H / period, W / period)
        local = F.avg_pool2d(phases, cells, stride=1, padding=cells // 2, count_include_pad=False)
        n, channels, height, width = local.shape
        local = local.reshape(n, pixels.shape[1], period * period, height, width)
        pattern = (local - local.mean(dim=2, keepdim=True)).reshape(n, channels, height, width)
        return pixels - F.pixel_shuffle(pattern, period)
