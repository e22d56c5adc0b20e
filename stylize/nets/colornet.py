"""Automatic colorization: a distribution over a*b* colours predicted from VGG19 hypercolumns of the gray photo.

Larsson, Maire & Shakhnarovich 2016 ("Learning Representations for Automatic Colorization") showed that the
features of an ImageNet network, taken at several depths for every pixel (a hypercolumn), predict colour
well, and that predicting a histogram of colours rather than one colour keeps the result from the gray-brown
average that a regression pulls every uncertain pixel to. Here the network is the head on top of the bundled
VGG19 (relu3_1, relu4_1 and relu5_1, upsampled to relu3_1's quarter resolution, plus the lightness):
- 1x1 reductions of each layer, and the whole photo's mean relu5_1 broadcast to every position: the global
  "fusion" of Iizuka, Simo-Serra & Ishikawa 2016 ("Let there be Color!"), so a scene's kind (indoor, dusk,
  snow) informs every pixel;
- three layers on each position's hypercolumn alone (1x1 convolutions), as Larsson et al.'s head is: VGG19's
  deep layers already see much of the photo. Earlier models, whose files record no `spatial`, used three 3x3
  convolutions dilated 1, 2 and 4 (the dilated layers of Zhang et al. 2016) and still load (spatial 1). With a
  third of the weights (a ninth of the body's) the per-position head scored a little better on the held-out
  photos (9.87 / 0.53 against 9.93 / 0.51) and steadier across training seeds (issue 31,
  docs/colorize-automatic.md);
- logits over the quantized a*b* cells of colorspace.ab_bins (Zhang, Isola & Efros 2016, "Colorful Image
  Colorization"), trained with their class-rebalanced cross-entropy (tasks/colorize.py);
- the readout is their annealed mean: the mean colour of the distribution sharpened by a temperature
  (0.38 theirs): the mean alone is the gray average again, the mode is patchy. Before it, the logits are
  adjusted by the training photos' colour prior (Menon et al. 2021, "Long-tail learning via logit
  adjustment"): common colours, the dull ones, count a little less.
The VGG19 itself is not part of the model file: the task computes the features with the bundled weights.
The bin centres, the temperature and the training photos' colour prior are buffers, stored in the file.

Attribute names are the on-disk format of model files: do not rename them.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from stylize.colorspace import ab_bins

FEATURE_LAYERS = {"relu3_1": 256, "relu4_1": 512, "relu5_1": 512}
# Zhang et al. 2016, section 2.1: T = 0.38 "captures the vibrancy of the mode while maintaining the spatial
# coherence of the mean".
ANNEALED_TEMPERATURE = 0.38
# Zhang et al. 2016, section 2.1: colours are soft-encoded over the cells with a Gaussian of sigma 5 in a*b*, and
# the prior (section 2.2) is smoothed by the same Gaussian.
SOFT_SIGMA = 5.0
# Menon et al. 2021, post-hoc logit adjustment: logits - tau log(prior). A network trained without rebalancing
# (colorize-auto) leans to the common, dull colours; tau undoes a little of that at no cost in accuracy. On the 26
# held-out colour photos (benchmarks/colorize_quality.py), with the 3x3 head, tau 0.1 kept CIEDE2000 at 9.93 and
# raised the colourfulness from 0.47 to 0.51 of the true photos'; 0.2 gave 9.96 / 0.56, 0.35 10.26 / 0.65 (issue 31). On
# another draw of the same recipe (seed 1) tau 0.1 gave 10.33 / 0.46 against 10.32 / 0.42. A lower temperature
# instead (0.1 to 0.3) does not colour more: the distributions' modes are dull cells.
PRIOR_ADJUSTMENT = 0.1
# Cells no training colour came near (the smoothed prior falls to 1e-29) are floored here, so that their boost
# stays within tau * 18 logits. The floor hardly matters: the raw prior floored at 1e-6 scored the same.
PRIOR_FLOOR = 1e-8
# Skin (issue 31, people first): hues (degrees from +a* towards +b*) and chromas chosen around the faces of the
# training photos of people (the astronaut's true face: hue 62). 7 % of all training pixels fall in it, mostly wood,
# sand and dry grass outside the photos of people: weighted in every photo it turned every photo sepia, so
# `stylize train --people` weighs it in the listed photos only (tasks/colorize.py; docs/colorize-automatic.md).
SKIN_HUES = (35.0, 68.0)
SKIN_CHROMAS = (10.0, 40.0)
# SkinBlend: the skin network's colours count from none where it puts SKIN_MASS[0] of its distribution on skin
# cells to all at SKIN_MASS[1]. Chosen on every eighth training photo (32): 0.2-0.5 cost 0.09 of CIEDE2000 there
# against the general network alone (0.1-0.4: 0.15; the skin network alone: 0.34) and 0.04 on the 26 held-out
# photos, and turned the astronaut's face (never trained on) from hue 86 to 74 (true: 62).
SKIN_MASS = (0.2, 0.5)


class ColorNet(nn.Module):
    """features {relu3_1, relu4_1, relu5_1} of the gray photo and its lightness (N, 1, h, w) in [0, 1] at
    relu3_1's grid -> logits (N, Q, h, w) over the a*b* cells; `chroma` reads them out in a*, b* units."""

    architecture: ClassVar[str] = "colorhist"
    ARGUMENT_LIMITS: ClassVar[dict[str, tuple[int, int]]] = {"width": (8, 256), "spatial": (0, 1)}
    ARGUMENT_DEFAULTS: ClassVar[dict[str, int]] = {"spatial": 1}  # files from before the argument: the 3x3 body
    scale: ClassVar[int] = 1
    size_multiple: ClassVar[int] = 16

    def __init__(self, width: int = 64, spatial: int = 0) -> None:
        """spatial: 0 for the per-position body, 1 for the dilated 3x3 body of earlier files."""
        super().__init__()
        self.width, self.spatial = width, spatial
        bins = ab_bins()
        self.reduce = nn.ModuleDict({name: nn.Conv2d(channels, width, 1) for name, channels in FEATURE_LAYERS.items()})
        self.scene = nn.Linear(FEATURE_LAYERS["relu5_1"], width)
        kernel = 3 if spatial else 1  # a 1x1 convolution ignores its dilation
        self.body = nn.Sequential(
            nn.Conv2d(4 * width + 1, width, kernel, padding=spatial), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, kernel, padding=2 * spatial, dilation=2), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, kernel, padding=4 * spatial, dilation=4), nn.ReLU(inplace=True),
        )
        self.out = nn.Conv2d(width, len(bins), 1)
        # Start from a uniform distribution (zero logits): no colour is preferred until the photos teach one.
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.register_buffer("bins", bins)
        self.register_buffer("temperature", torch.tensor(ANNEALED_TEMPERATURE))
        # The training photos' distribution over the cells (zeros until the first batch): class rebalancing.
        self.register_buffer("prior", torch.zeros(len(bins)))

    def arguments(self) -> dict[str, int]:
        return {"width": self.width, "spatial": self.spatial}

    def receptive_radius(self) -> int:
        """Not tiled (the task works at a bounded size); the deepest feature sees most of the image."""
        return 256

    def forward(self, features: dict[str, torch.Tensor], lightness: torch.Tensor) -> torch.Tensor:
        grid = lightness.shape[-2:]
        columns = [lightness]
        for name, reduce in self.reduce.items():
            # Centred and scaled per position (a layer norm over channels): raw VGG19 activations reach the
            # hundreds, which swamp the lightness and make the first steps erratic.
            level = _per_position_norm(features[name].float())
            if name == "relu5_1":
                scene = self.scene(level.mean(dim=(2, 3)))
            if level.shape[-2:] != grid:
                level = F.interpolate(level, size=grid, mode="bilinear", align_corners=False)
            columns.append(reduce(level))
        columns.append(scene[:, :, None, None].expand(-1, -1, *grid))
        return self.out(self.body(torch.cat(columns, dim=1)))

    def chroma(self, features: dict[str, torch.Tensor], lightness: torch.Tensor) -> torch.Tensor:
        """The annealed mean (N, 2, h, w) in a*, b* of the predicted distribution, adjusted by the prior."""
        logits = self(features, lightness).float() + self.prior_adjustment()[:, None, None]
        return annealed_mean(logits, self.bins, float(self.temperature))

    def prior_adjustment(self) -> torch.Tensor:
        """(Q,) -PRIOR_ADJUSTMENT log(smoothed prior); zeros before the prior is known (the first batch)."""
        if float(self.prior.sum()) <= 0:
            return torch.zeros_like(self.prior)
        return -PRIOR_ADJUSTMENT * torch.log(smoothed_prior(self.prior, self.bins).clamp_min(PRIOR_FLOOR))


