"""stylize: neural style transfer for photographs, offline.

    from stylize import transfer
    out = transfer(photo, painting, size=512)   # PIL in, PIL out; tensors accepted too

Names are loaded on first use, so `import stylize` (and the CLI's --help) does not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from stylize.version import __version__

# public name -> module that defines it
_EXPORTS = {
    "transfer": "stylize.gatys",
    "GatysTransfer": "stylize.gatys",
    "StepInfo": "stylize.gatys",
    "GatysConfig": "stylize.config",
    "VGGFeatures": "stylize.vgg",
    "load_image": "stylize.images",
    "save_image": "stylize.images",
    "preserve_color": "stylize.color",
    "resolve_device": "stylize.device",
    "StylizeError": "stylize.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'stylize' has no attribute {name!r}")
