"""Model files and training checkpoints.

A model file is safetensors: the transform network's weights, and under the metadata key "stylize" a JSON
document describing it (format and version, architecture arguments, style, training settings, losses).
Loading never unpickles code. Training checkpoints are torch.save dicts of tensors and plain values,
loaded with weights_only=True.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from stylize.errors import StylizeError
from stylize.files import write_bytes_atomic
from stylize.transformer import TransformerNet
from stylize.version import __version__

MODEL_FORMAT = "stylize-transformer"
FORMAT_VERSION = 1
METADATA_KEY = "stylize"


class ModelFileError(StylizeError):
    """A model or checkpoint file is missing, foreign or corrupt."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(path: Path, net: TransformerNet, metadata: dict[str, Any], half: bool = False) -> Path:
    """Write the network (unwrapped from DDP or torch.compile first) and its metadata atomically.

    half=True stores fp16 weights: half the size, and no visible difference in the outputs.
    """
    net = getattr(net, "module", net)
    net = getattr(net, "_orig_mod", net)
    dtype = torch.float16 if half else torch.float32
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in net.state_dict().items()}
    document = {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "stylize_version": __version__,
        "architecture": net.arguments(),
        **metadata,
    }
    data = save_safetensors(tensors, metadata={METADATA_KEY: json.dumps(document)})
    return write_bytes_atomic(path, data)


def read_metadata(path: Path) -> dict[str, Any]:
    """The JSON document of a model file, without loading its weights."""
    return _read(path, weights=False)[1]


def load_model(path: Path) -> tuple[TransformerNet, dict[str, Any]]:
    """(network in fp32 and eval mode, metadata) from a model file; ModelFileError if it is not one."""
    state, metadata = _read(path, weights=True)
    try:
        net = TransformerNet(**metadata["architecture"])
        net.load_state_dict({k: v.float() for k, v in state.items()})
    except (TypeError, KeyError, RuntimeError) as error:
        raise ModelFileError(f"{path} does not match the stylize network ({str(error).splitlines()[0]})") from None
    return net.eval(), metadata


def _read(path: Path, weights: bool) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        data = path.read_bytes() if weights else _header_bytes(path)
        if weights:
            state = load_safetensors(data)
            header = _parse_header(data)
        else:
            state, header = {}, _parse_header(data)
    except (SafetensorError, ValueError, OSError, UnicodeDecodeError) as error:
        raise ModelFileError(f"{path} is not a valid model file ({str(error).splitlines()[0]})") from None
    raw = header.get("__metadata__", {}).get(METADATA_KEY)
    if raw is None:
        raise ModelFileError(f"{path} is a safetensors file but not a stylize model (no '{METADATA_KEY}' metadata)")
    try:
        metadata = json.loads(raw)
    except json.JSONDecodeError:
        raise ModelFileError(f"{path} has corrupt stylize metadata") from None
    if metadata.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{path} is not a stylize transform network (format {metadata.get('format')!r})")
    if metadata.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} uses model format {metadata['format_version']}; this stylize reads up to "
            f"{FORMAT_VERSION}: upgrade stylize"
        )
    return state, metadata


def _header_bytes(path: Path) -> bytes:
    with open(path, "rb") as stream:
        prefix = stream.read(8)
        if len(prefix) < 8:
            raise ValueError("file too short")
        length = int.from_bytes(prefix, "little")
        if length > 100_000_000:
            raise ValueError("header length out of range")
        return prefix + stream.read(length)


def _parse_header(data: bytes) -> dict[str, Any]:
    if len(data) < 8:
        raise ValueError("file too short")
    length = int.from_bytes(data[:8], "little")
    if length > len(data) - 8:
        raise ValueError("header length out of range")
    return json.loads(data[8 : 8 + length].decode("utf-8"))


def save_training_state(path: Path, state: dict[str, Any]) -> Path:
    """Write a training checkpoint (tensors and plain values only) atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return write_bytes_atomic(path, buffer.getvalue())


def load_training_state(path: Path) -> dict[str, Any]:
    """Read a training checkpoint with weights_only=True (no code is unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"nothing to resume: {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or foreign files
        raise ModelFileError(f"{path} is not a readable training checkpoint ({str(error).splitlines()[0]})") from None
