"""An optimization's progress kept in a file, so that an interrupted run can go on from it (`stylize run --resume`).

A large output is a long job (`--size 4096`: 14 minutes on 2 cores, most of them at the last scale), and Ctrl-C,
SIGTERM, a closed laptop lid's shutdown or the OOM killer used to lose all of it. The file holds the image at the
scale and step reached, that scale's losses so far (which the convergence test reads) and the progress counts,
saved every SAVE_SECONDS and when the run is interrupted. It does not hold L-BFGS's curvature pairs (two vectors a
step, up to HISTORY_SIZE steps, each the size of the image pyramid: 50 MB at 2048x1536, so 2 GB after the default 20
steps), so a resumed run starts its curvature afresh, as a restart does (optimization.py, RESTART_RISE): its picture
is as far along as an uninterrupted run's, not the same pixels (benchmarks/gatys_resume.py: content 0.766 and style
0.177 against 0.754 and 0.169 on four pairs at 512 px).

The file is safetensors (the image) with a JSON document in its metadata: nothing is unpickled when it is read.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from stylize.errors import ConfigError, WriteError
from stylize.files import companion_name, write_bytes_atomic

# How often the progress is written during a run: at most a minute of work is lost to a kill that gives no time
# to save (SIGKILL, a power cut), and writing the image (38 MB at 2048x1536 in fp32) costs under 1 % of it.
SAVE_SECONDS = 60.0

# The metadata key and the version of what it holds; a file of another version is not resumed.
METADATA_KEY = "stylize-run"
FORMAT_VERSION = 1


def checkpoint_path_for(output: Path) -> Path:
    """Where an optimization writing OUTPUT keeps its progress: the hidden .OUTPUT.stylize-run beside it."""
    output = Path(output)
    return output.with_name(companion_name(output.name, ".", ".stylize-run"))


@dataclass
class RunState:
    """Where an optimization stands: after `step` steps of scale `scale` (0-based), `image` the result so far at
    that scale's size; `finished`: that scale is done (converged or out of steps), the next starts from it."""

    key: str  # what the result depends on (GatysTransfer's digest of the photo, styles, masks, settings, plan)
    scale: int
    scales: int
    step: int
    finished: bool
    done: int  # steps over all scales, as StepInfo counts them
    work_done: float
    work_total: float
    image: torch.Tensor  # (1, 3, h, w), float32
    history: list[float] = field(default_factory=list)  # this scale's total losses, for the convergence test

    def share(self) -> float:
        """The share of the run's work done, 0 to 1."""
        return min(1.0, self.work_done / self.work_total) if self.work_total > 0 else 0.0

    def describe(self) -> str:
        """Where it stands, in words: 'step 12 of scale 3/4 (20% of the work)'."""
        return f"step {self.step} of scale {self.scale + 1}/{self.scales} ({self.share():.0%} of the work)"