def smoothing_kernel(bins: torch.Tensor) -> torch.Tensor:
    """(Q, Q) row-normalized Gaussian of sigma SOFT_SIGMA between the cells: `prior @ kernel` spreads each cell's
    mass over its neighbours (Zhang et al. 2016, section 2.2)."""
    spread = torch.exp(-torch.cdist(bins, bins) ** 2 / (2 * SOFT_SIGMA**2))
    return spread / spread.sum(dim=1, keepdim=True)


def smoothed_prior(prior: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """The prior over the cells (any scale) as a distribution, smoothed by smoothing_kernel."""
    return (prior / prior.sum()) @ smoothing_kernel(bins)


def annealed_mean(logits: torch.Tensor, bins: torch.Tensor, temperature: float) -> torch.Tensor:
    """Zhang et al. 2016, eq. 5: softmax(log p / T) (= softmax(logits / T)) averaged over the bin centres."""
    sharpened = torch.softmax(logits.float() / temperature, dim=1)
    return torch.einsum("nqhw,qc->nchw", sharpened, bins.to(sharpened))


def _per_position_norm(level: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(level.movedim(1, -1), level.shape[1:2]).movedim(-1, 1)


def is_skin(ab: torch.Tensor) -> torch.Tensor:
    """(..., 2) a*, b* -> (...) bool: a skin hue (SKIN_HUES) and chroma (SKIN_CHROMAS)."""
    hue = torch.rad2deg(torch.atan2(ab[..., 1], ab[..., 0]))
    size = ab.norm(dim=-1)
    return (hue >= SKIN_HUES[0]) & (hue <= SKIN_HUES[1]) & (size >= SKIN_CHROMAS[0]) & (size <= SKIN_CHROMAS[1])


class SkinBlend(nn.Module):
    """Two automatic colorizers read as one: the general network's colours (colorize-auto) everywhere, the skin
    network's (colorize-portrait, trained with the skin of its photos of people weighted up) where it is sure of
    skin: by the mass its distribution puts on skin cells, SKIN_MASS. The skin network alone gives faces natural
    tones and everything else a warmer cast; blended, the faces keep most of their tone and the rest the general
    network's colours (issue 31)."""

    def __init__(self, general: ColorNet, skin: ColorNet) -> None:
        super().__init__()
        self.general, self.skin = general, skin

    def chroma(self, features: dict[str, torch.Tensor], lightness: torch.Tensor) -> torch.Tensor:
        general = self.general.chroma(features, lightness)
        logits = self.skin(features, lightness).float() + self.skin.prior_adjustment()[:, None, None]
        skin = annealed_mean(logits, self.skin.bins, float(self.skin.temperature))  # as self.skin.chroma reads it
        cells = is_skin(self.skin.bins).to(logits)
        mass = torch.einsum("nqhw,q->nhw", torch.softmax(logits, dim=1), cells)[:, None]
        share = ((mass - SKIN_MASS[0]) / (SKIN_MASS[1] - SKIN_MASS[0])).clamp(0, 1)
        return general + share * (skin - general)
