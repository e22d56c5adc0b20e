"""Optimization resumed (`stylize run --resume`): the picture an interrupted and resumed run gives, beside the
uninterrupted run's, and what keeping the progress costs.

A resumed scale starts its L-BFGS curvature afresh (tasks/gatys/resume.py keeps the image, not the pairs), so a run
stopped in the middle of a scale does not give the uninterrupted run's picture. Each pair is run uninterrupted, then
stopped and resumed at several steps (counted over all scales, as the progress bar counts them), each scored by
gatys_time_to_quality.py's independent VGG19 evaluator (content and style errors, lower is better). A run stopped
between two scales gives the uninterrupted picture where the curvature is not carried either (the tests show it
exactly), so the rows stop within scales.

Run: python benchmarks/gatys_resume.py [--size 512] [--pairs N]
Needs ../shared/data beside the checkout.

Measured 2026-12-07 (2 cores, fp32, the four pairs at 512 px, the defaults: 20 steps at each of 3 scales; stopped
at the 1st, 11th and 19th step of the last scale): content / style
    uninterrupted                 0.754 / 0.169
    resumed, mean of the stops    0.766 / 0.177   (by pair, style 0.146 to 0.164 against 0.141 at the widest)
Keeping the progress: 0.005 s at 512x384, 0.159 s at 2048x1536, 0.629 s at 4096x3072.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gatys_time_to_quality import DATA, PAIRS, Evaluator  # noqa: E402

from stylize.config import GatysConfig  # noqa: E402
from stylize.images import load_image  # noqa: E402
from stylize.tasks.gatys import GatysTransfer, StepInfo  # noqa: E402
from stylize.tasks.gatys.resume import RunCheckpoint, RunState  # noqa: E402


def stylize(task: GatysTransfer, photo: torch.Tensor, checkpoint: RunCheckpoint | None = None,
            stop_at: int | None = None) -> tuple[torch.Tensor | None, list[StepInfo]]:
    """The result (None where stopped at step `stop_at`, as Ctrl-C stops it) and the steps reported."""
    steps: list[StepInfo] = []

    def on_step(info: StepInfo) -> None:
        steps.append(info)
        if info.done == stop_at:
            raise KeyboardInterrupt

    try:
        return task(photo, on_step=on_step, checkpoint=checkpoint), steps
    except KeyboardInterrupt:
        return None, steps


def save_seconds(side: int, folder: Path) -> float:
    """What writing the progress of a side x 3/4 side picture costs (the mean of three writes)."""
    image = torch.rand(1, 3, side * 3 // 4, side)
    checkpoint = RunCheckpoint(folder / "cost")
    checkpoint.latest = RunState(key="0" * 64, scale=0, scales=1, step=1, finished=False, done=1, work_done=1.0,
                                 work_total=20.0, image=image, history=[1.0])
    started = time.perf_counter()
    for _ in range(3):
        checkpoint.save()
    return (time.perf_counter() - started) / 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--pairs", type=int, default=len(PAIRS))
    args = parser.parse_args()
    evaluator = Evaluator()
    config = GatysConfig(size=args.size)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, size {args.size}, default settings")
    totals: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for side in (512, 2048, 4096):
            print(f"keeping the progress of a {side}x{side * 3 // 4} picture: {save_seconds(side, folder):.3f} s")
        for content_name, style_name in PAIRS[: args.pairs]:
            photo = load_image(DATA / content_name, args.size).pixels
            painting = load_image(DATA / style_name).pixels
            task = GatysTransfer([painting], config, "cpu")
            whole, steps = stylize(task, photo)
            assert whole is not None
            # The last scale's steps: stopped after its first, in its middle, and before its last.
            last = [info.done for info in steps if info.scale == steps[-1].scale]
            stops = sorted({last[0], last[len(last) // 2], last[-2]}) if len(last) > 2 else []
            rows = {"uninterrupted": whole}
            for stop in stops:
                path = folder / f"{stop}.stylize-run"
                stylize(task, photo, RunCheckpoint(path), stop)
                resumed, _ = stylize(task, photo, RunCheckpoint(path, resume=True))
                assert resumed is not None
                where = next(info for info in steps if info.done == stop)
                rows[f"stopped at step {where.step} of {where.steps} of scale {where.scale + 1}"] = resumed
            print(f"\n{Path(content_name).name} x {Path(style_name).name}: {len(steps)} steps, the last scale "
                  f"{len(last)}")
            print(f"  {'':<40} {'content':>8} {'style':>8}")
            for label, image in rows.items():
                scores = evaluator(image, photo, painting)
                key = "uninterrupted" if label == "uninterrupted" else "resumed (mean of the stops)"
                totals.setdefault(key, []).append(scores)
                print(f"  {label:<40} {scores[0]:>8.3f} {scores[1]:>8.3f}")
    print("\nmean over pairs")
    for label, values in totals.items():
        print(f"  {label:<40} {sum(v[0] for v in values) / len(values):>8.3f} "
              f"{sum(v[1] for v in values) / len(values):>8.3f}")


if __name__ == "__main__":
    main()
