"""Drop-in layers for where PyTorch's own are slow in bf16 on CPUs; the same results, no parameters (so a
model file's format does not change with them).

Measured on a 2-core Xeon with AMX (torch 2.14), one 64 x 540 x 960 bf16 activation in channels-last: the
reflection pad ran in fp32 under autocast (a copy up, the pad, and a copy down in the next convolution), and
the in-place ReLU took 8.0 ms where the same clamp on the raw bits takes 1.8 ms. Together they were more than
a third of a frame of the arbitrary-style model (stylize/tasks/arbitrary.py); the ReLU alone was 6 % of the
optimization's time (stylize/tasks/gatys, where gradients flow through it) and 12 % of an upscale.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ReflectionPad(nn.ReflectionPad2d):
    """Reflection padding in the input's own precision. CPU autocast lists reflection_pad2d among the ops it
    runs in fp32 (PyTorch's "CPU Ops that can autocast to float32"), so under bf16 every layer's input was
    copied up to fp32 and the convolution copied it back down. A pad only moves values: the bf16 result is
    the same to the bit."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x)


class ReLU(nn.ReLU):
    """nn.ReLU, in place on bf16 CPU tensors through their bits. PyTorch's CPU kernel widens every bf16 value
    to fp32 and back; a bf16 value is negative exactly when its sign bit is set, which is when its 16 bits read
    as an int16 are negative, so clamping those int16s at 0 is the ReLU. Only a NaN with its sign bit set
    differs: it becomes 0. Where a gradient is needed, the backward is PyTorch's own (a bit-level one measured
    no faster)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return relu_(x) if self.inplace else super().forward(x)


def relu_(x: torch.Tensor) -> torch.Tensor:
    """The in-place ReLU of `ReLU`, as a function (for networks that call F.relu themselves)."""
    if x.dtype != torch.bfloat16 or x.device.type != "cpu":
        return F.relu(x, inplace=True)
    if x.requires_grad and torch.is_grad_enabled():
        return _BitReLU.apply(x)
    x.view(torch.int16).clamp_(min=0)
    return x


class _BitReLU(torch.autograd.Function):
    """The in-place bit-level ReLU inside autograd: the optimization's VGG19 passes (tasks/gatys)."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        x.view(torch.int16).clamp_(min=0)
        ctx.mark_dirty(x)
        ctx.save_for_backward(x)
        return x

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        (output,) = ctx.saved_tensors
        return torch.ops.aten.threshold_backward(grad, output, 0)
