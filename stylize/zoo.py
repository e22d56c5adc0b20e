"""Models by name: the ones shipped in pretrained/ (installed as package data) and the user's model cache.

How `--model X` resolves (one rule, documented in the README):
1. X containing a path separator or ending in .safetensors is a file path.
2. Otherwise X is a name. `cache:NAME` and `shipped:NAME` pick the source; a bare NAME is looked up in the
   model cache first, then among the shipped models, so a model you trained under a shipped name is the
   one you get. Files in the current folder are never consulted for a bare name.
Credits, licences and settings are read from each file's own metadata, so there is no list to keep in step.
"""

from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass
from pathlib import Path

from stylize.errors import ModelFileError
from stylize.files import ReadFiles
from stylize.modelfile import MODEL_SUFFIX, ModelInfo, read_model_info
from stylize.task_table import TASKS

SOURCES = ("cache", "shipped")  # the order bare names are looked up in


@dataclass(frozen=True)
class ModelEntry:
    """One model file in a source. info is None, and error says why, when the file cannot be read."""

    name: str
    path: Path
    source: str  # "shipped" or "cache"
    info: ModelInfo | None
    error: str | None = None
    hidden_by: str | None = None  # the source whose model of the same name a bare NAME finds instead

    @property
    def qualified_name(self) -> str:
        return f"{self.source}:{self.name}"


def describe(info: ModelInfo) -> str:
    """One line on what a model does, for listings: its task's summary (a style's credits, an upscaler's
    scale and end of the --sharpness knob) and how long it trained (and from which model, when fine-tuned)."""
    training = info.training
    what = TASKS[info.task].summary(info)
    steps = training.get("steps_done")
    if isinstance(steps, int) and steps:
        init = training.get("init")
        # The model it started from is named by its file, often a working name of the run that made it
        # ("x2w48"): that it was fine-tuned is what a listing says.
        what += f", {steps} steps" + (" (fine-tuned)" if isinstance(init, str) and init else "")
    return what.removeprefix(", ")


def shipped_dir() -> Path:
    """The installed pretrained/ folder."""
    return Path(str(importlib.resources.files("stylize.pretrained_models")))


def cache_dir() -> Path:
    """Where `stylize train` puts models by default: $STYLIZE_HOME/models, else the XDG cache folder."""
    if os.environ.get("STYLIZE_HOME"):
        return Path(os.environ["STYLIZE_HOME"]) / "models"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "stylize" / "models"


def _folder(source: str) -> Path:
    return cache_dir() if source == "cache" else shipped_dir()


def available_models() -> list[ModelEntry]:
    """Every model file in the cache and the shipped set (shipped first), readable or not.

    An unreadable file is listed with its error and never breaks the listing; a shipped model that a
    cached one of the same name hides is marked with hidden_by="cache".
    """
    entries: list[ModelEntry] = []
    for source in ("shipped", "cache"):
        folder = _folder(source)
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob(f"*{MODEL_SUFFIX}")):
            if path.name.startswith("."):
                continue
            try:
                entries.append(ModelEntry(path.stem, path, source, read_model_info(path)))
            except ModelFileError as error:
                entries.append(ModelEntry(path.stem, path, source, None, str(error)))
    cached = {e.name for e in entries if e.source == "cache"}
    return [
        ModelEntry(e.name, e.path, e.source, e.info, e.error, "cache") if e.source == "shipped" and e.name in cached
        else e
        for e in entries
    ]


def is_path(text: str) -> bool:
    """Whether a --model value is a file path rather than a name (rule 1 above)."""
    return text.endswith(MODEL_SUFFIX) or "/" in text or os.sep in text or (os.altsep or "/") in text


def resolve_model(name_or_path: str | Path) -> Path:
    """A model file path from a path or a name; ModelFileError lists the known names."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or is_path(text):
        path = Path(text).expanduser()
        if not path.is_file():
            raise ModelFileError(f"{path}: no such model file")
        return path
    source, _, name = text.rpartition(":")
    if source and source not in SOURCES:
        raise ModelFileError(f"unknown model source {source!r} in {text!r}: use cache:NAME or shipped:NAME")
    for candidate in [source] if source else SOURCES:
        path = _folder(candidate) / f"{name}{MODEL_SUFFIX}"
        if name and not name.startswith(".") and path.is_file():
            return path
    here = Path(text).expanduser()
    not_a_model = _not_a_model_file(here)
    if not_a_model:
        raise ModelFileError(not_a_model)
    names = sorted({e.name for e in available_models() if e.info is not None})
    folder = f" (here {text} is a folder)" if here.is_dir() else ""
    raise ModelFileError(f"unknown model {text!r}{folder}; known models: {', '.join(names) or 'none installed'}")


def _not_a_model_file(path: Path) -> str | None:
    """What a --model value that names no model is, when it names a file here: the training checkpoint beside
    a model (`stylize train -o m.safetensors` keeps m.ckpt), an ONNX export, another file."""
    if not path.is_file():
        return None
    if path.suffix == ".ckpt":
        return (f"{path} is a training checkpoint, not a model: `stylize train ... --resume` continues it, and "
                f"training writes the model {path.with_suffix(MODEL_SUFFIX)} when it finishes")
    if path.suffix == ".onnx":
        return f"{path} is an ONNX export, for other runtimes: stylize runs the {MODEL_SUFFIX} file it came from"
    return f"{path} is not a model file (model files end in {MODEL_SUFFIX})"


def guard_model(reads: ReadFiles, model: str | Path) -> Path:
    """The file behind a model name or path (what `--model` resolves to), added to the files a job reads so
    that no output may replace it."""
    path = resolve_model(model)
    reads.add(path, "the model")
    return path
