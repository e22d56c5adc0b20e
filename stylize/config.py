"""Job configurations: frozen dataclasses that are the single home of every default, help text and check.

Each field is declared with `setting(...)`: its default, a help sentence and its allowed range or choices.
The CLI generates its options from these fields (stylize/cli/options.py), the checks run for Python callers
too, and the resolved config is stored in model files and reports. Plain types only (no torch import), so
the CLI can build and validate a config before it loads torch.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from stylize.errors import ConfigError
from stylize.vgg_layers import POOLINGS, RELU_LAYERS, WEIGHT_SOURCES

# Images larger than this are refused before decoding: a 100 MB PNG can claim billions of pixels (a
# decompression bomb). 150 MP holds every camera on sale (the largest sensors give about 150 MP).
MAX_PIXELS = 150_000_000
# The longest side any resize may ask for: a 4:1 panorama at the pixel limit. Outputs are also checked
# against MAX_PIXELS itself once their other side is known.
MAX_SIDE = math.isqrt(4 * MAX_PIXELS)
# The largest training crop: the published recipes crop 128 to 512 px (Johnson et al. 2016: 256; ESRGAN: 128
# to 256; Huang & Belongie 2017: 256). At 2048 px each of VGG19's first-block activations (64 channels, fp32)
# is 1.1 GB a crop; crops of 100000 px asked for 120 GB and the kernel killed the data loader.
MAX_CROP_SIDE = 2048
# An animated WebP's quality by default (libwebp's, of 100; its own default is 75), measured in animation.py.
WEBP_QUALITY = 95

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "style", "arbitrary")
PRECISIONS = ("auto", "fp32", "bf16")

# Learning rates when --lr is not given: L-BFGS takes full quasi-Newton steps; for Adam, 0.02 per step in
# [0, 1] pixel units (as crowsonkb/style-transfer-pytorch) moves fast without speckle.
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}

S = TypeVar("S", bound="Settings")


def setting(
    default: Any,
    help: str,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[str, ...] | None = None,
    label: str | None = None,
    default_text: str | None = None,
    metavar: str | None = None,
) -> Any:
    """A dataclass field with what the CLI and the checks need to know about it.

    label names the value in error messages (default: the field name in words); default_text replaces the
    shown default where the value None stands for a rule ("1 for lbfgs, 0.02 for adam").
    """
    metadata = {"help": help, "min": min, "max": max, "choices": choices, "label": label,
                "default_text": default_text, "metavar": metavar}
    return dataclasses.field(default=default, metadata=metadata)


def field_kind(field: dataclasses.Field) -> tuple[str, bool]:
    """(base type name, whether None is allowed) from a field's annotation, e.g. ("tuple[str, ...]", True)."""
    text = str(field.type).replace(" ", "")
    optional = text.endswith("|None")
    base = text[: -len("|None")] if optional else text
    return base.replace(",", ", "), optional


def label_of(field: dataclasses.Field) -> str:
    return field.metadata.get("label") or field.name.replace("_", " ")


