"""The arbitrary model's decoders: how well each level reconstructs held-out photos, and the grid they leave.

For every model (default: the shipped `arbitrary`) and held-out photo (pretrained/heldout.txt) at 512 px,
cropped to multiples of 8:
- each level's plain reconstruction (encode to relu{level}_1, decode, no transform): PSNR against the photo,
  and its grid;
- the whole cascade with each of the shared paintings (the default AdaIN, strength 0.85), for each --shifts
  and --degrid: its grid.

"Grid" is the periodic pattern that 2x upsampling steps leave, of period 8 px for relu4_1 (three steps):
along each axis, the mean Fourier magnitude of the high-passed picture on the lines of the period's
harmonics (k = N/8, 2N/8, 3N/8) divided by that on their neighbouring lines (k +- 1, 2). A picture with no
periodic pattern scores about 1; the photos themselves score what the first row shows.

Run: python benchmarks/arbitrary_grid.py [--model arbitrary --model other.safetensors] [--limit N] [--size 512]
         [--shifts 1,4] [--degrid 1,0] [--precision auto|fp32|bf16] [--device cuda]
Needs ../shared/data beside the checkout.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
import torch.nn.functional as F
from style_models import DATA, held_out  # the same held-out photos as the quality table (benchmarks/ is on the path)

from stylize.config import ArbitraryConfig
from stylize.images import load_image
from stylize.tasks.arbitrary import ArbitraryStylizer, degrid_period
from stylize.tensors import remove_periodic

PERIOD = 8


def grid(pixels: torch.Tensor) -> float:
    """Periodicity at PERIOD px of a (1, 3, H, W) picture whose sides are multiples of PERIOD (see above)."""
    gray = pixels.mean(dim=1, keepdim=True)
    smooth = F.avg_pool2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    spectrum = torch.fft.fft2((gray - smooth)[0, 0]).abs()
    ratios = []
    for axis_spectrum in (spectrum.mean(dim=0), spectrum.mean(dim=1)):  # columns' frequencies, rows'
        n = axis_spectrum.shape[0]
        for harmonic in (1, 2, 3):
            k = harmonic * n // PERIOD
            neighbours = axis_spectrum[[k - 2, k - 1, k + 1, k + 2]].mean()
            ratios.append((axis_spectrum[k] / neighbours).item())
    return statistics.mean(ratios)


def psnr(output: torch.Tensor, target: torch.Tensor) -> float:
    return (-10 * torch.log10((output - target).pow(2).mean())).item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model name or file (repeatable; default: arbitrary)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--limit", type=int, default=None, help="the first N held-out photos only")
    parser.add_argument("--shifts", default="1,4", help="comma-separated passes of the coarsest level: a row each")
    parser.add_argument("--degrid", default="1,0", help="comma-separated 1 (the grid filter on, the default) or 0")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--device", default="cpu", help="where the models run (the measure is the same anywhere)")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    photos = []
    for path in held_out(args.limit):
        photo = load_image(path, args.size).pixels
        photos.append(photo[..., : photo.shape[-2] // PERIOD * PERIOD, : photo.shape[-1] // PERIOD * PERIOD])
    paintings = [load_image(path).pixels for path in sorted((DATA / "styles").glob("*.jpg"))]
    print(f"{len(photos)} held-out photos at {args.size} px, {len(paintings)} paintings; "
          f"the photos' own grid: {statistics.mean(grid(p) for p in photos):.2f}")
    print(f"{'model':<28}" + "".join(f"  relu{level}_1 PSNR / grid" for level in (1, 2, 3, 4)))
    for name in args.model or ["arbitrary"]:
        stylizer = ArbitraryStylizer.load(name, args.device)
        cells, filtered = [], []
        for level in range(1, stylizer.net.levels + 1):  # plain reconstructions: one pass, fp32
            decoded = [stylizer.net.decode(stylizer.encode(p, level), level).float().cpu() for p in photos]
            for row, period in ((cells, 0), (filtered, degrid_period(level))):  # and with --degrid's filter
                outputs = [(remove_periodic(d, period) if period else d).clamp(0, 1) for d in decoded]
                row.append(f"  {statistics.mean(psnr(o, p) for o, p in zip(outputs, photos, strict=True)):8.2f} dB"
                           f" / {statistics.mean(grid(o) for o in outputs):4.2f}")
        print(f"{Path(name).stem:<28}" + "".join(cells))
        print(f"{'  degrid (relu3_1, relu4_1)':<28}" + "".join(filtered))
        for shifts in map(int, args.shifts.split(",")):
            for degrid in map(int, args.degrid.split(",")):
                config = ArbitraryConfig(shifts=shifts, degrid=bool(degrid), precision=args.precision)
                stylizer = ArbitraryStylizer.load(name, args.device, config)
                stylized = [grid(stylizer(photo, painting)) for painting in paintings for photo in photos]
                print(f"  stylized, {shifts} shift(s), degrid {'on' if degrid else 'off'}, {args.precision}: grid "
                      f"{statistics.mean(stylized):.2f} (worst {max(stylized):.2f})", flush=True)


if __name__ == "__main__":
    main()
