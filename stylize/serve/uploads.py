"""Images sent by the page, checked as the command line checks files, each owned by one browser session."""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import torch

from stylize.errors import ImageError, StylizeError
from stylize.extras import available
from stylize.files import write_bytes_atomic
from stylize.images import IMAGE_EXTENSIONS, load_image, read_header, save_image
from stylize.tensors import resize_longest, resize_to
from stylize.videoio import VIDEO_EXTENSIONS, animation_frames

# Letters and digits of any script stay (a photo named 家族.jpg gives 家族_starry_001.png, not photo_...);
# everything else goes: separators, spaces, control characters and bidi overrides (U+202E makes a name read
# backwards in the page and in a file manager).
_UNSAFE = re.compile(r"[^\w.-]+")
# Formats an <img> shows in Chromium, Firefox and Safari alike. The page shows others (TIFF, HEIF, JPEG 2000,
# PPM, TGA, ...) through a JPEG of them, at most SHOWN_SIDE px: the job reads the file itself.
BROWSER_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "AVIF", "ICO"})
SHOWN_SIDE = 2048


def safe_stem(name: str, fallback: str = "image", limit: int = 40) -> str:
    """A file name's stem reduced to letters, digits, '.', '_' and '-' (a client's name is never a path), in
    Unicode's composed form (NFC: an accent is part of its letter, as macOS's decomposed names are not)."""
    stem = _UNSAFE.sub("_", Path(unicodedata.normalize("NFC", name).replace("\\", "/")).stem).strip("._")
    return stem[:limit] or fallback


@dataclass(frozen=True)
class Upload:
    id: str
    session: str
    name: str  # the name the browser gave, for display and commands only
    path: Path  # where the server keeps it (never derived from anything the client sent)
    width: int
    height: int
    frames: int = 0  # a video: its frame count (0 when the container does not say)
    frame: str | None = None  # a video: the id of its first frame, an image upload of the same session
    shown: Path | None = None  # an image no browser shows: a JPEG of it for the page (BROWSER_FORMATS)

    @property
    def video(self) -> bool:
        return self.frame is not None


class Uploads:
    """Uploaded images in a private temporary folder; an id finds an upload only for the session that sent it."""

    def __init__(self, max_bytes: int, max_pixels: int, folder: Path | None = None) -> None:
        self.max_bytes, self.max_pixels = max_bytes, max_pixels
        self.folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="stylize-studio-"))
        self._uploads: dict[str, Upload] = {}
        self._lock = threading.Lock()

    def add(self, session: str, name: str, data: bytes) -> Upload:
        """Keep `data` as an image (or, by its name, a video; or an animation: a GIF, PNG or WebP of several
        frames) of the session; ImageError or VideoError (one line) when it is too large or unreadable."""
        if len(data) > self.max_bytes:
            raise ImageError(f"{safe_stem(name)}: {len(data) / 2**20:.1f} MB is over the upload limit of "
                             f"{self.max_bytes / 2**20:.0f} MB")
        if not data:
            raise ImageError(f"{safe_stem(name)}: the file is empty")
        suffix = Path(name).suffix.lower()
        upload_id = secrets.token_hex(12)
        known = suffix in VIDEO_EXTENSIONS or suffix in IMAGE_EXTENSIONS
        path = self.folder / f"{upload_id}{suffix if known else '.img'}"
        write_bytes_atomic(path, data)
        # An animated GIF, PNG or WebP is a clip, as to `stylize video` (without the video extra, its first frame
        # is the picture, as `stylize run` takes it).
        if suffix in VIDEO_EXTENSIONS or (animation_frames(path) > 1 and available("av") and available("cv2")):
            return self._add_video(session, name, path)
        try:
            header = read_header(path)
            if header is not None and header[0][0] * header[0][1] > self.max_pixels:
                width, height = header[0]
                raise ImageError(f"{width}x{height} is over the limit of {self.max_pixels / 1e6:.0f} MP")
            pixels = load_image(path, max_pixels=self.max_pixels).pixels  # decodes all of it: truncation shows
        except StylizeError as error:  # an image that cannot be read, or a HEIF photo without the heic extra
            path.unlink(missing_ok=True)
            # The message names the client's file, never the server's temporary path.
            raise type(error)(str(error).replace(str(path), safe_stem(name) + Path(name).suffix)) from None
        shown = None
        if header is None or header[1] not in BROWSER_FORMATS:
            shown = save_image(resize_longest(pixels, min(SHOWN_SIDE, max(pixels.shape[-2:]))),
                               path.with_name(f"{upload_id}_shown.jpg"), quality=90)
        upload = Upload(upload_id, session, Path(name.replace("\\", "/")).name or "image",
                        path, pixels.shape[-1], pixels.shape[-2], shown=shown)
        with self._lock:
            self._uploads[upload_id] = upload
        return upload

    def _add_video(self, session: str, name: str, path: Path) -> Upload:
        """A video (written at `path`, named by its id), probed and checked like `stylize video`'s source, and its
        first frame kept as an image upload for previews (a picture of the clip before the whole clip is painted)."""
        from stylize.errors import VideoError
        from stylize.images import save_image
        from stylize.videoio import probe, read_frames, upright

        upload_id, suffix = path.stem, Path(name).suffix.lower()
        try:
            info = probe(path)
            if info.width * info.height > self.max_pixels:
                raise VideoError(f"frames of {info.width}x{info.height} are over the limit of "
                                 f"{self.max_pixels / 1e6:.0f} MP")
            # As players show the clip: pixels of their shape (a camcorder's are not square), then upright (a
            # phone's portrait clip is stored on its side). A mask painted over this frame is drawn as the clip
            # is seen, and tasks/video ClipMasks fits it to the stored frames.
            stored = torch.from_numpy(next(read_frames(path)).rgb).permute(2, 0, 1)[None].float().div(255)
            if info.pixel_aspect:
                stored = resize_to(stored, (info.height, round(info.width * info.pixel_aspect)))
            first = upright(stored[0].permute(1, 2, 0).numpy(), info.rotation)
        except VideoError as error:
            path.unlink(missing_ok=True)
            raise VideoError(str(error).replace(str(path), safe_stem(name) + suffix)) from None
        frame_id = secrets.token_hex(12)
        frame_path = self.folder / f"{frame_id}.png"
        save_image(torch.from_numpy(first).permute(2, 0, 1)[None].clamp(0, 1), frame_path)
        client_name = Path(name.replace("\\", "/")).name or "video"
        frame = Upload(frame_id, session, f"{Path(client_name).stem}_frame1.png", frame_path, first.shape[1],
                       first.shape[0])
        # Its size as shown (the upright first frame's), as the page and the job's estimate give it.
        video = Upload(upload_id, session, client_name, path, first.shape[1], first.shape[0], info.frames, frame_id)
        with self._lock:
            self._uploads[frame_id] = frame
            self._uploads[upload_id] = video
        return video

    def get(self, session: str, upload_id: str) -> Upload:
        with self._lock:
            upload = self._uploads.get(upload_id)
        if upload is None or upload.session != session:
            raise KeyError(upload_id)
        return upload

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