def as_tuple(value: Any) -> tuple:
    """Lists and comma-separated strings (from Python callers and the CLI) as tuples."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(value)


def _describe_range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"must be between {lo:g} and {hi:g}"
    if lo == 0:
        return "must not be negative"
    return f"must be at least {lo:g}" if lo is not None else f"must be at most {hi:g}"


@dataclass(frozen=True)
class Settings:
    """Base of every job configuration: coercion and checks driven by the fields' metadata."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            object.__setattr__(self, field.name, self._checked(field, value))
        self._validate()

    def _checked(self, field: dataclasses.Field, value: Any) -> Any:
        kind, _ = field_kind(field)
        label = label_of(field)
        if kind.startswith("tuple["):
            value = as_tuple(value)
            if kind == "tuple[float, ...]":
                try:
                    value = tuple(float(v) for v in value)
                except (TypeError, ValueError):
                    raise ConfigError(f"{label} must be comma-separated numbers, got {value!r}") from None
                if not all(math.isfinite(v) for v in value):
                    raise ConfigError(f"{label} must be finite numbers, got {value!r}")
            return value
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                else:
                    raise ConfigError(f"{label} must be a whole number, got {value!r}")
        elif kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{label} must be a number, got {value!r}")
            value = float(value)
            if not math.isfinite(value):
                raise ConfigError(f"{label} must be a finite number, got {value}")
        elif kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"{label} must be true or false, got {value!r}")
        lo, hi, choices = field.metadata.get("min"), field.metadata.get("max"), field.metadata.get("choices")
        if kind in ("int", "float") and ((lo is not None and value < lo) or (hi is not None and value > hi)):
            raise ConfigError(f"{label} {_describe_range(lo, hi)}, got {value:g}")
        if choices and value not in choices:
            options = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
            raise ConfigError(f"unknown {label} {value!r}: use {options}")
        return value

    def _validate(self) -> None:
        """Checks that involve several fields; subclasses extend it."""

    def replace(self: S, **changes: Any) -> S:
        """A copy with some fields changed (checked again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready types, for reports and model files."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_options(cls: type[S], options: dict[str, Any]) -> S:
        """A config from a dict that may hold other keys and None for "not given"."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in options.items() if k in names and v is not None})

    @classmethod
    def field_names(cls) -> frozenset[str]:
        return frozenset(f.name for f in dataclasses.fields(cls))


def _check_layers(content_layers: tuple[str, ...], style_layers: tuple[str, ...]) -> None:
    if not content_layers:
        raise ConfigError("at least one content layer is needed")
    if not style_layers:
        raise ConfigError("at least one style layer is needed")
    for layer in content_layers + style_layers:
        if layer not in RELU_LAYERS:
            raise ConfigError(f"unknown layer {layer!r}; choose from {', '.join(RELU_LAYERS)}")


def check_blend(blend: tuple[float, ...] | None) -> None:
    """Style blend weights (--style-blend, or the Python API's weights=): non-negative, with a positive sum."""
    if blend is not None and (not blend or sum(blend) <= 0 or any(w < 0 for w in blend)):
        raise ConfigError(f"style blend weights must be non-negative with a positive sum: {blend}")


def _tile() -> Any:
    return setting(None, "Tile side in px for large images; 0 never tiles.", min=0, max=MAX_SIDE,
                   default_text="automatic")


def _feather() -> Any:
    return setting(0.0, "Soften the edges of every --mask over about this many px (a rough brush is enough).",
                   min=0, max=1000)


def _mask_invert() -> Any:
    return setting(False, "Invert every --mask: stylize where it is black, keep the photo where it is white.")


def _lr_decay(default: str) -> Any:
    return setting(default, "Learning-rate schedule: none keeps it constant, cosine lowers it to 1 % by the last "
                            "step (Loshchilov & Hutter 2017).", choices=("none", "cosine"))


_PRECISION_HELP = ("The networks' arithmetic: bf16 or fp32. auto takes bf16 where it is fast, about twice as fast "
                   "at the same scores: CPUs with AMX, and for the optimization CUDA cards with bf16.")
_SIZE_HELP = "Longest side of the output in px; 0 keeps the input's own size (a photo's, a video's frames')."


