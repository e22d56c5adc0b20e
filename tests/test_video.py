"""Video: streams kept, temporal consistency, resume, bad inputs (tiny generated clips)."""

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from clips import make_clip, scene, shown
from PIL import Image

av = pytest.importorskip("av")
pytest.importorskip("cv2")

from stylize.config import VideoConfig  # noqa: E402
from stylize.errors import VideoError  # noqa: E402
from stylize.modelfile import save_model  # noqa: E402
from stylize.nets.johnson import JohnsonNet  # noqa: E402
from stylize.tasks.video import VideoJob, tensor_frames, warping_error  # noqa: E402
from stylize.videoio import probe, read_frames  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def timestamps(path) -> list[int]:
    with av.open(str(path)) as container:
        return [frame.pts for frame in container.decode(video=0)]


def seconds(path) -> list[float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [float(frame.pts * stream.time_base) for frame in container.decode(stream)]


def audio_packets(path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(packet) for packet in container.demux(audio=0) if packet.size]


@pytest.fixture
def model(tmp_path):
    torch.manual_seed(0)
    net = JohnsonNet(width=8, residual_blocks=1)
    with torch.no_grad():  # sensitive to small input changes, as real style models are
        for parameter in net.parameters():
            parameter.mul_(2)
    return save_model(tmp_path / "m.safetensors", net, "style", {})


def test_rate_count_rotation_and_audio_are_kept(invoke, tmp_path, model):
    source = make_clip(tmp_path / "clip.mp4", frames=12, rotation=90, pan=1.0)
    result = invoke("video", source, "--model", model, "-o", tmp_path / "out.mp4", "--crf", "20",
                    "--segment-seconds", "0.5", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.stderr and "12 frames" in result.stderr
    before, after = probe(source), probe(tmp_path / "out.mp4")
    assert (after.fps, after.frames, after.rotation) == (Fraction(30000, 1001), 12, 90)
    assert (after.width, after.height) == (64, 48)
    assert timestamps(tmp_path / "out.mp4") == timestamps(source)
    assert audio_packets(tmp_path / "out.mp4") == audio_packets(source)  # copied, not re-encoded
    assert before.audio == after.audio == 1
    assert not list(tmp_path.glob(".out.mp4.stylize"))  # the work folder is gone


def test_a_phones_variable_frame_rate_with_gaps_under_the_average_is_kept(invoke, tmp_path, model):
    """Red-team: the encoder counted in frames of the clip's average rate (PyAV's default), so two frames closer
    than the average landed on one tick: a clip with a phone's uneven gaps stopped with a traceback (x264:
    "Invalid argument")."""
    times = [0.0, 0.0333, 0.1, 0.1167, 0.2, 0.2167, 0.3333, 0.3667]
    source = make_clip(tmp_path / "phone.mp4", frames=len(times), times=times, audio=False)
    result = invoke("video", source, "--model", model, "-o", tmp_path / "out.mp4", "-q")
    assert result.exit_code == 0, result.output
    assert np.allclose(seconds(tmp_path / "out.mp4"), times, atol=1e-4)


def test_a_clip_cut_short_is_done_to_its_cut_and_said_so(invoke, tmp_path, model):
    """Red-team: a Matroska file cut at 60 % (an unfinished download) gave a shorter output and no word of it;
    its header still says how long it was meant to be."""
    whole = make_clip(tmp_path / "whole.mkv", frames=60, pan=1.0)
    (tmp_path / "cut.mkv").write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.6)])
    result = invoke("video", tmp_path / "cut.mkv", "--model", model, "-o", tmp_path / "out.mp4")
    assert result.exit_code == 0, result.output
    frames = probe(tmp_path / "out.mp4").frames
    assert 10 < frames < 45
    assert (f"Note: {tmp_path / 'cut.mkv'} gave {frames} frames of about 63 its duration holds: the file may be cut "
            "short") in result.stderr
    result = invoke("video", whole, "--model", model, "-o", tmp_path / "whole.mp4")
    assert result.exit_code == 0 and "Note" not in result.stderr  # 60 frames of about 63: the sound is longer


def test_variable_frame_rate_timestamps_are_kept(invoke, tmp_path, model):
    source = make_clip(tmp_path / "vfr.mkv", frames=9, vfr=True, audio=False)
    assert invoke("video", source, "--model", model, "-o", tmp_path / "out.mkv", "-q").exit_code == 0
    assert timestamps(tmp_path / "out.mkv") == timestamps(source)
    assert len(set(np.diff(timestamps(source)))) > 1


@pytest.mark.parametrize(("source_name", "output_name", "crf", "frames"), [
    ("clip.mkv", "out.mp4", "0", 6), ("clip.mkv", "out.mp4", "18", 60), ("clip.mp4", "out.mkv", "18", 60),
    ("clip.mp4", "out.webm", "18", 60),
])
def test_timestamps_are_kept_from_one_container_to_another(invoke, tmp_path, model, source_name, output_name, crf,
                                                           frames):
    """Red-team: the muxer takes its own time base when it writes the header (MP4 1/16000 for a Matroska source's
    1/1000; Matroska and WebM 1/1000 for an MP4's), and later frames were stamped in it. A Matroska clip written as
    MP4 stopped with a traceback ("Invalid argument"; at crf 0, whose packets come at once, on its third frame),
    and a 2 s MP4 clip written as Matroska or WebM came out 59 s long."""
    source = make_clip(tmp_path / source_name, frames=frames, audio=False, pan=1.0)
    result = invoke("video", source, "--model", model, "--crf", crf, "--no-temporal", "-o", tmp_path / output_name,
                    "-q")
    assert result.exit_code == 0, result.output
    before, after = seconds(source), seconds(tmp_path / output_name)
    assert len(after) == frames and max(abs(a - b) for a, b in zip(before, after, strict=True)) <= 0.001


def test_sound_a_webm_cannot_hold_is_reencoded_to_opus_at_a_rate_opus_takes(invoke, tmp_path, model):
    """Red-team: a clip with 22.05 kHz AAC sound written as WebM failed ("cannot write out.webm: Invalid
    argument"): Opus takes 8, 12, 16, 24 or 48 kHz only. The sound is now resampled to 48 kHz, and said so."""
    source = make_clip(tmp_path / "clip.mp4", frames=12, audio=True)
    result = invoke("video", source, "--model", model, "--no-temporal", "-o", tmp_path / "out.webm")
    assert result.exit_code == 0, result.output
    assert "re-encoded to libopus: the webm container cannot hold aac" in result.stderr
    with av.open(str(tmp_path / "out.webm")) as container:
        (sound,) = container.streams.audio
        assert (sound.codec_context.name, sound.codec_context.sample_rate) == ("opus", 48000)
        seconds = sum(frame.samples for frame in container.decode(sound)) / 48000
    assert abs(seconds - 12 / (30000 / 1001)) < 0.1  # as long as the source's sound


def _job(source, output, model, temporal=True, **options):
    from stylize.tasks.fast import FastStylizer

    stylizer = FastStylizer.load(model, "cpu")
    config = VideoConfig(temporal=temporal, segment_seconds=options.pop("segment_seconds", 10.0), **options)
    return VideoJob(source, output, tensor_frames(stylizer), config, {"model": str(model)})


def _stop_at(job, call: int):
    """The job, its frame function raising KeyboardInterrupt (Ctrl-C) at its `call`-th call."""
    real, calls = job.stylize_frames, []

    def stopping(*args):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return real(*args)

    job.stylize_frames = stopping
    return job


def test_a_noisy_still_clip_stays_still_with_temporal_blending(tmp_path, model):
    source = make_clip(tmp_path / "still.mp4", frames=8, noise=6.0, audio=False)
    for temporal in (True, False):
        _job(source, tmp_path / f"{temporal}.mp4", model, temporal).run()
    steady, alone = shown(tmp_path / "True.mp4"), shown(tmp_path / "False.mp4")

    def change(frames):
        return np.mean([np.abs(a.astype(float) - b).mean() for a, b in zip(frames[3:], frames[4:], strict=False)])

    assert change(steady) < 0.5 * change(alone)


@pytest.mark.parametrize("flow_side", [960, 48])
def test_a_pan_has_lower_warping_error_than_frames_alone(tmp_path, model, monkeypatch, flow_side):
    """Also with the flow estimated on frames shrunk to half size, as 1080p frames are (FLOW_SIDE)."""
    monkeypatch.setattr("stylize.tasks.video.job.FLOW_SIDE", flow_side)
    source = make_clip(tmp_path / "pan.mp4", frames=8, pan=2.0, noise=3.0, audio=False, width=96, height=64)
    for temporal in (True, False):
        _job(source, tmp_path / f"{temporal}.mp4", model, temporal).run()
    inputs = shown(source)
    steady = warping_error(shown(tmp_path / "True.mp4"), inputs)
    alone = warping_error(shown(tmp_path / "False.mp4"), inputs)
    assert steady < 0.6 * alone


def test_an_interrupted_and_resumed_job_equals_an_uninterrupted_one(tmp_path, model):
    # Lossless encoding (crf 0), so that the decoded frames are exactly the frames computed: x264's own
    # frame-type decisions vary from run to run (seen here), which a lossy encoding would show.
    source = make_clip(tmp_path / "clip.mp4", frames=14, pan=1.0, audio=True)
    job = _stop_at(_job(source, tmp_path / "resumed.mp4", model, crf=0), 12)  # frame 11: in the third segment
    job.segment_frames = 5
    first = job.run()
    assert first.interrupted is not None and first.output is None and not (tmp_path / "resumed.mp4").exists()
    # Red-team 8: a run killed while muxing left its temporary file, which a resumed run must not leave behind.
    (tmp_path / ".resumed.mp4.stylize" / "muxing.mp4").write_bytes(b"half a file")
    again = _job(source, tmp_path / "resumed.mp4", model, crf=0)
    again.segment_frames = 5
    done = again.run(resume=True)
    assert not (tmp_path / ".resumed.mp4.stylize").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert done.resumed_from == 10 and done.output == tmp_path / "resumed.mp4"
    straight = _job(source, tmp_path / "straight5.mp4", model, crf=0)
    straight.segment_frames = 5
    straight.run()
    assert all(np.array_equal(a, b) for a, b in zip(shown(tmp_path / "resumed.mp4"),
                                                     shown(tmp_path / "straight5.mp4"), strict=True))
    assert len(shown(tmp_path / "resumed.mp4")) == 14
    assert audio_packets(tmp_path / "resumed.mp4") == audio_packets(source)


def test_flows_estimated_several_at_once_give_the_frames_of_one_at_a_time(tmp_path, model, monkeypatch):
    """The flows run in a pool of threads (FLOW_THREADS), each with its own DIS, beside decoding and the model;
    the frames come out in order and equal, to the bit, what flows one at a time give. A flow's error ends the
    job with that error, not a hang."""
    import threading
    import time

    from stylize.tasks.video import job as video_task

    source = make_clip(tmp_path / "pan.mp4", frames=10, pan=2.0, noise=3.0, audio=False, width=96, height=64)
    threads, real_motion = set(), video_task.Flow.motion

    def slow_motion(self, previous, current):
        threads.add(threading.current_thread().name)
        time.sleep(0.02)  # slower than decoding: the pool's threads overlap
        return real_motion(self, previous, current)

    monkeypatch.setattr(video_task.Flow, "motion", slow_motion)
    monkeypatch.setattr(video_task.os, "cpu_count", lambda: 8)  # the pool is never larger than the cores
    for count in (1, 4):
        monkeypatch.setattr(video_task, "FLOW_THREADS", count)
        threads.clear()
        _job(source, tmp_path / f"flows{count}.mp4", model, crf=0).run()
        assert threads and all(name.startswith("stylize-flow") for name in threads)
        assert len(threads) == 1 if count == 1 else len(threads) > 1
    assert all(np.array_equal(a, b) for a, b in zip(shown(tmp_path / "flows1.mp4"), shown(tmp_path / "flows4.mp4"),
                                                     strict=True))

    def failing(self, previous, current):
        raise ValueError("the flow failed")

    monkeypatch.setattr(video_task.Flow, "motion", failing)
    with pytest.raises(ValueError, match="the flow failed"):
        _job(source, tmp_path / "failed.mp4", model).run()


def test_resume_with_other_settings_is_refused(tmp_path, model):
    source = make_clip(tmp_path / "clip.mp4", frames=6, audio=False)
    job = _job(source, tmp_path / "out.mp4", model)
    job.stylize_frames = lambda frames: (_ for _ in ()).throw(KeyboardInterrupt)
    assert job.run().interrupted is not None
    other = _job(source, tmp_path / "out.mp4", model, consistency=0.5)
    with pytest.raises(VideoError, match="other settings"):
        other.run(resume=True)


