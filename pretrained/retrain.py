"""Retrain every shipped model from scratch with `stylize train`, then install it into pretrained/.

    python pretrained/retrain.py --profile cpu                    # most of what ships (2-core CPU, hours)
    python pretrained/retrain.py --profile gpu --device cuda      # long runs, wider networks (a GPU)
    python pretrained/retrain.py --profile gpu --device cuda --only upscale-x4,upscale-x4-sharp   # as shipped
    python pretrained/retrain.py --profile cpu --only starry,upscale-x3 --dry-run
    python pretrained/retrain.py --profile gpu --device cuda --only arbitrary --extra "--upsampling bilinear"

Training photos: ../shared/data/photos without the held-out list pretrained/heldout.txt (the benchmarks' own
photos); style images: ../shared/data/styles. Each model file records the `stylize train` command that made
it (its training.command), and its credits; the models that others start from (--init: x2 and x3 from x4,
the crisp upscalers from the faithful ones) are trained first. A finished model is not trained again unless
--force; an interrupted one resumes.

What ships: upscale-x4 and upscale-x4-sharp from the gpu profile (an H100, 10 minutes together), arbitrary
from the gpu profile (an H200, 6 minutes), all the others from the cpu profile. A model that a profile
starts from but does not train (the cpu profile's x4) is the shipped one in pretrained/.

Profiles:
  cpu  sized to fit one 2-core session: style: 128 px crops, width 16, 2000 steps (13 minutes each), the
       painting's Gram matrices at 512 px, as benchmarks/style_models.py measures them and the gpu profile
       trains (at 256 px the strokes were half the size and the models recoloured more than they painted:
       udnie's style distance 0.463, 0.377 at 512 px; starry and composition keep 256, see MODELS);
       upscale: no x4 (a GPU's), x2 and x3 600 steps from the shipped x4 (width 48, 16 blocks), the crisp
       ones 200 from the faithful ones, the x4 for JPEG and noisy photos (--degradation real) 1200 from the
       shipped x4; colorize: 600 steps of 8
       crops at 256 px, width 96.
  gpu  style: 256 px crops, width 32, 40000 steps, style weight chosen by previews; upscale: width 48,
       16 blocks, batches of 32, scale augmentation (--rescale 0.5) in every stage, x4 one cycle of 21000
       steps from scratch, x2 and x3 10000 from x4, the crisp ones 1000 from the faithful ones;
       colorize: 2000 steps of 32 crops at 256 px, width 128 (the photos are few: more is learning them);
       arbitrary: 5800 steps of 16 crops at 256 px (what ships).
       Files are stored in fp16 to stay under 40 MB (the arbitrary decoders in both profiles).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"


@dataclass(frozen=True)
class Model:
    name: str
    task: str
    cpu: tuple[str, ...]
    gpu: tuple[str, ...]
    style: str | None = None
    credit: tuple[str, ...] = ()
    init: str | None = None  # another model of this list to start from (the shipped one if the profile has none)
    profiles: tuple[str, ...] = ("cpu", "gpu")  # the profiles that train it (a model may differ by profile)


def _style(name: str, file: str, title: str, artist: str, year: str, cpu: tuple[str, ...],
           gpu_weight: str, cpu_style_size: str = "512") -> Model:
    return Model(
        name, "style",
        cpu=("--image-size", "128", "--batch-size", "2", "--width", "16", "--residual-blocks", "5",
             "--style-size", cpu_style_size, "--lr", "2e-3", "--workers", "1", "--log-every", "25",
             "--checkpoint-every", "100", "--preview-every", "250", *cpu),
        gpu=("--image-size", "256", "--batch-size", "8", "--width", "32", "--residual-blocks", "5",
             "--style-size", "512", "--lr", "1e-3", "--lr-decay", "cosine", "--steps", "40000", "--style-weight",
             gpu_weight, "--workers", "8", "--checkpoint-every", "1000", "--preview-every", "2000"),
        style=file, credit=("--title", title, "--artist", artist, "--year", year, "--license", "public domain"),
    )


# Width 48 on both profiles: the x4 that ships (a GPU's) sets it, and x2 and x3 start from it.
_UPSCALE_CPU = ("--width", "48", "--blocks", "16", "--lr-decay", "cosine", "--workers", "1", "--log-every", "50",
                "--checkpoint-every", "250", "--preview-every", "2000")
# 12 workers: an H100 ran x4 at 40 steps a second with them on a 16-core machine (stop 24).
_UPSCALE_GPU = ("--width", "48", "--blocks", "16", "--batch-size", "32", "--workers", "12", "--log-every", "100",
                "--checkpoint-every", "1000", "--preview-every", "5000")


def _upscale(scale: int, sharp: bool, cpu_steps: str, gpu_steps: str,
             profiles: tuple[str, ...] = ("cpu", "gpu"), real: bool = False) -> Model:
    # x2 and x3 start from the x4 network (all but the sub-pixel layer carry over, as EDSR's x3/x4 models
    # start from x2); the crisp models from the faithful ones, so that weight interpolation is smooth; the
    # real-world one from the faithful one of its scale, as Real-ESRGAN starts from its PSNR-oriented network.
    init = (f"upscale-x{scale}" if sharp or real else "upscale-x4") if sharp or real or scale != 4 else None
    # Perceptual weight 0.02: at 0.1 the crisp models drew a faint pixel grid (the VGG loss's checkerboard)
    # over smooth areas; 0.02 sharpens without it (looked at side by side, examples/upscale.py).
    tuning = ("--perceptual-weight", "0.02", "--lr", "2e-4") if sharp else ("--lr", "5e-4") if real \
        else ("--lr", "1e-3")
    if real:  # blur, noise and JPEG after the downscale (degrade.camera_and_web)
        tuning += ("--degradation", "real")
    # The perceptual loss runs VGG19 at the high resolution: smaller crops keep CPU steps affordable.
    # Crops of 48 low-resolution px (EDSR's patch size) whatever the scale, 32 for the perceptual loss.
    image_size = ("--image-size", str(scale * (32 if sharp else 48)))
    crops = ("--batch-size", "8" if sharp else "16", *image_size)
    # Scale augmentation (photos shrunk by 0.5 to 1 first): 248 photos are few for a long training.
    augment = ("--rescale", "0.5")
    return Model(f"upscale-x{scale}{'-sharp' if sharp else '-real' if real else ''}", "upscale",
                 cpu=("--scale", str(scale), *_UPSCALE_CPU, *crops, "--steps", cpu_steps, *tuning, *augment),
                 gpu=("--scale", str(scale), *_UPSCALE_GPU, *image_size, "--steps", gpu_steps, *tuning, *augment),
                 init=init, profiles=profiles)


MODELS = [
    # starry and composition keep 256 px: at 512 their style distance was the same (starry 0.290 against 0.285,
    # composition 0.257 against 0.254; content 1.42 against 1.47, 1.53 against 1.82), and by eye starry put large
    # yellow patches where nothing in the photo is and composition black blots at the picture's edges.
    _style("starry", "starry_night.jpg", "The Starry Night", "Vincent van Gogh", "1889",
           ("--steps", "2000", "--style-weight", "8"), "8", cpu_style_size="256"),
    _style("wave", "wave.jpg", "The Great Wave off Kanagawa", "Katsushika Hokusai", "c. 1831",
           ("--steps", "2000", "--style-weight", "5"), "5"),
    _style("scream", "the_scream.jpg", "The Scream", "Edvard Munch", "1893",
           ("--steps", "2000", "--style-weight", "5"), "5"),
    _style("composition", "composition_vii.jpg", "Composition VII", "Wassily Kandinsky", "1913",
           ("--steps", "2000", "--style-weight", "8"), "8", cpu_style_size="256"),
    _style("udnie", "udnie.jpg", "Udnie", "Francis Picabia", "1913",
           ("--steps", "2000", "--style-weight", "5"), "5"),
    # x4: one cosine cycle from scratch on a GPU (stop 24, an H100 at 40 steps a second: 9 minutes), then its
    # crisp one: 26.80 dB held-out. A second cycle of 14000 steps from it (peak 4e-4, other crops) gave 26.80
    # again: 248 photos are the limit here. Until stop 24 x4 was a CPU model (width 32, three cosine cycles
    # with warm restarts, Loshchilov & Hutter 2017's SGDR, of 4000, 10000 and 3000 steps: three and a half
    # hours) at 26.71 dB, and more CPU from there moved nothing (a fourth cycle, 24 blocks, 64-px crops, an
    # MSE fine-tune, back-projection: stops 20 and 22).
    _upscale(4, False, "", "21000", profiles=("gpu",)),
    _upscale(4, True, "", "1000", profiles=("gpu",)),
    # x2 and x3. On the CPU, 600 steps from the shipped x4 (the cpu profile trains no x4 of its own), what
    # ships: x3 28.34 dB held-out against 28.21 from the old CPU x4 with the same steps. On the GPU, 10000
    # steps from its own x4 (about 5 minutes each at x4's rate; not run yet).
    _upscale(2, False, "600", "10000"),
    _upscale(3, False, "600", "10000"),
    _upscale(2, True, "200", "1000"),
    _upscale(3, True, "200", "1000"),
    # x4 for photos from cameras and the web (JPEG, noise, softness): 1200 steps from the shipped x4 on the CPU.
    _upscale(4, False, "1200", "10000", real=True),
    # Any painting: decoders that reconstruct photos from their VGG19 features (no painting is needed). What
    # ships is the gpu profile as it ran on an H200 (2026-12-04): 5800 steps of 16 crops in 6 minutes, the step
    # count sized by a measured 16.7 steps a second, with the nearest upsampling of the time (the grid it leaves
    # is what the run's default filter, --degrid, removes). Bilinear decoders, the default since, are the next
    # GPU run's candidate (`--extra "--upsampling bilinear"`, as `bash benchmarks/gpu_session.sh train arbitrary`
    # runs it): 300 steps fine-tuned from the shipped ones on a CPU (192 px, batch 8) took
    # benchmarks/arbitrary_grid.py's stylized grid from 1.25 to 1.19, where the same steps with nearest left it
    # at 1.25 (8 photos, PSNR equal); 1000 such steps (lr 1e-4, cosine; 45 minutes) scored 1.25 on all 28
    # photos against the shipped 1.24.
    # The cpu profile (128 px crops, about an hour on 2 cores, fp32 then; bf16 on AMX now) gives softer
    # reconstructions at relu4_1.
    Model("arbitrary", "arbitrary",
          cpu=("--image-size", "128", "--batch-size", "4", "--steps", "3000", "--lr", "5e-4", "--lr-decay", "cosine",
               "--workers", "1", "--log-every", "25", "--checkpoint-every", "250", "--preview-every", "1000"),
          gpu=("--image-size", "256", "--batch-size", "16", "--steps", "5800", "--lr", "3e-4", "--lr-decay",
               "cosine", "--upsampling", "nearest", "--workers", "12", "--log-every", "100", "--checkpoint-every",
               "1000", "--preview-every", "1000000", "--preview-images", "4")),
    # The cpu profile is what ships: 600 steps of 8 crops at 256 px, 8 minutes on 2 cores with AMX (bf16), the
    # crops cut at the scale colorize sees photos at. Measured on the held-out photos (issue 31; every variant in
    # docs/colorize-automatic.md): longer runs learn the 248 photos (2000 steps: CIEDE2000 11.18 against 9.92 at
    # 600, 28 photos), Zhang et al.'s rebalancing trades accuracy for colour (lambda 0.75: 11.83, colourfulness
    # 0.83), 8 crops of 256 px beat 16 of 176 px (26 colour photos: 10.17 -> 9.93 with the heavier ageing of
    # degrade.py). The head on each position alone (nets/colornet.py) scores 9.87 / 0.53 where the 3x3 head scored
    # 9.93 / 0.51, and is steadier across seeds (seeds 1 and 2: 10.01 and 9.96 against 10.33 and 10.24).
    Model("colorize-auto", "colorize",
          cpu=("--steps", "600", "--batch-size", "8", "--image-size", "256", "--width", "96", "--lr", "2e-3",
               "--rebalance", "1.0", "--workers", "1", "--log-every", "50", "--checkpoint-every", "250",
               "--preview-every", "1000"),
          gpu=("--steps", "2000", "--batch-size", "32", "--image-size", "256", "--width", "128", "--rebalance", "1.0",
               "--workers", "8", "--checkpoint-every", "500", "--preview-every", "500")),
    # colorize-auto's recipe with the skin-hued colours of the photos of people (people.txt: 20 of the 252) counted
    # 12 times: natural faces (the astronaut's hue 67 degrees against colorize-auto's 86; true 62), a warmer cast
    # elsewhere (CIEDE2000 10.23 against 9.87 on the held-out photos; 4 times: 9.90, faces 82). Opt-in, for
    # portraits: `stylize colorize --model colorize-portrait`.
    Model("colorize-portrait", "colorize",
          cpu=("--steps", "600", "--batch-size", "8", "--image-size", "256", "--width", "96", "--lr", "2e-3",
               "--rebalance", "1.0", "--people", str(HERE / "people.txt"), "--skin-weight", "12", "--workers", "1",
               "--log-every", "50", "--checkpoint-every", "250", "--preview-every", "1000"),
          gpu=("--steps", "2000", "--batch-size", "32", "--image-size", "256", "--width", "128", "--rebalance", "1.0",
               "--people", str(HERE / "people.txt"), "--skin-weight", "12", "--workers", "8", "--checkpoint-every",
               "500", "--preview-every", "500")),
]


def training_photos(work: Path, photos: Path) -> Path:
    """A folder of links to every photo except the held-out ones (rebuilt each time: the list may change)."""
    held_out = {line.strip() for line in (HERE / "heldout.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    folder = work / "photos"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for photo in sorted(photos.iterdir()):
        if photo.is_file() and photo.name not in held_out:
            (folder / photo.name).symlink_to(photo.resolve())
    return folder


def command(model: Model, profile: str, work: Path, photos: Path, styles: Path, device: str) -> list[str]:
    words = [str(Path(sys.executable).parent / "stylize"), "train", "--task", model.task, "--data", str(photos),
             "-o", str(work / f"{model.name}.safetensors"), "--device", device, "--seed", "0"]
    if model.style:
        words += ["--style", str(styles / model.style), *model.credit]
    if model.init:
        # A model this profile does not train is the shipped one (the cpu profile's x2 and x3 start from the
        # GPU-trained x4 in pretrained/).
        trained = {m.name for m in MODELS if profile in m.profiles}
        words += ["--init", str((work if model.init in trained else HERE) / f"{model.init}.safetensors")]
    return words + list(model.cpu if profile == "cpu" else model.gpu)


def install(model: Model, work: Path, half: bool, folder: Path = HERE) -> Path:
    """Copy the trained model into pretrained/ or another folder (re-saved in fp16 when asked: half the size)."""
    sys.path.insert(0, str(HERE.parent))
    from stylize.modelfile import load_model, save_model

    source = work / f"{model.name}.safetensors"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    if not half:
        shutil.copyfile(source, target)
        return target
    net, info = load_model(source)
    extra = {k: v for k, v in info.document.items()
             if k not in ("format", "format_version", "stylize_version", "task", "architecture", "arguments")}
    return save_model(target, net, info.task, extra, half=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--only", help="comma-separated model names (default: all)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/stylize_retrain"),
                        help="where training runs write (checkpoints, previews)")
    parser.add_argument("--photos", type=Path, default=DATA / "photos")
    parser.add_argument("--styles", type=Path, default=DATA / "styles")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--force", action="store_true", help="train again models already trained in --work")
    parser.add_argument("--no-install", action="store_true", help="leave the models in --work")
    parser.add_argument("--install-to", type=Path, default=HERE, metavar="FOLDER",
                        help="where trained models are installed (default: pretrained/, what ships)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    parser.add_argument("--extra", default="", metavar="OPTIONS",
                        help="more `stylize train` options after the profile's, e.g. \"--steps 3000 --upsampling "
                             "bilinear\" (the last of a repeated option wins; the model file records them)")
    args = parser.parse_args()
    models = [m for m in MODELS if args.profile in m.profiles]
    wanted = set(args.only.split(",")) if args.only else {m.name for m in models}
    unknown = wanted - {m.name for m in models}
    if unknown:
        raise SystemExit(f"unknown models: {', '.join(sorted(unknown))}")
    work = args.work / args.profile
    photos = args.photos if args.dry_run else training_photos(work, args.photos)
    for model in models:
        if model.name not in wanted:
            continue
        words = command(model, args.profile, work, photos, args.styles, args.device) + shlex.split(args.extra)
        print(shlex.join(words), flush=True)
        if args.dry_run:
            continue
        output = work / f"{model.name}.safetensors"
        if output.is_file() and not args.force:
            print(f"  {output} exists: kept (--force to train again)")
        else:
            resume = ["--resume"] if output.with_suffix(".ckpt").is_file() and not args.force else []
            subprocess.run(words + resume, check=True)
        if not args.no_install:
            # fp16 for the gpu profile's wider networks and for the arbitrary decoders (16 MB in fp32).
            half = args.profile == "gpu" or model.task == "arbitrary"
            print(f"  installed {install(model, work, half, args.install_to)}")


if __name__ == "__main__":
    main()