@dataclass(frozen=True)
class GatysConfig(Settings):
    """Optimization-based style transfer (Gatys et al.). Losses are normalized as losses.py documents.

    Weights: content and style errors are both relative (about 1 for unrelated images), so style_weight is
    how many times more a unit of style error counts than a unit of content error.
    """

    size: int = setting(512, _SIZE_HELP + " Larger gives finer detail and takes longer.", min=0, max=MAX_SIDE)
    style_scale: float = setting(1.0, "Style image size relative to the output: below 1 gives larger brush "
                                      "strokes.", min=0.05, max=8)
    style_blend: tuple[float, ...] | None = setting(
        None, "Comma-separated weights, one per --style (e.g. 0.7,0.3).", default_text="equal", metavar="W,W,...")
    content_weight: float = setting(1.0, "How strongly the content's structure is kept.", min=0)
    # 9: the largest weight whose content error stays within 15 % of the old 300-step default's with a style
    # error no worse, on benchmarks/gatys_time_to_quality.py's pairs (the figures are in its docstring).
    style_weight: float = setting(9.0, "How strongly the style's textures are imposed.", min=0)
    tv_weight: float = setting(2.0, "Smoothness: raise against noise and speckle, lower for crisper detail.", min=0)
    # Gatys et al. 2016: content from relu4_2, style from relu1_1 to relu5_1.
    content_layers: tuple[str, ...] = setting(("relu4_2",), "Comma-separated VGG19 layers for the content loss.")
    style_layers: tuple[str, ...] = setting(
        ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
        "Comma-separated VGG19 layers for the style loss (deeper layers: larger patterns).")
    # 20: at 512 px the whole command stays under a minute on a 2-core CPU, where more steps buy little
    # (benchmarks/gatys_time_to_quality.py; the figures are in its docstring).
    steps: int = setting(20, "Most optimizer steps at each scale of the pyramid; a step at half the size costs a "
                             "quarter, so the full size's steps are most of the time. A scale stops earlier once "
                             "converged (--tolerance).", min=1)
    optimizer: str = setting("lbfgs", "L-BFGS converges in fewer steps; Adam uses less memory.", choices=OPTIMIZERS)
    lr: float | None = setting(None, "Learning rate.", min=0, label="learning rate",
                               default_text="1 for lbfgs, 0.02 for adam")
    # 6 levels take a 512 px image down to 8 px, below the scale of any stroke (tasks/gatys/pyramid.py).
    coarse_levels: int = setting(6, "Optimize the image together with this many coarser copies of it (a Laplacian "
                                    "pyramid): large structures settle in fewer steps. 0 optimizes plain pixels.",
                                 min=0, max=12)
    init: str = setting("content", "Starting image: content keeps most structure, noise gives more varied results, "
                                   "arbitrary starts from the one-pass picture of the arbitrary-style model.",
                        choices=INITS)
    seed: int = setting(0, "Random seed; the same seed on the same device gives the same image.")
    precision: str = setting("auto", _PRECISION_HELP, choices=PRECISIONS)
    pooling: str = setting("max", "VGG pooling: avg gives smoother, softer results.", choices=POOLINGS)
    weights: str = setting("caffe", "VGG19 weights: caffe (original, bundled, offline) or torchvision "
                                    "(downloaded once).", choices=WEIGHT_SOURCES)
    # 128 px: large structures and colours settle where steps cost 1/16 of a full-size one (and the strokes
    # come out bigger and more coherent than when started at full size).
    start_size: int = setting(128, "Pyramid: start at --size halved while at least this large; set to --size "
                                   "to optimize at full size only.", min=32, max=MAX_SIDE)
    tolerance: float = setting(0.005, "Stop a scale early once the loss fell by less than this fraction over its "
                                      "last 10 steps; 0 runs every step.", min=0, max=1)
    preserve_color: bool = setting(False, "Keep the photo's colours; take only the style's texture.")
    feather: float = _feather()
    mask_invert: bool = _mask_invert()

    def _validate(self) -> None:
        if self.size and self.size < 32:
            raise ConfigError(f"size {self.size} is too small: use at least 32 px")
        if self.lr is not None and not self.lr > 0:
            raise ConfigError(f"learning rate must be positive, got {self.lr}")
        check_blend(self.style_blend)
        _check_layers(self.content_layers, self.style_layers)

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]


# Tiles smaller than this would be mostly margin.
MIN_TILE = 128


def _check_size_and_tile(size: int, tile: int | None) -> None:
    """The checks of a network applied to photos (fast models, the arbitrary-style model)."""
    if size and size < 16:
        raise ConfigError(f"size {size} is too small: use at least 16 px")
    if tile and tile < MIN_TILE:
        raise ConfigError(f"tile must be 0 (off) or at least {MIN_TILE} px, got {tile}")


