"""Models by name: the ones shipped in pretrained/ (installed as package data) and the user's cache.

A name is a file stem: `--model wave` finds pretrained/wave.safetensors, then <cache>/wave.safetensors.
Credits, licences and settings are read from each file's own metadata, so there is no list to keep in step.
"""

from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stylize.checkpoint import ModelFileError, read_metadata

MODEL_SUFFIX = ".safetensors"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    source: str  # "shipped" or "cache"
    metadata: dict[str, Any]


def shipped_dir() -> Path:
    """The installed pretrained/ folder."""
    return Path(str(importlib.resources.files("stylize.pretrained_models")))


def cache_dir() -> Path:
    """Where `stylize train` puts models by default: $STYLIZE_HOME, else the XDG cache folder."""
    if os.environ.get("STYLIZE_HOME"):
        return Path(os.environ["STYLIZE_HOME"]) / "models"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "stylize" / "models"


def available_models() -> list[ModelEntry]:
    """Every readable model, shipped first; a cached model with a shipped name is shadowed."""
    entries: dict[str, ModelEntry] = {}
    for source, folder in (("shipped", shipped_dir()), ("cache", cache_dir())):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob(f"*{MODEL_SUFFIX}")):
            if path.stem in entries:
                continue
            try:
                entries[path.stem] = ModelEntry(path.stem, path, source, read_metadata(path))
            except ModelFileError:
                continue  # not ours or damaged: `stylize models` should still list the rest
    return list(entries.values())


def resolve_model(name_or_path: str | Path) -> Path:
    """A model file path from a path or a model name; ModelFileError lists the known names."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.suffix == MODEL_SUFFIX or os.sep in text or path.is_file():
        if not path.is_file():
            raise ModelFileError(f"{path}: no such model file")
        return path
    for entry in available_models():
        if entry.name == text:
            return entry.path
    known = ", ".join(e.name for e in available_models()) or "none installed"
    raise ModelFileError(f"unknown model {text!r}; known models: {known}")
