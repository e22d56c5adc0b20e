"""VGG19's layer names, weight sources and pooling kinds, as plain data.

Defined once here, without torch, so that configurations can be validated (and `--help` answered) before
torch is imported; `stylize.vgg` builds the network from the same table.
"""

from __future__ import annotations

# VGG19's convolutional part (configuration "E" of Simonyan & Zisserman 2015): channels per conv, "M" = pool.
VGG19_CONFIG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)

WEIGHT_SOURCES = ("caffe", "torchvision")
POOLINGS = ("max", "avg")


def _layer_names() -> tuple[tuple[str, ...], dict[str, int]]:
    names: list[str] = []
    channels: dict[str, int] = {}
    block, conv = 1, 1
    for item in VGG19_CONFIG:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            channels[f"conv{block}_{conv}"] = int(item)
            conv += 1
    return tuple(names), channels


# conv1_1, relu1_1, conv1_2, relu1_2, pool1, conv2_1, ... relu5_4, pool5: the same order as torchvision's
# vgg19().features, so index i here is features[i] there.
LAYER_NAMES, CONV_CHANNELS = _layer_names()
LAYER_INDEX = {name: index for index, name in enumerate(LAYER_NAMES)}
RELU_LAYERS = tuple(name for name in LAYER_NAMES if name.startswith("relu"))


def min_input_side(layers: tuple[str, ...] | list[str]) -> int:
    """Smallest image side for which the deepest of `layers` still has at least one pixel."""
    deepest = max(LAYER_INDEX[name] for name in layers)
    pools = sum(1 for name in LAYER_NAMES[:deepest] if name.startswith("pool"))
    return 2**pools