@pytest.mark.parametrize(("args", "code", "message"), [
    pytest.param(["TEXT", "--model", "MODEL", "-o", "OUT"], 1, "is not a video FFmpeg can read", id="not a video"),
    pytest.param(["EMPTY", "--model", "MODEL", "-o", "OUT"], 1, "empty.mp4 is empty (0 bytes)", id="empty file"),
    pytest.param(["SOUND", "-o", "OUT", "--model", "MODEL"], 1, "has no video stream", id="no video stream"),
    pytest.param(["SOURCE", "--model", "MODEL", "-o", "AVI"], 2, "cannot tell the container", id="bad extension"),
    pytest.param(["-o", "BLOCKED", "SOURCE", "--model", "MODEL"], 2, "cannot write", id="unwritable"),
    pytest.param(["SOURCE", "-o", "OUT"], 2, "Missing option '--model'", id="no model"),
    pytest.param(["PNG", "--model", "MODEL", "-o", "OUT"], 1, "photo.PNG is a still image: use `stylize run`",
                 id="still image"),
    pytest.param(["--model", "MODEL", "RENAMED", "-o", "OUT"], 1, "photo.mp4 is a still image: use `stylize run`",
                 id="renamed still image"),
    pytest.param(["WEBP", "-o", "OUT", "--model", "MODEL"], 1, "still.webp is a still image", id="still WebP"),
    pytest.param(["SOURCE", "--model", "MODEL", "--mask", "MASK", "--mask", "MASK", "-o", "OUT"], 2,
                 "2 masks for 1 model: give one --mask per model", id="a mask too many"),
    pytest.param(["SOURCE", "--model", "MODEL", "--feather", "4", "-o", "OUT"], 2, "--feather needs --mask",
                 id="feather without a mask"),
    pytest.param(["SOURCE", "--model", "MODEL", "--mask", "FOLDER", "-o", "OUT"], 2,
                 "is a folder: a clip takes one mask per style or model: an image, or a video", id="a folder of masks"),
    pytest.param(["SOURCE", "--model", "MODEL", "--mask", "SHORT", "-o", "OUT"], 1,
                 "short.mp4 has 2 frames, fewer than the clip's 3", id="a matte shorter than the clip"),
    pytest.param(["SOURCE", "--model", "MODEL", "--mask", "TEXT", "-o", "OUT"], 1,
                 "Error: mask ", id="a mask that is no video"),
    pytest.param(["SOURCE", "--model", "MODEL", "--mask", "BLACK", "-o", "OUT"], 1,
                 "black.png is all black: nothing would be stylized", id="an all-black mask"),
])
def test_bad_input(invoke, tmp_path, model, args, code, message):
    source = make_clip(tmp_path / "clip.mp4", frames=3, audio=False)
    text = tmp_path / "text.mp4"
    text.write_text("not a video")
    (tmp_path / "empty.mp4").touch()
    sound = tmp_path / "sound.m4a"
    with av.open(str(sound), "w") as container:
        stream = container.add_stream("aac", rate=22050)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="flt", layout="mono")
        frame.sample_rate = 22050
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    places = {"TEXT": text, "EMPTY": tmp_path / "empty.mp4", "SOUND": sound, "SOURCE": source, "MODEL": model,
              "OUT": tmp_path / "o.mp4", "AVI": tmp_path / "o.avi", "BLOCKED": blocker / "o.mp4",
              "PNG": tmp_path / "photo.PNG", "RENAMED": tmp_path / "photo.mp4", "WEBP": tmp_path / "still.webp",
              "MASK": tmp_path / "mask.png", "FOLDER": tmp_path, "BLACK": tmp_path / "black.png",
              "SHORT": _matte(tmp_path / "short.mp4", frames=2)}
    Image.new("L", (16, 16), 255).save(tmp_path / "mask.png")
    Image.new("L", (16, 16), 0).save(tmp_path / "black.png")
    args = [places.get(arg, arg) for arg in args]
    Image.new("RGB", (16, 16), (60, 0, 0)).save(tmp_path / "still.webp")
    Image.new("RGB", (16, 16)).save(tmp_path / "photo.PNG")
    Image.new("RGB", (16, 16)).save(tmp_path / "photo.mp4", format="JPEG")  # a photo under a video's name
    result = invoke("video", *args)
    invoke.error_line(result, code, message)
    assert not (tmp_path / "o.mp4").exists() and not (tmp_path / ".o.mp4.stylize").exists()  # nothing begun


def test_an_animated_gif_is_a_video(invoke, tmp_path, model):
    frames = [Image.fromarray(scene(48, 32, shift)) for shift in (0.0, 1.0, 2.0, 3.0)]
    frames[0].save(tmp_path / "loop.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    result = invoke("video", tmp_path / "loop.gif", "--model", model, "-o", tmp_path / "loop.mp4", "-q")
    assert result.exit_code == 0, result.output
    assert probe(tmp_path / "loop.mp4").frames == 4


def gif_frames(path: Path) -> tuple[list[np.ndarray], list[int], int | None]:
    """An animated GIF's frames (RGB), their delays (ms) and its loop count (None: played once), as Pillow reads
    them (as browsers show them)."""
    with Image.open(path) as image:
        frames, delays = [], []
        for index in range(image.n_frames):
            image.seek(index)
            frames.append(np.array(image.convert("RGB")))
            delays.append(image.info["duration"])
        return frames, delays, image.info.get("loop")


def test_a_gif_comes_back_as_a_gif_with_its_delays_and_loop(invoke, tmp_path, monkeypatch):
    """A GIF given to `stylize video` (the shipped udnie, tiny) comes back as a GIF (its default output), each
    frame stylized and shown as long as in the source (a pause at the end too), looping as often; its colours
    those of the same job written as Matroska at --crf 0 but for the palette's 256 (and the video's 4:2:0)."""
    monkeypatch.chdir(tmp_path)
    pictures = [Image.fromarray(scene(64, 48, shift)) for shift in (0.0, 1.0, 2.0, 3.0, 4.0)]
    pictures[0].save(tmp_path / "loop.gif", save_all=True, append_images=pictures[1:],
                     duration=[100, 200, 100, 100, 1500], loop=3)
    result = invoke("video", tmp_path / "loop.gif", "--model", "udnie")
    assert result.exit_code == 0, result.output
    assert f"Wrote {tmp_path / 'loop_udnie.gif'} (5 frames" in result.stderr and "Note" not in result.stderr
    frames, delays, loop = gif_frames(tmp_path / "loop_udnie.gif")
    assert (len(frames), frames[0].shape, delays, loop) == (5, (48, 64, 3), [100, 200, 100, 100, 1500], 3)
    assert invoke("video", tmp_path / "loop.gif", "--model", "udnie", "--crf", "0", "-o", tmp_path / "loop.mkv",
                  "-q").exit_code == 0
    as_video = np.stack(shown(tmp_path / "loop.mkv")).astype(int)
    as_gif, given = np.stack(frames), np.stack([np.array(p.convert("RGB")) for p in pictures])
    assert np.abs(as_video - given).mean() > 20  # stylized
    assert np.abs(as_video - as_gif).mean() < 5  # the same frames (3.7 levels off here: 256 colours, 4:2:0)


@pytest.mark.parametrize(("source_name", "fmt", "written"), [("loop.webp", "WEBP", "loop_udnie.webp"),
                                                              ("loop.png", "PNG", "loop_udnie.png")])
def test_an_animated_webp_or_png_comes_back_as_its_own_kind(invoke, tmp_path, monkeypatch, source_name, fmt, written):
    """Red-team: an animated WebP or PNG (a sticker, an emoji) given to `stylize video` came back as an MP4, where a
    GIF comes back as a GIF. It comes back as its own kind and name now (an animated PNG as .png, as sticker sites
    take one), in full colour, each frame shown as long as in the source (its last frame's pause too) and played as
    often; `-o x.webp`, `-o x.png` or `-o x.apng` makes one from any clip."""
    monkeypatch.chdir(tmp_path)
    pictures = [Image.fromarray(scene(64, 48, shift)) for shift in (0.0, 1.0, 2.0, 3.0, 4.0)]
    pictures[0].save(tmp_path / source_name, format=fmt, save_all=True, append_images=pictures[1:],
                     duration=[100, 200, 100, 100, 1500], loop=2, lossless=True)
    result = invoke("video", tmp_path / source_name, "--model", "udnie")
    assert result.exit_code == 0, result.output
    assert f"Wrote {tmp_path / written} (5 frames" in result.stderr and "Note" not in result.stderr
    with Image.open(tmp_path / written) as image:
        assert (image.format, image.n_frames, image.size, image.info["loop"]) == (fmt, 5, (64, 48), 2)
    frames, delays, _ = gif_frames(tmp_path / written)
    assert [round(delay) for delay in delays] == [100, 200, 100, 100, 1500]
    assert invoke("video", tmp_path / source_name, "--model", "udnie", "--crf", "0", "-o", tmp_path / "loop.mkv",
                  "-q").exit_code == 0
    as_video = np.stack(shown(tmp_path / "loop.mkv")).astype(int)
    given = np.stack([np.array(picture) for picture in pictures])
    assert np.abs(as_video - given).mean() > 20  # stylized
    off = np.abs(as_video - np.stack(frames)).mean()
    assert off < 3, off  # the same frames in full colour (2.2 levels off the MKV here: its chroma is 4:2:0)
    # Played twice: a GIF counts the repeats after the first play (its Netscape extension), WebP and APNG the plays.
    assert invoke("video", tmp_path / source_name, "--model", "udnie", "-o", tmp_path / "loop.gif", "-q").exit_code == 0
    assert gif_frames(tmp_path / "loop.gif")[2] == 1
    clip = make_clip(tmp_path / "clip.mp4", frames=6, fps=Fraction(25), pan=3.0)  # (a still shot: one still WebP)
    suffix = Path(written).suffix
    result = invoke("video", clip, "--model", "udnie", "-o", tmp_path / f"clip{suffix}")
    assert result.exit_code == 0, result.output
    assert "Note: the sound is left out: an animated" in result.stderr and "holds pictures only" in result.stderr
    frames, delays, loop = gif_frames(tmp_path / f"clip{suffix}")
    assert (len(frames), [round(delay) for delay in delays], loop) == (6, [40] * 6, 0)  # a video loops forever
    # Frames that do not change (a pause held over frames) are joined into one by libwebp: it lasts as long as they did.
    from stylize.animation import write_animation
    from stylize.videoio import write_clip

    held = [scene(64, 48, 0.0)] + [scene(64, 48, 1.0)] * 3
    segment = write_clip(tmp_path / "segment.mp4", held, Fraction(25), crf=0)
    write_animation([segment], segment, tmp_path / f"held{suffix}", probe(segment))
    assert gif_frames(tmp_path / f"held{suffix}")[1] == ([40, 120] if fmt == "WEBP" else [40.0] * 4)
    # -o in the animation's own kind (for an animated PNG: .png, and .apng) is the animation enlarged; another image
    # format, a still of its first frame (as a GIF's -o first.png is).
    for name, frames_out in ((f"big{suffix}", 5), ("big.apng", 5), ("first.jpg", 1)):
        assert invoke("upscale", tmp_path / source_name, "--scale", "2", "-o", tmp_path / name, "-q").exit_code == 0
        with Image.open(tmp_path / name) as image:
            assert (getattr(image, "n_frames", 1), image.size) == (frames_out, (128, 96)), name


def test_an_animated_images_segments_are_lossless(tmp_path, model):
    """Red-team: an animated image is made from the job's H.264 segments, which were written at the video's --crf
    (18): a styled clip's APNG came out 3.23 levels off its styled frames (a WebP 3.57, a GIF 4.33; 12 frames of a
    held-out photo, udnie). The segments of an animated image are lossless now (0.38, 2.34 and 3.25: the YUV
    rounding, and the WebP's and the GIF's own loss)."""
    from stylize.config import FastConfig
    from stylize.tasks.video import frame_functions

    source = make_clip(tmp_path / "pan.mp4", frames=4, pan=3.0, audio=False)
    stylize_frames, _, _, settings = frame_functions(str(model), [], FastConfig(), "cpu")
    styled = stylize_frames([frame.rgb for frame in read_frames(source)])
    expected = [np.asarray(frame.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0)).astype(int) for frame in styled]
    VideoJob(source, tmp_path / "out.png", stylize_frames, VideoConfig(temporal=False), settings).run()
    written, _, _ = gif_frames(tmp_path / "out.png")
    assert len(written) == 4
    assert np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(written, expected, strict=True)]) < 1


