"""Colorization quality: mean CIEDE2000 to the true colours, simple transfers beside ours.

Two tables. With a reference: each held-out colour photo (pretrained/heldout.txt of ../shared/data/photos)
is cut in two halves along its longer side; one half, made gray, is colorized with the other half as the
reference (a different part of the same scene), and the other way round. The score is the mean CIEDE2000
(Sharma et al. 2005, skimage's implementation) between the result and the true colours, over all pixels;
lower is better.

Methods, side by side on the same pairs:
  gray       the gray input itself (no chroma)
  welsh      Welsh, Ashikhmin & Mueller 2002: luminance-remapped matching of luminance and its 5x5 standard
             deviation against 200 jittered reference samples
  plain      our feature matching with the chroma upsampled bilinearly (no edge-aware step)
  ours       `stylize colorize` as shipped

Automatic (no reference, issue 31's protocol): each held-out colour photo whole (512 px; the black-and-white
ones are left out and named), made gray, colorized by
the automatic network: the default (colorize-auto with colorize-portrait's colours where that one is sure of
skin), each shipped network alone, and each --model; beside them, the gray photo. Scores: the
mean CIEDE2000 as above, and the colourfulness of Hasler & Suesstrunk 2003 (M = sigma_rgyb + 0.3 mu_rgyb on
0-255 sRGB) of the results over that of the true photos (the mean of each): a muted result is far below 1.

Hints (--hints held-out|training, that table alone): the automatic colorizer given 0, 1, 3 and 10 `--hint` points
as Zhang et al. 2017 simulate a user's (simulated_hints), on the held-out photos or on every eighth training photo
(where the hints' constants were chosen); mean CIEDE2000 as above.

Also: seconds per photo, and the peak memory of colorizing a 24 MP scan (--rss).

Run: python benchmarks/colorize_quality.py [--limit N] [--rss] [--automatic-only] [--model FILE ...]
     python benchmarks/colorize_quality.py --hints held-out
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from skimage.color import deltaE_ciede2000

from stylize.colorspace import gray_rgb, lab_to_rgb_in_gamut, rgb_to_lab
from stylize.config import ColorizeConfig
from stylize.images import load_image, tensor_to_pil
from stylize.tasks.colorize import Colorizer, automatic_model, is_gray
from stylize.tasks.hints import ColorHint
from stylize.zoo import available_models

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT.parent / "shared" / "data" / "photos"
HELD_OUT = ROOT / "pretrained" / "heldout.txt"


def held_out_photos() -> list[Path]:
    names = [line.strip() for line in HELD_OUT.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return [PHOTOS / name for name in names if (PHOTOS / name).is_file()]


def halves(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    height, width = pixels.shape[-2:]
    if width >= height:
        return pixels[..., : width // 2], pixels[..., width // 2 :]
    return pixels[..., : height // 2, :], pixels[..., height // 2 :, :]


def ciede2000(output: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean CIEDE2000 of two sRGB images, both rounded to 8 bits first (as files are)."""
    def lab(pixels: torch.Tensor) -> np.ndarray:
        quantized = pixels.clamp(0, 1).mul(255).round().div(255)
        return rgb_to_lab(quantized.double())[0].permute(1, 2, 0).numpy()

    return float(np.mean(deltaE_ciede2000(lab(output), lab(truth))))


def welsh(gray: torch.Tensor, reference: torch.Tensor, samples: int = 200, seed: int = 0) -> torch.Tensor:
    """Welsh et al. 2002, global matching: luminance remapped to the input's mean and spread, then each
    pixel takes the chroma of the sample whose (luminance + neighbourhood deviation) / 2 is closest."""
    def statistic(lightness: torch.Tensor) -> torch.Tensor:
        mean = torch.nn.functional.avg_pool2d(lightness, 5, 1, 2, count_include_pad=False)
        square = torch.nn.functional.avg_pool2d(lightness**2, 5, 1, 2, count_include_pad=False)
        return 0.5 * lightness + 0.5 * (square - mean**2).clamp(min=0).sqrt()

    own = rgb_to_lab(gray)[:, :1]
    ref_lab = rgb_to_lab(reference)
    ref_l = (ref_lab[:, :1] - ref_lab[:, :1].mean()) * (own.std() / ref_lab[:, :1].std().clamp(min=1e-6)) + own.mean()
    generator = torch.Generator().manual_seed(seed)
    height, width = ref_l.shape[-2:]
    side = max(1, int((height * width / samples) ** 0.5))  # a jittered grid of about `samples` cells
    ys = (torch.arange(0, height, side) + torch.randint(0, side, (len(range(0, height, side)),),
                                                        generator=generator)).clamp(max=height - 1)
    xs = (torch.arange(0, width, side) + torch.randint(0, side, (len(range(0, width, side)),),
                                                       generator=generator)).clamp(max=width - 1)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    sample_stat = statistic(ref_l)[0, 0][grid_y, grid_x].flatten()
    sample_chroma = ref_lab[0, 1:][:, grid_y, grid_x].reshape(2, -1)
    nearest = (statistic(own).flatten()[:, None] - sample_stat[None]).abs().argmin(dim=1)
    chroma = sample_chroma[:, nearest].reshape(1, 2, *own.shape[-2:])
    return lab_to_rgb_in_gamut(own, chroma)


