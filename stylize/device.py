"""The one place that picks the device and the precision, and seeds the random generators."""

from __future__ import annotations

import contextlib
import random

import torch

from stylize.errors import DeviceError


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """Turn "auto", "cpu", "cuda", "cuda:1" or "mps" into a usable device.

    auto picks CUDA, then MPS, then the CPU. A device asked for by name that is not there is an error,
    never a silent fall back to the CPU.
    """
    if isinstance(name, torch.device):
        name = str(name)
    name = name.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            device = torch.device("cuda")
        elif _mps_available():
            device = torch.device("mps")
        else:
            device = torch.device("cpu")
    else:
        try:
            device = torch.device(name)
        except RuntimeError:
            raise DeviceError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps") from None
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise DeviceError(f"device {name!r} asked for, but CUDA is not available here")
            if device.index is not None and device.index >= torch.cuda.device_count():
                raise DeviceError(
                    f"device {name!r} asked for, but only {torch.cuda.device_count()} CUDA device(s) exist"
                )
        elif device.type == "mps" and not _mps_available():
            raise DeviceError(f"device {name!r} asked for, but MPS is not available here")
        elif device.type not in ("cpu", "cuda", "mps"):
            raise DeviceError(f"unsupported device {name!r}: use auto, cpu, cuda, cuda:N or mps")
    if device.type == "cuda":
        # TF32 keeps fp32 storage and range; the loss of mantissa in convolutions does not show in images.
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    return device


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The reduced precision to autocast to on this device, or None for plain fp32.

    Never half precision on the CPU: it is slower there and some kernels lack it.
    """
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """An autocast context for the network forward on this device (a no-op on CPU and MPS)."""
    dtype = autocast_dtype(device)
    if not enabled or dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def memory_format(device: torch.device) -> torch.memory_format:
    """channels_last: measured about 1.3x faster for VGG19 on CPU, and the fast layout for cuDNN."""
    return torch.channels_last if device.type in ("cpu", "cuda") else torch.contiguous_format


def seed_everything(seed: int) -> None:
    """Seed Python's and torch's generators (all devices) for a reproducible run."""
    random.seed(seed)
    torch.manual_seed(seed)
