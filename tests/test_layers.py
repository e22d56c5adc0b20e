"""The drop-in layers for bf16 on CPUs: the same values as PyTorch's own, in the input's precision, and the
networks that use them."""

import torch
import torch.nn.functional as F

from stylize.nets.decoders import VGGDecoders
from stylize.nets.layers import ReflectionPad, ReLU
from stylize.nets.srnet import ResidualBlock
from stylize.vgg import VGGFeatures


def _bf16_values() -> torch.Tensor:
    special = torch.tensor([0.0, -0.0, 1e-40, -1e-40, float("inf"), float("-inf"), 3.0, -3.0])
    return torch.cat([special, torch.randn(1000) * 100]).to(torch.bfloat16)


def test_relu_in_place_on_bf16_is_torchs_relu_to_the_bit_in_any_layout():
    values = _bf16_values()
    expected = F.relu(values.float()).to(torch.bfloat16)
    result = ReLU(inplace=True)(values.clone())
    assert result.dtype == torch.bfloat16 and torch.equal(result.float(), expected.float())
    activation = torch.randn(1, 8, 5, 7).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    inputs = activation.clone()
    output = ReLU(inplace=True)(inputs)
    assert output is inputs and torch.equal(output, F.relu(activation))


def test_relu_with_a_gradient_gives_torchs_values_and_gradients_to_the_bit():
    torch.manual_seed(0)
    weight = torch.randn(16, 3, 3, 3).to(torch.bfloat16)
    image = torch.rand(1, 3, 24, 24).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    upstream = torch.randn(1, 16, 24, 24)
    results = []
    for relu in (lambda x: F.relu(x, inplace=True), ReLU(inplace=True)):
        pixels = image.clone().requires_grad_()
        output = relu(F.conv2d(pixels, weight, padding=1))
        (output.float() * upstream).sum().backward()  # a gradient at the zeroed positions too
        results.append((output.detach(), pixels.grad))
    (expected, expected_grad), (output, grad) = results
    assert torch.equal(output, expected) and torch.equal(grad, expected_grad) and grad.abs().sum() > 0


def test_relu_out_of_place_leaves_its_input_alone():
    source = _bf16_values()
    assert torch.equal(ReLU()(source), F.relu(source)) and not torch.equal(source, F.relu(source))


def test_reflection_pad_under_autocast_keeps_bf16_and_torchs_values():
    features = torch.rand(1, 64, 9, 11).to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        padded = ReflectionPad(2)(features)
    assert padded.dtype == torch.bfloat16
    assert torch.equal(padded.float(), F.pad(features.float(), (2,) * 4, mode="reflect"))


def test_the_arbitrary_models_networks_use_them():
    decoder = VGGDecoders(levels=2, width=8).decoders[1]
    vgg = VGGFeatures(("relu2_1",), None)  # random weights
    assert any(isinstance(m, ReflectionPad) for m in decoder) and not any(
        type(m) is torch.nn.ReflectionPad2d for m in decoder.modules())
    for network in (decoder, vgg):
        assert any(isinstance(m, ReLU) for m in network.modules())
        assert not any(type(m) is torch.nn.ReLU for m in network.modules())


def test_the_upscalers_blocks_give_torchs_result_in_bf16():
    torch.manual_seed(0)
    block = ResidualBlock(8).to(torch.bfloat16)
    features = torch.randn(1, 8, 12, 10).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    expected = features + block.conv2(F.relu(block.conv1(features)))
    assert torch.equal(block(features), expected) and (block.conv1(features) < 0).any()
