"""Images sent by the page, checked as the command line checks files, each owned by one browser session."""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from stylize.errors import ImageError
from stylize.files import write_bytes_atomic
from stylize.images import IMAGE_EXTENSIONS, header_size, load_image

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_stem(name: str, fallback: str = "image", limit: int = 40) -> str:
    """A file name's stem reduced to letters, digits, '.', '_' and '-' (a client's name is never a path)."""
    stem = _UNSAFE.sub("_", Path(name.replace("\\", "/")).stem).strip("._")
    return stem[:limit] or fallback


@dataclass(frozen=True)
class Upload:
    id: str
    session: str
    name: str  # the name the browser gave, for display and commands only
    path: Path  # where the server keeps it (never derived from anything the client sent)
    width: int
    height: int


class Uploads:
    """Uploaded images in a private temporary folder; an id finds an upload only for the session that sent it."""

    def __init__(self, max_bytes: int, max_pixels: int, folder: Path | None = None) -> None:
        self.max_bytes, self.max_pixels = max_bytes, max_pixels
        self.folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="stylize-studio-"))
        self._uploads: dict[str, Upload] = {}
        self._lock = threading.Lock()

    def add(self, session: str, name: str, data: bytes) -> Upload:
        """Keep `data` as an image of the session; ImageError (one line) when it is too large or no image."""
        if len(data) > self.max_bytes:
            raise ImageError(f"{safe_stem(name)}: {len(data) / 2**20:.1f} MB is over the upload limit of "
                             f"{self.max_bytes / 2**20:.0f} MB")
        if not data:
            raise ImageError(f"{safe_stem(name)}: the file is empty")
        suffix = Path(name).suffix.lower()
        upload_id = secrets.token_hex(12)
        path = self.folder / f"{upload_id}{suffix if suffix in IMAGE_EXTENSIONS else '.img'}"
        write_bytes_atomic(path, data)
        try:
            size = header_size(path)
            if size is not None and size[0] * size[1] > self.max_pixels:
                raise ImageError(f"{size[0]}x{size[1]} is over the limit of {self.max_pixels / 1e6:.0f} MP")
            pixels = load_image(path, max_pixels=self.max_pixels).pixels  # decodes all of it: truncation shows
        except ImageError as error:
            path.unlink(missing_ok=True)
            # The message names the client's file, never the server's temporary path.
            raise ImageError(str(error).replace(str(path), safe_stem(name) + suffix)) from None
        upload = Upload(upload_id, session, Path(name.replace("\\", "/")).name or "image",
                        path, pixels.shape[-1], pixels.shape[-2])
        with self._lock:
            self._uploads[upload_id] = upload
        return upload

    def get(self, session: str, upload_id: str) -> Upload:
        with self._lock:
            upload = self._uploads.get(upload_id)
        if upload is None or upload.session != session:
            raise KeyError(upload_id)
        return upload

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
