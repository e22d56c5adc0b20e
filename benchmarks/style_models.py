"""How strongly each fast style model stylizes held-out photos, and how much of the photo it keeps.

For every model and held-out photo (pretrained/heldout.txt): the style distance of the output, the sum over
relu1_1..relu5_1 of ||G(output) - G(style)||^2 / ||G(style)||^2 (original VGG19, Gram matrices as spatial
means), divided by the same distance for the photo itself: 1.0 means the model did not move the photo's
texture statistics toward the style at all, lower is more stylized. Beside it the content distance at
relu4_2 (relative, as in gatys_time_to_quality.py): how much of the photo's structure changed, and the energy
(mean square) of the output's relu4_2 activations as a multiple of the photo's: a painting's textures raise it,
and that rise is most of the content distance (issue 29).

With --arbitrary the arbitrary-style model is measured with each model's painting (the same paintings, the
same photos), and with --gatys N the optimization's default on the first N photos. --paintings adds paintings
of ../shared/data/styles that no model was trained on (rows for the arbitrary model and the optimization
only): what the held-out paintings of issue 29's protocol look like.

Run: python benchmarks/style_models.py [--models starry,composition] [--size 512] [--limit N] [--device cuda]
         [--arbitrary arbitrary --transforms wct,adain --strengths 1,0.85 --shifts 1,4 --degrid 1,0
          --refines 5,0]
         [--gatys 2] [--paintings candy.jpg,mosaic.jpg,rain-princess.jpg]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from stylize.config import ArbitraryConfig, GatysConfig
from stylize.device import resolve_device
from stylize.images import load_image
from stylize.losses import gram
from stylize.tasks.arbitrary import ArbitraryStylizer
from stylize.tasks.fast import FastStylizer
from stylize.tasks.gatys import GatysTransfer
from stylize.tasks.refine import RefinedTask
from stylize.tensors import resize_longest
from stylize.vgg import VGGFeatures
from stylize.zoo import available_models

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def held_out(limit: int | None) -> list[Path]:
    names = [line.strip() for line in (ROOT / "pretrained" / "heldout.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    return [DATA / "photos" / name for name in names][:limit]


def style_distance(features: dict, grams: dict) -> float:
    return sum(((gram(features[k]) - g).pow(2).sum() / g.pow(2).sum()).item() for k, g in grams.items())


def measure(stylize, style_path: Path, photos: list[Path], size: int, vgg: VGGFeatures,
            device: torch.device) -> tuple[float, float, float]:
    """(mean style distance ratio, mean content distance, mean relu4_2 energy ratio) of stylize(photo) over the
    photos."""
    style = load_image(style_path).pixels.to(device)
    targets = vgg(resize_longest(style, size))
    grams = {k: gram(targets[k]) for k in STYLE_LAYERS}
    ratios, contents, energies = [], [], []
    for path in photos:
        photo = load_image(path, size).pixels
        output = stylize(photo).to(device)
        photo = photo.to(device)
        photo_features, output_features = vgg(photo), vgg(output)
        ratios.append(style_distance(output_features, grams) / style_distance(photo_features, grams))
        reference = photo_features["relu4_2"]
        contents.append(((output_features["relu4_2"] - reference).pow(2).sum() / reference.pow(2).sum()).item())
        energies.append((output_features["relu4_2"].pow(2).sum() / reference.pow(2).sum()).item())
    return sum(ratios) / len(ratios), sum(contents) / len(contents), sum(energies) / len(energies)


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated model names or files (default: the shipped style models)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--device", default="cpu", help="where the models and the measure run")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--arbitrary", metavar="MODEL", help="also the arbitrary-style model (e.g. arbitrary) "
                                                              "with each model's painting")
    parser.add_argument("--transforms", default="adain", help="with --arbitrary: comma-separated transforms")
    parser.add_argument("--strengths", default="0.85", help="with --arbitrary: comma-separated strengths")
    parser.add_argument("--shifts", default="1", help="with --arbitrary: comma-separated passes of its coarsest "
                                                      "level (1 or 4)")
    parser.add_argument("--refines", default="5", help="with --arbitrary: comma-separated steps of the "
                        "optimization after the one pass (--refine; 0: the one-pass picture)")
    parser.add_argument("--degrid", default="1", help="with --arbitrary: comma-separated 1 (its grid removed, the "
                                                      "default) or 0")
    parser.add_argument("--paintings", default="", help="comma-separated files of ../shared/data/styles to measure "
                        "the arbitrary model (--arbitrary) and the optimization (--gatys) on, beyond the models' own")
    parser.add_argument("--gatys", type=int, default=0, metavar="N",
                        help="also the optimization's default (stylize run --style) on the first N photos")
    args = parser.parse_args()
    names = args.models.split(",") if args.models else [
        e.name for e in available_models() if e.source == "shipped" and e.info and e.info.task == "style"]
    device = resolve_device(args.device)
    vgg = VGGFeatures((*STYLE_LAYERS, "relu4_2")).to(device)
    photos = held_out(args.limit)
    print(f"{len(photos)} held-out photos at {args.size} px")
    print(f"{'model':<32} {'style distance (output / photo)':>32} {'content distance':>17} {'relu4_2 energy':>15}")

    def row(label: str, stylize, style_path: Path, photos: list[Path]) -> None:
        ratio, content, energy = measure(stylize, style_path, photos, args.size, vgg, device)
        print(f"{label:<32} {ratio:>32.3f} {content:>17.3f} {energy:>15.2f}", flush=True)

    def others(style_path: Path) -> None:
        """The arbitrary model's and the optimization's rows for one painting."""
        if args.arbitrary:
            style = load_image(style_path).pixels
            for transform in args.transforms.split(","):
                for strength in map(float, args.strengths.split(",")):
                    for shifts in map(int, args.shifts.split(",")):
                        for degrid in map(int, args.degrid.split(",")):
                            for refine in map(int, args.refines.split(",")):
                                config = ArbitraryConfig(transform=transform, strength=strength, shifts=shifts,
                                                         degrid=bool(degrid), refine=refine)
                                task = ArbitraryStylizer.load(args.arbitrary, args.device, config).with_styles(
                                    [style])
                                task = RefinedTask(task) if refine else task
                                row(f"  arbitrary {transform} {strength:g}, {shifts} shift(s)"
                                    + ("" if degrid else ", no degrid") + f", refine {refine}", task, style_path,
                                    photos)
        if args.gatys:
            config = GatysConfig(size=args.size)
            task = GatysTransfer.from_files([style_path], config, args.device)
            row(f"  optimization (default), {args.gatys} photos", task, style_path, photos[: args.gatys])

    for name in names:
        stylizer = FastStylizer.load(name, args.device)
        style_file = stylizer.info.style.get("file", "") if stylizer.info else ""
        style_path = DATA / "styles" / style_file
        if not style_path.is_file():
            print(f"{name:<32} (style image {style_file!r} not in ../shared/data/styles)")
            continue
        row(name, stylizer, style_path, photos)
        others(style_path)
    for painting in filter(None, args.paintings.split(",")):
        style_path = DATA / "styles" / painting
        if not style_path.is_file():
            raise SystemExit(f"--paintings: {painting} is not in {DATA / 'styles'}")
        print(f"{painting} (no model of its own)")
        others(style_path)


if __name__ == "__main__":
    main()