@dataclass(frozen=True)
class FastConfig(Settings):
    """Applying a fast style model (Johnson et al.) to photos."""

    size: int = setting(0, _SIZE_HELP, min=0, max=MAX_SIDE)
    strength: float = setting(1.0, "Blend toward the photo: 0 = photo, 1 = full style.", min=0, max=1)
    preserve_color: bool = setting(False, "Keep the photo's colours; take only the style's texture.")
    # A model paints strokes of a fixed size in pixels (those of its training crops): on a 12 MP photo they
    # are a fine texture. Running it smaller and enlarging the result with the super-resolution model makes
    # them larger in proportion, as a painter's brush is to the canvas.
    work_size: int = setting(0, "Stroke size: run the model with the photo's longest side at this many px, then "
                                "enlarge to the output size with the super-resolution model (smaller: larger "
                                "strokes). 0 runs it at the output size.", min=0, max=MAX_SIDE)
    tile: int | None = _tile()
    feather: float = _feather()
    mask_invert: bool = _mask_invert()

    def _validate(self) -> None:
        _check_size_and_tile(self.size, self.tile)
        if self.work_size and self.work_size < 64:
            raise ConfigError(f"work size must be 0 (off) or at least 64 px, got {self.work_size}")


ARBITRARY_TRANSFORMS = ("wct", "adain")
# How the arbitrary model's decoders enlarge (nets/decoders.py); model files store the index into this.
UPSAMPLING_MODES = ("nearest", "bilinear")
SHIFTS = (1, 4)  # the arbitrary model's passes of its coarsest level: one, or the four offsets of half a cell


@dataclass(frozen=True)
class ArbitraryConfig(Settings):
    """Any painting in one pass (--model arbitrary --style PAINTING): VGG19 features of the photo take the
    painting's statistics at each level, decoders trained on photos turn them back into pixels."""

    size: int = setting(0, _SIZE_HELP, min=0, max=MAX_SIDE)
    # 0.85: over 15 held-out photo and painting pairs (benchmarks/style_models.py's measure) 1.0 keeps a
    # content distance of 1.33 for a style ratio of 0.32, 0.85 1.24 for 0.32: the scene reads better for the
    # same style.
    strength: float = setting(0.85, "How far the photo's features move to the painting's statistics: 0 = the "
                                    "photo, 1 = the full transform.", min=0, max=1)
    preserve_color: bool = setting(False, "Keep the photo's colours; take only the style's texture.")
    style_scale: float = setting(1.0, "Style image size relative to the output: below 1 gives larger brush "
                                      "strokes.", min=0.05, max=8)
    style_blend: tuple[float, ...] | None = setting(
        None, "Comma-separated weights, one per --style (e.g. 0.7,0.3).", default_text="equal", metavar="W,W,...")
    # AdaIN's per-channel means and deviations (Huang & Belongie 2017) at every level, not Li et al.'s
    # whitening-colouring: over 15 held-out pairs the style ratio 0.32 against 0.39 and the content distance
    # 1.33 against 2.06 (WCT matches each level exactly but the cascade then breaks relu4_2 and relu5_1),
    # and no eigendecomposition per image.
    transform: str = setting("adain", "Feature transform: adain matches the painting's per-channel means and "
                                      "deviations at each level; wct its whole feature covariance (bolder, "
                                      "breaks up the scene more).", choices=ARBITRARY_TRANSFORMS)
    # 4 is cycle spinning (Coifman & Donoho 1995, "Translation-Invariant De-Noising"). benchmarks/arbitrary_grid.py,
    # 10 held-out photos x 8 paintings: the grid 1.27 (worst 1.62) with one pass, 1.05 (worst 1.14) with four,
    # where the photos score 1.00; two diagonal offsets (1.15) left a diagonal hatch. But averaging also softens
    # the strokes, and benchmarks/style_models.py (6 photos x 5 paintings) scores four passes at 0.440 / 1.328
    # (style ratio / content) against one pass's 0.368 / 1.118, past the 0.40 / 1.3: so 1 by default.
    shifts: int = setting(1, "Passes of the coarsest level at the offsets of half its 8 px grid, averaged: 4 "
                             "removes the faint 8 px grid the decoders leave in flat areas, for softer strokes and "
                             "more time.", min=1, max=4)
    # tensors.remove_periodic on the relu4_1 and relu3_1 decoders' pictures at their grids' periods (8 and 4 px).
    # benchmarks/arbitrary_grid.py, 10 held-out photos x 8 paintings: the grid 1.27 (worst 1.62) -> 1.04 (worst
    # 1.12), where four shifts give 1.05; relu4_1's plain reconstructions 22.30 -> 22.86 dB (the removed pattern
    # was error, not detail). benchmarks/style_models.py (10 photos x 5 paintings): style ratio 0.36 -> 0.38,
    # content 1.15 -> 1.28, the finer levels painting over a clean picture; the same filter on the final picture
    # instead: 0.40 / 1.12 (less of the painting's texture).
    degrid: bool = setting(True, "Remove the periodic grid that the relu4_1 and relu3_1 decoders leave (8 and 4 px) "
                                 "with a local comb filter; --no-degrid shows their raw pictures.")
    # 5: tasks/refine.py. On 10 held-out photos x the three shared paintings no model was trained on, one pass
    # scores style 0.27 to 0.38 / content 2.32 to 2.59, 5 steps 0.30 to 0.38 / 0.75 to 1.02; on 4 photos 3 steps
    # (content weight 2 or 3) left Mosaic at 1.43 to 1.54. Read by RefinedTask (run, batch, the page); video
    # frames stay one pass.
    refine: int = setting(5, "Steps of the optimization after the one pass, from its picture: they pull the scene "
                             "back toward the photo where the painting's statistics moved it, and keep the "
                             "painting's texture. 0 keeps the one-pass picture (faster).", min=0, max=100)
    precision: str = setting("auto", _PRECISION_HELP, choices=PRECISIONS)
    tile: int | None = _tile()
    feather: float = _feather()
    mask_invert: bool = _mask_invert()

    def _validate(self) -> None:
        _check_size_and_tile(self.size, self.tile)
        check_blend(self.style_blend)
        if self.shifts not in SHIFTS:
            raise ConfigError(f"shifts must be {' or '.join(map(str, SHIFTS))}, not {self.shifts}")


