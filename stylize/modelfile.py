"""Model files: safetensors weights plus a JSON document that names the architecture and the task.

The document sits under the safetensors metadata key "stylize":
    {"format": "stylize-model", "format_version": 2, "task": "style", "architecture": "johnson",
     "arguments": {"width": 32, "residual_blocks": 5}, "stylize_version": ..., "style": {credits},
     "training": {settings and the command that made it}, "losses": {...}}
Files of format 1 ("stylize-transformer", the only task then being style transfer) keep loading.

Everything read from a file is checked at this boundary before it is used: the header and the document
against a schema (a bad file is a one-line ModelFileError, never a crash further in), the architecture's
arguments against their limits and against the tensor shapes in the header (so a small file cannot make us
build a huge network), and the weights for finiteness. Loading never unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

from stylize.errors import ModelFileError
from stylize.files import write_bytes_atomic
from stylize.nets.colornet import ColorNet
from stylize.nets.decoders import VGGDecoders
from stylize.nets.johnson import JohnsonNet
from stylize.nets.srnet import SRNet
from stylize.task_table import TASKS
from stylize.version import __version__

MODEL_SUFFIX = ".safetensors"
MODEL_FORMAT = "stylize-model"
FORMAT_VERSION = 2
_LEGACY_FORMAT = "stylize-transformer"  # format 1: a Johnson network for style transfer
METADATA_KEY = "stylize"

# The one table from architecture names in files to classes.
ARCHITECTURES: dict[str, type[nn.Module]] = {
    "johnson": JohnsonNet,
    "srnet": SRNet,
    "colorhist": ColorNet,
    "vggdecoders": VGGDecoders,
}

# Architectures older versions wrote that this one no longer runs, and what to do instead.
RETIRED_ARCHITECTURES = {
    "colornet": "colorizer of an earlier stylize (one averaged colour per pixel, muted), which this version no "
                "longer runs: train a new one with `stylize train --task colorize`, or use the shipped colorize-auto",
}

# Bounds on what a header may claim, far above any real model: the header is read before anything else.
_MAX_HEADER_BYTES = 16 * 2**20
_MAX_DOCUMENT_BYTES = 2**20
_FLOAT_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


@dataclass(frozen=True)
class ModelInfo:
    """What a model file says about itself, checked: its task, architecture and arguments, and the whole
    document (credits, training settings, losses) as plain JSON values."""

    path: Path
    task: str
    architecture: str
    arguments: dict[str, Any]
    document: dict[str, Any]
    shapes: dict[str, tuple[int, ...]]

    @property
    def style(self) -> dict[str, str]:
        return self.document.get("style", {})

    @property
    def training(self) -> dict[str, Any]:
        return self.document.get("training", {})


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def unwrap(net: nn.Module) -> nn.Module:
    """The plain module inside DistributedDataParallel or torch.compile wrappers."""
    net = getattr(net, "module", net)
    return getattr(net, "_orig_mod", net)


def architecture_name(net: nn.Module) -> str:
    for name, cls in ARCHITECTURES.items():
        if type(net) is cls:
            return name
    raise ModelFileError(f"{type(net).__name__} is not a stylize architecture")


def save_model(path: Path, net: nn.Module, task: str, metadata: dict[str, Any], half: bool = False) -> Path:
    """Write the network (unwrapped from DDP or torch.compile first) and its document atomically.

    half=True stores fp16 weights: half the size, and no visible difference in the outputs.
    """
    net = unwrap(net)
    dtype = torch.float16 if half else torch.float32
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in net.state_dict().items()}
    document = {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "stylize_version": __version__,
        "task": task,
        "architecture": architecture_name(net),
        "arguments": net.arguments(),
        **metadata,
    }
    data = save_safetensors(tensors, metadata={METADATA_KEY: json.dumps(document)})
    return write_bytes_atomic(path, data)


def read_model_info(path: Path) -> ModelInfo:
    """The checked description of a model file, from its header alone (no weights are read)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with open(path, "rb") as stream:
            prefix = stream.read(8)
            if len(prefix) < 8:
                raise ModelFileError(f"{path} is not a valid model file (too short)")
            length = int.from_bytes(prefix, "little")
            if length > _MAX_HEADER_BYTES:
                raise ModelFileError(f"{path} is not a valid model file (header length out of range)")
            raw = stream.read(length)
            data_bytes = os.fstat(stream.fileno()).st_size - 8 - length
    except OSError as error:
        raise ModelFileError(f"cannot read {path}: {error.strerror or error}") from None
    if len(raw) < length:
        raise ModelFileError(f"{path} is not a valid model file (truncated header)")
    return _parse(path, raw, data_bytes)


