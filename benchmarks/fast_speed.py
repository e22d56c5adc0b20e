"""Fast-model speed and memory on this machine.

Prints training images/s (256 px, batch 4) beside the raw forward+backward of network and VGG19 in the
same run; inference ms per image at 512 and 1024 px beside the raw network forward; and the peak RSS of
stylizing a 6000x4000 image with tiling and without.

Run: python benchmarks/fast_speed.py [--train-steps 6] [--skip-rss]
Needs ../shared/data beside the checkout.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from stylize.config import StyleTrainConfig
from stylize.device import memory_format
from stylize.losses import gram, perceptual_losses, tv_loss
from stylize.modelfile import save_model
from stylize.nets.johnson import JohnsonNet
from stylize.tasks.fast import FastStylizer, StyleObjective
from stylize.training.loop import fit
from stylize.vgg import VGGFeatures

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CPU = torch.device("cpu")


def timed(fn, repeats: int) -> float:
    fn()
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - started) / repeats


def training(steps: int) -> None:
    config = StyleTrainConfig(image_size=256, batch_size=4, steps=steps + 2, workers=2, log_every=1,
                              checkpoint_every=10_000, preview_every=10_000, preview_images=0)
    logs = []
    with tempfile.TemporaryDirectory() as folder:
        fit(StyleObjective(config, DATA / "styles" / "wave.jpg"), DATA / "photos", Path(folder) / "m.safetensors",
            device="cpu", on_log=logs.append)
    ours = sum(log.images_per_second for log in logs[2:]) / len(logs[2:])

    layout = memory_format(CPU)
    net = JohnsonNet().to(memory_format=layout)
    vgg = VGGFeatures(config.style_layers + config.content_layers).to(memory_format=layout)
    content_vgg = VGGFeatures(config.content_layers).to(memory_format=layout)
    batch = torch.rand(4, 3, 256, 256).contiguous(memory_format=layout)
    targets = {k: gram(v) for k, v in vgg(torch.rand(1, 3, 256, 256)).items() if k in config.style_layers}
    optimizer = torch.optim.Adam(net.parameters())

    def step() -> None:
        out = net(batch)
        with torch.no_grad():
            content = content_vgg(batch)
        c, s = perceptual_losses(vgg(out), content, targets)
        (c + 10 * s + tv_loss(out)).backward()
        optimizer.step()
        optimizer.zero_grad()

    raw = 4 / timed(step, steps)
    print(f"training, 256 px, batch 4: {ours:.2f} img/s; raw network+VGG step {raw:.2f} img/s; "
          f"ratio {ours / raw:.2f}")


def inference(repeats: int) -> None:
    torch.manual_seed(0)
    stylizer = FastStylizer(JohnsonNet(), device="cpu")
    for side in (512, 1024):
        image = torch.rand(1, 3, side, side)
        ours = timed(lambda image=image: stylizer(image), repeats)
        with torch.inference_mode():
            layout = image.contiguous(memory_format=memory_format(CPU))
            raw = timed(lambda layout=layout: stylizer.net(layout), repeats)
        print(f"inference {side}x{side}: {ours * 1000:.0f} ms; raw forward {raw * 1000:.0f} ms; ratio {ours / raw:.2f}")


RSS_SCRIPT = """
import resource, sys, time, torch
from stylize.config import FastConfig
from stylize.modelfile import load_model
from stylize.tasks.fast import FastStylizer
net, _ = load_model(sys.argv[1])
image = torch.rand(1, 3, 4000, 6000)
started = time.perf_counter()
FastStylizer(net, device="cpu", config=FastConfig(tile=int(sys.argv[2])))(image)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{time.perf_counter() - started:.1f} s, peak RSS {rss:.0f} MiB")
"""


def memory() -> None:
    with tempfile.TemporaryDirectory() as folder:
        model = save_model(Path(folder) / "m.safetensors", JohnsonNet(), "style", {})
        for tile, label in ((1024, "tiled (1024 px tiles)"), (0, "untiled")):
            result = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(model), str(tile)],
                                    capture_output=True, text=True, timeout=1800)
            text = result.stdout.strip() or f"failed: {result.stderr.strip().splitlines()[-1:]}"
            print(f"6000x4000 {label}: {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-steps", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-rss", action="store_true")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    inference(args.repeats)
    training(args.train_steps)
    if not args.skip_rss:
        memory()
    if torch.cuda.is_available():
        print("CUDA present: run benchmarks/fast_gpu.py for the GPU figures")


if __name__ == "__main__":
    main()
