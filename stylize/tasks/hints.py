"""Colour hints for colorize: a colour the user knows, at a point of the photo, spread to the parts that look alike.

An old family photo holds colours no network and no reference can know (her dress was blue, the car red), and
a face the automatic colorizer leaves yellow is mended by one point of skin. A hint is a point and a colour,
laid over the colours the network or the references gave, as Zhang et al. 2017 ("Real-Time User-Guided Image
Colorization with Learned Deep Priors") take sparse user points over a network's guess. It spreads over the
match grid as Levin, Lischinski & Weiss 2004 ("Colorization using Optimization") spread a scribble: along ties
between neighbouring positions, strong where their lightness and their VGG19 features (those the reference mode
matches) are alike, weak across an object's outline; and it fades with distance, so that it fills its own
object and stops at its edges (a screened Poisson equation, solved by conjugate gradients). Where hints
overlap, their colours are averaged by their reach. Only the chroma (a*, b*) of the hint's colour is used: the
lightness is always the photo's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import ImageColor

from stylize.colorspace import rgb_to_lab
from stylize.errors import ConfigError

# The constants below were chosen on every eighth training photo with simulated hints (`python
# benchmarks/colorize_quality.py --hints training`: mean CIEDE2000 with 0, 1, 3 and 10 hints 8.53, 8.10, 7.65 and
# 6.25), never on the held-out photos, and by eye on two portraits (examples/hints.jpg: a point on a cheek colours
# the face and little of the hair; one on a flag's red stripe colours the stripes more than the white between them).
# How strongly neighbouring positions are tied by their features: exp((cosine - 1) / HINT_TEMPERATURE). 0.1 held
# a hint back (8.27, 7.97, 6.84); 0.3 scored about the same (8.03, 7.54, 6.18) and carried a cheek's skin further
# into the hair.
HINT_TEMPERATURE = 0.2
# ... and by their lightness, exp(-dL^2 / (2 HINT_LIGHTNESS_SIGMA^2)), L in units of L*/100, as Levin et al. 2004
# tie pixels of like luminance: 0.03 stopped at shading (8.21, 7.82, 6.57 at a reach of 0.3); 0.1 scored alike
# (8.06, 7.62, 6.40) and spread a flag's red over its white stripes.
HINT_LIGHTNESS_SIGMA = 0.06
# How far a hint carries where nothing stops it, as a fraction of the photo's longest side (the decay of the
# screened Poisson equation, _diffuse): 0.2 coloured less of a face (8.25, 7.88, 6.63). In a first version of the
# ties (the lightness subtracted as the reference mode does, no gain), 0.8 and 1.6 scored worse with ten hints than
# 0.4 (7.70 and 8.22 against 6.90): a hint that reaches everything averages with all the others.
HINT_REACH = 0.3
# The diffusion's value falls steeply around a point (in two dimensions, as a logarithm): times HINT_GAIN, capped
# at 1, so that a hint colours its object and not only its own few pixels. On the astronaut, a point of skin on a
# cheek moved the face's mean a* from the automatic 1.3 to 6.6 with a gain of 1 and to 13.7 with 3 (the true face:
# 9.1; its hue 70 and 58 degrees against the true 61); 4 scored alike (8.20, 7.79, 6.45 at a reach of 0.2, against
# 3's 8.25, 7.88, 6.63).
HINT_GAIN = 3.0
# Hints one photo may carry: each is one map of the diffusion (at the largest working size, 512 x 512 floats a
# map, several times over), and a user places a handful.
MAX_HINTS = 64
# The longest side of the grid the spread is solved on (the match grid at the default --working-size, 384, is 96).
HINT_GRID = 128


@dataclass(frozen=True)
class ColorHint:
    """A colour at a point: x, y in pixels of the photo (from its top left corner, as an image viewer shows
    them), or fractions of its width and height (relative=True); colour as sRGB 0-255."""

    x: float
    y: float
    colour: tuple[int, int, int]
    relative: bool = False

    @classmethod
    def parse(cls, text: str) -> ColorHint:
        """'X,Y,COLOUR': X and Y in pixels (412,230) or in per cent of the width and height (52%,30%); the
        colour as a CSS name (tan), #RRGGBB or rgb(R, G, B)."""
        parts = text.split(",", 2)
        if len(parts) != 3:
            raise ConfigError(f"hint {text!r}: give X,Y,COLOUR, e.g. 412,230,tan or 52%,30%,#c08060")
        x_text, y_text, colour_text = (part.strip() for part in parts)
        relative = x_text.endswith("%") and y_text.endswith("%")
        if x_text.endswith("%") != y_text.endswith("%"):
            raise ConfigError(f"hint {text!r}: give both X and Y in pixels, or both in per cent")
        try:
            x, y = (float(value.rstrip("%")) for value in (x_text, y_text))
        except ValueError:
            raise ConfigError(f"hint {text!r}: X and Y are numbers (pixels, or per cent with %)") from None
        if not (math.isfinite(x) and math.isfinite(y)) or x < 0 or y < 0 or (relative and max(x, y) > 100):
            raise ConfigError(f"hint {text!r}: X and Y lie in the photo (pixels from its top left corner, or 0% "
                              "to 100%)")
        try:
            colour = ImageColor.getrgb(colour_text)
        except ValueError:
            raise ConfigError(f"hint {text!r}: {colour_text!r} is not a colour (a name such as tan, #RRGGBB or "
                              "rgb(R, G, B))") from None
        red, green, blue = colour[:3]
        return cls(x / 100 if relative else x, y / 100 if relative else y, (red, green, blue), relative)

    def text(self) -> str:
        """As `--hint` takes it (parse(text()) gives the hint back, to the per cent's sixth digit)."""
        colour = "#" + bytes(self.colour).hex()
        if self.relative:
            return f"{100 * self.x:.6g}%,{100 * self.y:.6g}%,{colour}"
        return f"{self.x:g},{self.y:g},{colour}"

    def fractions(self, height: int, width: int) -> tuple[float, float]:
        """The point as fractions (x, y) of a photo of this size (a pixel's centre); a ConfigError when it lies
        outside."""
        if self.relative:
            return min(self.x, 1.0), min(self.y, 1.0)
        if self.x >= width or self.y >= height:
            raise ConfigError(f"the hint at {self.x:g},{self.y:g} lies outside the photo ({width}x{height} pixels)")
        return (self.x + 0.5) / width, (self.y + 0.5) / height

    def chroma(self) -> torch.Tensor:
        """The colour's a*, b* (CIE Lab, D65), shape (2,)."""
        pixel = torch.tensor(self.colour, dtype=torch.float64).view(1, 3, 1, 1) / 255
        return rgb_to_lab(pixel)[0, 1:, 0, 0].float()