def colourfulness(pixels: torch.Tensor) -> float:
    """Hasler & Suesstrunk 2003, "Measuring colourfulness in natural images", eq. 3 (their M3), on 0-255 sRGB."""
    red, green, blue = (pixels[0].double() * 255).unbind(0)
    rg, yb = red - green, 0.5 * (red + green) - blue
    spread = (rg.var(unbiased=False) + yb.var(unbiased=False)).sqrt()
    mean = (rg.mean() ** 2 + yb.mean() ** 2).sqrt()
    return float(spread + 0.3 * mean)


def automatic_quality(limit: int | None, models: list[str]) -> None:
    """Whole held-out photos made gray, colorized without a reference by each automatic model."""
    photos = held_out_photos()[:limit]
    if not photos:
        raise SystemExit(f"no held-out photos found under {PHOTOS}")
    colorizers = {"gray": None}
    default = automatic_model()  # colorize-auto with colorize-portrait's skin (SkinBlend), where both are shipped
    if default is not None:
        colorizers["default"] = Colorizer([], ColorizeConfig(), "cpu", model=default)
    for entry in available_models():  # each shipped one alone: colorize-auto, colorize-portrait
        shipped_colorizer = entry.source == "shipped" and entry.info is not None and entry.info.task == "colorize"
        if shipped_colorizer and entry.name not in colorizers:
            colorizers[entry.name] = Colorizer([], ColorizeConfig(), "cpu", model=automatic_model(entry.path))
    for model in models:
        name = Path(model).stem if Path(model).stem not in colorizers else model  # a retrained colorize-auto
        colorizers[name] = Colorizer([], ColorizeConfig(), "cpu", model=automatic_model(model))
    scores = {name: ([], []) for name in colorizers}
    true_colourfulness, seconds = [], {name: 0.0 for name in colorizers}
    black_and_white = []
    for path in photos:
        truth = load_image(path).pixels
        if is_gray(truth):  # the protocol scores colour photos: a black-and-white one has no colours to find
            black_and_white.append(path.name)
            continue
        gray = gray_rgb(rgb_to_lab(truth)[:, :1])
        true_colourfulness.append(colourfulness(truth))
        for name, colorizer in colorizers.items():
            started = time.perf_counter()
            result = gray if colorizer is None else colorizer(gray)
            seconds[name] += time.perf_counter() - started
            scores[name][0].append(ciede2000(result, truth))
            scores[name][1].append(colourfulness(result))
    scored = len(photos) - len(black_and_white)
    if not scored:
        raise SystemExit("the held-out photos are all black and white: no colours to score")
    print(f"automatic: {scored} held-out colour photos from {PHOTOS}, whole, made gray, no reference")
    if black_and_white:
        print(f"  (left out, black and white themselves: {', '.join(black_and_white)})")
    print(f"  {'':<24} {'CIEDE2000':>9} {'colourfulness':>14} {'s/photo':>8}")
    for name, (distances, colours) in scores.items():
        ratio = np.mean(colours) / np.mean(true_colourfulness)
        print(f"  {name:<24} {np.mean(distances):9.2f} {ratio:14.2f} {seconds[name] / scored:8.2f}")
    print("  (CIEDE2000 lower is better; colourfulness as a fraction of the true photos', 1 is theirs)")


def simulated_hints(truth: torch.Tensor, count: int, seed: int) -> list[ColorHint]:
    """`count` hints as a user might give them (Zhang et al. 2017, section 3.2): points drawn from a Gaussian
    around the photo's centre (a quarter of its size as deviation), each with the true colour averaged over a
    7x7 patch (a user names a region's colour, not a pixel's)."""
    height, width = truth.shape[-2:]
    generator = torch.Generator().manual_seed(seed)
    hints = []
    for _ in range(count):
        y, x = (torch.randn(2, generator=generator) * torch.tensor([height / 4, width / 4])
                + torch.tensor([height / 2, width / 2])).tolist()
        row, col = min(max(int(y), 3), height - 4), min(max(int(x), 3), width - 4)
        patch = truth[0, :, row - 3 : row + 4, col - 3 : col + 4].mean(dim=(1, 2))
        red, green, blue = patch.mul(255).round().int().tolist()
        hints.append(ColorHint(col, row, (red, green, blue)))
    return hints


