"""Optional dependencies: imported on the paths that need them, with the install command when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from stylize.errors import MissingExtraError

# module -> (what needs it, the extra that installs it)
_EXTRAS = {
    "av": ("video input and output", "video"),
    "cv2": ("optical flow for video", "video"),
    "onnx": ("ONNX export", "onnx"),
    "onnxscript": ("ONNX export", "onnx"),
    "onnxruntime": ("checking ONNX exports", "onnx"),
    "starlette": ("the studio page (stylize serve)", "serve"),
    "uvicorn": ("the studio page (stylize serve)", "serve"),
    "pillow_heif": ("reading HEIF photos (.heic, .hif)", "heic"),
    "rawpy": ("developing camera RAW files", "raw"),
}


def require(module: str) -> ModuleType:
    """Import an optional dependency, or raise MissingExtraError naming `pip install "stylize[EXTRA]"`."""
    try:
        return importlib.import_module(module)
    except ImportError:
        purpose, extra = _EXTRAS[module]
        raise MissingExtraError(
            f"{purpose} needs the '{module}' package: pip install \"stylize[{extra}]\""
        ) from None


def available(module: str) -> bool:
    """Whether an optional dependency can be imported."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
