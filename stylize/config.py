"""Job configurations: frozen dataclasses that hold every default and check every value.

The CLI mirrors these fields as options; the resolved config is stored in outputs' metadata and reports.
Plain types only (no torch import), so the CLI can build and validate a config before loading torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from stylize.errors import ConfigError

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "style")
WEIGHT_SOURCES = ("caffe", "torchvision")
POOLINGS = ("max", "avg")

# Learning rates when --lr is not given: L-BFGS takes full quasi-Newton steps; for Adam, 0.02 per step in
# [0, 1] pixel units (as crowsonkb/style-transfer-pytorch) moves fast without speckle.
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}

RELU_LAYERS = tuple(f"relu{b}_{c}" for b, n in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4)) for c in range(1, n + 1))


def _as_tuple(value: Any) -> tuple:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(value)


@dataclass(frozen=True)
class GatysConfig:
    """Optimization-based style transfer (Gatys et al.). Losses are normalized as losses.py documents.

    Weights: content and style errors are both relative (about 1 for unrelated images), so style_weight is
    how many times more a unit of style error counts than a unit of content error.
    """

    size: int = 512  # longest side of the output in pixels; 0 keeps the content image's own size
    style_scale: float = 1.0  # style image's longest side relative to the output's
    style_blend: tuple[float, ...] | None = None  # one weight per style image; None = equal
    content_weight: float = 1.0
    style_weight: float = 10.0
    tv_weight: float = 2.0
    content_layers: tuple[str, ...] = ("relu4_2",)  # Gatys et al. 2016
    style_layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")  # Gatys et al.
    steps: int = 300  # optimizer steps at the first scale; each finer scale runs half as many
    optimizer: str = "lbfgs"
    lr: float | None = None  # None: DEFAULT_LR for the optimizer
    init: str = "content"
    seed: int = 0
    pooling: str = "max"
    weights: str = "caffe"
    start_size: int = 512  # the pyramid halves `size` while the result stays at least this large
    preserve_color: bool = False

    def __post_init__(self) -> None:
        # Accept lists and comma-separated strings from Python callers, store tuples.
        for name in ("content_layers", "style_layers"):
            object.__setattr__(self, name, _as_tuple(getattr(self, name)))
        if self.style_blend is not None:
            try:
                blend = tuple(float(w) for w in _as_tuple(self.style_blend))
            except ValueError:
                raise ConfigError(f"style blend must be comma-separated numbers, got {self.style_blend!r}") from None
            object.__setattr__(self, "style_blend", blend)
        self._validate()

    def _validate(self) -> None:
        if self.size < 0:
            raise ConfigError(f"size must be a positive number of pixels (or 0 for the original), got {self.size}")
        if self.size and self.size < 32:
            raise ConfigError(f"size {self.size} is too small: use at least 32 px")
        if not 0.05 <= self.style_scale <= 8:
            raise ConfigError(f"style scale must be between 0.05 and 8, got {self.style_scale}")
        for name in ("content_weight", "style_weight", "tv_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name.replace('_', ' ')} must not be negative, got {getattr(self, name)}")
        if self.style_blend is not None and (
            not self.style_blend or any(w < 0 for w in self.style_blend) or sum(self.style_blend) <= 0
        ):
            raise ConfigError(f"style blend weights must be non-negative with a positive sum: {self.style_blend}")
        if not self.content_layers:
            raise ConfigError("at least one content layer is needed")
        if not self.style_layers:
            raise ConfigError("at least one style layer is needed")
        for layer in self.content_layers + self.style_layers:
            if layer not in RELU_LAYERS:
                raise ConfigError(f"unknown layer {layer!r}; choose from {', '.join(RELU_LAYERS)}")
        if self.steps < 1:
            raise ConfigError(f"steps must be at least 1, got {self.steps}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}: use {' or '.join(OPTIMIZERS)}")
        if self.lr is not None and not self.lr > 0:
            raise ConfigError(f"learning rate must be positive, got {self.lr}")
        if self.init not in INITS:
            raise ConfigError(f"unknown init {self.init!r}: use {', '.join(INITS)}")
        if self.pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling {self.pooling!r}: use {' or '.join(POOLINGS)}")
        if self.weights not in WEIGHT_SOURCES:
            raise ConfigError(f"unknown weights {self.weights!r}: use {' or '.join(WEIGHT_SOURCES)}")
        if self.start_size < 32:
            raise ConfigError(f"start size must be at least 32 px, got {self.start_size}")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    def replace(self, **changes: Any) -> GatysConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready types, for reports and metadata."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class TrainConfig:
    """Training a fast style network (Johnson et al.) with the losses of losses.py.

    Johnson et al. take content from relu2_2 and style from relu1_2, relu2_2, relu3_3 and relu4_3; the
    weights differ from GatysConfig's because a network must serve every photo at once.
    """

    image_size: int = 256  # side of the square training crops
    batch_size: int = 4
    steps: int | None = 20000  # optimizer steps; ignored when epochs is given
    epochs: int | None = None
    lr: float = 1e-3
    content_weight: float = 1.0
    style_weight: float = 10.0
    tv_weight: float = 1.0
    content_layers: tuple[str, ...] = ("relu2_2",)
    style_layers: tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
    style_size: int = 512  # longest side of the style image when its targets are computed
    seed: int = 0
    weights: str = "caffe"
    width: int = 32  # first-layer channels of the transform network
    residual_blocks: int = 5
    workers: int = 2  # data loader processes (0: load in the training process)
    log_every: int = 10
    checkpoint_every: int = 500
    preview_every: int = 500
    preview_images: int = 4  # photos held back from training and stylized for previews
    amp: bool = True  # mixed precision on CUDA (bf16 where supported, else fp16 with a scaler)

    def __post_init__(self) -> None:
        for name in ("content_layers", "style_layers"):
            object.__setattr__(self, name, _as_tuple(getattr(self, name)))
        if self.image_size < 32:
            raise ConfigError(f"image size must be at least 32 px, got {self.image_size}")
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {self.batch_size}")
        if self.epochs is None and (self.steps is None or self.steps < 1):
            raise ConfigError("give a positive number of steps or of epochs")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"epochs must be at least 1, got {self.epochs}")
        if not self.lr > 0:
            raise ConfigError(f"learning rate must be positive, got {self.lr}")
        for name in ("content_weight", "style_weight", "tv_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name.replace('_', ' ')} must not be negative, got {getattr(self, name)}")
        for layer in self.content_layers + self.style_layers:
            if layer not in RELU_LAYERS:
                raise ConfigError(f"unknown layer {layer!r}; choose from {', '.join(RELU_LAYERS)}")
        if not self.content_layers or not self.style_layers:
            raise ConfigError("at least one content layer and one style layer are needed")
        if self.style_size < 32:
            raise ConfigError(f"style size must be at least 32 px, got {self.style_size}")
        if self.weights not in WEIGHT_SOURCES:
            raise ConfigError(f"unknown weights {self.weights!r}: use {' or '.join(WEIGHT_SOURCES)}")
        if self.width < 4 or self.residual_blocks < 0:
            raise ConfigError("width must be at least 4 and residual blocks not negative")
        if self.workers < 0:
            raise ConfigError(f"workers must not be negative, got {self.workers}")
        for name in ("log_every", "checkpoint_every", "preview_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be at least 1, got {getattr(self, name)}")
        if self.preview_images < 0:
            raise ConfigError(f"preview images must not be negative, got {self.preview_images}")

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}
