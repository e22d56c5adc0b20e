"""Export a model to ONNX (needs the onnx extra): a fast style model or an upscaler with dynamic batch, height
and width; the arbitrary-style model as the graph of its one pass (VGG19, AdaIN and the decoders, level by level),
with the painting and the strength as inputs."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from stylize.config import ArbitraryConfig
from stylize.errors import ConfigError, ModelFileError
from stylize.extras import available, require
from stylize.files import ReadFiles, check_writable, write_bytes_atomic
from stylize.modelfile import load_model
from stylize.nets.decoders import LEVEL_LAYERS, VGGDecoders
from stylize.nets.johnson import SIZE_MULTIPLE, JohnsonNet
from stylize.task_table import TASKS
from stylize.tasks.arbitrary import ArbitraryStylizer, Statistics, degrid_period, feature_map
from stylize.tensors import remove_periodic
from stylize.vgg import VGGFeatures
from stylize.zoo import resolve_model

# The arbitrary-style graph's smallest photo side: two cells of relu4_1's 8 px grid, what the decoder's first
# reflection pad needs (`stylize run` pads a thinner photo instead; a graph keeps no such branch).
ARBITRARY_MIN_SIDE = 16


def _padded_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """tensors.pad_to_multiple written as shape arithmetic that tracing records, with no branches: the bottom and
    right reflected up to the next multiple (inputs of at least 2 * multiple px per side)."""
    height, width = x.shape[-2], x.shape[-1]
    pad_h = (multiple - height % multiple) % multiple
    pad_w = (multiple - width % multiple) % multiple
    return torch.nn.functional.pad(x, [0, pad_w, 0, pad_h], mode="reflect")


class _TraceablePadding(torch.nn.Module):
    """JohnsonNet with its padding traceable (_padded_to_multiple).

    Exported models need inputs of at least MIN_SIDE (16) px per side.
    """

    def __init__(self, net: JohnsonNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2], x.shape[-1]
        return self.net.body(_padded_to_multiple(x, SIZE_MULTIPLE))[..., :height, :width]


def _whole_statistics(features: torch.Tensor) -> Statistics:
    """arbitrary.feature_statistics without the covariance, in one reduction: that function sums in bands of
    rows to bound its memory, and a traced loop over rows would keep the example's count of bands."""
    mean = features.mean(dim=(0, 2, 3))
    count = features.shape[0] * features.shape[2] * features.shape[3]
    variance = (features - mean.view(1, -1, 1, 1)).square().sum(dim=(0, 2, 3)) / (count - 1)
    return Statistics(mean, variance)


