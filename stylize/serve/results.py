"""The studio's output folder: each result an image written atomically under a name that no other result or
input has, with a JSON file beside it holding the settings and the command that made it, so that a
restarted server lists every earlier result again (to the browser session that made it)."""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stylize.files import check_writable_folder, is_regular_file, remove_stale_parts, write_bytes_atomic

SIDECAR_SUFFIX = ".json"
# What uploads.safe_stem leaves of a name (letters and digits of any script, '.', '_', '-'), then the suffix.
_RESULT_NAME = re.compile(r"[\w.-]{1,120}\.(png|mp4|gif|webp|apng)")


@dataclass(frozen=True)
class ResultEntry:
    name: str  # the image's file name in the output folder
    session: str
    created: float
    kind: str
    settings: dict[str, Any]
    command: str
    inputs: dict[str, str]  # photo, painting, reference: the names the browser gave
    width: int
    height: int
    seconds: float
    files: int = 0  # a folder job's result: a folder of this many images (its name is the folder's)


class ResultFolder:
    """Reserves unique result names, records each result's settings, and finds results by name only."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        check_writable_folder(self.folder, "output folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        remove_stale_parts(self.folder)
        self._lock = threading.Lock()

    def reserve(self, stem: str, label: str, suffix: str = ".png") -> Path:
        """A new path PHOTO_LABEL_NNN.png (or a clip's .mp4, .gif, .webp, .apng) in the folder that no file has (the
        name is taken at once, by an exclusive create of its settings file, so two servers on one folder never share
        a name)."""
        with self._lock:
            for number in range(1, 1_000_000):
                path = self.folder / f"{stem}_{label}_{number:03d}{suffix}"
                if path.exists():
                    continue
                try:
                    os.close(os.open(self._sidecar(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                except FileExistsError:
                    continue
                return path
        raise RuntimeError("no free result name")

    def reserve_folder(self, stem: str, label: str) -> Path:
        """A new folder STEM_LABEL_NNN in the output folder for a folder job's images (made at once)."""
        with self._lock:
            for number in range(1, 1_000_000):
                path = self.folder / f"{stem}_{label}_{number:03d}"
                try:
                    path.mkdir()
                except FileExistsError:
                    continue
                return path
        raise RuntimeError("no free result name")

    def release(self, path: Path) -> None:
        """Give a reserved name back (the job failed or was cancelled)."""
        if not path.exists():
            self._sidecar(path).unlink(missing_ok=True)

    def record(self, entry: ResultEntry) -> None:
        write_bytes_atomic(self._sidecar(self.folder / entry.name), json.dumps(asdict(entry), indent=1).encode())

    def entries(self, session: str) -> list[ResultEntry]:
        """The session's results whose image exists, newest first."""
        found = [self._entry(sidecar, session) for sidecar in self.folder.glob(f"*{SIDECAR_SUFFIX}")]
        return sorted((entry for entry in found if entry is not None), key=lambda entry: -entry.created)

    def path_for(self, session: str, name: str) -> Path:
        """The image of one of the session's results by its bare name; KeyError for anything else (other
        sessions' results, names with separators or dots in front, files that are not results). Only that
        result's settings file is read: a page showing many results asks for each."""
        if not _RESULT_NAME.fullmatch(name) or name.startswith("."):
            raise KeyError(name)
        entry = self._entry(self._sidecar(self.folder / name), session)
        if entry is None or entry.name != name or entry.files:
            raise KeyError(name)
        return self.folder / name

    def _entry(self, sidecar: Path, session: str) -> ResultEntry | None:
        """The result a settings file describes, if it is the session's and its output exists."""
        try:
            entry = ResultEntry(**json.loads(sidecar.read_text()))
        except (OSError, ValueError, TypeError):
            return None  # a reserved name not yet written, or a file that is not ours
        written = (self.folder / entry.name).is_dir() if entry.files else is_regular_file(self.folder / entry.name)
        return entry if entry.session == session and written else None

    @staticmethod
    def _sidecar(path: Path) -> Path:
        return path.with_name(path.name + SIDECAR_SUFFIX)
