"""SegmentEncoder: a video job's segments encoded in a thread of their own, so that encoding overlaps the model."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from stylize.videoio import SegmentWriter


class SegmentEncoder:
    """Encodes in its own thread: open a segment, write frames, finish it (close the file, then save the state
    with `finish`'s callback). An error there is raised in the caller's thread at its next call."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue(maxsize=8)
        self.error: BaseException | None = None
        self.writer: SegmentWriter | None = None
        self.thread = threading.Thread(target=self._work, name="stylize-encode", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while True:
            command, arguments = self.queue.get()
            if command == "stop":
                return
            if self.error is not None:
                continue
            try:
                if command == "open":
                    self.writer = SegmentWriter(*arguments)
                elif command == "write":
                    self.writer.write(*arguments)
                elif command == "finish":
                    callback, *rest = arguments
                    self.writer.close()
                    self.writer = None
                    callback(*rest)
            except BaseException as error:  # raised again in the main thread by _put
                self.error = error

    def _put(self, command: str, *arguments: Any) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((command, arguments))

    def open(self, *arguments: Any) -> None:
        """A new segment: SegmentWriter's arguments."""
        self._put("open", *arguments)

    def write(self, rgb: np.ndarray, pts: int | None) -> None:
        """rgb: a frame of its own (not changed after this call)."""
        self._put("write", rgb, pts)

    def finish(self, callback: Callable[..., None], *arguments: Any) -> None:
        """Close the segment, then call callback(*arguments) in the encoding thread."""
        self._put("finish", callback, *arguments)

    def close(self) -> None:
        """Wait for everything queued to be written; raise an encoding error if there was one."""
        self._put("stop")
        self.thread.join()
        if self.error is not None:
            raise self.error

    def abandon(self) -> None:
        """Stop at once (after an interruption): the segment in progress is deleted."""
        if self.thread.is_alive():
            self.queue.put(("stop", ()))
            self.thread.join()
        if self.writer is not None:
            self.writer.abandon()
            self.writer = None
