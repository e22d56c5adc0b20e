import pytest
import torch
from torch import nn

from stylize.nets.johnson import JohnsonNet
from stylize.nets.norm import InstanceNorm, norms, statistics


@pytest.mark.parametrize("shape", [(1, 3, 64, 64), (2, 3, 37, 53), (1, 3, 5, 201), (1, 3, 1, 1)])
def test_output_has_the_input_size_and_unit_range(shape):
    net = JohnsonNet(width=8, residual_blocks=1)
    out = net(torch.rand(shape))
    assert out.shape == shape
    assert 0 <= out.min() and out.max() <= 1


def test_no_transposed_convolutions_and_reflection_padding():
    net = JohnsonNet()
    kinds = {type(m) for m in net.modules()}
    assert nn.ConvTranspose2d not in kinds and nn.ReflectionPad2d in kinds
    assert sum(isinstance(m, InstanceNorm) for m in net.modules()) == 3 + 2 * 5 + 2


def test_recorded_statistics_reproduce_the_normal_forward():
    net = JohnsonNet(width=8, residual_blocks=1)
    with torch.no_grad():
        x = torch.rand(1, 3, 32, 32)
        plain = net(x)
        with statistics(net, "record"):
            net(x)
        with statistics(net, "impose"):
            imposed = net(x)
    assert torch.allclose(plain, imposed, atol=1e-6)
    assert all(norm.stats is None for norm in norms(net))


def test_arguments_rebuild_the_same_architecture():
    net = JohnsonNet(width=12, residual_blocks=2)
    clone = JohnsonNet(**net.arguments())
    assert clone.state_dict().keys() == net.state_dict().keys()
