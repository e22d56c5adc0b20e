"""Training checkpoints: torch.save dicts of tensors and plain values, read back with weights_only=True."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from stylize.errors import ModelFileError, load_refusal
from stylize.files import write_bytes_atomic

# What every checkpoint holds, with the types a foreign file must match before anything uses it.
_REQUIRED = {"task": str, "step": int, "epoch": int, "position": int, "config": dict, "inputs": dict,
             "model": dict, "optimizer": dict, "scaler": dict, "rng_cpu": torch.Tensor}


def checkpoint_path_for(output: Path) -> Path:
    """Where training to OUTPUT keeps its checkpoint: OUTPUT with the suffix .ckpt."""
    return Path(output).with_suffix(".ckpt")


def save_training_state(path: Path, state: dict[str, Any]) -> Path:
    """Write a training checkpoint (tensors and plain values only) atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return write_bytes_atomic(path, buffer.getvalue())


def load_training_state(path: Path) -> dict[str, Any]:
    """Read a training checkpoint with weights_only=True (no code is unpickled), checked for its keys."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"nothing to resume: {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or foreign files
        raise ModelFileError(f"{path} is not a readable training checkpoint ({load_refusal(error)})") from None
    if not isinstance(state, dict):
        raise ModelFileError(f"{path} is not a stylize training checkpoint")
    if "task" not in state and isinstance(state.get("style_sha256"), str):
        # Checkpoints of stylize 0.1 trained style models only and fingerprinted the style image alone.
        state = {**state, "task": "style", "inputs": {"style_sha256": state["style_sha256"]}}
    missing = [key for key, kind in _REQUIRED.items() if not isinstance(state.get(key), kind)]
    if missing:
        raise ModelFileError(f"{path} is not a stylize training checkpoint (no valid {', '.join(missing)})")
    return state