class RunCheckpoint:
    """The progress file of one optimization. With `resume`, load() gives the state an interrupted run left (if its
    key matches); offer() keeps each step's state and writes it every `every` seconds; save() writes the latest at
    once (on an interruption). The file stays when the run ends: its caller removes it (remove()) once the result
    is safely written, so that a failed write of the result loses nothing either.

    strict: with resume, a file of other settings (or one that cannot be read) is an error (`run --resume`, which
    was asked to go on), or is replaced by this run (`batch`, which goes on wherever it can). name: what the run
    makes, for the messages (the output file)."""

    def __init__(self, path: Path, resume: bool = False, every: float = SAVE_SECONDS, strict: bool = True,
                 name: str | None = None) -> None:
        self.path, self.resume, self.every, self.strict, self.name = Path(path), resume, every, strict, name
        self.latest: RunState | None = None
        self.written: RunState | None = None  # the state the file holds, as this process last wrote it
        self.error: str | None = None  # why the last write failed (a full disk): the run goes on without
        self._last_save = time.monotonic()
        # A run started afresh replaces an interrupted run's file only once it has done as large a share of its
        # work: a Ctrl-C soon after starting without --resume by mistake keeps the long run that is there.
        self._replaces_at = 0.0 if resume else _share_done(self.path)

    @classmethod
    def beside(cls, output: Path, resume: bool = False, strict: bool = True) -> RunCheckpoint:
        """The progress file of a run that writes `output` (checkpoint_path_for)."""
        return cls(checkpoint_path_for(output), resume, strict=strict, name=str(output))

    def load(self, key: str) -> RunState | None:
        """With resume, the state saved under this key; None without resume or where there is no file. A file of
        other settings, another photo or another version, or one that cannot be read, is a ConfigError (strict) or
        None. Only a run's first attempt resumes: a second plan of the same run (after running out of memory)
        starts afresh."""
        resume, self.resume = self.resume, False
        if not resume or not self.path.is_file():
            return None
        again = "run without --resume to start again"
        try:
            document, image = _read(self.path, image=True)
            state = RunState(key=str(document["key"]), scale=int(document["scale"]), scales=int(document["scales"]),
                             step=int(document["step"]), finished=bool(document["finished"]),
                             done=int(document["done"]), work_done=float(document["work_done"]),
                             work_total=float(document["work_total"]), image=_present(image).float(),
                             history=[float(value) for value in document["history"]])
            valid = (document.get("version") == FORMAT_VERSION and state.image.dim() == 4
                     and state.image.shape[:2] == (1, 3) and bool(torch.isfinite(state.image).all())
                     and all(map(math.isfinite, state.history)))
        except Exception:  # safetensors, json and the conversions raise several types for a damaged file
            valid = False
        if not self.strict and not (valid and state.key == key):
            return None  # another run's: this one starts afresh and replaces it (_replaces_at is 0 with resume)
        if not valid:
            raise ConfigError(f"{self.path} is not a readable record of an interrupted run: {again}")
        if state.key != key:
            raise ConfigError(f"the interrupted run kept in {self.path} was made with other settings, another photo "
                              f"or style, or another memory plan: {again}")
        self.written = state
        return state

    def offer(self, state: RunState) -> None:
        """Keep the state after a step; write it where `every` seconds have passed since the last write."""
        self.latest = state
        if time.monotonic() - self._last_save >= self.every:
            self.save()

    def save(self) -> bool:
        """Write the latest state now (atomically); whether there was one to write."""
        state = self.latest
        if state is None or (self.written is None and state.share() < self._replaces_at):
            return False
        from safetensors.torch import save

        document = {"version": FORMAT_VERSION, "key": state.key, "scale": state.scale, "scales": state.scales,
                    "step": state.step, "finished": state.finished, "done": state.done, "work_done": state.work_done,
                    "work_total": state.work_total, "history": state.history}
        image = state.image.detach().float().cpu().contiguous()
        self._last_save = time.monotonic()
        try:
            write_bytes_atomic(self.path, save({"image": image}, metadata={METADATA_KEY: json.dumps(document)}))
        except WriteError as error:  # the progress is a convenience: a full disk must not stop the run itself
            self.error = str(error)
            return False
        self.written, self.error = state, None
        return True

    def remove(self) -> None:
        """Remove the file (the result is written)."""
        self.path.unlink(missing_ok=True)
        self.written = None


def _read(path: Path, image: bool) -> tuple[dict, torch.Tensor | None]:
    """The file's document, and its image where asked; errors of every kind for a file that is not one."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as opened:
        return json.loads((opened.metadata() or {})[METADATA_KEY]), opened.get_tensor("image") if image else None


def _present(image: torch.Tensor | None) -> torch.Tensor:
    if image is None:
        raise ValueError("no image")
    return image


def _share_done(path: Path) -> float:
    """The share of its work that the run kept in `path` had done; 0 where there is no such file or it cannot be
    read (nothing worth keeping)."""
    try:
        document, _ = _read(path, image=False)
        done, total = float(document["work_done"]), float(document["work_total"])
    except Exception:  # no file, or not one of ours: safetensors, json and the conversions raise several types
        return 0.0
    return min(1.0, done / total) if total > 0 and math.isfinite(done) else 0.0
