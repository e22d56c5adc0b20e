"""Export a fast style model or an upscaler to ONNX with dynamic batch, height and width (needs the onnx
extra)."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from stylize.errors import ConfigError, ModelFileError
from stylize.extras import available, require
from stylize.files import ReadFiles, check_writable, write_bytes_atomic
from stylize.modelfile import load_model
from stylize.nets.johnson import SIZE_MULTIPLE, JohnsonNet
from stylize.task_table import TASKS
from stylize.zoo import resolve_model


class _TraceablePadding(torch.nn.Module):
    """JohnsonNet with padding written as shape arithmetic that tracing records, with no branches.

    Exported models need inputs of at least MIN_SIDE (16) px per side.
    """

    def __init__(self, net: JohnsonNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2], x.shape[-1]
        pad_h = (SIZE_MULTIPLE - height % SIZE_MULTIPLE) % SIZE_MULTIPLE
        pad_w = (SIZE_MULTIPLE - width % SIZE_MULTIPLE) % SIZE_MULTIPLE
        padded = torch.nn.functional.pad(x, [0, pad_w, 0, pad_h], mode="reflect")
        return self.net.body(padded)[..., :height, :width]


@dataclass(frozen=True)
class ExportReport:
    path: Path
    max_difference: float | None  # largest |onnxruntime - PyTorch| on test inputs; None when not checked


def export_onnx(model: str | Path, output: Path, opset: int = 17) -> ExportReport:
    """Write MODEL as ONNX: input "image" (N, 3, H, W) in [0, 1]; output "stylized" (N, 3, H, W) for a
    style model, "upscaled" (N, 3, scale*H, scale*W) for an upscaler (its values not clamped to [0, 1]:
    the network alone, as `stylize upscale` runs it before clamping, without tiles or the self-ensemble).

    The export is checked against PyTorch on two odd-sized inputs when onnxruntime is installed.
    """
    require("onnx")
    require("onnxscript")
    path = resolve_model(model)
    reads = ReadFiles()
    reads.add(path, "the model")
    reads.check(Path(output), "ONNX file")
    if Path(output).suffix.lower() != ".onnx":  # `-o starry.png` would write a network under a picture's name
        raise ConfigError(f"{output}: ONNX files end in .onnx")
    check_writable(Path(output), "ONNX file")
    net, info = load_model(path)
    row = TASKS[info.task]
    if row.export_output is None:
        exportable = " and ".join(f"{name} models" for name, other in TASKS.items() if other.export_output)
        reason = f": {row.export_refusal}" if row.export_refusal else ""
        raise ModelFileError(f"{path} is a model for '{info.task}'{reason}; only {exportable} can be exported to ONNX")
    output_name = row.export_output
    traced = _TraceablePadding(net) if isinstance(net, JohnsonNet) else net
    example = torch.rand(1, 3, 61, 95)  # sides not multiples of 4, so a style model's padding is traced
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The exporter's shape inference says, three times, that it cannot fold the padding's strided slices
        # (a note for its developers: the graph is correct, as the onnxruntime check shows).
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1", category=UserWarning)
        torch.onnx.export(
            traced, (example,), buffer, input_names=["image"], output_names=[output_name],
            opset_version=opset,
            dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"},
                          output_name: {0: "batch", 2: "height", 3: "width"}},
            dynamo=False,
            # Constant folding merges equal initializers (fresh norm weights) into a graph onnxruntime rejects.
            do_constant_folding=False,
        )
    write_bytes_atomic(output, buffer.getvalue())
    return ExportReport(Path(output), _check_with_onnxruntime(net, buffer.getvalue()))


def _check_with_onnxruntime(net: torch.nn.Module, model_bytes: bytes) -> float | None:
    if not available("onnxruntime"):
        return None
    onnxruntime = require("onnxruntime")
    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    difference = 0.0
    for shape in ((1, 3, 37, 53), (2, 3, 130, 71)):
        pixels = torch.rand(shape)
        (exported,) = session.run(None, {"image": pixels.numpy()})
        with torch.inference_mode():
            expected = net(pixels)
        difference = max(difference, (torch.from_numpy(exported) - expected).abs().max().item())
    return difference
