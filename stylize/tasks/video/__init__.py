"""Video: stylize every frame of a clip, without the flicker of frames stylized alone (and, through the same
VideoJob, enlarge or colorize one: Upscaler.frames, colorizing_frames).

Temporal consistency (fast models): the previous stylized frame is warped to the current one by the
optical flow between the input frames (OpenCV's DIS flow, Kroeger et al. 2016) and blended in where the
flow is reliable, so static and smoothly moving areas keep their strokes while new content is stylized
fresh. Reliability follows Ruder, Dosovitskiy & Brox 2016 ("Artistic style transfer for videos"): the
forward-backward consistency check (after Sundaram et al. 2010) marks occlusions, and large flow gradients
mark motion boundaries. The blend is a training-free form of the short-term consistency that Lai et al.
2018 ("Learning Blind Video Temporal Consistency") train a network for; it is measured with their warping
error (benchmarks/video_consistency.py).

Optimization (style images): the first frame as `stylize run`; each later frame starts from the warped
previous result and adds Ruder et al.'s temporal loss on reliable pixels, so it needs far fewer steps.

Masks (ClipMasks): one per style or model, an image for every frame or a video of masks (a matte) frame by
frame, laid in as `stylize run --mask` lays them; the blend is confined to pixels stylized in both frames, so
that the photo stays exactly where no mask is and a moving region's edge takes nothing of the previous photo.

Frames stream through threads: decoding (with a pool of threads estimating the flows), the model, encoding.
Frames go to the model's device as 8 bits; the warp, the blend and the rounding run where the stylized frames
are, so on a card a frame crosses to and from the CPU once each way, as 8 bits, and costs its host's CPU
little besides the flow.
Output is written in segments with the state needed to continue (the last input and output frames, losslessly),
so `--resume` continues an interrupted job exactly where its last finished segment ended; the final file is
written only at the end, atomically.

    frames.py      frames between 8-bit arrays (decoders, encoders) and float batches
    flow.py        optical flow (DIS), its reliability, the warping error
    blend.py       the temporal blend of each stylized frame with the warped previous output
    regions.py     a clip's masks (ClipMasks) and frames stylized in their regions
    job.py         VideoJob: segments, resume, the threads (decoding and flows, the model)
    encoder.py     SegmentEncoder: segments encoded in a thread of their own
    shares.py      the segments each torchrun process computes, what an interrupted job has left
    workfolder.py  the work folder: segments and their state until the output is written, cleared safely
    per_task.py    what each task does to frames: frame_functions (styles), colorizing_job, upscaling_job
"""

from stylize.tasks.video.blend import TemporalBlend, warp_previous
from stylize.tasks.video.flow import FLOW_SIDE, Flow, Motion, reliability, to_gray, warping_error
from stylize.tasks.video.frames import frames_to_tensor, rounded_frame, unit_frames
from stylize.tasks.video.job import FLOW_THREADS, FrameStylizer, VideoJob, VideoProgress, VideoResult, output_longest
from stylize.tasks.video.per_task import (
    colorizing_frames,
    colorizing_job,
    frame_functions,
    tensor_frames,
    upscaling_job,
)
from stylize.tasks.video.regions import ClipMasks, FrameRegions, masked_frames
from stylize.tasks.video.shares import unfinished_spans, video_shares, warmup_frames
from stylize.tasks.video.workfolder import clear_work_folder, work_folder

__all__ = [
    "FLOW_SIDE", "FLOW_THREADS", "ClipMasks", "Flow", "FrameRegions", "FrameStylizer", "Motion", "TemporalBlend",
    "VideoJob", "VideoProgress", "VideoResult", "clear_work_folder", "colorizing_frames", "colorizing_job",
    "frame_functions", "frames_to_tensor", "masked_frames", "output_longest", "reliability", "rounded_frame",
    "tensor_frames", "to_gray", "unfinished_spans", "unit_frames", "upscaling_job", "video_shares", "warmup_frames",
    "warp_previous", "warping_error", "work_folder",
]
