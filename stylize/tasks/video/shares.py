"""How a video job's segments are shared: among the processes of a torchrun job (each a run of segments), what is
left of an interrupted job, and the frames a share that starts without its predecessor's state reads first."""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from typing import Any

from stylize.config import VideoConfig
from stylize.errors import VideoError

# How long the processes of a torchrun job wait for the slowest one's share (each share takes about as long).
JOB_TIMEOUT = datetime.timedelta(days=7)
# A share whose previous segment is not finished starts from the frames before it (warmup_frames): until what
# they carry over of their unknown start is under half a level of 8 bits.
WARMUP_LEVEL = 0.5 / 255


def warmup_frames(config: VideoConfig, segment_frames: int) -> int:
    """The frames before a segment stylized again, not written, when the state before it is not known (the first
    segment of a torchrun process's share): the blend carries `consistency` of the warped previous output into
    each frame where the flow is reliable, so a different start fades as consistency ** n (0.8, the default:
    28 frames; 0.95: 122), and less where the flow is not reliable. At most one segment's frames."""
    if not config.temporal or config.consistency <= 0:
        return 0
    return min(segment_frames, math.ceil(math.log(WARMUP_LEVEL) / math.log(config.consistency)))


def video_shares(segments: int, processes: int) -> list[tuple[int, int | None]]:
    """Each torchrun process's segments, (first, end): in order, as many each as can be, the first ones taking
    one more where they do not divide (where the container cannot seek, the others decode the clip up to their
    share first: read_frames); the last one's end is None (the clip's end), because the count is the
    container's, for some only an estimate."""
    bounds = [-(-segments * rank // processes) for rank in range(processes + 1)]
    return [(bounds[rank], bounds[rank + 1] if rank < processes - 1 else None) for rank in range(processes)]


def unfinished_spans(first: int, end: int | None, finished: set[int]) -> list[tuple[int, int | None]]:
    """The runs of segments from `first` to `end` (None: no end) that are not in `finished`, as (first, end)
    pairs; the last one is open when `end` is None."""
    spans: list[tuple[int, int | None]] = []
    start: int | None = None
    scan_end = end if end is not None else max(finished, default=-1) + 1
    for index in range(first, scan_end):
        if index in finished:
            if start is not None:
                spans.append((start, index))
            start = None
        elif start is None:
            start = index
    if end is None:
        spans.append((start if start is not None else max(first, scan_end), None))
    elif start is not None:
        spans.append((start, end))
    return spans


def collective(operation: Callable[..., Any], *values: Any) -> Any:
    """A ProcessGroup operation of a torchrun job; VideoError if another process has stopped (gloo's
    RuntimeError when a peer's connection closes)."""
    try:
        return operation(*values)
    except RuntimeError:  # gloo's words ("Connection closed by peer [127.0.0.1]:1933 ... GLHF!") say no more
        raise VideoError("another process of this torchrun job stopped; the finished segments are kept: run the "
                         "same command with --resume to continue") from None
