"""stylize: neural style transfer and image-to-image jobs for photographs, offline.

    from stylize import transfer, ArbitraryStylizer, FastStylizer
    out = transfer(photo, painting, size=512)             # optimization; PIL in, PIL out (tensors too)
    fast = FastStylizer.load("starry")(pixels)            # a fast model on a (N, 3, H, W) batch in [0, 1]
    any_painting = ArbitraryStylizer.load()(pixels, painting)   # any painting, one pass
    fit(StyleObjective(StyleTrainConfig(), style, credit), photos, "mine.safetensors")   # train one
    big = Upscaler.load(config=UpscaleConfig(scale=2))(pixels)  # super-resolution, shipped models
    Colorizer (with ColorHint points; automatic_model("colorize-portrait") for photos of people); VideoJob with
    frame_functions, colorizing_job, upscaling_job: colorize photos; stylize, colorize or enlarge videos

Names are loaded on first use, so `import stylize` (and the CLI's --help) does not pay for importing torch;
type checkers see the real definitions below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stylize.version import __version__

if TYPE_CHECKING:  # the names below, for type checkers; at run time __getattr__ loads them
    from stylize.colorspace import preserve_color  # noqa: F401
    from stylize.config import (  # noqa: F401
        ArbitraryConfig,
        ArbitraryTrainConfig,
        ColorizeConfig,
        ColorizeTrainConfig,
        FastConfig,
        GatysConfig,
        GatysVideoConfig,
        StyleTrainConfig,
        TrainConfig,
        UpscaleConfig,
        UpscaleTrainConfig,
        VideoConfig,
    )
    from stylize.device import resolve_device  # noqa: F401
    from stylize.errors import (  # noqa: F401
        ConfigError,
        DeviceError,
        ImageError,
        ModelFileError,
        StylizeError,
        WeightsError,
    )
    from stylize.images import LoadedImage, load_image, save_image  # noqa: F401
    from stylize.masks import MaskSet  # noqa: F401
    from stylize.modelfile import ModelInfo, load_model, read_model_info, save_model  # noqa: F401
    from stylize.tasks.arbitrary import ArbitraryObjective, ArbitraryStylizer, StyledTask  # noqa: F401
    from stylize.tasks.colorize import ColorizeObjective, Colorizer, automatic_model  # noqa: F401
    from stylize.tasks.fast import FastStylizer, StyleObjective  # noqa: F401
    from stylize.tasks.gatys import GatysTransfer, StepInfo, transfer  # noqa: F401
    from stylize.tasks.hints import ColorHint  # noqa: F401
    from stylize.tasks.refine import RefinedTask  # noqa: F401
    from stylize.tasks.upscale import UpscaleObjective, Upscaler  # noqa: F401
    from stylize.tasks.video import (  # noqa: F401
        ClipMasks,
        VideoJob,
        VideoResult,
        colorizing_frames,
        colorizing_job,
        frame_functions,
        tensor_frames,
        upscaling_job,
        warping_error,
    )
    from stylize.training.loop import TrainLog, TrainResult, TrainStart, fit  # noqa: F401
    from stylize.vgg import VGGFeatures  # noqa: F401
    from stylize.zoo import ModelEntry, available_models, resolve_model  # noqa: F401

# public name -> module that defines it
_EXPORTS = {
    "transfer": "stylize.tasks.gatys",
    "GatysTransfer": "stylize.tasks.gatys",
    "StepInfo": "stylize.tasks.gatys",
    "FastStylizer": "stylize.tasks.fast",
    "ArbitraryStylizer": "stylize.tasks.arbitrary",
    "ArbitraryObjective": "stylize.tasks.arbitrary",
    "StyledTask": "stylize.tasks.arbitrary",
    "RefinedTask": "stylize.tasks.refine",
    "StyleObjective": "stylize.tasks.fast",
    "Upscaler": "stylize.tasks.upscale",
    "UpscaleObjective": "stylize.tasks.upscale",
    "Colorizer": "stylize.tasks.colorize",
    "ColorizeObjective": "stylize.tasks.colorize",
    "automatic_model": "stylize.tasks.colorize",
    "ColorHint": "stylize.tasks.hints",
    "VideoJob": "stylize.tasks.video",
    "ClipMasks": "stylize.tasks.video",
    "MaskSet": "stylize.masks",
    "VideoResult": "stylize.tasks.video",
    "frame_functions": "stylize.tasks.video",
    "colorizing_frames": "stylize.tasks.video",
    "tensor_frames": "stylize.tasks.video",
    "colorizing_job": "stylize.tasks.video",
    "upscaling_job": "stylize.tasks.video",
    "warping_error": "stylize.tasks.video",
    "fit": "stylize.training.loop",
    "TrainLog": "stylize.training.loop",
    "TrainResult": "stylize.training.loop",
    "TrainStart": "stylize.training.loop",
    "GatysConfig": "stylize.config",
    "FastConfig": "stylize.config",
    "ArbitraryConfig": "stylize.config",
    "ArbitraryTrainConfig": "stylize.config",
    "TrainConfig": "stylize.config",
    "StyleTrainConfig": "stylize.config",
    "UpscaleConfig": "stylize.config",
    "UpscaleTrainConfig": "stylize.config",
    "ColorizeConfig": "stylize.config",
    "ColorizeTrainConfig": "stylize.config",
    "VideoConfig": "stylize.config",
    "GatysVideoConfig": "stylize.config",
    "VGGFeatures": "stylize.vgg",
    "LoadedImage": "stylize.images",
    "load_image": "stylize.images",
    "save_image": "stylize.images",
    "preserve_color": "stylize.colorspace",
    "resolve_device": "stylize.device",
    "ModelInfo": "stylize.modelfile",
    "load_model": "stylize.modelfile",
    "read_model_info": "stylize.modelfile",
    "save_model": "stylize.modelfile",
    "ModelEntry": "stylize.zoo",
    "available_models": "stylize.zoo",
    "resolve_model": "stylize.zoo",
    "StylizeError": "stylize.errors",
    "ConfigError": "stylize.errors",
    "DeviceError": "stylize.errors",
    "ImageError": "stylize.errors",
    "ModelFileError": "stylize.errors",
    "WeightsError": "stylize.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'stylize' has no attribute {name!r}")