def spread_hints(chroma: torch.Tensor, features: torch.Tensor, lightness: torch.Tensor,
                 hints: Sequence[ColorHint], size: tuple[int, int]) -> torch.Tensor:
    """The chroma map (1, 2, h, w) with the hints' colours spread over it.

    features: the matching features (h*w, dims), unit length per position (colorize.flatten_features);
    lightness: (1, 1, h, w) in L*/100; size: the photo's (height, width), which pixel hints refer to.
    """
    if not hints:
        return chroma
    if len(hints) > MAX_HINTS:
        raise ConfigError(f"{len(hints)} hints: at most {MAX_HINTS} a photo")
    grid_h, grid_w = chroma.shape[-2:]
    # The spread is solved on a grid of at most HINT_GRID positions a side: the guided filter brings the chroma to
    # the photo's edges afterwards, and a larger --working-size made the solve hundreds of times slower.
    shrink = min(1.0, HINT_GRID / max(grid_h, grid_w))
    solve_h, solve_w = max(1, round(grid_h * shrink)), max(1, round(grid_w * shrink))
    maps = features.float().T.reshape(1, -1, grid_h, grid_w)
    light = lightness.float()
    if (solve_h, solve_w) != (grid_h, grid_w):
        maps = F.normalize(F.adaptive_avg_pool2d(maps, (solve_h, solve_w)), dim=1)
        light = F.adaptive_avg_pool2d(light, (solve_h, solve_w))
    sources = torch.zeros(len(hints), solve_h, solve_w, device=chroma.device)
    for index, hint in enumerate(hints):
        x, y = hint.fractions(*size)
        sources[index, min(int(y * solve_h), solve_h - 1), min(int(x * solve_w), solve_w - 1)] = 1
    across, down = _edge_weights(maps[0].permute(1, 2, 0), light[0, 0])
    reach = _diffuse(sources, across, down, 1 / (HINT_REACH * max(solve_h, solve_w)) ** 2)  # (K, h, w), 1 at its hint
    if (solve_h, solve_w) != (grid_h, grid_w):
        reach = F.interpolate(reach[None], size=(grid_h, grid_w), mode="bilinear", align_corners=False)[0]
    colours = torch.stack([hint.chroma() for hint in hints]).to(chroma.device).view(-1, 2, 1, 1)
    hinted = (reach[:, None] * colours).sum(0) / reach.sum(0).clamp(min=1e-12)
    covered = 1 - (1 - (HINT_GAIN * reach).clamp(0, 1)).prod(0)  # 1 at a hint, falling off as its reach does
    return (covered * hinted + (1 - covered) * chroma[0]).unsqueeze(0).to(chroma.dtype)


