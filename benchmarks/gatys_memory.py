"""Optimization memory: peak RSS of `stylize run --style` against the output's size, and the formula.

Each size runs as its own process with the default schedule (the coarser scales raise the peak: a single-scale
run peaks about a fifth lower) and --steps steps a scale (default: the default step count, so that L-BFGS's
history, one pair per step, is as in a real run). The fit of peak bytes against pixels gives the per-pixel and
fixed costs that stylize's memory plan uses (tasks/gatys/memory.py: BYTES_PER_PIXEL and
BASE_BYTES). Then one run at a size that does not fit (the default plan, --steps steps) is timed with its peak,
to show the plan (optimize smaller, enlarge with the super-resolution network) keeps memory bounded.

Run: python benchmarks/gatys_memory.py [--sizes 512,1024,2048] [--steps 20] [--large 4096]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from stylize.config import GatysConfig
from stylize.tasks.gatys import BASE_BYTES, BYTES_PER_PIXEL

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CONTENT, STYLE = DATA / "content" / "chicago.jpg", DATA / "styles" / "starry_night.jpg"

PEAK = """
import resource, subprocess, sys
result = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(peak, result.returncode, (result.stderr.strip().splitlines() or [''])[-1])
"""


def peak_of(command: list[str]) -> tuple[int, int, str, float]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PEAK, *command], capture_output=True, text=True, check=True)
    peak, code, last = out.stdout.split(" ", 2)
    return int(peak), int(code), last.strip(), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512,1024,2048")
    parser.add_argument("--steps", type=int, default=GatysConfig().steps)
    parser.add_argument("--large", type=int, default=4096, help="a size run with the default plan (0: skip)")
    args = parser.parse_args()
    stylize = str(Path(sys.executable).parent / "stylize")
    width, height = Image.open(CONTENT).size
    pixels, peaks = [], []
    with tempfile.TemporaryDirectory() as folder:
        print(f"default schedule, {args.steps} L-BFGS steps a scale, CPU")
        for size in (int(s) for s in args.sizes.split(",")):
            command = [stylize, "run", str(CONTENT), "--style", str(STYLE), "--size", str(size), "--steps",
                       str(args.steps), "--device", "cpu", "-q", "-o", f"{folder}/out.png"]
            peak, code, _, seconds = peak_of(command)
            count = size * size * min(width, height) / max(width, height)
            pixels.append(count)
            peaks.append(peak)
            print(f"  {size:>5} px ({count / 1e6:5.2f} MP): peak RSS {peak / 2**30:6.2f} GiB, {seconds:5.0f} s"
                  f"{'' if code == 0 else '  (failed)'}")
        slope, intercept = np.polyfit(pixels, peaks, 1)
        print(f"fit: peak = {intercept / 2**20:.0f} MiB + {slope:.0f} bytes x pixels "
              f"(the plan assumes {BASE_BYTES / 2**20:.0f} MiB + {BYTES_PER_PIXEL} bytes x pixels)")
        if args.large:
            command = [stylize, "run", str(CONTENT), "--style", str(STYLE), "--size", str(args.large), "--steps",
                       str(args.steps), "--device", "cpu", "-o", f"{folder}/large.png"]
            peak, code, last, seconds = peak_of(command)
            print(f"\n--size {args.large} with the default plan: peak RSS {peak / 2**30:.2f} GiB, {seconds:.0f} s, "
                  f"exit {code}\n  {last}")


if __name__ == "__main__":
    main()