def test_a_large_animated_image_is_said_to_be_one_before_the_work(invoke, tmp_path, model, monkeypatch):
    """Red-team: `stylize upscale film.mp4 -o film.png` writes the whole film as an animated PNG (a minute of 1080p:
    about 8 GB), unsaid until the disk was full. Past LARGE_ANIMATION_BYTES a note says so before the first frame,
    with what a video would take; a small one, and a video, say nothing."""
    import stylize.animation as animation

    assert animation.large_animation_note(tmp_path / "film.png", 1800, 1920, 1080) == (
        "1800 frames of 1920x1080 as an animated PNG come to about 8.0 GB, where a video takes about 108 MB: "
        "-o film.mp4 writes one")
    assert animation.large_animation_note(tmp_path / "film.webp", 250, 1280, 720) is None
    assert animation.large_animation_note(tmp_path / "film.mp4", 10**6, 1920, 1080) is None
    source = make_clip(tmp_path / "clip.mp4", frames=3, audio=False)
    monkeypatch.setattr(animation, "LARGE_ANIMATION_BYTES", 1000.0)
    result = invoke("upscale", source, "--scale", "2", "-o", tmp_path / "big.gif")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == ("Note: 3 frames of 128x96 as a GIF come to about 39 KB, where a video "
                                             "takes about 1.1 KB: -o big.mp4 writes one")


def test_an_animated_webps_quality_is_chosen_and_100_is_lossless(invoke, tmp_path, model):
    """Red-team: an animated WebP was always written at libwebp's quality 95 (472 KB for 24 frames of 320x240),
    and sticker apps cap a file's size. --quality chooses it (video; upscale's and colorize's own --quality for a
    clip), and 100 is lossless: the styled frames themselves, where libwebp's lossy 100 is not."""
    from stylize.config import FastConfig
    from stylize.tasks.video import frame_functions

    source = make_clip(tmp_path / "pan.mp4", frames=4, pan=3.0, audio=False)
    stylize_frames, _, _, _ = frame_functions(str(model), [], FastConfig(), "cpu")
    styled = stylize_frames([frame.rgb for frame in read_frames(source)])
    expected = [np.asarray(frame.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0)).astype(int) for frame in styled]
    off, sizes = {}, {}
    for quality in ("30", "95", "100"):
        output = tmp_path / f"q{quality}.webp"
        result = invoke("video", source, "--model", model, "--no-temporal", "--quality", quality, "-o", output, "-q")
        assert result.exit_code == 0, result.output
        written, _, _ = gif_frames(output)
        off[quality] = np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(written, expected, strict=True)])
        sizes[quality] = output.stat().st_size
    assert off["100"] < 1 < off["95"] < off["30"] and sizes["30"] < sizes["95"] < sizes["100"], (off, sizes)
    for quality in ("30", "100"):
        assert invoke("upscale", tmp_path / "q100.webp", "--scale", "2", "--quality", quality,
                      "-o", tmp_path / f"big{quality}.webp", "-q").exit_code == 0
    assert (tmp_path / "big30.webp").stat().st_size < (tmp_path / "big100.webp").stat().st_size / 2


@pytest.mark.parametrize(("fmt", "written"), [("PNG", "png"), ("GIF", "gif"), ("WEBP", "webp")])
def test_a_transparent_animation_is_read_on_white_and_keeps_its_transparency(invoke, tmp_path, model, monkeypatch,
                                                                             fmt, written):
    """Red-team: a styled sticker (an animation with transparency) came back opaque, and an APNG's transparent
    pixels were read as the black they are stored as (FFmpeg's RGBA taken as RGB), where an animated WebP's were
    laid on white. Every animation is read laid on white now, as a page shows it (and as a still photo's
    transparency is handled), and comes back with its own transparency, frame by frame, enlarged with it by
    `upscale`: its levels in WebP and APNG, clear or not in a GIF."""
    monkeypatch.chdir(tmp_path)
    pictures = []
    for shift in (0.0, 1.0, 2.0):
        pixels = np.dstack([scene(48, 32, shift), np.full((32, 48), 255, np.uint8)])
        pixels[16:, :] = 0  # a transparent bottom, stored black
        pixels[:16, 40 + int(shift) * 2 :, 3] = 96  # and a translucent corner, moving
        pictures.append(Image.fromarray(pixels, "RGBA"))
    path = tmp_path / f"sticker.{fmt.lower()}"
    pictures[0].save(path, format=fmt, save_all=True, append_images=pictures[1:], duration=100, loop=0, disposal=2,
                     lossless=True)
    frames = list(read_frames(path))
    assert len(frames) == 3 and all((frame.rgb[16:] == 255).all() for frame in frames)
    off = np.abs(frames[1].rgb[:16, :40].astype(int) - scene(48, 32, 1.0)[:16, :40]).mean()
    assert off < (8 if fmt == "GIF" else 1)  # (a GIF's 256 colours)
    given = [frame.alpha for frame in frames]  # (a GIF's translucent pixels are clear or not)
    assert invoke("video", path, "--model", model, "-q").exit_code == 0
    assert invoke("upscale", path, "--scale", "2", "-q").exit_code == 0
    for name, scale in ((f"sticker_{Path(model).stem}.{written}", 1), (f"sticker_x2.{written}", 2)):
        with Image.open(tmp_path / name) as image:
            assert image.n_frames == 3
            for index, shift in enumerate((0, 1, 2)):
                image.seek(index)
                alpha = np.asarray(image.convert("RGBA"))[..., 3].astype(int)
                assert alpha.shape == (32 * scale, 48 * scale), name
                assert (alpha[: 14 * scale, : 38 * scale] == 255).all() and (alpha[18 * scale :] == 0).all(), name
                corner = alpha[: 14 * scale, (42 + shift * 2) * scale :]
                expected = given[index][0, 47] if fmt == "GIF" else 96
                assert (np.abs(corner - expected) <= 2).all(), (name, index)


def test_a_stickers_half_clear_shadow_shows_as_it_was_and_its_stored_colours_change_nothing(invoke, tmp_path,
                                                                                             model):
    """A sticker was worked on laid on white and its transparency put back: a drop shadow at 40 % black came out
    paler twice (at --strength 0, the frames themselves, it showed at 16 %). Where the output keeps the
    transparency each pixel not wholly clear is worked on in its own colour (images.white_where_clear), where it
    does not (a video) laid on white: either way it shows as it was, and what the file stores under its clear
    pixels changes nothing."""
    pictures = []
    for shift in (0, 2):
        pixels = np.dstack([scene(48, 32, float(shift)), np.full((32, 48), 255, np.uint8)])
        pixels[:, 32:] = (0, 0, 0, 0)
        pixels[8 + shift : 28, 34:44] = (0, 0, 0, 102)  # the shadow
        pictures.append(pixels)

    def shown_on_white(frame):
        return np.asarray(Image.alpha_composite(Image.new("RGBA", frame.size, "white"), frame.convert("RGBA"))
                          .convert("RGB")).astype(int)

    outputs = []
    for stored in ((0, 0, 0), (0, 255, 0)):
        for pixels in pictures:
            pixels[pixels[..., 3] == 0, :3] = stored
        images = [Image.fromarray(pixels, "RGBA") for pixels in pictures]
        images[0].save(tmp_path / "sticker.png", save_all=True, append_images=images[1:], duration=100, loop=0)
        for name, strength in (("same.png", "0"), ("same.mp4", "0"), ("styled.png", "1")):
            result = invoke("video", tmp_path / "sticker.png", "--model", model, "--strength", strength,
                            "--no-temporal", "-o", tmp_path / name, "-q")
            assert result.exit_code == 0, result.output
        with Image.open(tmp_path / "same.png") as same, Image.open(tmp_path / "styled.png") as styled:
            for index, source in enumerate(images):
                same.seek(index)
                styled.seek(index)
                assert np.abs(shown_on_white(same) - shown_on_white(source)).max() <= 3, index
                outputs.append(np.asarray(styled.convert("RGBA")))
        video = [shown_on_white(Image.fromarray(frame.rgb)) for frame in read_frames(tmp_path / "same.mp4")]
        assert np.abs(video[0][8:28, 34:44] - 153).mean() < 4
    assert all(np.array_equal(a, b) for a, b in zip(outputs[:2], outputs[2:], strict=True))


def test_a_gif_of_a_still_scene_does_not_flicker_and_a_fast_clip_keeps_its_speed(invoke, tmp_path, model):
    """One palette for the clip and ordered dithering: a scene that does not move is the same picture in every
    frame of the GIF. A 60 frames/s clip plays at its speed: a GIF delay under 2/100 s plays as 1/10 s, so
    frames closer than that are left out (and said so), and the sound (a GIF has none); a phone's clip filmed
    upright is upright, and a camcorder's wide pixels are as wide (a GIF's are square)."""
    source = make_clip(tmp_path / "still.mp4", frames=12, fps=Fraction(60), rotation=90)
    result = invoke("video", source, "--model", model, "-o", tmp_path / "still.gif")
    assert result.exit_code == 0, result.output
    assert "Note: 4 of 12 frames left out: a GIF shows at most 50 a second" in result.stderr
    assert "Note: the sound is left out: a GIF holds pictures only" in result.stderr
    frames, delays, loop = gif_frames(tmp_path / "still.gif")
    assert len(frames) == 8 and min(delays) >= 20 and abs(sum(delays) - 200) <= 10 and loop == 0
    assert frames[0].shape == (64, 48, 3)  # turned as players show the clip: a GIF has no rotation to carry
    changed = [np.any(frame != frames[0], axis=-1).mean() for frame in frames[1:]]
    assert max(changed) < 0.01, changed
    camcorder = make_clip(tmp_path / "hdv.mp4", frames=2, pixel_aspect=Fraction(4, 3), audio=False)
    assert invoke("video", camcorder, "--model", model, "-o", tmp_path / "hdv.gif", "-q").exit_code == 0
    # 64 pixels 4/3 wide, as players show them (85.3), stretched before the style paints them, to an even width
    assert gif_frames(tmp_path / "hdv.gif")[0][0].shape == (48, 86, 3)