@dataclass(frozen=True)
class TrainConfig(Settings):
    """What every training run shares: the loop, its data and its schedule. One subclass per task."""

    image_size: int = setting(256, "Side of the square training crops in px.", min=32, max=MAX_CROP_SIDE)
    batch_size: int = setting(4, "Crops per step on each process.", min=1)
    steps: int | None = setting(20000, "Optimizer steps (batches); ignored when --epochs is given.", min=1)
    epochs: int | None = setting(None, "Passes over the data; overrides --steps.", min=1)
    lr: float = setting(1e-3, "Adam learning rate.", label="learning rate", min=0)
    seed: int = setting(0, "Random seed.")
    workers: int = setting(2, "Data loading processes (0: load in the training process).", min=0, max=256)
    log_every: int = setting(10, "Steps between loss reports.", min=1)
    checkpoint_every: int = setting(500, "Steps between checkpoints (OUTPUT.ckpt).", min=1)
    preview_every: int = setting(500, "Steps between previews (OUTPUT_previews/).", min=1)
    preview_images: int = setting(4, "Photos held back from training for the previews.", min=0, max=64)
    validation_images: int = setting(0, "Photos held back from training to measure the loss (and the task's "
                                        "score: CIEDE2000 for colorize, PSNR for upscale) on, every "
                                        "--validate-every steps and at the end (0: none).", min=0, max=10000)
    validate_every: int = setting(500, "Steps between validation measurements (with --validation-images).", min=1)
    keep_best: bool = setting(False, "Write the weights of the step with the best validation score (the lowest "
                                     "validation loss where the task has none) instead of the last step's (with "
                                     "--validation-images).")
    amp: bool = setting(True, "Mixed precision on CUDA (bf16 where supported, else fp16 with loss scaling).")
    lr_decay: str = _lr_decay("none")
    init: str | None = setting(None, "A model file (or name) to start from: its weights with matching names and "
                                     "shapes are loaded before training (fine-tuning).", metavar="MODEL")

    # Fields that may change between an interrupted run and its resumption without changing the result.
    RESUMABLE_CHANGES: ClassVar[frozenset[str]] = frozenset(
        {"steps", "epochs", "workers", "log_every", "checkpoint_every", "preview_every", "validate_every"})

    def _validate(self) -> None:
        if not self.lr > 0:
            raise ConfigError(f"learning rate must be positive, got {self.lr}")
        if self.keep_best and not self.validation_images:
            raise ConfigError("--keep-best needs --validation-images: the photos held back to choose the best step by")
        if self.epochs is None and self.steps is None:
            raise ConfigError("give a positive number of steps or of epochs")

    def learning_rate(self, step: int, total: int) -> float:
        """The learning rate for 0-based `step` of `total`: a pure function of the step, so resume is exact."""
        if self.lr_decay == "cosine":
            progress = min(1.0, step / max(1, total - 1))
            return self.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))
        return self.lr


