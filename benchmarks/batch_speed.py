"""Batch throughput: `stylize batch`'s runner against a plain loop, and --style mode against `stylize run`.

Fast model: images/s over the photos of ../shared/data/photos through batch.run_jobs (background decoding
and encoding, same-size batching) and through a plain loop (load, stylize, save, one at a time), in the
same run, plus the share of wall time spent in the model; once with the real network and once with a
4-channel one standing in for a fast GPU, where decoding and encoding dominate. Style mode: seconds per
image for one batch command against separate `stylize run` commands.

Run: python benchmarks/batch_speed.py [--limit 280]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from stylize import batch
from stylize.images import load_image, save_image
from stylize.nets.johnson import JohnsonNet
from stylize.tasks.fast import FastStylizer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def fast_mode(limit: int, width: int) -> None:
    torch.manual_seed(0)
    stylizer = FastStylizer(JohnsonNet(width=width), device="cpu")
    found, _ = batch.collect_inputs([DATA / "photos"])
    found = found[:limit]
    model_seconds = 0.0

    def stylize_group(images, jobs):
        nonlocal model_seconds
        started = time.perf_counter()
        result = list(stylizer(torch.cat([image.pixels for image in images])).split(1))
        model_seconds += time.perf_counter() - started
        return result

    with tempfile.TemporaryDirectory() as folder:
        stylizer(torch.rand(1, 3, 64, 64))  # warm-up
        loop_started = time.perf_counter()
        for source, relative in found:
            image = load_image(source)
            save_image(stylizer(image.pixels), Path(folder) / "loop" / Path(relative).with_suffix(".png"),
                       image.icc_profile)
        loop = time.perf_counter() - loop_started

        jobs = batch.plan_jobs(found, Path(folder) / "batch")
        started = time.perf_counter()
        # The CLI's CPU defaults: one image at a time (batching gains nothing on a CPU), two I/O threads.
        report = batch.run_jobs(jobs, stylize_group, batch_size=1, io_threads=2)
        ours = time.perf_counter() - started
    assert report.count("done") == len(found), report.failed[:3]
    print(f"fast model (width {width}), {len(found)} photos: batch {len(found) / ours:.2f} img/s, plain loop "
          f"{len(found) / loop:.2f} img/s, speed-up {loop / ours:.2f}x; model compute {model_seconds / ours:.0%} "
          "of batch wall time")


def style_mode(count: int) -> None:
    photos = sorted((DATA / "photos").glob("*.jpg"))[:count]
    style = DATA / "styles" / "candy.jpg"
    stylize = str(Path(sys.executable).parent / "stylize")
    common = ["--style", str(style), "--size", "128", "--steps", "20", "--device", "cpu", "-q"]
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        for photo in photos:
            subprocess.run([stylize, "run", str(photo), "-o", f"{folder}/{photo.stem}.png", *common], check=True)
        separate = (time.perf_counter() - started) / count
        started = time.perf_counter()
        subprocess.run([stylize, "batch", *map(str, photos), "-o", f"{folder}/batch", *common], check=True)
        together = (time.perf_counter() - started) / count
    print(f"style mode, {count} photos at 128 px, 20 steps: batch {together:.2f} s/img, separate runs "
          f"{separate:.2f} s/img, speed-up {separate / together:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=280)
    parser.add_argument("--style-images", type=int, default=5)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    # Width 32 is the real network; on a CPU it is ~99 % of the time, so there is little I/O to hide.
    # Width 4 is a stand-in for a GPU, where the model is cheap and decoding and encoding dominate.
    for width in (32, 4):
        fast_mode(args.limit, width)
    style_mode(args.style_images)


if __name__ == "__main__":
    main()
