"""Colorization of black-and-white photos from colour references, through matched VGG19 features.

The method, in the line of deep exemplar-based colorization (He et al. 2018, "Deep Exemplar-based
Colorization") but without a trained network, only the bundled VGG19:
1. The photo's lightness (CIE L*) is kept exactly; only chroma (a*, b*) is predicted. A colour input (a
   sepia scan, a colour photo) is reduced to its lightness first.
2. Gray versions of the photo and of the references are described by VGG19 features at relu3_1, relu4_1
   and relu5_1, centred and normalized per position (cosine similarity), at a quarter of a bounded working
   size; the deeper layers, upsampled, make the match semantic, relu3_1 keeps it local.
3. Every position of the photo takes the chroma of its matches: a softmax over the similarities of all
   reference positions (a soft nearest neighbour, as in the correlation layer of Zhang et al. 2019,
   "Deep Exemplar-based Video Colorization"), with a penalty on lightness differences in the spirit of
   Welsh et al. 2002 (a sky matches a sky, not a white wall in shadow).
4. Where no match is confident, chroma comes from the confident neighbours (normalized convolution,
   Knutsson & Westin 1993) and, failing those, from the references' average colour.
5. The coarse chroma is brought to full resolution by the guided filter's linear model (He et al. 2013;
   applied to upsampling as the fast guided filter of He & Sun 2015): chroma edges follow the photo's
   luminance edges, so colours do not bleed across them.
6. The chroma is scaled down per pixel just enough to stay in the sRGB gamut, so the lightness stays the
   photo's (colorspace.lab_to_rgb_in_gamut).
Colours the user knows at points of the photo (`--hint`, tasks/hints.py) are spread over the chroma at the match
grid, before step 5.
Without a reference, a small network trained with `stylize train --task colorize` predicts a distribution
over a*b* colours from the same VGG19 features, read out as its annealed mean (nets/colornet.py, after
Zhang, Isola & Efros 2016); steps 5 and 6 are the same. It learns from colour photos whose lightness is aged
as an old print's (degrade.py), so grain, blur, fading and toning do not throw it. By default two such networks
are read as one (nets/colornet.py's SkinBlend): colorize-auto, and colorize-portrait (trained with the skin of its
photos of people weighted up, `--people`) where that one is sure of skin.
Large photos are matched at the working size and only the final linear step runs at full resolution, in
bands of rows: memory stays bounded for any size.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from stylize.batch import Job, Output
from stylize.colorspace import gray_rgb, lab_to_rgb_in_gamut, rgb_to_lab
from stylize.config import ColorizeConfig, ColorizeTrainConfig
from stylize.degrade import old_print
from stylize.device import accelerated, memory_format, resolve_device
from stylize.errors import ConfigError, DataError, ImageError
from stylize.images import IMAGE_EXTENSIONS, ImageInput, LoadedImage, as_pixels, load_image, pil_to_tensor
from stylize.metrics import ciede2000
from stylize.modelfile import file_sha256
from stylize.nets.colornet import SOFT_SIGMA, ColorNet, SkinBlend, is_skin, smoothed_prior
from stylize.task_table import COLORIZE
from stylize.tasks.hints import ColorHint, spread_hints
from stylize.tasks.protocol import PhotosOnly, ProgressCallback, ValidationScore
from stylize.tensors import (
    gaussian_blur,
    guided_coefficients,
    resize_longest,
    resize_to,
    sample_bilinear,
    strip_side,
)
from stylize.training.preview import preview_sheet
from stylize.vgg import VGGFeatures

# Layers matched and their weights in the cosine similarity (relu3_1 locates, the deeper ones recognize).
MATCH_LAYERS = {"relu3_1": 0.5, "relu4_1": 0.3, "relu5_1": 0.2}
# Softmax temperature over cosine similarities: matches within ~0.02 of the best share the vote.
TEMPERATURE = 0.02
# Weight of the lightness difference (in units of L*/100) subtracted from the similarity.
LIGHTNESS_PENALTY = 0.5
# Below this best similarity a match is not trusted; the confidence ramps over CONFIDENCE_RAMP above it.
CONFIDENCE_FLOOR = 0.25
CONFIDENCE_RAMP = 0.15
# Guided upsampling: window radius (in coarse pixels) and ridge (in (L*/100)^2 units).
GUIDE_RADIUS = 2
GUIDE_EPS = 1e-3
# Queries per block of the similarity matrix: bounds its memory (block x reference positions floats).
QUERY_BLOCK = 1024
# Rows of the full-resolution output computed at a time.
BAND_ROWS = 512
GLOBAL_LAYERS = ("relu4_1", "relu5_1")
# Side at which a folder of references is ranked against each photo: global descriptors (the pooled features
# of GLOBAL_LAYERS, 1024 numbers an image, as the "neural codes" of Babenko et al. 2014 rank images for
# retrieval) at the size VGG19 was trained at. Only the best few are then prepared at the working size: a
# folder of 280 photos, each prepared in full, took 18.9 minutes and over 12 GB (issue 35).
RANK_SIDE = 224
PREPARED_KEPT = 16  # prepared references of a folder kept for the next photos (each some 15 MB of features)
# The shipped networks for photos without a reference (trained by pretrained/retrain.py): the general one, and the
# one for people whose colours the default takes where it is sure of skin (nets/colornet.py's SkinBlend).
AUTOMATIC_MODEL = "colorize-auto"
PORTRAIT_MODEL = "colorize-portrait"
# Training the automatic network (Zhang, Isola & Efros 2016, section 2.1): each true colour is soft-encoded
# over its 5 nearest a*b* cells with a Gaussian of sigma 5 (SOFT_SIGMA).
SOFT_NEIGHBOURS = 5
# The colour prior of the training photos is a running mean over batches with this momentum (some hundred
# batches: Zhang et al. count all of ImageNet beforehand; a running mean needs no pass before training).
PRIOR_MOMENTUM = 0.99
PREVIEW_HEIGHT = 256  # training previews: every held-back photo at this height
PEOPLE_LIST_BYTES = 1 << 20  # a list of photo names, not a photo: larger is the wrong file


def automatic_model(model: str | Path | None = None) -> nn.Module | None:
    """The automatic colorization network: a given model file or name alone; else the shipped default,
    colorize-auto with colorize-portrait's colours where that one is sure of skin (SkinBlend), colorize-auto
    alone where the other is not installed, None where neither is."""
    from stylize.errors import ModelFileError
    from stylize.modelfile import load_model
    from stylize.zoo import resolve_model

    if model is not None:
        return load_model(resolve_model(model), task=COLORIZE.name)[0]
    shipped = []
    for name in (AUTOMATIC_MODEL, PORTRAIT_MODEL):
        try:
            shipped.append(load_model(resolve_model(f"shipped:{name}"), task=COLORIZE.name)[0])
        except ModelFileError:
            shipped.append(None)
    general, skin = shipped
    if general is None or skin is None:
        return general
    return SkinBlend(general, skin)


def lightness_of(pixels: torch.Tensor) -> torch.Tensor:
    """L* (N, 1, H, W) in [0, 100] of an sRGB batch."""
    return rgb_to_lab(pixels)[:, :1]


def is_gray(pixels: torch.Tensor, tolerance: float = 2.0) -> bool:
    """Whether an image has (almost) no chroma: mean |a*| + |b*| under `tolerance`."""
    chroma = rgb_to_lab(pixels)[:, 1:]
    return chroma.abs().sum(dim=1).mean().item() < tolerance


# A toned print (sepia, selenium, a cyanotype) has one colour at each lightness: its tint, stronger or weaker with
# the tone. What is left of the a*b* once each of 16 bands of lightness has its mean taken away, as a root mean
# square on the photo shrunk to 32 px (scanner noise and JPEG's blocks of chroma averaged away): the 271 shared
# photos in colour, each toned sepia and cyan at 0.3 and 1 of TONES with noise of 5 levels and JPEG at quality 60
# (1084 prints), were at most 1.32 (0.91 for half); 252 of the photos themselves were over 3 (8.28 for half), the 19
# others nearly one colour (snow, sand, rock, a gray building).
TONED_SPREAD = 3.0


def is_colour_photo(pixels: torch.Tensor) -> bool:
    """Whether a (1, 3, H, W) image is a colour photo: several colours at one lightness, unlike a gray photo or a
    toned print."""
    height, width = pixels.shape[-2:]
    scale = 32 / max(height, width)
    if scale < 1:
        pixels = F.interpolate(pixels, size=(max(1, round(height * scale)), max(1, round(width * scale))), mode="area")
    lab = rgb_to_lab(pixels)[0].flatten(1)  # (3, positions)
    band = (lab[0] / 100 * 16).long().clamp(0, 15)
    counts = torch.zeros(16, dtype=lab.dtype).index_add_(0, band, torch.ones_like(lab[0]))
    sums = torch.zeros(2, 16, dtype=lab.dtype).index_add_(1, band, lab[1:])
    means = sums / counts.clamp(min=1)
    return (lab[1:] - means[:, band]).square().sum(0).mean().sqrt().item() > TONED_SPREAD


def colour_photos_note(subject: str, several: bool = False) -> str:
    """What the CLI and the page say where `subject` (a photo's name, or "a.jpg and 2 more") was in colour."""
    what = "are colour photos: their" if several else "is a colour photo: its"
    return f"{subject} {what} own colours were not used, only the lightness (colorize is for black-and-white photos)"


@dataclass
class Reference:
    """A colour reference prepared for matching: features (positions x dims), chroma and lightness at the
    match grid, and its global descriptor for retrieval."""

    name: str
    features: torch.Tensor  # (P, D), rows L2-normalized per layer block
    chroma: torch.Tensor  # (P, 2)
    lightness: torch.Tensor  # (P,) in [0, 1]
    descriptor: torch.Tensor  # (D_global,), L2-normalized


# A film's references (FilmReferences) are chosen again where a frame's global descriptor (Colorizer.describe) is
# less alike than this to the one of the frame they were chosen on (cosine similarity): at a cut, or where the view
# has changed as much as a cut changes it. Between the two as measured on held-out photos at 384x256: over 48 frames
# of a pan (96 px), a zoom (24 %) or a grainy still shot, every frame stayed at 0.978 or more of the first one's;
# two different photos (a cut) were at most 0.917 alike (median 0.724, 99th percentile 0.891, all 378 pairs).
SHOT_SIMILARITY = 0.95


class FilmReferences:
    """Colorizes a film's frames (an (N, 3, H, W) batch in [0, 1], as a Colorizer does) choosing the references
    of a --references folder once a shot: chosen on each frame alone, they changed from frame to frame as the
    ranking of near-equal images swapped (2 to 6 times in 12 frames), and the colours moved with them (with the
    chroma's blend, the warping error of pans and zooms over 3 held-out photos fell to 0.02 to 1.00 of it, 0.61 on
    average: benchmarks/video_consistency.py --colorize --references). They are chosen again at a cut
    (SHOT_SIMILARITY) and after restart(), which the VideoJob calls where a segment or a read starts, so that a
    resumed job chooses as an uninterrupted one did. Without a folder, the Colorizer's own colours."""

    def __init__(self, colorizer: Colorizer) -> None:
        self.colorizer = colorizer
        self.device = colorizer.device
        self.anchor: torch.Tensor | None = None  # the descriptor of the frame the references were chosen on
        self.chosen: list[Reference] = []

    def restart(self) -> None:
        self.anchor = None

    @torch.no_grad()
    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        if not self.colorizer.pool:
            return self.colorizer(pixels)
        return torch.cat([self.colorizer.colorize(image[None], self.choose)[0] for image in as_pixels(pixels)])

    def choose(self, lightness: torch.Tensor) -> list[Reference]:
        """The shot's references for a frame's lightness: those chosen before, unless a cut (or a restart) has
        come since."""
        descriptor = self.colorizer.describe(lightness)
        if self.anchor is None or float(descriptor @ self.anchor) < SHOT_SIMILARITY:
            self.chosen, self.anchor = self.colorizer.choose(lightness, descriptor), descriptor
        return self.chosen


class Colorizer:
    """Colorize gray photos from colour references ((name, image) pairs or bare images, PIL or tensors), or
    without any by the automatic network (`model`, else the shipped one; without either, a ConfigError). Call it
    with an (N, 3, H, W) batch in [0, 1] or a PIL image; `process` is the batch interface and reports the
    references used."""

    def __init__(self, references: Sequence[tuple[str, ImageInput] | ImageInput],
                 config: ColorizeConfig | None = None, device: str | torch.device = "auto",
                 pool: list[tuple[str, Path]] | None = None,
                 model: nn.Module | None = None, on_progress: ProgressCallback | None = None,
                 hints: Sequence[ColorHint] = ()) -> None:
        """on_progress: (done, total) as a folder of references is indexed, before the first photo; hints: colours
        the user knows at points of the photos (tasks/hints.py), used for every photo (with_hints: others)."""
        self.config = config or ColorizeConfig()
        self.hints = tuple(hints)
        self.device = resolve_device(device)
        self.layout = memory_format(self.device)
        self.vgg = VGGFeatures(tuple(MATCH_LAYERS), weights="caffe").to(self.device, memory_format=self.layout)
        self.edge_aware = True  # False: plain bilinear upsampling of the chroma (the baseline it improves on)
        # (name, image) pairs as from_files makes them, or bare images (a PIL image or a tensor), named by place.
        named = [item if isinstance(item, tuple) else (f"reference {index}", item)
                 for index, item in enumerate(references, 1)]
        self.references = [self._named(name, pixels) for name, pixels in named]
        self.pool = pool or []  # (name, path) of candidates ranked per photo (--references DIR)
        self.on_progress = on_progress
        self._descriptors: dict[Path, tuple[str, torch.Tensor]] | None = None  # the pool's, made once
        self._prepared: OrderedDict[Path, Reference | None] = OrderedDict()
        if model is None and not self.references and not self.pool:  # nothing to copy from: the automatic model
            model = automatic_model()
        self.model = None if model is None else model.eval().requires_grad_(False).to(self.device)
        if not self.references and not self.pool and self.model is None:
            raise ConfigError("colorize needs a colour reference: give --reference FILE or --references FOLDER "
                              f"(the automatic model '{AUTOMATIC_MODEL}' is not installed)")

    @classmethod
    def from_files(cls, references: list[Path], folder: Path | None = None, config: ColorizeConfig | None = None,
                   device: str | torch.device = "auto", model: str | Path | None = None,
                   on_progress: ProgressCallback | None = None, hints: Sequence[ColorHint] = ()) -> Colorizer:
        """References from files, and optionally a folder whose best matches are chosen per photo; without
        either, the automatic network (`model`, or the shipped one); hints as in __init__."""
        loaded = []
        for path in references:
            pixels = load_image(path).pixels
            if is_gray(pixels):
                raise ImageError(f"the reference {path} is itself black and white: it has no colour to give")
            loaded.append((str(path), pixels))
        pool = []
        if folder is not None:
            from stylize.files import walk_files

            pool = [(str(p), p) for p in walk_files(folder) if p.suffix.lower() in IMAGE_EXTENSIONS]
            if not pool:
                raise ConfigError(f"--references {folder}: no images in it")
        if model is not None and (loaded or pool):
            raise ConfigError("--model is the automatic colorizer, for photos without --reference or --references")
        # Without references and without `model`, __init__ takes the shipped automatic model.
        network = automatic_model(model) if model is not None else None
        return cls(loaded, config, device, pool, network, on_progress, hints)

    def with_hints(self, hints: Sequence[ColorHint]) -> Colorizer:
        """This colorizer with other hints, its networks and references shared (the studio places a point and
        colorizes again without loading them again)."""
        other = copy.copy(self)
        other.hints = tuple(hints)
        return other

    def _named(self, name: str, pixels: torch.Tensor) -> Reference:
        """prepare(), with a reference that cannot serve (too thin for the features) named in the error."""
        try:
            return self.prepare(name, pixels)
        except (ConfigError, ImageError) as error:
            raise ImageError(f"the reference {name}: {error}") from None

    @torch.no_grad()
    def prepare(self, name: str, pixels: torch.Tensor) -> Reference:
        """Features, chroma and lightness of a colour reference at the working size."""
        working = self._working(as_pixels(pixels, "reference")).to(self.device)
        lab = rgb_to_lab(working)
        features, grid = self._features(gray_rgb(lab[:, :1]))
        chroma = F.adaptive_avg_pool2d(lab[:, 1:], grid).flatten(2)[0].T
        lightness = F.adaptive_avg_pool2d(lab[:, :1] / 100, grid).flatten()
        return Reference(name, features, chroma, lightness, self._descriptor(gray_rgb(lab[:, :1])))

    def _working(self, pixels: torch.Tensor) -> torch.Tensor:
        """Shrunk to the working size; a smaller photo is matched at its own size, down to what VGG19's deepest
        layer needs: a tiny photo is enlarged to four times that, a long thin strip kept longer (strip_side)."""
        height, width = pixels.shape[-2:]
        side = max(self.vgg.min_side * 4, min(self.config.working_size, max(height, width)))
        side = strip_side(height, width, side, self.vgg.min_side, "to colorize")
        return resize_longest(pixels, side) if side != max(height, width) else pixels

    def _features(self, gray: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """(positions x dims) matching features of a gray image, at relu3_1's grid; and that grid."""
        return flatten_features(self.vgg(gray.contiguous(memory_format=self.layout)))

    def _descriptor(self, gray: torch.Tensor) -> torch.Tensor:
        maps = self.vgg(gray.contiguous(memory_format=self.layout))
        pooled = [F.normalize(maps[layer].float().mean(dim=(2, 3))[0], dim=0) for layer in GLOBAL_LAYERS]
        return F.normalize(torch.cat(pooled), dim=0)

    def describe(self, lightness: torch.Tensor) -> torch.Tensor:
        """A photo's global descriptor, from its lightness (1, 1, H, W), at the side the folder is ranked at."""
        side = strip_side(*lightness.shape[-2:], RANK_SIDE, self.vgg.min_side, "to colorize")
        return self._descriptor(gray_rgb(resize_longest(lightness / 100, side) * 100))

    def choose(self, lightness: torch.Tensor, descriptor: torch.Tensor | None = None) -> list[Reference]:
        """The given references, plus the folder's best matches for this photo by global similarity (to
        `descriptor`, its describe(), made here if not given)."""
        if not self.pool:
            return self.references
        descriptors = self._index()
        descriptor = self.describe(lightness) if descriptor is None else descriptor
        ranked = sorted(((float(vector @ descriptor), path, name) for path, (name, vector) in descriptors.items()),
                        key=lambda item: -item[0])
        chosen: list[Reference] = []
        for _, path, name in ranked:
            if len(chosen) == self.config.top:
                break
            reference = self._prepared_reference(name, path)
            if reference is not None:
                chosen.append(reference)
        if not chosen and not self.references:
            raise ImageError("none of the --references images is a readable colour photo")
        return self.references + chosen

    def index(self) -> int:
        """Index the --references folder now, with on_progress (else at the first photo, inside its bar); how
        many of its images can serve."""
        return len(self._index()) if self.pool else 0

    @torch.no_grad()
    def _index(self) -> dict[Path, tuple[str, torch.Tensor]]:
        """Each usable image of the folder's global descriptor at RANK_SIDE, made once (unreadable, black and
        white and too thin images are passed over: one such image must not fail every photo)."""
        if self._descriptors is None:
            descriptors = {}
            for done, (name, path) in enumerate(self.pool, 1):
                try:
                    pixels = load_image(path, RANK_SIDE).pixels
                    if not is_gray(pixels):
                        lightness = rgb_to_lab(pixels.to(self.device))[:, :1]
                        descriptors[path] = (name, self._descriptor(gray_rgb(lightness)))
                except (ImageError, ConfigError):
                    pass
                if self.on_progress is not None:
                    self.on_progress(done, len(self.pool))
            self._descriptors = descriptors
        return self._descriptors

    def _prepared_reference(self, name: str, path: Path) -> Reference | None:
        """A folder's image prepared at the working size (the last PREPARED_KEPT kept), or None when it cannot
        serve."""
        if path in self._prepared:
            self._prepared.move_to_end(path)
            return self._prepared[path]
        try:
            reference = self.prepare(name, load_image(path, self.config.working_size).pixels)
        except (ImageError, ConfigError):
            reference = None
        self._prepared[path] = reference
        while len(self._prepared) > PREPARED_KEPT:
            self._prepared.popitem(last=False)
        return reference

    @torch.no_grad()
    def __call__(self, pixels: ImageInput) -> torch.Tensor:
        """Colorize a batch (or a PIL image); returns (N, 3, H, W) sRGB in [0, 1] on the CPU."""
        pixels = as_pixels(pixels)
        return torch.cat([self.colorize(image[None])[0] for image in pixels])

    @torch.no_grad()
    def colorize(self, pixels: torch.Tensor, choose: Callable[[torch.Tensor], list[Reference]] | None = None
                 ) -> tuple[torch.Tensor, list[str]]:
        """One (1, 3, H, W) image -> (colorized image, names of the references used): those `choose` gives for
        its lightness (a film's FilmReferences.choose), else choose()'s; with the Colorizer's hints."""
        with accelerated(self.device):
            lightness = lightness_of(pixels.to(self.device))
            references = (choose or self.choose)(lightness)
            coefficients, guide_low = self._coarse(lightness, references)
            return self._full_resolution(lightness, coefficients, guide_low).cpu(), [r.name for r in references]

    def _coarse(self, lightness: torch.Tensor, references: list[Reference]) -> tuple[torch.Tensor, torch.Tensor]:
        """The chroma model at the match grid, the hints spread over it: guided-filter coefficients (or plain
        chroma), and the guide."""
        working = self._working(lightness / 100) * 100
        maps = self.vgg(gray_rgb(working).contiguous(memory_format=self.layout))
        features, grid = flatten_features(maps)
        guide = F.adaptive_avg_pool2d(working / 100, grid)
        if not references:  # automatic: the network predicts the chroma from the same features
            chroma_map = self._predicted_chroma(maps, working, guide)
        else:
            chroma_map = self._matched_chroma(features, guide, grid, references)
        chroma_map = spread_hints(chroma_map, features, guide, self.hints, tuple(lightness.shape[-2:]))
        return self._coefficients(chroma_map * self.config.strength, guide), guide

    def _matched_chroma(self, features: torch.Tensor, guide: torch.Tensor, grid: tuple[int, int],
                        references: list[Reference]) -> torch.Tensor:
        """The references' chroma at the match grid: a soft nearest neighbour of every position among theirs."""
        ref_features = torch.cat([r.features for r in references])
        ref_chroma = torch.cat([r.chroma for r in references])
        ref_lightness = torch.cat([r.lightness for r in references])
        own_lightness = guide.flatten()
        chroma, best = [], []
        for start in range(0, features.shape[0], QUERY_BLOCK):
            block = features[start : start + QUERY_BLOCK]
            similarity = block @ ref_features.T
            similarity -= LIGHTNESS_PENALTY * (own_lightness[start : start + QUERY_BLOCK, None] - ref_lightness).abs()
            best.append(similarity.max(dim=1).values)
            chroma.append(torch.softmax(similarity / TEMPERATURE, dim=1) @ ref_chroma)
        chroma_map = torch.cat(chroma).T.reshape(1, 2, *grid)
        confidence = ((torch.cat(best) - CONFIDENCE_FLOOR) / CONFIDENCE_RAMP).clamp(0, 1).reshape(1, 1, *grid)
        return _fill_unconfident(chroma_map, confidence, ref_chroma.mean(dim=0).view(1, 2, 1, 1))

    def _predicted_chroma(self, maps: dict[str, torch.Tensor], working: torch.Tensor,
                          guide: torch.Tensor) -> torch.Tensor:
        """The automatic network's chroma, averaged with its chroma of the mirrored photo: test-time flipping,
        as Krizhevsky et al. 2012 averaged over mirrored crops (issue 31: CIEDE2000 9.92 -> 9.82 on the
        held-out photos, for a second pass of VGG19 at the working size)."""
        mirrored = self.vgg(gray_rgb(working.flip(-1)).contiguous(memory_format=self.layout))
        return (self.model.chroma(maps, guide) + self.model.chroma(mirrored, guide.flip(-1)).flip(-1)) / 2

    def _coefficients(self, chroma_map: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        """The guided filter's linear model (a, b: chroma = a * L + b), or a = 0 for plain bilinear."""
        if not self.edge_aware:
            return torch.cat([torch.zeros_like(chroma_map), chroma_map], dim=1)
        return guided_coefficients(guide, chroma_map, GUIDE_RADIUS, GUIDE_EPS)

    def _full_resolution(self, lightness: torch.Tensor, coefficients: torch.Tensor,
                         guide_low: torch.Tensor) -> torch.Tensor:
        """chroma = a * L + b with the coefficients upsampled, in bands of rows; in gamut; as sRGB."""
        height, width = lightness.shape[-2:]
        output = torch.empty(1, 3, height, width)
        for top in range(0, height, BAND_ROWS):
            bottom = min(height, top + BAND_ROWS)
            band = sample_bilinear(coefficients, top, bottom, width, height)
            light = lightness[..., top:bottom, :]
            chroma = band[:, :2] * (light / 100) + band[:, 2:]
            output[..., top:bottom, :] = lab_to_rgb_in_gamut(light, chroma).cpu()
        return output

    def process(self, images: list[LoadedImage], jobs: list[Job]) -> list[Output]:
        """Batch interface (batch.run_jobs): the report names the references used for each photo, and whether it
        was a colour photo (whose own colours are not used: the CLI says so)."""
        outputs = []
        for image in images:
            colorized, used = self.colorize(image.pixels)
            in_colour = is_colour_photo(image.pixels.cpu())
            outputs.append(Output(colorized, details={"references": used, "in_colour": in_colour}))
        return outputs


def flatten_features(maps: dict[str, torch.Tensor]) -> tuple[torch.Tensor, tuple[int, int]]:
    """Matching features (positions x dims) at relu3_1's grid: each layer upsampled there, centred (common
    activations say nothing) and L2-normalized per position, weighted by MATCH_LAYERS; and the grid."""
    grid = tuple(maps["relu3_1"].shape[-2:])
    blocks = []
    for layer, weight in MATCH_LAYERS.items():
        level = F.interpolate(maps[layer], size=grid, mode="bilinear", align_corners=False) if \
            tuple(maps[layer].shape[-2:]) != grid else maps[layer]
        flat = level.flatten(2)[0].T.float()  # (P, C)
        flat = flat - flat.mean(dim=0, keepdim=True)  # centred: common activations say nothing
        blocks.append(F.normalize(flat, dim=1) * math.sqrt(weight))
    return torch.cat(blocks, dim=1), grid


def _fill_unconfident(chroma: torch.Tensor, confidence: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    """Replace chroma where confidence is low by that of confident neighbours (normalized convolution over
    a wide Gaussian), and by `fallback` where no neighbour is confident either."""
    size = max(chroma.shape[-2:])
    sigma = max(1.0, size / 16)
    weight = gaussian_blur(confidence, sigma)
    spread = gaussian_blur(chroma * confidence, sigma) / weight.clamp(min=1e-6)
    trust = (weight / 0.05).clamp(0, 1)  # where some confident neighbour is near
    neighbours = trust * spread + (1 - trust) * fallback
    return confidence * chroma + (1 - confidence) * neighbours


# How far a training crop's scale strays from the working size, either way (a factor): photos come at any size.
WORKING_JITTER = 1.4


class ColorCrops:
    """A photo -> a training item (4, S, S): a random square crop at the scale `colorize` sees photos at (the
    longest side shrunk to the working size, jittered by up to WORKING_JITTER either way; flipped half the time)
    as RGB, and its lightness aged as an old print (degrade.old_print), / 100, as the fourth channel. Given the
    names of the photos of people, a fifth channel says whether the crop is of one (1) or not (0)."""

    def __init__(self, size: int, working_size: int, people: frozenset[str] | None = None) -> None:
        from torchvision.transforms import v2

        self.size, self.working_size, self.people = size, working_size, people
        self.wants_path = people is not None  # ImageFiles then gives the photo's path too
        self.crop = v2.Compose([v2.RandomCrop(size), v2.RandomHorizontalFlip()])

    def __call__(self, image: Image.Image, path: Path | None = None) -> torch.Tensor:
        # As colorize: shrunk to the working size, never enlarged (a small photo is seen at its own size).
        working = round(self.working_size * WORKING_JITTER ** (2 * float(torch.rand(())) - 1))
        scale = max(self.size, min(working, max(image.size))) / max(image.size)
        size = (max(self.size, round(image.width * scale)), max(self.size, round(image.height * scale)))
        pixels = pil_to_tensor(self.crop(image.resize(size, Image.Resampling.BILINEAR)))
        item = torch.cat([pixels, old_print(lightness_of(pixels)) / 100], dim=1)[0]
        if self.people is None:
            return item
        flag = 1.0 if path is not None and path.name in self.people else 0.0
        return torch.cat([item, torch.full_like(item[:1], flag)])

    def decode_longest(self, width: int, height: int) -> int:
        """The largest the photo is shrunk to (the working size at its largest jitter): larger is never used."""
        return max(self.size, math.ceil(self.working_size * WORKING_JITTER))


class ColorizeObjective(PhotosOnly[ColorizeTrainConfig]):
    """Training the automatic colorizer: Zhang, Isola & Efros 2016's class-rebalanced cross-entropy between the
    predicted distribution over a*b* cells and the true colour, soft-encoded, at the feature grid; the input
    is the photo's lightness aged as an old print, the target its true colours."""

    task = COLORIZE.name
    native_crops = False  # every crop is resampled anyway
    loss_names = ("colour",)
    cpu_bf16 = True  # the frozen VGG19 is most of a step: bf16 on CPUs with AMX (the loop decides)

    def __init__(self, config: ColorizeTrainConfig) -> None:
        super().__init__(config)
        # Read now: a wrong list is reported before the photos are scanned.
        self.people = read_photo_list(Path(config.people)) if config.people else None
        self.people_sha256 = file_sha256(Path(config.people)) if config.people else None

    def inputs(self) -> dict[str, str]:
        return {"people_sha256": self.people_sha256} if self.people_sha256 else {}

    def check_photos(self, photos: list[Path]) -> None:
        """A --people list that names none of the training photos weighs nothing: said before training."""
        if self.people is not None and not any(photo.name in self.people for photo in photos):
            raise DataError(f"none of the {len(self.people)} photos that {self.config.people} names is among the "
                            "training photos (they are matched by file name, held-back preview photos aside)")

    def build(self) -> nn.Module:
        return ColorNet(self.config.width)

    def transform(self) -> ColorCrops:
        return ColorCrops(self.config.image_size, ColorizeConfig().working_size, self.people)

    def prepare(self, device: torch.device) -> None:
        self.vgg = VGGFeatures(tuple(MATCH_LAYERS)).to(device, memory_format=memory_format(device))

    @torch.no_grad()
    def _read(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        """A batch of crops -> their true colours in CIELAB, the VGG19 features of their aged gray version and
        that version's lightness at the features' grid (the network's two inputs)."""
        truth, aged = batch[:, :3].float(), batch[:, 3:4].float() * 100
        with torch.autocast(batch.device.type, enabled=False):  # colour science in fp32 under any autocast
            gray, true_lab = gray_rgb(aged), rgb_to_lab(truth)
        maps = self.vgg(gray.contiguous(memory_format=memory_format(batch.device)))
        grid = tuple(maps["relu3_1"].shape[-2:])
        return true_lab, maps, F.adaptive_avg_pool2d(aged / 100, grid)

    def loss(self, net: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return self._cross_entropy(net, batch, *self._read(batch))

    def _cross_entropy(self, net: nn.Module, batch: torch.Tensor, true_lab: torch.Tensor,
                       maps: dict[str, torch.Tensor], lightness: torch.Tensor) -> torch.Tensor:
        """The loss of a batch read by _read (the network runs on its features here, with gradients in training)."""
        chroma = F.adaptive_avg_pool2d(true_lab[:, 1:], lightness.shape[-2:])
        logits = net(maps, lightness).float()
        colornet = net.module if isinstance(net, nn.parallel.DistributedDataParallel) else net
        target, nearest = soft_encode(chroma, colornet.bins)
        with torch.no_grad():
            if colornet.training:  # the training photos' prior: a validation loss (eval mode) does not add to it
                _update_prior(colornet.prior, nearest)
            # Zhang et al. 2016, section 2.2: the weights are made from the prior smoothed in a*b*.
            weights = rebalancing_weights(smoothed_prior(colornet.prior, colornet.bins), self.config.rebalance)
        cross_entropy = -(target * F.log_softmax(logits, dim=1)).sum(dim=1)
        weighted = weights[nearest] * cross_entropy
        if batch.shape[1] > 4:  # crops flagged as photos of people (--people): their skin counts more
            weighted = weighted * skin_weights(chroma, batch[:, 4, 0, 0] > 0.5, self.config.skin_weight)
        return weighted.mean()[None]

    # What benchmarks/colorize_quality.py measures, and issue 31 sets limits on.
    validation_score = ValidationScore("CIEDE2000", "", higher_is_better=False)

    @torch.no_grad()
    def validate(self, net: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss, and each crop's mean CIEDE2000 to its true colours, from one VGG19 pass (most of the cost):
        the network's readout as colorize makes it (the prior-adjusted annealed mean), enlarged bilinearly to the
        crop, with the crop's true lightness (the ageing changes the lightness, which colorize keeps and a score of
        its colours should not count). Colorize's guided enlargement, its mirror average and its fit into the sRGB
        gamut are left out: on the held-out photos they moved the benchmark by less than 0.1
        (docs/colorize-automatic.md)."""
        true_lab, maps, lightness = self._read(batch)
        colornet = net.module if isinstance(net, nn.parallel.DistributedDataParallel) else net
        chroma = colornet.chroma(maps, lightness).float()
        chroma = F.interpolate(chroma, size=true_lab.shape[-2:], mode="bilinear", align_corners=False)
        scores = ciede2000(torch.cat([true_lab[:, :1], chroma], dim=1), true_lab).flatten(1).mean(dim=1)
        return self._cross_entropy(net, batch, true_lab, maps, lightness), scores

    @torch.no_grad()
    def preview(self, net: nn.Module, photos: list[torch.Tensor], device: torch.device) -> torch.Tensor:
        """Per held-back photo (gray, as colorize sees it): gray on top, the network's colours, the true ones."""
        columns = []
        for photo in photos:  # one height for all (columns of a sheet line up), about the working size's
            height, width = photo.shape[-2:]
            photo = resize_to(photo, (PREVIEW_HEIGHT, max(1, round(width * PREVIEW_HEIGHT / height)))).to(device)
            lightness = lightness_of(photo)
            maps = self.vgg(gray_rgb(lightness).contiguous(memory_format=memory_format(device)))
            grid = tuple(maps["relu3_1"].shape[-2:])
            chroma = net.chroma(maps, F.adaptive_avg_pool2d(lightness / 100, grid))
            chroma = F.interpolate(chroma, size=photo.shape[-2:], mode="bilinear", align_corners=False)
            columns.append([gray_rgb(lightness).cpu(), lab_to_rgb_in_gamut(lightness, chroma).cpu(), photo.cpu()])
        return preview_sheet(columns)

    def metadata(self) -> dict[str, object]:
        section: dict[str, object] = {"features": list(MATCH_LAYERS), "weights": "caffe",
                                      "bins": "zhang2016 a*b* step 10", "rebalance": self.config.rebalance}
        if self.people is not None:
            section |= {"skin_weight": self.config.skin_weight, "people": sorted(self.people)}
        return {"colorize": section}


def skin_weights(chroma: torch.Tensor, people: torch.Tensor, weight: float) -> torch.Tensor:
    """Loss weights (N, h, w) for true chroma (N, 2, h, w): `weight` at skin-hued positions (nets/colornet.py's
    is_skin, on the true colour) of the crops that `people` (N,) flags, 1 elsewhere."""
    skin = is_skin(chroma.movedim(1, -1))
    return 1 + (weight - 1) * (skin & people[:, None, None]).float()


def read_photo_list(path: Path) -> frozenset[str]:
    """The file names a --people list holds: one a line, blank lines and # comments left out."""
    try:
        if path.stat().st_size > PEOPLE_LIST_BYTES:
            raise DataError(f"{path} is over {PEOPLE_LIST_BYTES >> 20} MB: not a list of photo names")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path} does not exist (the list of photos of people)") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a folder: give a text file naming photos, one a line") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a text file: give one naming photos, one a line") from None
    except OSError as error:
        raise DataError(f"{path} cannot be read: {error.strerror or error}") from None
    names = frozenset(Path(name).name for line in text.splitlines() if (name := line.split("#", 1)[0].strip()))
    if not names:
        raise DataError(f"{path} names no photos: give one file name a line")
    return names


def soft_encode(chroma: torch.Tensor, bins: torch.Tensor, neighbours: int = SOFT_NEIGHBOURS
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Zhang et al. 2016, section 2.1: each true a*b* (N, 2, h, w) as a distribution (N, Q, h, w) over its
    `neighbours` nearest cells, weighted by a Gaussian of sigma SOFT_SIGMA; and the nearest cell (N, h, w)."""
    flat = chroma.movedim(1, -1).reshape(-1, 2)
    distances = torch.cdist(flat, bins.to(flat))
    near, index = distances.topk(neighbours, dim=1, largest=False)
    weights = torch.softmax(-near**2 / (2 * SOFT_SIGMA**2), dim=1)
    target = torch.zeros_like(distances).scatter_(1, index, weights)
    batch, _, height, width = chroma.shape
    return (target.reshape(batch, height, width, -1).movedim(-1, 1),
            index[:, 0].reshape(batch, height, width))


def rebalancing_weights(prior: torch.Tensor, rebalance: float) -> torch.Tensor:
    """Zhang et al. 2016, eq. 4: w proportional to 1 / ((1 - lambda) p + lambda / Q), normalized so that the
    expected weight under the prior is 1 (lambda = 1: no rebalancing; 0: rare colours count as common ones)."""
    if prior.sum() <= 0:
        return torch.ones_like(prior)
    prior = prior / prior.sum()
    weights = 1 / ((1 - rebalance) * prior + rebalance / len(prior))
    return weights / (prior * weights).sum()


def _update_prior(prior: torch.Tensor, nearest: torch.Tensor) -> None:
    """The training photos' distribution over the cells: a running mean over the batches (the first sets it)."""
    counts = torch.bincount(nearest.flatten(), minlength=len(prior)).to(prior)
    histogram = counts / counts.sum()
    if prior.sum() <= 0:
        prior.copy_(histogram)
    else:
        prior.mul_(PRIOR_MOMENTUM).add_(histogram, alpha=1 - PRIOR_MOMENTUM)