@dataclass(frozen=True)
class StyleTrainConfig(TrainConfig):
    """Training a fast style network (Johnson et al. 2016) with the losses of losses.py.

    Johnson et al. take content from relu2_2 and style from relu1_2, relu2_2, relu3_3 and relu4_3; the
    weights differ from GatysConfig's because a network must serve every photo at once.
    """

    content_weight: float = setting(1.0, "How much of the photo's structure the model keeps.", min=0)
    style_weight: float = setting(10.0, "How strongly the style is imposed.", min=0)
    tv_weight: float = setting(1.0, "Smoothness of the output.", min=0)
    content_layers: tuple[str, ...] = setting(("relu2_2",), "Comma-separated VGG19 layers for the content loss.")
    style_layers: tuple[str, ...] = setting(("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
                                            "Comma-separated VGG19 layers for the style loss.")
    style_size: int = setting(512, "Longest side of the style image for its targets; smaller gives larger "
                                   "strokes.", min=32, max=MAX_SIDE)
    weights: str = setting("caffe", "VGG19 weights for the losses.", choices=WEIGHT_SOURCES)
    width: int = setting(32, "Channels of the network's first layer (32 as Johnson; 16 is faster, a little "
                             "softer).", min=4, max=128)
    residual_blocks: int = setting(5, "Residual blocks in the network.", min=0, max=32)

    def _validate(self) -> None:
        super()._validate()
        _check_layers(self.content_layers, self.style_layers)


UPSCALE_SCALES = (2, 3, 4)
UPSCALE_DEGRADATIONS = ("bicubic", "real")  # tasks/upscale.PairTransform
UPSCALE_INPUTS = ("auto", *UPSCALE_DEGRADATIONS)  # which shipped network `upscale` runs (tasks/upscale.Upscaler)
# The largest enlargement `upscale --scale` asks for (x4's network, then bicubic; tasks/upscale.network_scale).
MAX_UPSCALE = 8


@dataclass(frozen=True)
class UpscaleConfig(Settings):
    """Super-resolution of photos with a trained network (stylize upscale)."""

    scale: float | None = setting(None, "Enlargement factor: x2, x3 and x4 have their own networks; another (1.5, "
                                        "2.5, 6) runs the next network up (x4 above 4) and resizes its output.",
                                  min=1, max=MAX_UPSCALE, default_text="4, or the --model's own")
    sharpness: float = setting(0.0, "0 = faithful (the PSNR model: smooth, no invented detail), 1 = crisp (the "
                                    "perceptual model: sharper texture, some invented detail); in between blends "
                                    "the two networks.", min=0, max=1)
    tile: int | None = setting(None, "Tile side in input px for large images; 0 never tiles.", min=0, max=MAX_SIDE,
                               default_text="automatic")
    ensemble: bool = setting(False, "Average the network over the 8 flips and rotations of the input: slightly "
                                    "more faithful (about +0.1 dB), 8 times slower.")
    degradation: str = setting("auto", "What the photos went through: bicubic (a clean downscale, as the "
                                       "benchmarks'), real (a camera's or the web's: JPEG blocks, noise; the x4 "
                                       "network trained for them, resized to other factors) or auto: real for a "
                                       "JPEG file saved at a quality under 85, bicubic for the rest (--sharpness "
                                       "0 only; a clip's frames: bicubic).",
                               choices=UPSCALE_INPUTS)

    def _validate(self) -> None:
        if self.scale is not None and self.scale <= 1:
            raise ConfigError(f"scale must be above 1 (an enlargement), got {self.scale:g}")
        if self.degradation == "real" and self.sharpness:
            raise ConfigError("--sharpness blends the pair of networks for clean photos; the network for JPEG "
                              "and noisy photos (--degradation real) has no crisp twin: use one or the other")


@dataclass(frozen=True)
class UpscaleTrainConfig(TrainConfig):
    """Training a super-resolution network (stylize train --task upscale): pairs of a photo crop and its
    MATLAB-bicubic downscaled version, L1 loss (EDSR), plus a VGG feature loss for perceptual models."""

    scale: int = setting(4, "Enlargement factor the network learns: 2, 3 or 4.", min=2, max=4)
    image_size: int = setting(192, "Side of the high-resolution training crops in px (a multiple of --scale).", min=32,
                              max=MAX_CROP_SIDE)
    batch_size: int = setting(16, "Crops per step on each process.", min=1)
    lr: float = setting(5e-4, "Adam learning rate.", label="learning rate", min=0)
    lr_decay: str = _lr_decay("cosine")
    width: int = setting(32, "Channels of the network's layers.", min=8, max=128)
    blocks: int = setting(8, "Residual blocks in the network.", min=1, max=32)
    perceptual_weight: float = setting(0.0, "Weight of the VGG feature loss (relu2_2, Johnson et al.) beside the "
                                            "pixel loss: 0 trains a faithful PSNR model, about 0.1 a crisp one.", min=0)
    rescale: float = setting(1.0, "Scale augmentation: each photo is first shrunk by a random factor between this "
                                  "and 1, which makes more (and cleaner) training images of a small collection; "
                                  "1 turns it off.", min=0.25, max=1)
    degradation: str = setting("bicubic", "How the low-resolution crops are made: bicubic (the clean downscale of "
                                          "the benchmarks) or real (then blur, noise and JPEG compression at "
                                          "random, as photos from cameras and the web have).",
                               choices=UPSCALE_DEGRADATIONS)

    def _validate(self) -> None:
        super()._validate()
        if self.scale not in UPSCALE_SCALES:
            raise ConfigError(f"scale must be 2, 3 or 4, got {self.scale}")
        if self.image_size % self.scale:
            raise ConfigError(f"image size {self.image_size} must be a multiple of the scale {self.scale}")


@dataclass(frozen=True)
class ColorizeConfig(Settings):
    """Colorizing black-and-white photos from colour references (stylize colorize)."""

    strength: float = setting(1.0, "Colour saturation of the result: 0 keeps the photo gray, 1 takes the "
                                   "colours as found (the references', or the automatic colorizer's), above 1 "
                                   "stronger ones (the automatic colours are soft).", min=0, max=2)
    working_size: int = setting(384, "Longest side at which photo and references are matched (the colours are "
                                     "then brought to the photo's full size along its edges); larger finds "
                                     "smaller details, slower.", min=64, max=2048)
    top: int = setting(3, "With --references: how many of the folder's most similar images are used.", min=1,
                       max=20)


@dataclass(frozen=True)
class VideoConfig(Settings):
    """Stylizing or colorizing a video (stylize video, stylize colorize CLIP): encoding, temporal consistency,
    segments for resuming."""

    crf: int = setting(18, "Video quality (x264's constant rate factor): lower is better and larger; 18 looks "
                           "like the input.", min=0, max=51)
    temporal: bool = setting(True, "Temporal consistency: blend in the previous output frame, warped by the "
                                   "optical flow, where the flow is reliable (--no-temporal: each frame alone).")
    consistency: float = setting(0.8, "With --temporal: how much of each pixel comes from the warped previous "
                                      "frame where the flow is reliable (0 = none, 0.95 = very steady).",
                                 min=0, max=0.99)
    segment_seconds: float = setting(10.0, "Length of the segments written as the job goes; --resume continues "
                                           "after the last finished one.", min=0.5, max=3600)


@dataclass(frozen=True)
class GatysVideoConfig(GatysConfig):
    """Optimization per frame: the first frame as `stylize run`, each later one starting from the warped
    previous result with a temporal loss on reliable pixels (Ruder, Dosovitskiy & Brox 2016)."""

    frame_steps: int = setting(30, "Steps for each frame after the first, at full size, starting from the warped "
                                   "previous result.", min=1)
    temporal_weight: float = setting(50.0, "Weight of the temporal loss (distance to the warped previous result "
                                           "where the flow is reliable).", min=0)


@dataclass(frozen=True)
class ColorizeTrainConfig(TrainConfig):
    """Training the automatic colorizer (stylize train --task colorize): a head on VGG19 hypercolumns of the
    gray photo, aged as an old print, predicting a distribution over a*b* colours (nets/colornet.py)."""

    image_size: int = setting(224, "Side of the square training crops in px (cut at the scale colorize works at).",
                              min=64, max=MAX_CROP_SIDE)
    batch_size: int = setting(8, "Crops per step on each process.", min=1)
    # 1200 steps of 8: twice the shipped model's 4800 crops; on a few hundred photos longer runs learn the photos
    # (issue 31: 32000 crops of 248 photos scored worse on held-out photos than the gray input).
    steps: int | None = setting(1200, "Optimizer steps (batches); ignored when --epochs is given. With a few "
                                      "hundred photos more steps learn the photos, not colours.", min=1)
    lr_decay: str = _lr_decay("cosine")
    width: int = setting(64, "Channels of the network's layers.", min=8, max=256)
    # Zhang, Isola & Efros 2016 rebalance with 0.5 (section 2.2) for vivid colours; measured on our held-out
    # photos it made them wrong as often as vivid (CIEDE2000 11.83 at 0.75 against 9.92 at 1).
    rebalance: float = setting(1.0, "Class rebalancing: 1 weighs every colour as often as it occurs in the photos "
                                    "(the most accurate), lower weighs the rare, saturated ones up (more vivid, "
                                    "more often wrong; Zhang et al. use 0.5).", min=0.01, max=1)
    # Issue 31's "people first": 20 of the 252 training photos show people, most of them small, and a head trained
    # on all of them gives faces the yellow-olive it hedges with. Skin hues counted 12 times in those photos only
    # gave natural faces (the astronaut's hue 67 degrees, true 62, against 86) and a warmer cast elsewhere
    # (CIEDE2000 10.23 against 9.87 on the held-out photos): the opt-in colorize-portrait model, not the default.
    people: str | None = setting(None, "The training photos that show people: a text file, one file name a line "
                                       "(# starts a comment); their skin-hued colours count --skin-weight times in "
                                       "the loss, for a model for portraits.", metavar="FILE")
    skin_weight: float = setting(1.0, "How many times the skin-hued colours (hue 35 to 68 degrees, chroma 10 to 40) "
                                      "of the --people photos count in the loss.", min=1, max=100)

    def _validate(self) -> None:
        super()._validate()
        if self.skin_weight != 1 and self.people is None:
            raise ConfigError("--skin-weight needs --people: the list of training photos whose skin it weighs")


@dataclass(frozen=True)
class ArbitraryTrainConfig(TrainConfig):
    """Training the arbitrary-style decoders (stylize train --task arbitrary): each learns to reconstruct photos
    from their own VGG19 features at its level, with a pixel loss and a feature loss at that level (Li et al.
    2017, who weigh the two equally); no paintings are needed."""

    batch_size: int = setting(8, "Crops per step on each process.", min=1)
    lr: float = setting(1e-4, "Adam learning rate (AdaIN's).", label="learning rate", min=0)
    lr_decay: str = _lr_decay("cosine")
    feature_weight: float = setting(1.0, "Weight of the feature reconstruction loss beside the pixel loss.", min=0)
    width: int = setting(64, "Channels of the decoders' finest layers (64 mirrors VGG19 exactly).", min=8, max=128)
    levels: int = setting(4, "Decoders for relu1_1 up to relu{levels}_1.", min=1, max=4)
    upsampling: str = setting("bilinear", "How the decoders enlarge where VGG19 pools: nearest (Li et al.'s) leaves "
                              "a faint grid of 8 px period in flat areas.", choices=UPSAMPLING_MODES)