def test_an_animated_webp_is_a_clip_read_by_pillow(invoke, tmp_path, model, monkeypatch):
    """FFmpeg decodes no animated WebP (8.1): `stylize video loop.webp` said "loop.webp is a still image: use
    `stylize run`". Pillow reads its frames now, each at its time, transparent pixels over white; a frame of 10 ms or
    less lasts 100 ms, as browsers show it. Upscale takes one as a clip too."""
    monkeypatch.chdir(tmp_path)
    pictures = []
    for shift in (0.0, 1.0, 2.0, 3.0):
        pixels = np.dstack([scene(48, 32, shift), np.full((32, 48), 255, np.uint8)])
        pixels[24:, :, 3] = 0  # a sticker's transparent bottom
        pictures.append(Image.fromarray(pixels, "RGBA"))
    pictures[0].save(tmp_path / "loop.webp", save_all=True, append_images=pictures[1:], duration=[100, 200, 0, 500],
                     loop=0, lossless=True)
    frames = list(read_frames(tmp_path / "loop.webp"))
    assert [frame.pts for frame in frames] == [0, 100, 300, 400] and probe(tmp_path / "loop.webp").frames == 4
    assert [frame.pts for frame in read_frames(tmp_path / "loop.webp", 2)] == [300, 400]  # (a resumed job's)
    assert np.array_equal(frames[1].rgb[:24], scene(48, 32, 1.0)[:24]) and (frames[1].rgb[24:] == 255).all()
    assert invoke("video", tmp_path / "loop.webp", "--model", model, "-o", tmp_path / "loop.mp4", "-q").exit_code == 0
    assert [round(time * 1000) for time in seconds(tmp_path / "loop.mp4")] == [0, 100, 300, 400]
    assert invoke("video", tmp_path / "loop.webp", "--model", model, "-o", tmp_path / "loop.gif", "-q").exit_code == 0
    assert gif_frames(tmp_path / "loop.gif")[1] == [100, 200, 100, 500]
    assert invoke("upscale", tmp_path / "loop.webp", "--scale", "2", "-q").exit_code == 0
    assert probe(tmp_path / "loop_x2.webp").frames == 4  # a WebP again (the next test)
    data = (tmp_path / "loop.webp").read_bytes()
    (tmp_path / "cut.webp").write_bytes(data[: len(data) * 2 // 3])  # not "a still image", as FFmpeg reads it
    invoke.error_line(invoke("video", tmp_path / "cut.webp", "--model", model, "-o", tmp_path / "cut.mp4"), 1,
                      "cut.webp is an animated WebP that cannot be read, damaged or cut short")
    monkeypatch.setattr("stylize.videoio.MAX_PIXELS", 1000)  # checked before its frames are decoded
    invoke.error_line(invoke("video", tmp_path / "loop.webp", "--model", model, "-o", tmp_path / "big.mp4"), 1,
                      "loop.webp is an animation of 48x32 frames, over the limit of 0 MP")


def test_missing_extra_names_the_install_command(invoke, tmp_path, model, monkeypatch):
    import stylize.extras as extras

    real = extras.importlib.import_module
    monkeypatch.setattr(extras.importlib, "import_module",
                        lambda name, *a: (_ for _ in ()).throw(ImportError(name)) if name == "av" else real(name, *a))
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"whatever")
    result = invoke("video", source, "--model", model, "-o", tmp_path / "o.mp4")
    assert result.exit_code == 1 and 'pip install "stylize[video]"' in result.stderr


@pytest.mark.parametrize("command", ["colorize", "upscale"])
def test_a_clip_without_the_video_extra_names_the_install_command_before_any_model_loads(invoke, tmp_path,
                                                                                       monkeypatch, command):
    import stylize.extras as extras
    import stylize.tasks.colorize as colorize_task
    import stylize.tasks.upscale as upscale_task

    real = extras.importlib.import_module
    monkeypatch.setattr(extras.importlib, "import_module",
                        lambda name, *a: (_ for _ in ()).throw(ImportError(name)) if name == "av" else real(name, *a))
    for task in (colorize_task.Colorizer, upscale_task.Upscaler):
        monkeypatch.setattr(task, "__init__", lambda *a, **k: pytest.fail("a model was loaded"))
    source = tmp_path / "film.mp4"
    source.write_bytes(b"whatever")
    invoke.error_line(invoke(command, source, "-o", tmp_path / "o.mp4"), 1,
                      'video input and output needs the \'av\' package: pip install "stylize[video]"')


def test_flow_estimated_on_shrunk_frames_comes_back_at_their_size_with_stretched_vectors():
    """Issue 29: the blend's flow is estimated on frames shrunk to FLOW_SIDE (1080p: half size, for speed);
    its motion is brought back to the frame's size: a pan of 6 px reads 6 px, not 3, where the flow of the
    frames as they are reads the same; what enters at the right edge is unreliable."""
    from stylize.tasks.video import Flow, to_gray

    previous, current = (to_gray(scene(320, 240, shift)) for shift in (0.0, 6.0))  # content moves 6 px left
    inside = (slice(24, -24), slice(24, -24))
    for flow in (Flow(160), Flow()):
        backward, trust = flow.backward_and_reliability(previous, current)
        assert backward.shape == (240, 320, 2) and trust.shape == (240, 320) and backward.dtype == np.float32
        assert np.median(backward[inside][..., 0]) == pytest.approx(6, abs=0.3)
        assert np.median(backward[inside][..., 1]) == pytest.approx(0, abs=0.3)
        assert trust[inside].mean() > 0.9 and trust[:, -3:].max() == 0


@pytest.mark.parametrize("height, width", [(24, 2000), (12, 12), (1, 1), (5, 3000), (3000, 5)])
def test_flow_of_thin_strips_and_tiny_frames_comes_back_at_their_size(height, width):
    """DIS refuses frames under 12 px (a traceback in `stylize video` before) and fails on strips under 16 px
    high: the flow of such frames, and of a strip that shrinking to FLOW_SIDE would make one, is estimated on
    them enlarged."""
    from stylize.tasks.video import FLOW_SIDE, Flow

    frame = scene(max(width, 16), max(height, 16))[:height, :width, 1].copy()
    backward, trust = Flow(FLOW_SIDE).backward_and_reliability(frame, frame)
    assert backward.shape == (height, width, 2) and trust.shape == (height, width)
    assert np.abs(backward).max() < 0.5  # a still frame does not move


def test_scene_helper_pans():
    assert np.array_equal(scene(10, 8, 0.0)[:, 1:], scene(10, 8, 1.0)[:, :-1])


def test_an_interlaced_clip_is_deinterlaced_keeping_its_frames_and_timestamps(invoke, tmp_path, model):
    """Red-team: a camcorder's interlaced clip (DV, 1080i) was stylized as woven frames: each holds two fields
    taken a field apart, and a moving edge was painted twice, a comb of lines. Its frames are read deinterlaced
    now (bwdif), one for each, at the first field's moment."""
    from clips import make_interlaced_clip, progressive_pan

    from stylize.videoio import read_frames

    cat = np.asarray(Image.open(EXAMPLES / "chelsea.jpg").convert("RGB"))
    interlaced = make_interlaced_clip(tmp_path / "camcorder.mp4", cat, frames=6, pan=4)
    truth = [progressive_pan(cat, 8 * index, 128, 96).astype(float) for index in range(6)]  # the first fields'
    read = [frame.rgb.astype(float) for frame in read_frames(interlaced)]
    woven = [frame.to_ndarray(format="rgb24").astype(float) for frame in av.open(str(interlaced)).decode(video=0)]
    error = np.mean([np.abs(a - b).mean() for a, b in zip(read, truth, strict=True)])
    assert error < np.mean([np.abs(a - b).mean() for a, b in zip(woven, truth, strict=True)]) / 2
    result = invoke("video", interlaced, "--model", model, "-o", tmp_path / "out.mp4", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert timestamps(tmp_path / "out.mp4") == timestamps(interlaced) and len(timestamps(interlaced)) == 6


@pytest.mark.parametrize("camcorder", ["hdv", "dv"])
def test_a_clip_of_pixels_that_are_not_square_plays_in_its_shape(invoke, tmp_path, model, camcorder):
    """Red-team: a camcorder's pixels are not square (DV's 720x576 shows 4:3 with pixels 16:15 wide, HDV's
    1440x1080 shows 16:9 with pixels 4:3 wide); the output dropped their shape and played squeezed. A style's
    output is written in the shape it is shown at, in square pixels (its strokes were stretched 4:3 on HDV); an
    upscale keeps the stored pixels and says their shape."""
    if camcorder == "dv":  # PAL DV: its frame size is fixed; the encoder marks 16:15
        source = tmp_path / "tape.dv"
        with av.open(str(source), "w", format="dv") as container:
            video = container.add_stream("dvvideo", rate=25)
            video.width, video.height, video.pix_fmt = 720, 576, "yuv420p"
            for index in range(2):
                for packet in video.encode(av.VideoFrame.from_ndarray(scene(720, 576, index), format="rgb24")):
                    container.mux(packet)
            for packet in video.encode():
                container.mux(packet)
        wide = Fraction(16, 15)
    else:
        wide = Fraction(4, 3)
        source = make_clip(tmp_path / "hdv.mp4", frames=3, width=72, height=54, audio=False, pixel_aspect=wide)
    stored = probe(source)
    assert stored.pixel_aspect == wide
    for name in ("out.mp4", "out.mkv"):
        result = invoke("video", source, "--model", model, "-o", tmp_path / name, "--device", "cpu")
        assert result.exit_code == 0, result.output
        written = probe(tmp_path / name)
        assert written.pixel_aspect is None
        assert (written.width, written.height) == (round(stored.width * wide), stored.height)
    if camcorder == "hdv":
        assert invoke("upscale", source, "--scale", "2", "-o", tmp_path / "up.mp4").exit_code == 0
        upscaled = probe(tmp_path / "up.mp4")
        assert upscaled.pixel_aspect == wide and (upscaled.width, upscaled.height) == (144, 108)


def test_a_style_is_given_square_pixels_and_a_pixelwise_network_the_stored_ones(tmp_path):
    """What the frame function of a VideoJob is given from an HDV clip (72x54 stored, pixels 4:3 wide): with
    square_pixels, the frame as shown (96x54), written so; without, the stored frame, its shape told."""
    source = make_clip(tmp_path / "hdv.mp4", frames=3, width=72, height=54, audio=False,
                       pixel_aspect=Fraction(4, 3))
    cv2 = pytest.importorskip("cv2")
    stored = [frame.rgb for frame in read_frames(source)]
    for square, shape, aspect in ((True, (54, 96), None), (False, (54, 72), Fraction(4, 3))):
        given: list[torch.Tensor] = []

        def identity(frames: torch.Tensor, given: list[torch.Tensor] = given) -> torch.Tensor:
            given.append(frames)
            return frames

        output = tmp_path / f"square_{square}.mp4"
        VideoJob(source, output, tensor_frames(identity), VideoConfig(temporal=False), {},
                 square_pixels=square).run()
        assert {tuple(frames.shape[-2:]) for frames in given} == {shape}
        written = probe(output)
        assert written.pixel_aspect == aspect and (written.height, written.width) == shape
        first = (given[0][0].permute(1, 2, 0) * 255).round().numpy()
        expected = cv2.resize(stored[0], shape[::-1], interpolation=cv2.INTER_CUBIC) if square else stored[0]
        assert np.abs(first - expected).max() <= 1  # stretched along its rows only: the picture shown


def test_a_cover_picture_stored_before_the_clip_is_passed_over(invoke, tmp_path, model):
    """Red-team: a Matroska file whose first video track was a cover picture (one MJPEG frame) came out one frame
    long: the first video stream was taken for the clip. The stream FFmpeg judges best is taken now."""
    source = tmp_path / "album.mkv"
    with av.open(str(source), "w", format="matroska") as container:
        cover = container.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = 64, 48, "yuvj420p"
        clip = container.add_stream("libx264", rate=25)
        clip.width, clip.height, clip.pix_fmt = 64, 48, "yuv420p"
        picture, pan = [np.full((48, 64, 3), 200, np.uint8)], [scene(64, 48, i) for i in range(8)]
        for stream, frames in ((cover, picture), (clip, pan)):
            for rgb in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    assert [stream.codec_context.name for stream in av.open(str(source)).streams.video] == ["mjpeg", "h264"]
    result = invoke("video", source, "--model", model, "-o", tmp_path / "out.mp4", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert len(shown(tmp_path / "out.mp4")) == 8


def test_optimization_mode_writes_every_frame_at_the_asked_size(invoke, tmp_path):
    from conftest import stripes_image

    source = make_clip(tmp_path / "clip.mp4", frames=3, pan=1.0, audio=False)
    style = tmp_path / "style.png"
    stripes_image(32, 32).save(style)
    result = invoke("video", source, "--style", style, "--size", "40", "--steps", "2", "--frame-steps", "2",
                    "--temporal-weight", "20", "--start-size", "40", "-o", tmp_path / "out.mp4", "-q")
    assert result.exit_code == 0, result.output
    frames = shown(tmp_path / "out.mp4")
    assert len(frames) == 3 and frames[0].shape == (30, 40, 3)


def test_optimization_from_the_warped_previous_result_lowers_the_warping_error(invoke, tmp_path):
    from conftest import stripes_image

    source = make_clip(tmp_path / "pan.mp4", frames=5, pan=2.0, noise=3.0, audio=False, width=48, height=32)
    style = tmp_path / "style.png"
    stripes_image(32, 32).save(style)
    for temporal in ("--temporal", "--no-temporal"):
        result = invoke("video", source, "--style", style, "--size", "48", "--start-size", "48", "--steps", "20",
                        "--frame-steps", "12", temporal, "-o", tmp_path / f"{temporal}.mp4", "-q")
        assert result.exit_code == 0, result.output
    inputs = shown(source)
    steady = warping_error(shown(tmp_path / "--temporal.mp4"), inputs)
    alone = warping_error(shown(tmp_path / "--no-temporal.mp4"), inputs)
    # Each frame optimized alone drifts its own way (about 5 times the error here); at a handful of steps it
    # barely leaves the photo, so the steps must be near the defaults for the comparison to mean anything.
    assert steady < 0.5 * alone


def _left_half(tmp_path, width: int = 64, height: int = 48):
    mask = Image.new("L", (width, height), 0)
    mask.paste(255, (0, 0, width // 2, height))
    mask.save(tmp_path / "left.png")
    return tmp_path / "left.png"


def _change(before: list[np.ndarray], after: list[np.ndarray], columns: slice) -> float:
    return float(np.mean([np.abs(a[:, columns].astype(float) - b[:, columns]).mean()
                          for a, b in zip(before, after, strict=True)]))


def test_a_mask_stylizes_its_region_of_every_frame_and_keeps_the_rest_of_the_clip(invoke, tmp_path, model):
    """`stylize video --mask`: the same mask for every frame, as `run --mask`; outside it the frames are the
    source's, up to the encoder's rounding (to the bit before it: test_video_frames.py)."""
    source = make_clip(tmp_path / "clip.mp4", frames=8, pan=1.0, audio=False)
    result = invoke("video", source, "--model", model, "--mask", _left_half(tmp_path), "-o", tmp_path / "out.mp4",
                    "--crf", "0", "--device", "cpu")
    assert result.exit_code == 0, result.output
    inputs, outputs = shown(source), shown(tmp_path / "out.mp4")
    assert len(outputs) == 8
    assert _change(inputs, outputs, slice(0, 28)) > 20  # stylized
    assert _change(inputs, outputs, slice(36, 64)) < 1.5  # the source, through 4:2:0 once more


@pytest.mark.parametrize(("colour", "codec", "pix_fmt"), [
    ((1, 1, 1), "libx264", "yuv420p"),  # HD: BT.709
    ((9, 9, 18), "libx265", "yuv420p10le"),  # a phone's HDR: BT.2020, HLG, 10 bits in HEVC
    ((9, 9, 16), "libx265", "yuv420p10le"),  # HDR10: PQ
    ((6, 6, 6), "libx264", "yuv420p"),  # SD: SMPTE 170M (BT.601's matrix, tagged)
    ((1, 1, 1), "prores_ks", "yuv422p10le"),  # an editor's ProRes: primaries and transfer in the MOV only
])
def test_a_clip_comes_back_in_the_colours_it_was_shown_in_and_tagged_as_it(invoke, tmp_path, model, colour, codec,
                                                                          pix_fmt):
    """Red-team: a clip tagged BT.709 (HD) came back written with BT.601's matrix and untagged, which players show
    as BT.709: outside the mask a green of 199 came out 172. An HDR clip lost its tags and played as SDR; it is
    brought to SDR for the style now (hdr.py), and its SDR picture is what the mask keeps."""
    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg has no {codec} encoder")
    from stylize.hdr import is_hdr, to_sdr
    from stylize.videoio import VideoColour

    source = make_clip(tmp_path / "clip.mov", frames=4, audio=False, colour=colour, codec=codec, pix_fmt=pix_fmt)
    assert probe(source).colour == VideoColour(*colour)
    result = invoke("video", source, "--model", model, "--mask", _left_half(tmp_path), "-o", tmp_path / "out.mp4",
                    "--crf", "0", "--device", "cpu")
    assert result.exit_code == 0, result.output
    hdr = is_hdr(colour[2])
    assert probe(tmp_path / "out.mp4").colour == (VideoColour(1, 1, 1) if hdr else VideoColour(*colour))
    assert ("is HDR" in result.stderr) == hdr
    kept = slice(36, 64)
    if hdr:  # the SDR picture is kept, not the HDR signal (4:2:0 errs more on the frames' colours clipped to BT.709)
        sdr = [to_sdr(frame, colour[2]) for frame in shown(source)]
        assert _change(sdr, shown(tmp_path / "out.mp4"), kept) < 0.2 * _change(shown(source), shown(tmp_path /
                                                                                                   "out.mp4"), kept)
        return
    assert _change(shown(source), shown(tmp_path / "out.mp4"), kept) < 1.5
    assert _change(shown(source), shown(tmp_path / "out.mp4", colour[0]), kept) < 1.5


@pytest.mark.parametrize("colour", [(9, 9, 18), (9, 9, 16)])
def test_an_hdr_clip_is_styled_as_sdr_and_upscaled_as_hdr(invoke, tmp_path, model, colour):
    """A phone's HDR clip (HLG; HDR10's PQ): a style network sees the frames as an SDR screen shows them, and the
    output is SDR BT.709, said in a note; an upscaler, which works pixel by pixel, keeps the HDR signal and its
    tags. Before, the network saw BT.2020's signal as if it were BT.709's (a paler picture), and its painting's
    colours went out tagged HDR: shown brighter and more saturated than the painting."""
    if "libx265" not in av.codecs_available:
        pytest.skip("this FFmpeg has no libx265 encoder")
    from stylize.hdr import HDR_NAMES, to_sdr
    from stylize.videoio import VideoColour

    source = make_clip(tmp_path / "phone.mov", frames=3, audio=False, colour=colour, codec="libx265",
                       pix_fmt="yuv420p10le")
    from stylize.tasks.video import frames_to_tensor

    seen = []

    def identity(frames):  # the frames as a style network is given them
        seen.extend(frame.copy() for frame in frames)
        return frames_to_tensor(frames)

    job = VideoJob(source, tmp_path / "styled.mp4", identity, VideoConfig(crf=0, temporal=False), {},
                   square_pixels=True, sdr=True)
    result = job.run()
    assert result.notices[0] == (f"{source} is HDR ({HDR_NAMES[colour[2]]}, BT.2020): its frames were brought to SDR "
                                 "(BT.709) for the style, as an SDR screen shows them, and the output is SDR")
    assert probe(tmp_path / "styled.mp4").colour == VideoColour(1, 1, 1)
    # Read at 16 bits a channel, which keeps the 10-bit signal's steps for the curves.
    deep = [frame.rgb for frame in read_frames(source, deep=True)]
    decoded = [frame.rgb for frame in read_frames(source)]
    assert deep[0].dtype == np.uint16 and len(np.unique(deep[0])) > len(np.unique(deep[0] >> 8))
    # The same picture as at 8 bits, to the rounding (packed rgb48le with the chroma interpolated was not).
    assert all(np.abs(d / 257 - f).max() < 1.5 for d, f in zip(deep, decoded, strict=True))
    assert all(np.array_equal(got, to_sdr(frame, colour[2])) for got, frame in zip(seen, deep, strict=True))
    written = shown(tmp_path / "styled.mp4")  # as an SDR picture, not as the HDR signal
    assert _change(seen, written, slice(0, 64)) < 0.15 * _change(decoded, written, slice(0, 64))
    result = invoke("upscale", source, "--scale", "2", "-o", tmp_path / "large.mov", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert probe(tmp_path / "large.mov").colour == VideoColour(*colour) and "HDR" not in result.stderr


def test_an_untagged_clip_stays_untagged_and_in_its_colours(invoke, tmp_path, model):
    """Without a colour description the frames go back with the matrix they were read with (libswscale's
    BT.601), so that a player, whatever it assumes, shows the kept pixels as it shows the source's."""
    from stylize.videoio import VideoColour

    source = make_clip(tmp_path / "clip.mp4", frames=4, audio=False)
    result = invoke("video", source, "--model", model, "--mask", _left_half(tmp_path), "-o", tmp_path / "out.mp4",
                    "--crf", "0", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert probe(source).colour == probe(tmp_path / "out.mp4").colour == VideoColour()
    for assumed in (1, 5):  # BT.709, as players take HD; BT.601, as they take SD
        assert _change(shown(source, assumed), shown(tmp_path / "out.mp4", assumed), slice(36, 64)) < 1.5


def test_the_optimization_paints_each_frames_masked_region_and_keeps_the_rest(invoke, tmp_path):
    from conftest import stripes_image

    source = make_clip(tmp_path / "clip.mp4", frames=3, pan=1.0, audio=False)
    style = tmp_path / "style.png"
    stripes_image(32, 32).save(style)
    result = invoke("video", source, "--style", style, "--mask", _left_half(tmp_path), "--size", "64", "--steps", "4",
                    "--frame-steps", "3", "--start-size", "64", "--crf", "0", "-o", tmp_path / "out.mp4", "-q")
    assert result.exit_code == 0, result.output
    inputs, outputs = shown(source), shown(tmp_path / "out.mp4")
    assert _change(inputs, outputs, slice(0, 28)) > 3 * _change(inputs, outputs, slice(36, 64))
    assert _change(inputs, outputs, slice(36, 64)) < 1.5


def _matte(path, frames: int, width: int = 64, height: int = 48, band: int = 16, step: int = 3):
    """A matte clip (as rotoscoping tools export them): a white band moving right by `step` px a frame."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(30000, 1001))
        stream.width, stream.height, stream.pix_fmt, stream.options = width, height, "yuv420p", {"crf": "0"}
        for index in range(frames):
            pixels = np.zeros((height, width, 3), np.uint8)
            pixels[:, index * step : index * step + band] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _masked_job(source, output, model, matte, **options):
    from stylize.config import FastConfig
    from stylize.masks import MaskSet
    from stylize.tasks.video import ClipMasks, frame_functions

    masks = ClipMasks(MaskSet((matte,)))
    stylize_frames, _, _, settings = frame_functions(str(model), [], FastConfig(), "cpu", masks)
    return VideoJob(source, output, stylize_frames, VideoConfig(**options), settings, masks=masks)


def test_a_matte_video_moves_the_region_frame_by_frame_and_a_resumed_job_follows_it(tmp_path, model):
    """A video as --mask gives each frame the mask of its own frame: the stylized band moves with the matte's.
    Resumed mid-clip, the job reads the matte from the same frame (and the one before, for the blend), so its
    frames equal an uninterrupted job's, to the bit (lossless, as the resume test above)."""
    source = make_clip(tmp_path / "clip.mp4", frames=14, pan=1.0, audio=False)
    matte = _matte(tmp_path / "matte.mp4", frames=14)
    job = _stop_at(_masked_job(source, tmp_path / "resumed.mp4", model, matte, crf=0), 12)  # in the third segment
    job.segment_frames = 5
    assert job.run().interrupted is not None
    again = _masked_job(source, tmp_path / "resumed.mp4", model, matte, crf=0)
    again.segment_frames = 5
    assert again.run(resume=True).resumed_from == 10
    straight = _masked_job(source, tmp_path / "straight.mp4", model, matte, crf=0)
    straight.segment_frames = 5
    straight.run()
    resumed, inputs = shown(tmp_path / "resumed.mp4"), shown(source)
    assert all(np.array_equal(a, b) for a, b in zip(resumed, shown(tmp_path / "straight.mp4"), strict=True))
    for index in (0, 6, 13):
        change = np.abs(resumed[index].astype(float) - inputs[index]).mean(axis=(0, 2))
        band = slice(index * 3 + 2, index * 3 + 14)
        assert change[band].mean() > 20, index  # stylized where this frame's matte is white
        outside = np.ones(64, bool)
        outside[max(0, index * 3 - 2) : index * 3 + 18] = False
        assert change[outside].mean() < 1.5, index  # the source elsewhere


def test_a_mask_is_drawn_on_the_clip_as_players_show_it(invoke, tmp_path, model):
    """A phone's portrait clip is stored on its side with a display rotation: a mask drawn on the picture as
    it plays (here its top half) is turned back onto the stored frames (their right half, for 90 degrees
    counter-clockwise), whether it is an image or a matte, which carries no rotation of its own."""
    source = make_clip(tmp_path / "clip.mp4", frames=4, rotation=90, audio=False)  # stored 64x48, shown 48x64
    top = Image.new("L", (48, 64), 0)
    top.paste(255, (0, 0, 48, 32))
    top.save(tmp_path / "top.png")
    with av.open(str(tmp_path / "top.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(30000, 1001))
        stream.width, stream.height, stream.pix_fmt = 48, 64, "yuv420p"
        for _ in range(4):
            for packet in stream.encode(av.VideoFrame.from_image(top.convert("RGB"))):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    for mask in ("top.png", "top.mp4"):
        result = invoke("video", source, "--model", model, "--mask", tmp_path / mask, "-o", tmp_path / "out.mp4",
                        "--device", "cpu", "-q")
        assert result.exit_code == 0, result.output
        assert probe(tmp_path / "out.mp4").rotation == 90
        inputs, outputs = shown(source), shown(tmp_path / "out.mp4")
        assert _change(inputs, outputs, slice(36, 64)) > 20, mask  # the stored frames' right half
        assert _change(inputs, outputs, slice(0, 28)) < 3, mask


def test_write_clip_encodes_frames_as_a_clip_stylize_reads(tmp_path):
    """videoio.write_clip (the examples' and benchmarks' clips): every frame, its size, close to its pixels."""
    from stylize.videoio import write_clip

    frames = [scene(48, 32, shift) for shift in (0.0, 1.0, 2.0)]
    path = write_clip(tmp_path / "made.mp4", frames, fps=Fraction(25))
    back = shown(path)
    assert probe(path).fps == 25 and len(back) == 3 and back[0].shape == (32, 48, 3)
    assert np.abs(back[2].astype(float) - frames[2]).mean() < 8  # crf 12, 4:2:0 chroma on a busy 48x32 scene
    assert not list(tmp_path.glob("*.part"))


def test_an_output_onto_the_source_or_the_model_is_refused(invoke, tmp_path, model):
    source = make_clip(tmp_path / "clip.mp4", frames=2, audio=False)
    before = source.read_bytes()
    result = invoke("video", source, "--model", model, "-o", source, "--batch-size", "2")
    assert result.exit_code == 2 and "is the source video of this job" in result.stderr
    assert source.read_bytes() == before


def test_the_work_folder_never_deletes_a_users_file(invoke, tmp_path, model):
    """Red-team 2: `video` emptied .OUTPUT.stylize even when the source was inside it."""
    work = tmp_path / "v" / ".o.mp4.stylize"
    work.mkdir(parents=True)
    source = make_clip(work / "clip.mp4", frames=2, audio=False)
    before = source.read_bytes()
    result = invoke("video", source, "--model", model, "-o", tmp_path / "v" / "o.mp4")
    assert result.exit_code == 1 and "lies inside the work folder" in result.stderr
    assert source.read_bytes() == before

    clip = make_clip(tmp_path / "clip.mp4", frames=2, audio=False)
    (work / "notes.txt").write_text("mine")  # a folder of that name holding a file stylize did not write
    source.unlink()
    result = invoke("video", clip, "--model", model, "-o", tmp_path / "v" / "o.mp4")
    assert result.exit_code == 1 and "'notes.txt', which stylize did not write" in result.stderr
    assert (work / "notes.txt").read_text() == "mine"

    for blocker in ("file", "link"):  # a file or a link at the work folder's name: one line, no traceback
        other = tmp_path / f"{blocker}.mp4"
        path = tmp_path / f".{blocker}.mp4.stylize"
        path.write_text("x") if blocker == "file" else path.symlink_to(tmp_path / "v")
        result = invoke("video", clip, "--model", model, "-o", other)
        assert result.exit_code == 1 and "exists and is not a folder" in result.stderr, result.output
        assert "Traceback" not in result.output and not other.exists()

    (work / "notes.txt").unlink()  # only a job's own leftovers: cleared and written over
    (work / "segment_00000.mp4").write_bytes(b"old")
    assert invoke("video", clip, "--model", model, "-o", tmp_path / "v" / "o.mp4", "-q").exit_code == 0
    assert probe(tmp_path / "v" / "o.mp4").frames == 2 and not work.exists()


def test_two_runs_on_the_same_output_do_not_share_a_work_folder(invoke, tmp_path, model):
    """Red-team 7: two identical `video -o same.mp4` runs shared one work folder (FileNotFoundError)."""
    from stylize.files import exclusive

    source = make_clip(tmp_path / "clip.mp4", frames=2, audio=False)
    with exclusive(tmp_path / "o.mp4"):  # another process writing o.mp4 right now
        result = invoke("video", source, "--model", model, "-o", tmp_path / "o.mp4")
        assert result.exit_code == 1 and "another stylize process is writing" in result.stderr
        assert not (tmp_path / ".o.mp4.stylize").exists()
    assert invoke("video", source, "--model", model, "-o", tmp_path / "o.mp4", "-q").exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "m.safetensors", "o.mp4"]


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no fifos here")
def test_a_fifo_or_a_device_as_the_source_is_named_for_what_it_is(invoke, tmp_path, model):
    """Red-team 9: a fifo or /dev/zero as a video source was "no such file"."""
    import os

    os.mkfifo(tmp_path / "pipe.mp4")
    for source in (tmp_path / "pipe.mp4", "/dev/zero"):
        result = invoke("video", source, "--model", model, "-o", tmp_path / "o.mp4")
        assert result.exit_code == 1 and "is not a regular file" in result.stderr, result.output


@pytest.mark.parametrize("temporal", [True, False])
def test_a_raw_stream_without_timestamps_that_changes_size_gives_a_proper_video(invoke, model, tmp_path, temporal):
    """Red-team 5: raw H.264 gave an MP4 whose frames all stood at timestamp 0, and a size change midway
    crashed the temporal blend (OpenCV's sameSize) or, without it, squeezed the frames."""
    from clips import make_raw_h264

    from stylize.videoio import read_frames

    source = make_raw_h264(tmp_path / "camera.h264", ((64, 48, 5), (80, 48, 5)))
    out = tmp_path / "out.mp4"
    result = invoke("video", source, "--model", model, "-o", out, *([] if temporal else ["--no-temporal"]))
    assert result.exit_code == 0, result.output
    assert "changes size at frame 5 (80x48, was 64x48)" in result.stderr
    frames = list(read_frames(out))
    stamps = [frame.pts for frame in frames]
    assert len(frames) == 10 and stamps == sorted(set(stamps)) and stamps[0] == 0
    assert {frame.rgb.shape for frame in frames} == {(48, 64, 3)}
    from stylize.config import VideoConfig
    from stylize.tasks.video import VideoJob

    job = VideoJob(source, tmp_path / "unused.mp4", lambda frames: frames, VideoConfig(), {})
    fitted = job._fitted(np.full((48, 80, 3), 200, np.uint8), 5)  # 80x48 into 64x48: 64x38 and two bars of 5
    assert fitted.shape == (48, 64, 3) and fitted[:5].max() == 0 and fitted[-5:].max() == 0
    assert (fitted[5:43] == 200).all()


def test_sigterm_while_joining_the_segments_exits_143_with_the_resume_hint(invoke, model, tmp_path, monkeypatch):
    """Red-team 8: SIGTERM outside the per-frame loop (during the final mux) gave no --resume hint."""
    from clips import make_clip

    import stylize.tasks.video.job as video_task
    from stylize.cli.exits import Terminated

    def terminated(*args, **kwargs):
        raise Terminated

    monkeypatch.setattr(video_task, "mux", terminated)
    source = make_clip(tmp_path / "clip.mp4", frames=3, audio=False)
    result = invoke("video", source, "--model", model, "-o", tmp_path / "out.mp4", "-q")
    assert "stopped by SIGTERM: run the same command with --resume" in invoke.error_line(result, 143)
    monkeypatch.undo()
    resumed = invoke("video", source, "--model", model, "-o", tmp_path / "out.mp4", "--resume")
    assert resumed.exit_code == 0 and (tmp_path / "out.mp4").is_file()


def test_frames_over_what_h264_holds_are_refused_before_any_work(invoke, model, tmp_path):
    """Red-team 4: video frames had no pixel guard (`--size 24000` went for 24000x18000 frames)."""
    from clips import make_clip

    source = make_clip(tmp_path / "clip.mp4", frames=2, audio=False)
    result = invoke("video", source, "--model", model, "--size", "24000", "-o", tmp_path / "out.mp4")
    assert "24000x18000 are over 35.7 MP" in invoke.error_line(result, 1)
    assert not list(tmp_path.glob(".out.mp4*"))


def test_a_colorized_clips_temporal_blend_moves_the_chroma_alone():
    from stylize.colorspace import rgb_to_lab
    from stylize.tasks.video import colorizing_frames

    _, refine = colorizing_frames(lambda frames: frames, consistency=0.8)
    torch.manual_seed(0)
    colorized = torch.rand(1, 3, 8, 10) * 0.3 + 0.35  # muted: their blends stay in the sRGB gamut
    previous = torch.rand(1, 3, 8, 10) * 0.3 + 0.35  # other colours and other light
    trust = torch.zeros(1, 1, 8, 10)
    trust[..., :5] = 1  # the flow is reliable on the left half only
    assert refine(None, colorized, None, None, None) is colorized  # the first frame: nothing before it
    blended = rgb_to_lab(refine(None, colorized, previous, trust, None))
    own, before = rgb_to_lab(colorized), rgb_to_lab(previous)
    assert torch.allclose(blended[:, :1], own[:, :1], atol=0.05)  # the frame's own lightness, everywhere
    expected = torch.lerp(own[:, 1:], before[:, 1:], 0.8)
    assert torch.allclose(blended[:, 1:, :, :5], expected[..., :5], atol=0.05)  # reliable: mostly the previous
    assert torch.allclose(blended[:, 1:, :, 5:], own[:, 1:, :, 5:], atol=0.05)  # unreliable: its own colours


def test_colorize_takes_a_clip_keeps_its_light_sound_and_frames_and_steadies_its_colours(invoke, tmp_path):
    """An old film: `stylize colorize CLIP` with the shipped automatic colorizer, at a tiny size."""
    from stylize.colorspace import rgb_to_lab

    cat = np.asarray(Image.open(EXAMPLES / "chelsea.jpg").convert("L").convert("RGB").resize((112, 75)))
    source = make_clip(tmp_path / "film.mp4", frames=8, width=96, height=64, pan=2, noise=2, picture=cat)
    result = invoke("colorize", source, "-o", tmp_path / "colour.mp4", "--crf", "4")
    assert result.exit_code == 0, result.output
    assert "colour.mp4 (8 frames, on " in result.stderr
    alone = invoke("colorize", source, "-o", tmp_path / "alone.mp4", "--crf", "4", "--no-temporal", "-q")
    assert alone.exit_code == 0, alone.output
    info = probe(tmp_path / "colour.mp4")
    assert (info.width, info.height, info.frames) == (96, 64, 8) and audio_packets(tmp_path / "colour.mp4")

    def lab(path):
        return rgb_to_lab(torch.from_numpy(np.stack(shown(path))).permute(0, 3, 1, 2).float() / 255)

    inputs, colours = lab(source), lab(tmp_path / "colour.mp4")
    assert (colours[:, 0] - inputs[:, 0]).abs().mean() < 1.5  # the film's own light (CIE L*, of 100)
    assert colours[:, 1:].abs().mean() > 3  # in colour

    # Steadier along the motion: Lai et al. 2018's warping error (benchmarks/video_consistency.py), above the film's
    # own (its light alone is not exactly steady: the pan resamples it, the encoder rounds it).
    film = shown(source)
    own = warping_error(film, film)
    steady, single = (warping_error(shown(tmp_path / name), film) - own for name in ("colour.mp4", "alone.mp4"))
    assert steady < 0.3 * single


def test_colorize_refuses_what_a_clip_or_a_photo_cannot_take(invoke, tmp_path):
    source = make_clip(tmp_path / "film.mp4", frames=2)
    photo = tmp_path / "p.png"
    Image.fromarray(scene(32, 24)).save(photo)
    invoke.error_line(invoke("colorize", source, "--quality", "80"), 2,
                      "--quality is an animated WebP's, and film_color.mp4 is not one (a video's quality is --crf; "
                      "a GIF's and an animated PNG's are fixed)")
    invoke.error_line(invoke("video", source, "--model", "starry", "--quality", "80", "-o", tmp_path / "x.gif"), 2,
                      "--quality is an animated WebP's, and x.gif is not one")
    # An animated image is made from lossless segments: --crf would be ignored.
    invoke.error_line(invoke("video", source, "--model", "starry", "--crf", "30", "-o", tmp_path / "x.webp"), 2,
                      "--crf is a video's quality, and x.webp is an animated image (its own is --quality)")
    invoke.error_line(invoke("colorize", source, "--crf", "30", "-o", tmp_path / "x.png"), 2,
                      "--crf is a video's quality, and x.png is an animated image (its quality is fixed)")
    invoke.error_line(invoke("colorize", photo, "--crf", "20", "--resume"), 2,
                      "--crf, --resume are for a video, not photos")
    invoke.error_line(invoke("colorize", photo, source, "-o", tmp_path / "out"), 2,
                      "film.mp4 is a video: a clip is done alone (stylize colorize CLIP -o OUT)")
    invoke.error_line(invoke("colorize", source, "-o", tmp_path / "out.avi"), 2, "out.avi")
    assert not list(tmp_path.glob("*color*")) and not (tmp_path / "out").exists()


def test_upscale_takes_a_clip_and_keeps_a_black_and_white_film_neutral(invoke, tmp_path, monkeypatch):
    """`stylize upscale CLIP` with the shipped x2 network at a tiny size: every frame twice as large, the sound
    kept, the frames those of the network (not of bicubic), and a black-and-white film without a tint."""
    from stylize.config import UpscaleConfig
    from stylize.tasks.upscale import Upscaler

    monkeypatch.chdir(tmp_path)
    cat = np.asarray(Image.open(EXAMPLES / "chelsea.jpg").convert("L").convert("RGB").resize((80, 53)))
    source = make_clip(tmp_path / "film.mov", frames=5, width=64, height=48, pan=3, picture=cat)
    result = invoke("upscale", source, "--scale", "2", "--crf", "0", "--batch-size", "2")  # frames 2 by 2
    assert result.exit_code == 0, result.output
    output = tmp_path / "film_x2.mov"  # in the source's container
    info = probe(output)
    assert (info.width, info.height, info.frames) == (128, 96, 5) and audio_packets(output)
    frames, inputs = shown(output), shown(source)
    assert max(int((frame.max(axis=2).astype(int) - frame.min(axis=2)).max()) for frame in frames) <= 3  # neutral
    network = Upscaler.load(None, "cpu", UpscaleConfig(scale=2))
    frame = torch.from_numpy(inputs[2]).permute(2, 0, 1)[None].float() / 255
    expected = network(frame)
    got = torch.from_numpy(frames[2]).permute(2, 0, 1)[None].float() / 255
    bicubic = torch.nn.functional.interpolate(frame, scale_factor=2, mode="bicubic").clamp(0, 1)
    assert (got - expected).abs().mean() < 0.5 * (bicubic - expected).abs().mean()


def test_upscale_refuses_what_a_clip_or_a_photo_cannot_take(invoke, tmp_path, monkeypatch):
    import stylize.tasks.video.job as video_task

    source = make_clip(tmp_path / "film.mp4", frames=2)
    photo = tmp_path / "p.png"
    Image.fromarray(scene(32, 24)).save(photo)
    invoke.error_line(invoke("upscale", source, "--io-threads", "2", "--suffix", "_big"), 2,
                      "--io-threads, --suffix are for photos, not a video")
    invoke.error_line(invoke("upscale", photo, "--crf", "20"), 2, "--crf is for a video, not photos")
    invoke.error_line(invoke("upscale", source, "--no-temporal"), 2, "No such option '--no-temporal'")
    # Red-team: a 2100x60 GIF enlarged x8 (16800 px long, under the area H.264 holds) failed after its first frame
    # with a traceback from x264, which takes 16384 px a side; libwebp takes 16383. Refused before any work now.
    monkeypatch.setattr(video_task, "H264_MAX_SIDE", 100)
    invoke.error_line(invoke("upscale", source, "--scale", "2", "-o", tmp_path / "big.mp4"), 1,
                      "frames of 64x48 enlarged x2 would be 128 px long, over the 100 px a side H.264 holds: use a "
                      "smaller --scale")
    monkeypatch.setattr(video_task, "MAX_SIDES", {"webp": ("WebP", 95)})
    invoke.error_line(invoke("upscale", source, "--scale", "1.5", "-o", tmp_path / "big.webp"), 1,
                      "frames of 64x48 enlarged x1.5 would be 96 px long, over the 95 px a side WebP holds")
    monkeypatch.setattr(video_task, "MAX_FRAME_PIXELS", 100 * 100)
    invoke.error_line(invoke("upscale", source, "--scale", "2", "-o", tmp_path / "big.mp4"), 1,
                      "frames of 64x48 enlarged x2 would be over 0.0 MP")
    assert not (tmp_path / "big.mp4").exists() and not (tmp_path / "big.webp").exists()
    # What an encoder refuses all the same is one line (VideoError), not PyAV's traceback.
    from stylize.videoio import SegmentWriter

    writer = SegmentWriter(tmp_path / "wide.mp4", probe(source), 16400, 16, 18, "mp4")
    with pytest.raises(VideoError, match=r"^the encoder refused frames of 16400x16 \(libx264: .+\)$"):
        writer.write(np.zeros((16, 16400, 3), np.uint8), 0)
    writer.abandon()


@pytest.mark.parametrize(("name", "options"), [
    ("clip.mp4", {}), ("clip.mov", {}), ("clip.mkv", {}), ("clip.mp4", {"vfr": True}),
    ("clip.webm", {"codec": "libvpx-vp9", "audio": False}), ("clip.mp4", {"rotation": 90}),
])
def test_reading_from_a_frame_seeks_to_a_keyframe_and_gives_the_frames_of_a_read_from_the_start(tmp_path, name,
                                                                                                  options):
    """A torchrun process reads the clip from its share: it seeks to a keyframe before it and numbers the frames
    by their timestamps (decoding every frame before it took the last of 8 processes most of the job's time),
    and gets the very frames, indexes and timestamps of a read from the start."""
    from stylize.videoio import read_frames, seek_index

    source = make_clip(tmp_path / name, frames=40, pan=1.3, keyframe_every=8, **options)
    with av.open(str(source)) as container:
        index_of, keyframe = seek_index(container, container.streams.video[0], 30)
        assert index_of[keyframe] in (24, 16)  # a keyframe 2 frames or more before
    everything = list(read_frames(source))
    assert [frame.index for frame in everything] == list(range(40))
    for start in (3, 17, 30, 39):
        frames = list(read_frames(source, start))
        expected = everything[start:]
        assert [(frame.index, frame.pts) for frame in frames] == [(frame.index, frame.pts) for frame in expected]
        assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(frames, everything[start:], strict=True))


def test_reading_from_a_frame_of_an_interlaced_clip_or_a_raw_stream_gives_the_frames_of_a_read_from_the_start(
        tmp_path):
    """Deinterlacing reads the frames beside each (seek_index starts 2 before); a raw stream has no index or
    timestamps, and is decoded from the start."""
    from clips import make_interlaced_clip, make_raw_h264

    from stylize.videoio import read_frames

    picture = (np.random.default_rng(0).random((96, 400, 3)) * 255).astype(np.uint8)
    for source in (make_interlaced_clip(tmp_path / "dv.mp4", picture, frames=20, keyframe_every=5),
                   make_raw_h264(tmp_path / "raw.h264", ((64, 48, 12),))):
        everything = list(read_frames(source))
        frames = list(read_frames(source, 9))
        assert [(frame.index, frame.pts) for frame in frames] == [(frame.index, frame.pts) for frame in everything[9:]]
        assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(frames, everything[9:], strict=True))


def test_torchrun_shares_cover_every_segment_once_in_order():
    from stylize.tasks.video import video_shares

    assert video_shares(6, 2) == [(0, 3), (3, None)]
    assert video_shares(7, 3) == [(0, 3), (3, 5), (5, None)]
    assert video_shares(7, 1) == [(0, None)]
    for segments in range(0, 12):
        for processes in range(1, 6):
            shares = video_shares(segments, processes)
            covered = [index for first, end in shares for index in range(first, segments if end is None else end)]
            assert covered == list(range(segments)) and shares[-1][1] is None


def test_unfinished_spans_are_the_runs_left_to_compute():
    from stylize.tasks.video import unfinished_spans

    assert unfinished_spans(0, None, set()) == [(0, None)]
    assert unfinished_spans(0, None, {0, 1, 2}) == [(3, None)]  # an interrupted single run: after its last
    assert unfinished_spans(0, None, {0, 3, 4}) == [(1, 3), (5, None)]  # an interrupted split run
    assert unfinished_spans(2, 5, {0, 3}) == [(2, 3), (4, 5)]
    assert unfinished_spans(2, 4, {2, 3}) == []
    assert unfinished_spans(5, None, {0, 1}) == [(5, None)]


def test_the_warm_up_lasts_until_an_unknown_start_weighs_under_half_a_level():
    from stylize.tasks.video import warmup_frames

    assert warmup_frames(VideoConfig(), 300) == 28  # 0.8 ** 28 < 0.5 / 255 < 0.8 ** 27
    assert warmup_frames(VideoConfig(consistency=0.5), 300) == 9
    assert warmup_frames(VideoConfig(consistency=0.95), 30) == 30  # at most a segment
    assert warmup_frames(VideoConfig(temporal=False), 300) == warmup_frames(VideoConfig(consistency=0), 300) == 0


class _ThreadedJob:
    """A torchrun job's processes as threads of this one: each its own DistributedEnv, the collectives of
    device.ProcessGroup through a barrier."""

    def __init__(self, world: int) -> None:
        import threading

        self.world, self.barrier, self.local = world, threading.Barrier(world, timeout=120), threading.local()
        self.lock, self.values = threading.Lock(), {}

    def env(self):
        from stylize.device import DistributedEnv

        return getattr(self.local, "env", DistributedEnv())  # outside the threads: a single process

    def group(self, env, *args):
        job = self

        class Group:
            def from_main(self, value):
                if env.main:
                    job.values["main"] = value
                job.barrier.wait()
                return job.values["main"]

            def sums(self, *values):
                with job.lock:
                    job.values.setdefault("sums", []).append(values)
                job.barrier.wait()
                return [sum(column) for column in zip(*job.values["sums"], strict=True)]

            def close(self):
                pass

        return Group()

    def run(self, make_job, monkeypatch):
        """Each process's VideoJob.run(), in its thread; their results (or errors) in rank order."""
        import threading

        import stylize.device as device_module
        from stylize.device import DistributedEnv

        jobs = [make_job() for _ in range(self.world)]
        monkeypatch.setattr(DistributedEnv, "from_environment", classmethod(lambda cls: self.env()))
        monkeypatch.setattr(device_module, "ProcessGroup", self.group)
        results, totals = [None] * self.world, [set() for _ in range(self.world)]

        def process(rank):
            self.local.env = DistributedEnv(rank, self.world, rank)
            try:
                results[rank] = jobs[rank].run(on_progress=lambda progress: totals[rank].add(progress.frames_total))
            except Exception as error:  # as a process's end: its error is its result
                results[rank] = error

        threads = [threading.Thread(target=process, args=(rank,)) for rank in range(self.world)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        return results, totals


def test_torchrun_processes_each_write_their_share_and_the_first_joins_them(tmp_path, model, monkeypatch):
    """Under torchrun each process computes its share of the segments; the second starts from the frames
    before its share (stylized again, not written), and its frames equal an uninterrupted run's within a
    level. The first process writes the clip; the others return no output."""
    source = make_clip(tmp_path / "clip.mp4", frames=30, pan=1.0, audio=True)

    def job(name):
        made = _job(source, tmp_path / name, model, crf=0, consistency=0.5)
        made.segment_frames = 10
        return made

    assert job("straight.mp4").run().frames == 30
    (first, second), totals = _ThreadedJob(2).run(lambda: job("split.mp4"), monkeypatch)
    assert first.output == tmp_path / "split.mp4" and first.frames == 30 and first.processes == 2
    assert second.output is None and second.interrupted is None
    assert totals == [{20}, {10}]  # 3 segments: the first process's 0 and 1, the second's 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "m.safetensors", "split.mp4", "straight.mp4"]
    expected, got = shown(tmp_path / "straight.mp4"), shown(tmp_path / "split.mp4")
    assert len(got) == 30 and timestamps(tmp_path / "split.mp4") == timestamps(tmp_path / "straight.mp4")
    assert audio_packets(tmp_path / "split.mp4") == audio_packets(source)
    assert all(np.array_equal(a, b) for a, b in zip(expected[:20], got[:20], strict=True))
    difference = np.abs(np.stack(expected[20:]).astype(int) - np.stack(got[20:])).mean(axis=(1, 2, 3))
    # 9 frames of warm-up at consistency 0.5 leave under half a level of the unknown start: a few pixels a level
    # off in the share's first frames (a few more after 4:2:0 chroma), then the start is forgotten, to the bit.
    assert difference[0] < 0.1 and np.all(difference[5:] == 0)
    monkeypatch.setattr("stylize.tasks.video.job.warmup_frames", lambda *args: 0)
    _ThreadedJob(2).run(lambda: job("cold.mp4"), monkeypatch)
    cold = np.abs(np.stack(expected[20:]).astype(int) - np.stack(shown(tmp_path / "cold.mp4")[20:]))
    assert cold.mean(axis=(1, 2, 3))[0] > 20 * difference[0]  # the first frame stylized alone, as a clip's first


def test_one_torchrun_process_stopped_stops_the_job_and_resume_finishes_it(tmp_path, model, monkeypatch):
    """Ctrl-C reaching one process: no process writes the output, each says how to resume (interrupted), the
    segments finished on both sides are kept, and --resume (here by one process) writes the whole clip."""
    source = make_clip(tmp_path / "clip.mp4", frames=30, pan=1.0, audio=False)
    made = []

    def job():
        one = _job(source, tmp_path / "out.mp4", model, crf=0)
        one.segment_frames = 5
        if made:  # the second process (segments 3 to 5, after 5 frames of warm-up) is stopped in segment 4
            _stop_at(one, 13)
        made.append(one)
        return one

    results, _ = _ThreadedJob(2).run(job, monkeypatch)
    assert all(result.output is None and result.interrupted is not None for result in results)
    work = tmp_path / ".out.mp4.stylize"
    assert not (tmp_path / "out.mp4").exists()
    assert sorted(int(p.name[8:13]) for p in work.glob("segment_*.output.png")) == [0, 1, 2, 3]
    monkeypatch.undo()
    again = _job(source, tmp_path / "out.mp4", model, crf=0)
    again.segment_frames = 5
    done = again.run(resume=True)
    assert done.frames == 30 and len(shown(tmp_path / "out.mp4")) == 30 and not work.exists()


def test_a_torchrun_process_that_dies_is_one_line_with_the_resume_hint(tmp_path, model, monkeypatch):
    class Lost(_ThreadedJob):
        def group(self, env, *args):
            group = super().group(env, *args)

            def peer_gone(*values):
                raise RuntimeError("[pair.cc:561] Connection closed by peer [127.0.0.1]:1933. GLHF!")

            group.sums = peer_gone
            return group

    source = make_clip(tmp_path / "clip.mp4", frames=4, audio=False)
    (error,), _ = Lost(1).run(lambda: _job(source, tmp_path / "out.mp4", model), monkeypatch)
    assert isinstance(error, VideoError) and str(error) == (
        "another process of this torchrun job stopped; the finished segments are kept: run the same command with "
        "--resume to continue")
    assert (tmp_path / ".out.mp4.stylize" / "segment_00000.output.png").is_file()


def test_a_gap_left_by_another_process_is_computed_from_the_segment_before_it_exactly(tmp_path, model):
    source = make_clip(tmp_path / "clip.mp4", frames=15, pan=1.0, audio=False)
    straight = _job(source, tmp_path / "straight.mp4", model, crf=0)
    straight.segment_frames = 5
    straight.run()
    job = _stop_at(_job(source, tmp_path / "gap.mp4", model, crf=0), 12)  # in the third segment
    job.segment_frames = 5
    assert job.run().interrupted is not None
    work = tmp_path / ".gap.mp4.stylize"
    (work / "segment_00001.output.png").unlink()  # segment 1 unfinished between finished ones
    again = _job(source, tmp_path / "gap.mp4", model, crf=0)
    again.segment_frames = 5
    assert again.run(resume=True).resumed_from == 5
    assert all(np.array_equal(a, b) for a, b in zip(shown(tmp_path / "gap.mp4"), shown(tmp_path / "straight.mp4"),
                                                     strict=True))


@pytest.mark.slow
def test_torchrun_processes_share_a_clip_and_the_first_writes_it(tmp_path, model):
    """Two processes as torchrun starts them (RANK, WORLD_SIZE, MASTER_ADDR...: a gloo process group): one output,
    the frames and timestamps of one process's, the sound kept, one report, and no work folder left."""
    import os
    import socket
    import subprocess
    import sys

    source = make_clip(tmp_path / "clip.mp4", frames=60, pan=1.0, audio=True)
    options = ["--model", str(model), "--crf", "0", "--consistency", "0.5", "--segment-seconds", "0.5",
               "--device", "cpu"]
    alone = subprocess.run([sys.executable, "-m", "stylize", "video", str(source), "-o", str(tmp_path / "one.mp4"),
                            "-q", *options], capture_output=True, text=True, timeout=300)
    assert alone.returncode == 0, alone.stderr
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    processes = [subprocess.Popen(
        [sys.executable, "-m", "stylize", "video", str(source), "-o", str(tmp_path / "two.mp4"), *options],
        env={**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2", "OMP_NUM_THREADS": "1",
             "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    reports = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], reports
    assert "Wrote" in reports[0][1] and "(60 frames, on cpu, 2 processes)" in reports[0][1]
    assert reports[1] == ("", "")  # the second process says nothing: the first reports the job
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "m.safetensors", "one.mp4", "two.mp4"]
    assert timestamps(tmp_path / "two.mp4") == timestamps(tmp_path / "one.mp4")
    assert audio_packets(tmp_path / "two.mp4") == audio_packets(source)
    difference = np.abs(np.stack(shown(tmp_path / "one.mp4")).astype(int) - np.stack(shown(tmp_path / "two.mp4")))
    assert len(difference) == 60 and difference.mean() < 0.01  # the test above: the second share's first frames


def test_an_animated_gif_is_enlarged_or_colorized_whole_as_a_clip_or_as_its_first_frame_into_an_image(
        invoke, tmp_path, monkeypatch):
    """`stylize upscale loop.gif` gave a PNG of its first frame and said nothing of the others: an animation alone
    is a clip (a GIF again, or -o a video; FFmpeg reads GIF and APNG); asked for an image (-o first.png), it is its
    first frame."""
    monkeypatch.chdir(tmp_path)
    frames = [Image.fromarray(scene(48, 32, shift)) for shift in (0.0, 2.0, 4.0, 6.0)]
    frames[0].save(tmp_path / "loop.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert invoke("upscale", tmp_path / "loop.gif", "--scale", "2", "-q").exit_code == 0
    enlarged, delays, _ = gif_frames(tmp_path / "loop_x2.gif")
    assert (len(enlarged), enlarged[0].shape, delays) == (4, (64, 96, 3), [100] * 4)
    assert invoke("colorize", tmp_path / "loop.gif", "-o", tmp_path / "loop_color.mp4", "-q").exit_code == 0
    assert probe(tmp_path / "loop_color.mp4").frames == 4
    assert invoke("upscale", tmp_path / "loop.gif", "--scale", "2", "-o", tmp_path / "first.png").exit_code == 0
    assert Image.open(tmp_path / "first.png").size == (96, 64)
    frames[0].save(tmp_path / "still.gif")  # one frame: a photo, as before
    assert invoke("upscale", tmp_path / "still.gif", "--scale", "2", "-q").exit_code == 0
    assert Image.open(tmp_path / "still_x2.png").size == (96, 64)


def test_run_on_an_animation_says_that_its_first_frame_is_styled(invoke, tmp_path, model):
    frames = [Image.fromarray(scene(48, 32, shift)) for shift in (0.0, 2.0, 4.0)]
    frames[0].save(tmp_path / "loop.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    result = invoke("run", tmp_path / "loop.gif", "--model", model, "-o", tmp_path / "out.png")
    assert result.exit_code == 0 and Image.open(tmp_path / "out.png").size == (48, 32)
    assert (f"Note: {tmp_path / 'loop.gif'} is an animation of 3 frames: its first is styled here; `stylize video "
            f"{tmp_path / 'loop.gif'}` styles them all") in result.stderr
    # An animation (or an album's TIFF) as the painting: its first frame (page) is the painting, and said so.
    frames[0].save(tmp_path / "album.tif", save_all=True, append_images=frames[1:])
    photo = tmp_path / "photo.png"
    frames[1].save(photo)
    for painting, said in (("loop.gif", "is an animation: its first frame is the painting"),
                           ("album.tif", "has 3 pages: its first page is the painting")):
        result = invoke("run", photo, "--model", "arbitrary", "--style", tmp_path / painting, "--refine", "0",
                        "-o", tmp_path / "painted.png")
        assert result.exit_code == 0, result.output
        assert f"Note: {tmp_path / painting} {said}" in result.stderr.splitlines()


def _reference_folder(folder: Path) -> Path:
    """Colour photos of the examples, as a --references folder."""
    folder.mkdir()
    for name in ("chelsea.jpg", "coffee.jpg", "astronaut.jpg", "brushstrokes.jpg"):
        Image.open(EXAMPLES / name).convert("RGB").resize((96, 64)).save(folder / f"{Path(name).stem}.png")
    return folder


def test_a_films_references_are_chosen_once_a_shot_and_again_at_a_cut_or_a_restart(tmp_path):
    """Chosen on each frame alone, a --references folder's images changed as near-equal ones swapped ranks, and
    the colours moved with them: a film chooses them on a shot's first frame, and again at a cut."""
    from stylize.config import ColorizeConfig
    from stylize.tasks.colorize import Colorizer, FilmReferences

    colorizer = Colorizer.from_files([], _reference_folder(tmp_path / "refs"), ColorizeConfig(top=2), "cpu")
    choices = []
    real_choose = colorizer.choose

    def counting(*args, **kwargs):
        choices.append(1)
        return real_choose(*args, **kwargs)

    colorizer.choose = counting
    film = FilmReferences(colorizer)
    cat = np.asarray(Image.open(EXAMPLES / "chelsea.jpg").convert("L").convert("RGB").resize((120, 80)))
    pan = [np.ascontiguousarray(cat[:, x:x + 96]) for x in range(0, 24, 4)]
    other = np.asarray(Image.open(EXAMPLES / "coffee.jpg").convert("L").convert("RGB").resize((96, 80)))

    def frames(pictures):
        return torch.from_numpy(np.stack(pictures)).permute(0, 3, 1, 2).float() / 255

    shot = film(frames(pan))
    assert shot.shape == (6, 3, 80, 96) and len(choices) == 1  # one shot, one choice
    film(frames([other]))
    assert len(choices) == 2  # a cut
    film.restart()
    film(frames([other]))
    assert len(choices) == 3
    assert torch.equal(film(frames(pan[:1])), shot[:1])  # the same frame, the same references: the same colours


def test_a_colorized_film_from_a_references_folder_resumes_to_the_frames_of_an_uninterrupted_job(tmp_path):
    """The references are chosen again where each segment starts (VideoJob's restart), so that a job resumed
    after its second segment chooses as the uninterrupted one did there (lossless, to the bit)."""
    from stylize.config import ColorizeConfig
    from stylize.tasks.colorize import Colorizer
    from stylize.tasks.video import colorizing_job

    cat = np.asarray(Image.open(EXAMPLES / "chelsea.jpg").convert("L").convert("RGB").resize((112, 75)))
    source = make_clip(tmp_path / "film.mp4", frames=8, width=96, height=64, pan=2, picture=cat, audio=False)
    colorizer = Colorizer.from_files([], _reference_folder(tmp_path / "refs"), ColorizeConfig(top=2), "cpu")
    restarts = []

    def job(name):
        made = colorizing_job(source, tmp_path / name, colorizer, VideoConfig(crf=0), {})
        made.segment_frames = 3
        real = made.restart
        made.restart = lambda: (restarts.append(name), real())
        return made

    job("straight.mp4").run()
    assert restarts == ["straight.mp4"] * 3  # frames 0, 3 and 6
    assert _stop_at(job("resumed.mp4"), 8).run().interrupted is not None  # in the third segment
    assert job("resumed.mp4").run(resume=True).resumed_from == 6
    assert all(np.array_equal(a, b) for a, b in zip(shown(tmp_path / "resumed.mp4"), shown(tmp_path / "straight.mp4"),
                                                     strict=True))


def test_a_large_painting_is_read_no_larger_than_the_clips_frames_use_it(tmp_path, monkeypatch):
    """As for pictures (tasks/paintings.py): `stylize video` read a museum's 24 MP painting whole and held it for the
    whole job, with the arbitrary model and the optimization alike; now no larger than twice the frames' longest
    side (--size, else the frames as shown: a camcorder's wide pixels included)."""
    from stylize.config import ArbitraryConfig, GatysVideoConfig
    from stylize.tasks import paintings
    from stylize.tasks.video import frame_functions, output_longest

    painting = tmp_path / "museum.jpg"
    Image.fromarray(scene(2400, 1600)).save(painting, quality=95)
    clip = make_clip(tmp_path / "clip.mp4", frames=2, audio=False)  # 64x48
    camcorder = make_clip(tmp_path / "hdv.mp4", frames=2, width=72, height=54, pixel_aspect=Fraction(4, 3),
                          audio=False)
    assert (output_longest(clip), output_longest(clip, 200), output_longest(camcorder)) == (64, 200, 96)
    assert output_longest(tmp_path / "museum.mp4") is None  # no such clip: the job says why, not this
    read = []
    load_image = paintings.load_image

    def recorded(path, *args, **kwargs):
        image = load_image(path, *args, **kwargs)
        read.append(tuple(image.pixels.shape[-2:]))
        return image

    monkeypatch.setattr(paintings, "load_image", recorded)
    frame_functions("arbitrary", [painting], ArbitraryConfig(size=0), "cpu", clip=clip)
    frame_functions(None, [painting], GatysVideoConfig(size=200), "cpu", clip=clip)
    frame_functions(None, [painting], GatysVideoConfig(size=200), "cpu")  # no clip named: read whole, as before
    # 1/8 (200x300) is at least twice the 64 px frames; 1/4 (400x600) twice the 200 px of --size.
    assert read == [(200, 300), (400, 600), (1600, 2400)]
