"""A video job's work folder (.OUTPUT.stylize beside the output): its segments, the state each leaves for the next
(the last input and output frames, losslessly), and the job's settings, until the final file is written. Only the
names a job writes are ever removed from it, and a folder holding anything else is refused: clearing it can never
delete a user's file."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from stylize.errors import VideoError
from stylize.files import atomic_output, companion_name, is_within, part_writer

# The only names a job writes in its work folder (segment_00000.mp4, its .input/.output.png, and their .part;
# the final file while it is muxed).
_WORK_FILE = re.compile(r"job\.json|segment_\d{5,}\.(mp4|input\.png|output\.png)(\.part)?|muxing\.\w{3,4}")
_SEGMENT = re.compile(r"segment_(\d{5,})\.mp4")  # a finished or unfinished segment's name (WorkFolder.segment)


def work_folder(output: Path) -> Path:
    """Where segments and their state wait until the final file is written: .OUTPUT.stylize beside it."""
    return Path(output).with_name(companion_name(Path(output).name, ".", ".stylize"))


def _own(name: str) -> bool:
    """A name a job writes in its work folder, or a temporary file of files.atomic_output's there."""
    return bool(_WORK_FILE.fullmatch(name)) or part_writer(name) is not None


def check_work_folder(work: Path, source: Path) -> None:
    """VideoError unless `work` is absent or a real folder holding nothing but a job's own files, and the
    source lies outside it: clearing it then can never delete a user's file."""
    if is_within(source, work):
        raise VideoError(f"the input {source} lies inside the work folder {work} of this output; "
                         "move it or choose another -o")
    if not (work.exists() or work.is_symlink()):
        return
    if work.is_symlink() or not work.is_dir():
        raise VideoError(f"{work} (the work folder of this output) exists and is not a folder; "
                         "move it or choose another -o")
    foreign = sorted(entry.name for entry in work.iterdir() if not (_own(entry.name)
                                                                   and entry.is_file() and not entry.is_symlink()))
    if foreign:
        raise VideoError(f"the work folder {work} holds {foreign[0]!r}, which stylize did not write; "
                         "move it or choose another -o")


def clear_work_folder(work: Path) -> None:
    """Remove a job's work folder file by file: only the names a job writes (see check_work_folder)."""
    if work.is_symlink() or not work.is_dir():
        return
    for entry in work.iterdir():
        if _own(entry.name) and not entry.is_symlink():
            entry.unlink(missing_ok=True)
    try:
        work.rmdir()
    except OSError:  # something appeared that is not ours: leave it
        pass


class WorkFolder:
    """The work folder of the job from `source` to `output` (checked on creation: check_work_folder)."""

    def __init__(self, output: Path, source: Path) -> None:
        self.output, self.source = output, source
        self.path = work_folder(output)
        check_work_folder(self.path, source)

    def prepare(self, resume: bool, settings: dict[str, Any]) -> None:
        """With resume, keep the finished segments of a job with the same settings (their unfinished parts
        removed); else start afresh."""
        manifest = self.path / "job.json"
        if resume and manifest.is_file():
            try:
                saved = json.loads(manifest.read_text())
            except (OSError, json.JSONDecodeError):
                saved = None
            if saved != _jsonable(settings):
                raise VideoError(f"the unfinished job in {self.path} was made with other settings or another "
                                 "input; run without --resume to start again")
            for stale in self.path.glob("*.part"):
                stale.unlink()
            return
        check_work_folder(self.path, self.source)  # again: the folder may have changed since the job was made
        clear_work_folder(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps(_jsonable(settings)))

    def clear(self) -> None:
        clear_work_folder(self.path)

    def segment(self, index: int) -> Path:
        return self.path / f"segment_{index:05d}.mp4"

    def finished(self) -> set[int]:
        """The segments written with their state (the output frame is saved last: the sign that one is done)."""
        written = (_SEGMENT.fullmatch(path.name) for path in self.path.glob("segment_*.mp4"))
        return {int(match[1]) for match in written if match and self._state_path(int(match[1]), "output").is_file()}

    def segments(self) -> list[Path]:
        """The finished segments, in order; VideoError where one is missing between them."""
        finished = sorted(self.finished())
        if not finished:
            raise VideoError(f"{self.source} gave no frames to write")
        missing = sorted(set(range(finished[-1] + 1)) - set(finished))
        if missing:
            raise VideoError(f"segment {missing[0] + 1} of {self.output} was not written; run the same command "
                             "with --resume to compute it")
        return [self.segment(index) for index in finished]

    def state(self, start_segment: int) -> tuple[np.ndarray, np.ndarray]:
        """The last input and output frames before `start_segment`, for the flow and the blend."""
        from PIL import Image

        with Image.open(self._state_path(start_segment - 1, "input")) as image_in, \
                Image.open(self._state_path(start_segment - 1, "output")) as image_out:
            return np.array(image_in.convert("RGB")), np.array(image_out.convert("RGB"))

    def save_state(self, segment: int, last_input: np.ndarray | None, last_output: np.ndarray | None) -> None:
        """Save the state after a closed segment (the output frame last, as the sign that it is done)."""
        from PIL import Image

        if last_input is None or last_output is None:
            return
        for kind, pixels in (("input", last_input), ("output", last_output)):
            with atomic_output(self._state_path(segment, kind)) as stream:
                Image.fromarray(pixels).save(stream, format="PNG")

    def _state_path(self, index: int, kind: str) -> Path:
        return self.path / f"segment_{index:05d}.{kind}.png"


def fingerprint(path: Path) -> dict[str, Any]:
    """What a resumed job checks its source by: the same path, size and modification time."""
    info = path.stat()
    return {"path": str(path.resolve()), "size": info.st_size, "mtime": math.floor(info.st_mtime)}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
