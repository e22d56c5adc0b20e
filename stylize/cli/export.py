"""`stylize export`: a fast style model, an upscaler or the arbitrary-style model as ONNX."""

from __future__ import annotations

from pathlib import Path

import click

from stylize.cli.options import quiet_option


@click.command()
@click.argument("model")
@click.option("-o", "--onnx", "onnx_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="ONNX file to write; height and width are dynamic (and the batch, but for the arbitrary-style "
                   "model, which takes one photo and one painting).")
# 11..20: what PyTorch's TorchScript exporter writes for these networks (9 and 10 lack the reflection padding
# and resize it needs; above 20 it refuses).
@click.option("--opset", type=click.IntRange(11, 20), default=17, show_default=True, help="ONNX opset version.")
@quiet_option
def export(model: str, onnx_path: Path, opset: int, quiet: bool) -> None:
    """Export MODEL (a style model, an upscaler or the arbitrary-style model: a name or file) to ONNX, checked
    against PyTorch when onnxruntime is installed. The arbitrary-style model's graph takes the photo, the
    painting and the strength, and makes its one pass (--refine 0, AdaIN).

    Needs the onnx extra: pip install "stylize[onnx]".
    """
    from stylize.export import export_onnx

    report = export_onnx(model, onnx_path, opset)
    if not quiet:
        checked = (f"checked with onnxruntime, max difference {report.max_difference:.2g}"
                   if report.max_difference is not None else "not checked: onnxruntime is not installed")
        click.echo(f"Wrote {onnx_path} ({checked})", err=True)
