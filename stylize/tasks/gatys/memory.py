"""How much memory one optimization step needs, measured: what decides whether the full size is optimized
directly or at a half or a quarter and enlarged (GatysTransfer.memory_plan), and what the page shows before
a large job."""

from __future__ import annotations

# Memory of one optimization step, per output pixel and fixed, in bytes (fp32, CPU, default layers): VGG19's
# activations kept for the backward pass up to relu5_1, max-pool indices, gradients, the Laplacian levels, the
# L-BFGS pairs (one per step, each two vectors over the levels, 4/3 of the pixels) and the image (with the
# scale's best image so far and the last one evaluated, kept for a restart: 32 bytes a pixel); fixed: the
# weights, the style targets, PyTorch itself. Fitted by benchmarks/gatys_memory.py on a 2-core CPU with whole
# default runs, the pyramid's coarser scales included: they raise the peak by about a fifth over a single-scale
# run (3.42 against 2.90 GiB at 1024 px; probably their freed memory, which the C allocator keeps). 3.42 GiB at
# 0.70 MP and, for --size 4096 (optimized at 2.79 MP, then enlarged), 11.38 GiB: 775 MiB + 4090 bytes x pixels,
# rounded up; the README gives the formula. bf16 (--precision) peaks a little lower (2.48 against 2.65 GB of RSS at
# 1024 px, 3 steps a scale): the fp32 figure stays the bound for both.
BYTES_PER_PIXEL = 4100
BASE_BYTES = 900 * 2**20

# Share of the free memory a plan may count on (the rest: other processes, allocator slack).
MEMORY_SHARE = 0.8


def step_memory(pixels: float) -> int:
    """Bytes one optimization step needs at an output of `pixels` pixels."""
    return int(BASE_BYTES + BYTES_PER_PIXEL * pixels)