def load_model(path: Path, task: str | None = None) -> tuple[nn.Module, ModelInfo]:
    """(network in fp32 and eval mode, info) from a model file; ModelFileError if it is not a usable one.

    task: the task the caller needs ("style", "upscale", ...); a model of another task is refused with a
    message naming the command it belongs to.
    """
    info = read_model_info(path)
    if task is not None and info.task != task:
        raise ModelFileError(f"{path} is a model for {info.task!r}, not {task!r}: use it with "
                             f"`{TASKS[info.task].usage}`")
    try:
        data = Path(path).read_bytes()
        state = load_safetensors(data)
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelFileError(f"{path} is not a valid model file ({_first_line(error)})") from None
    net = ARCHITECTURES[info.architecture](**info.arguments)
    try:
        net.load_state_dict({k: v.float() for k, v in state.items()})
    except (RuntimeError, KeyError) as error:
        raise ModelFileError(f"{path} does not match its architecture ({_first_line(error)})") from None
    if not all(torch.isfinite(tensor).all() for tensor in net.state_dict().values()):
        raise ModelFileError(f"{path} has weights that are not finite numbers (a diverged training?)")
    return net.eval(), info


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _parse(path: Path, raw: bytes, data_bytes: int) -> ModelInfo:
    """The checked ModelInfo of a header; data_bytes is what the file holds after it, which must be exactly
    what the header describes (so a truncated or padded file is refused before its weights are read)."""
    def bad(reason: str) -> ModelFileError:
        return ModelFileError(f"{path} is not a valid model file ({reason})")

    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # ValueError: also a number of over 4300 digits
        raise bad("unreadable header") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    metadata = header.get("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad("malformed metadata")
    text = metadata.get(METADATA_KEY)
    if text is None:
        raise ModelFileError(f"{path} is a safetensors file but not a stylize model (no '{METADATA_KEY}' metadata)")
    if len(text) > _MAX_DOCUMENT_BYTES:
        raise bad("its description is too large")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):  # ValueError: JSONDecodeError, or a number of over 4300 digits
        raise ModelFileError(f"{path} has corrupt stylize metadata") from None
    if not isinstance(document, dict):
        raise ModelFileError(f"{path} has corrupt stylize metadata (not a JSON object)")

    shapes: dict[str, tuple[int, ...]] = {}
    described = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not (isinstance(entry, dict) and entry.get("dtype") in _FLOAT_DTYPES and isinstance(entry.get("shape"), list)
                and all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**31 for n in entry["shape"])):
            raise bad(f"tensor {name!r} is not described as floats of a valid shape")
        shapes[name] = tuple(entry["shape"])
        described += math.prod(shapes[name]) * _FLOAT_DTYPES[entry["dtype"]].itemsize
    if described != data_bytes:
        raise bad(f"it holds {data_bytes} bytes of weights where its header describes {described}: "
                  "truncated or damaged")

    task, architecture, arguments = _identity(path, document)
    cls = ARCHITECTURES[architecture]
    for key, value in arguments.items():
        low, high = cls.ARGUMENT_LIMITS[key]
        if not low <= value <= high:
            raise ModelFileError(f"{path}: {architecture} argument {key}={value} is outside {low}..{high}")
    expected = _expected_shapes(cls, arguments)
    if expected != shapes:
        differing = sorted(set(expected) ^ set(shapes)) or sorted(k for k in expected if expected[k] != shapes[k])
        raise ModelFileError(
            f"{path}: its weights do not fit a {architecture} network with {arguments} (first mismatch: {differing[0]})"
        )
    return ModelInfo(path, task, architecture, arguments, _plain(document), shapes)


def _identity(path: Path, document: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(task, architecture, arguments) from a document of either format, checked against the table."""
    fmt, version = document.get("format"), document.get("format_version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"{path} has corrupt stylize metadata (format_version)")
    if fmt == _LEGACY_FORMAT:
        task, architecture, arguments = "style", "johnson", document.get("architecture")
    elif fmt == MODEL_FORMAT:
        if version > FORMAT_VERSION:
            raise ModelFileError(f"{path} uses model format {version}; this stylize reads up to {FORMAT_VERSION}: "
                                 "upgrade stylize")
        task, architecture, arguments = document.get("task"), document.get("architecture"), document.get("arguments")
    else:
        raise ModelFileError(f"{path} is not a stylize model (format {fmt!r})")
    if not isinstance(task, str) or not task:
        raise ModelFileError(f"{path} has corrupt stylize metadata (task)")
    if isinstance(architecture, str) and architecture in RETIRED_ARCHITECTURES:
        raise ModelFileError(f"{path} is a {RETIRED_ARCHITECTURES[architecture]}")
    if not isinstance(architecture, str) or architecture not in ARCHITECTURES:
        raise ModelFileError(f"{path} uses an architecture this stylize does not know ({architecture!r}): "
                             "upgrade stylize")
    if task not in TASKS:
        raise ModelFileError(f"{path} is a model for a task this stylize does not know ({task!r}): upgrade stylize")
    # A file claiming another task for its network (an upscaler calling itself "style") is refused at the
    # boundary rather than run by the wrong command.
    if TASKS[task].architecture != architecture:
        raise ModelFileError(f"{path} claims the task {task!r} but holds a {architecture} network (a {task} model "
                             f"is a {TASKS[task].architecture} network): a damaged or tampered file")
    cls = ARCHITECTURES[architecture]
    if isinstance(arguments, dict):  # an argument added after a file was written takes its old behaviour
        arguments = {**getattr(cls, "ARGUMENT_DEFAULTS", {}), **arguments}
    if not isinstance(arguments, dict) or set(arguments) != set(cls.ARGUMENT_LIMITS):
        raise ModelFileError(f"{path}: the {architecture} arguments must be {sorted(cls.ARGUMENT_LIMITS)}")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in arguments.values()):
        raise ModelFileError(f"{path}: the {architecture} arguments must be whole numbers")
    return task, architecture, dict(arguments)


def _expected_shapes(cls: type[nn.Module], arguments: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    # On the meta device nothing is allocated: only shapes exist.
    with torch.device("meta"):
        net = cls(**arguments)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _plain(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the sections that code reads checked for type (credits are strings, and so on)."""
    style = document.get("style", {})
    if not isinstance(style, dict):
        style = {}
    training = document.get("training", {})
    if not isinstance(training, dict):
        training = {}
    losses = document.get("losses", {})
    if not isinstance(losses, dict):
        losses = {}
    return {
        **document,
        "style": {str(k): v for k, v in style.items() if isinstance(v, str)},
        "training": training,
        "losses": {str(k): float(v) for k, v in losses.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)},
    }