def hinted_quality(limit: int | None, photos: list[Path], counts: tuple[int, ...] = (0, 1, 3, 10)) -> None:
    """The automatic colorizer given 0, 1, 3 and 10 simulated hints (simulated_hints) on whole photos made gray."""
    colorizer = Colorizer([], ColorizeConfig(), "cpu")
    scores: dict[int, list[float]] = {count: [] for count in counts}
    scored = 0
    for index, path in enumerate(photos[:limit]):
        truth = load_image(path).pixels
        if is_gray(truth):
            continue
        scored += 1
        gray = gray_rgb(rgb_to_lab(truth)[:, :1])
        for count in counts:
            result = colorizer.with_hints(simulated_hints(truth, count, seed=index))(gray)
            scores[count].append(ciede2000(result, truth))
    print(f"hints: {scored} colour photos, whole, made gray, automatic with simulated hints (true colours of "
          "7x7 patches at points around the centre)")
    for count, distances in scores.items():
        print(f"  {count:>2} hints  CIEDE2000 {np.mean(distances):6.2f}")


def training_sample() -> list[Path]:
    """Every eighth training photo (not held out), where the hints' constants were chosen."""
    held_out = {path.name for path in held_out_photos()}
    return sorted(path for path in PHOTOS.glob("*.jpg") if path.name not in held_out)[::8]


def quality(limit: int | None) -> None:
    photos = held_out_photos()[:limit]
    if not photos:
        raise SystemExit(f"no held-out photos found under {PHOTOS}")
    config = ColorizeConfig()
    scores: dict[str, list[float]] = {"gray": [], "welsh": [], "plain": [], "ours": []}
    seconds = []
    for path in photos:
        pixels = load_image(path).pixels
        first, second = halves(pixels)
        for truth, reference in ((first, second), (second, first)):
            gray = gray_rgb(rgb_to_lab(truth)[:, :1])
            ours = Colorizer([("reference", reference)], config, "cpu")
            started = time.perf_counter()
            colored = ours(gray)
            seconds.append(time.perf_counter() - started)
            ours.edge_aware = False
            plain = ours(gray)
            scores["gray"].append(ciede2000(gray, truth))
            scores["welsh"].append(ciede2000(welsh(gray, reference), truth))
            scores["plain"].append(ciede2000(plain, truth))
            scores["ours"].append(ciede2000(colored, truth))
    print(f"{len(photos)} held-out photos from {PHOTOS}, {2 * len(photos)} pairs (half of a photo colorized "
          "from its other half)")
    print("mean CIEDE2000 to the true colours (lower is better)")
    for method, values in scores.items():
        print(f"  {method:<9} {np.mean(values):6.2f}")
    print(f"ours: {np.mean(seconds):.2f} s per half-photo on the CPU ({torch.get_num_threads()} threads)")


def peak_rss() -> None:
    print("\npeak RSS of `stylize colorize` on a 24 MP (6000x4000) gray scan, CPU")
    with tempfile.TemporaryDirectory() as folder:
        scan, reference = Path(folder) / "scan.jpg", Path(folder) / "reference.jpg"
        base = torch.nn.functional.interpolate(torch.rand(1, 3, 40, 60), size=(4000, 6000), mode="bicubic")
        tensor_to_pil(gray_rgb(rgb_to_lab(base.clamp(0, 1))[:, :1])).save(scan, quality=90)
        tensor_to_pil(torch.rand(1, 3, 60, 90).repeat_interleave(8, 2).repeat_interleave(8, 3)).save(reference)
        command = [str(Path(sys.executable).parent / "stylize"), "colorize", str(scan), "--reference", str(reference),
                   "-o", f"{folder}/out.png", "--device", "cpu", "-q"]
        started = time.perf_counter()
        subprocess.run(command, check=True)
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"  {rss:.0f} MiB peak, {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N held-out photos")
    parser.add_argument("--rss", action="store_true", help="also measure peak memory on a 24 MP scan")
    parser.add_argument("--automatic-only", action="store_true", help="only the automatic table")
    parser.add_argument("--model", action="append", default=[],
                        help="an automatic colorization model to score beside the shipped one (repeatable)")
    parser.add_argument("--hints", choices=["held-out", "training"],
                        help="only the table of simulated hints, on the held-out photos or every eighth training "
                             "photo (where the hints' constants were chosen)")
    args = parser.parse_args()
    if args.hints:
        hinted_quality(args.limit, held_out_photos() if args.hints == "held-out" else training_sample())
        return
    if not args.automatic_only:
        quality(args.limit)
        print()
    automatic_quality(args.limit, args.model)
    if args.rss:
        peak_rss()


if __name__ == "__main__":
    main()