def _edge_weights(features: torch.Tensor, lightness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """How strongly each position is tied to its right and lower neighbours: by the cosine of their features,
    exp((cosine - 1) / HINT_TEMPERATURE), and by their lightness difference, exp(-dL^2 / (2 sigma^2)) as in
    Levin et al. 2004."""
    def weight(first: torch.Tensor, second: torch.Tensor, light_first: torch.Tensor, light_second: torch.Tensor
               ) -> torch.Tensor:
        alike = torch.exp(((first * second).sum(-1).clamp(max=1) - 1) / HINT_TEMPERATURE)
        return alike * torch.exp(-((light_first - light_second) ** 2) / (2 * HINT_LIGHTNESS_SIGMA**2))

    across = weight(features[:, :-1], features[:, 1:], lightness[:, :-1], lightness[:, 1:])
    down = weight(features[:-1], features[1:], lightness[:-1], lightness[1:])
    return across, down


def _diffuse(sources: torch.Tensor, across: torch.Tensor, down: torch.Tensor, decay: float,
             iterations: int = 500, tolerance: float = 1e-4) -> torch.Tensor:
    """For each source map (K, h, w) of one hint, u = 1 at the hint and (Laplacian + decay) u = 0 elsewhere: a
    screened Poisson equation on the grid whose edges are weighted by `across` and `down` (as Grady 2006's
    random walker, with a walk that may stop at every step). u falls off with the distance along strong edges
    and stops at weak ones: a hint fills its object. Solved by conjugate gradients, all hints at once."""
    free = 1 - sources

    def laplacian(u: torch.Tensor) -> torch.Tensor:
        out = decay * u
        flow = across * (u[..., :, :-1] - u[..., :, 1:])
        out[..., :, :-1] += flow
        out[..., :, 1:] -= flow
        flow = down * (u[..., :-1, :] - u[..., 1:, :])
        out[..., :-1, :] += flow
        out[..., 1:, :] -= flow
        return out

    def system(u: torch.Tensor) -> torch.Tensor:  # the equations of the free positions, the hint's value fixed
        return free * laplacian(free * u)

    solution = torch.zeros_like(sources)
    residual = -free * laplacian(sources)
    direction = residual.clone()
    energy = (residual * residual).sum(dim=(1, 2))
    start = energy.clamp(min=1e-30)
    for _ in range(iterations):
        if bool((energy <= tolerance**2 * start).all()):
            break
        product = system(direction)
        step = energy / (direction * product).sum(dim=(1, 2)).clamp(min=1e-30)
        solution += step.view(-1, 1, 1) * direction
        residual -= step.view(-1, 1, 1) * product
        new_energy = (residual * residual).sum(dim=(1, 2))
        direction = residual + (new_energy / energy.clamp(min=1e-30)).view(-1, 1, 1) * direction
        energy = new_energy
    return solution + sources