class _ArbitraryGraph(torch.nn.Module):
    """The arbitrary-style model's one pass as one traceable graph: (photo, painting, strength) -> stylized.

    What ArbitraryStylizer.stylize does for one photo with the default settings but --strength (AdaIN, the grid
    removed, --shifts 1), untiled: from relu4_1 to relu1_1, the photo's features at the level, moved to the
    painting's per-channel statistics, decoded. WCT (--transform wct) is not in it: ONNX has no eigendecomposition.
    """

    def __init__(self, net: VGGDecoders) -> None:
        super().__init__()
        self.net = net
        self.vgg = VGGFeatures(LEVEL_LAYERS[: net.levels], "caffe")  # the features the decoders were trained on

    def forward(self, photo: torch.Tensor, painting: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
        style = self.vgg(painting, until=LEVEL_LAYERS[self.net.levels - 1])
        x = photo
        for level in range(self.net.levels, 0, -1):
            layer = LEVEL_LAYERS[level - 1]
            height, width = x.shape[-2], x.shape[-1]
            features = self.vgg(_padded_to_multiple(x, 2 ** (level - 1)), until=layer)[layer]
            transform = feature_map(_whole_statistics(features), _whole_statistics(style[layer]), "adain", strength)
            decoded = self.net.decode(transform(features), level)
            period = degrid_period(level)
            x = (remove_periodic(decoded, period) if period else decoded).clamp(0, 1)[..., :height, :width]
        return x


@dataclass(frozen=True)
class ExportReport:
    path: Path
    max_difference: float | None  # largest |onnxruntime - PyTorch| on test inputs; None when not checked


def export_onnx(model: str | Path, output: Path, opset: int = 17) -> ExportReport:
    """Write MODEL as ONNX, checked against PyTorch on two odd-sized inputs when onnxruntime is installed.

    - A style model: input "image" (N, 3, H, W) in [0, 1]; output "stylized" (N, 3, H, W).
    - An upscaler: output "upscaled" (N, 3, scale*H, scale*W), its values not clamped to [0, 1]: the network
      alone, as `stylize upscale` runs it before clamping, without tiles or the self-ensemble.
    - The arbitrary-style model: inputs "image" (1, 3, H, W) and "style" (1, 3, h, w) in [0, 1], each side at
      least ARBITRARY_MIN_SIDE, and "strength" (1,) in [0, 1] (0.85 is stylize's default); output "stylized"
      (1, 3, H, W): `stylize run --model arbitrary --refine 0` on one photo (_ArbitraryGraph), with the painting's
      statistics taken at the size it is given (stylize shrinks it to the output's longest side first).
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
        *others, last = [name for name, other in TASKS.items() if other.export_output]
        exportable = f"{', '.join(others)} and {last} models"
        raise ModelFileError(f"{path} is a model for '{info.task}': only {exportable} can be exported to ONNX")
    output_name = row.export_output
    if isinstance(net, VGGDecoders):
        # Sides that no level's grid divides, so that every level's padding is traced.
        examples = (torch.rand(1, 3, 61, 95), torch.rand(1, 3, 70, 50), torch.tensor([0.85]))
        model_bytes = _traced(_ArbitraryGraph(net), examples, ["image", "style", "strength"], output_name, opset, {
            "image": {2: "height", 3: "width"}, "style": {2: "style_height", 3: "style_width"},
            output_name: {2: "height", 3: "width"}})
        cases = _arbitrary_cases(net) if available("onnxruntime") else []
    else:
        traced = _TraceablePadding(net) if isinstance(net, JohnsonNet) else net
        example = torch.rand(1, 3, 61, 95)  # sides not multiples of 4, so a style model's padding is traced
        model_bytes = _traced(traced, (example,), ["image"], output_name, opset, {
            "image": {0: "batch", 2: "height", 3: "width"}, output_name: {0: "batch", 2: "height", 3: "width"}})
        cases = _network_cases(net) if available("onnxruntime") else []
    write_bytes_atomic(output, model_bytes)
    return ExportReport(Path(output), _check_with_onnxruntime(model_bytes, cases) if cases else None)


def _traced(module: torch.nn.Module, examples: tuple[torch.Tensor, ...], input_names: list[str], output_name: str,
            opset: int, dynamic_axes: dict[str, dict[int, str]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The exporter's shape inference says, three times, that it cannot fold the padding's strided slices
        # (a note for its developers: the graph is correct, as the onnxruntime check shows).
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1", category=UserWarning)
        # The tracer's notes on Python values: VGG19's check that a photo is large enough for the layer (the
        # graph's inputs are documented at ARBITRARY_MIN_SIDE and more) and a blur's channel count (always 3).
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(
            module, examples, buffer, input_names=input_names, output_names=[output_name], opset_version=opset,
            # The TorchScript-based exporter, deprecated since torch 2.9 but still there in 2.14. The torch.export-based
            # one (dynamo=True, with onnxscript) passed the onnxruntime check too (2026-12-07, 2 cores), but took 13.5 s
            # for a style model, 4.3 s for an upscaler and 60 s for the arbitrary-style model, against 2.0, 0.7 and
            # 1.5 s here, printed its progress, and writes opset 18 and up only (--opset goes down to 11): the switch
            # waits until torch drops this one.
            dynamic_axes=dynamic_axes, dynamo=False,
            # Constant folding merges equal initializers (fresh norm weights) into a graph onnxruntime rejects.
            do_constant_folding=False,
        )
    return buffer.getvalue()


Case = tuple[dict[str, torch.Tensor], torch.Tensor]  # the graph's inputs, and what PyTorch makes of them


def _network_cases(net: torch.nn.Module) -> list[Case]:
    cases = []
    for shape in ((1, 3, 37, 53), (2, 3, 130, 71)):
        pixels = torch.rand(shape)
        with torch.inference_mode():
            cases.append(({"image": pixels}, net(pixels)))
    return cases


def _arbitrary_cases(net: VGGDecoders) -> list[Case]:
    """What stylize computes for two photos, paintings and strengths, in fp32 (the graph's precision)."""
    stylizer = ArbitraryStylizer(net, device="cpu", config=ArbitraryConfig(precision="fp32"))
    cases = []
    for photo_shape, style_shape, strength in (((1, 3, 37, 53), (1, 3, 64, 80), 0.85),
                                               ((1, 3, 130, 71), (1, 3, 90, 128), 0.4)):
        photo, painting = torch.rand(photo_shape), torch.rand(style_shape)
        expected = stylizer.stylize(photo, stylizer.style_statistics(painting), stylizer.config.replace(
            strength=strength))
        cases.append(({"image": photo, "style": painting, "strength": torch.tensor([strength])}, expected))
    return cases


def _check_with_onnxruntime(model_bytes: bytes, cases: list[Case]) -> float:
    """The largest |onnxruntime - PyTorch| over the cases."""
    onnxruntime = require("onnxruntime")
    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    difference = 0.0
    for inputs, expected in cases:
        (exported,) = session.run(None, {name: value.numpy() for name, value in inputs.items()})
        difference = max(difference, (torch.from_numpy(exported) - expected).abs().max().item())
    return difference
