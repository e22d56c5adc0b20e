"""What a hostile or unlucky user can do: loops, writes onto inputs, planted files, odd names, signals."""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
import torch
from click.testing import CliRunner
from conftest import gradient_image, stripes_image

from stylize import batch
from stylize.cli import cli
from stylize.errors import DataError, ImageError, WeightsError
from stylize.files import part_path, part_writer, remove_stale_parts, walk_files
from stylize.images import load_image
from stylize.modelfile import save_model
from stylize.nets.johnson import JohnsonNet
from stylize.training.data import find_images


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    gradient_image(40, 36, seed=1).save(root / "a.jpg")
    gradient_image(40, 36, seed=2).save(root / "sub" / "b.png")
    return root


def test_symlink_loops_walk_each_real_folder_once(photos):
    os.symlink("..", photos / "sub" / "loop")
    os.symlink("../..", photos / "sub" / "loop2")
    os.symlink(photos / "sub", photos / "again")  # a second name for a real folder: walked once
    files = [p.relative_to(photos).as_posix() for p in walk_files(photos)]
    assert sorted(files) == ["a.jpg", "sub/b.png"]
    assert len(find_images(photos)[0]) == 2
    found, _ = batch.collect_inputs([photos])
    assert sorted(relative for _, relative in found) == ["a.jpg", "sub/b.png"]


def test_report_on_an_input_is_refused_before_any_work(invoke, photos, model, tmp_path):
    before = (photos / "a.jpg").read_bytes()
    result = invoke("batch", photos, "-o", tmp_path / "out", "--model", model, "--report", photos / "a.jpg")
    assert "report" in invoke.error_line(result, 2) and "would be overwritten" in result.stderr
    assert (photos / "a.jpg").read_bytes() == before and not (tmp_path / "out").exists()


@pytest.mark.parametrize("overwrite", [False, True])
def test_an_output_landing_on_the_style_image_is_refused(invoke, tmp_path, overwrite):
    inputs = tmp_path / "in"
    inputs.mkdir()
    gradient_image(20, 16).save(inputs / "s.jpg")
    out = tmp_path / "out"
    out.mkdir()
    style = out / "s.png"  # the style sits exactly where in/s.jpg's output would go
    stripes_image(24, 24).save(style)
    before = style.read_bytes()
    flags = ["--overwrite"] if overwrite else []
    result = invoke("batch", inputs, "-o", out, "--style", style, "--size", "32", "--steps", "1", *flags)
    assert "would overwrite the style image of this job" in invoke.error_line(result, 2)
    assert style.read_bytes() == before


def test_an_output_landing_on_the_model_is_refused(invoke, tmp_path):
    photo = tmp_path / "x.jpg"
    gradient_image(20, 16).save(photo)
    odd = tmp_path / "odd"
    odd.mkdir()
    planted = save_model(odd / "x.png", JohnsonNet(width=8, residual_blocks=1), "style", {})  # a model named .png
    result = invoke("batch", photo, "-o", odd, "--model", planted, "--overwrite")
    assert "would overwrite the model of this job" in invoke.error_line(result, 2)


def test_torchvision_cache_is_read_as_data_only(tmp_path, monkeypatch):
    # A file planted in the torch hub cache must not run code when --weights torchvision loads it.
    import torch.hub

    hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    (hub / "checkpoints").mkdir(parents=True)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    with open(hub / "checkpoints" / "vgg19-dcbb9e9d.pth", "wb") as stream:
        pickle.dump({"features.0.weight": Payload()}, stream)
    from stylize.vgg import VGGFeatures

    with pytest.raises(WeightsError, match="cannot be read as plain weights") as info:
        VGGFeatures(["relu1_1"], weights="torchvision")
    assert not marker.exists() and "\n" not in str(info.value) and "weights_only" not in str(info.value)
    torch.save({"features.0.weight": torch.zeros(3)}, hub / "checkpoints" / "vgg19-dcbb9e9d.pth")
    with pytest.raises(WeightsError, match="do not fit VGG19"):
        VGGFeatures(["relu1_1"], weights="torchvision")


def test_a_malformed_cached_model_is_listed_and_breaks_nothing(invoke, tmp_path, monkeypatch, model):
    monkeypatch.setenv("STYLIZE_HOME", str(tmp_path / "home"))
    cache = tmp_path / "home" / "models"
    cache.mkdir(parents=True)
    header = b'{"__metadata__": {"stylize": "' + b"[" * 50000 + b'"}}'
    (cache / "deep.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    (cache / "list.safetensors").write_bytes((5).to_bytes(8, "little") + b"[1,2]")
    save_model(cache / "good.safetensors", JohnsonNet(width=8, residual_blocks=1), "style", {})
    listing = invoke("models")
    assert listing.exit_code == 0
    assert "deep" in listing.output and "list" in listing.output and "unreadable" in listing.output
    photo = tmp_path / "p.png"
    gradient_image(20, 16).save(photo)
    assert invoke("run", photo, "--model", "good", "-o", tmp_path / "o.png", "-q").exit_code == 0


def test_unwritable_outputs_are_found_before_any_work(invoke, tmp_path, photos, model):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    style = tmp_path / "style.png"
    stripes_image(32, 32).save(style)
    result = invoke("train", "--style", style, "--data", photos, "-o", blocker / "m.safetensors", "--steps", "1")
    assert "cannot write the model file" in invoke.error_line(result, 2)
    result = invoke("batch", photos, "-o", blocker / "out", "--model", model)
    assert "cannot write" in invoke.error_line(result, 2)
    result = invoke("batch", photos, "-o", tmp_path / "out", "--model", model, "--report", blocker / "r.json")
    assert "cannot write the report" in invoke.error_line(result, 2)
    assert not (tmp_path / "out").exists()


def test_unwritable_model_cache_is_found_before_training(invoke, tmp_path, photos, monkeypatch):
    style = tmp_path / "style.png"
    stripes_image(32, 32).save(style)
    monkeypatch.setenv("STYLIZE_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "models").mkdir(parents=True)  # as if read-only (root ignores modes, so os.access is faked)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if "home" in str(path) else real_access(path, mode))
    result = invoke("train", "--style", style, "--data", photos, "--steps", "1")
    assert "is not writable" in invoke.error_line(result, 2)


def test_a_save_failure_is_a_per_file_failure_with_a_report(invoke, tmp_path, photos, model, monkeypatch):
    import stylize.images as images

    monkeypatch.setitem(images._FORMAT_MAX_SIDE, "WEBP", 18)  # as a 17000 px WebP would fail
    report = tmp_path / "r.json"
    result = invoke("batch", photos, "-o", tmp_path / "out", "--model", model, "--format", "webp", "--report", report)
    assert result.exit_code == 1
    data = json.loads(report.read_text())
    assert data["totals"] == {"done": 0, "skipped": 0, "failed": 2}
    assert all("WEBP images are at most 18 px" in f["error"] for f in data["files"])


def test_glob_characters_in_existing_names_are_names(invoke, tmp_path, model):
    folder = tmp_path / "in"
    folder.mkdir()
    gradient_image(20, 16).save(folder / "photo[1].jpg")
    gradient_image(20, 16).save(folder / "photo1.jpg")
    result = invoke("batch", folder / "photo[1].jpg", "-o", tmp_path / "out", "--model", model)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["photo[1].png"]


def test_output_inside_the_input_folder_can_be_rerun(invoke, photos, model):
    for run in range(2):
        result = invoke("batch", photos, "-o", photos / "styled", "--model", model)
        assert result.exit_code == 0, result.output
        assert f"{2 - 2 * run} done, {2 * run} skipped" in result.stderr
    assert sorted(p.relative_to(photos).as_posix() for p in (photos / "styled").rglob("*.png")) == [
        "styled/a.png", "styled/sub/b.png"]


def test_output_equal_to_the_input_folder_can_be_rerun(invoke, photos, model):
    for run in range(2):
        result = invoke("batch", photos, "-o", photos, "--model", model, "--suffix", "_s")
        assert result.exit_code == 0, result.output
        assert f"{2 - 2 * run} done, {2 * run} skipped" in result.stderr
    assert sorted(p.name for p in photos.rglob("*_s*.png")) == ["a_s.png", "b_s.png"]  # no a_s_s.png


def test_a_photo_that_happens_to_be_named_like_an_output_is_still_protected(invoke, tmp_path, model):
    folder = tmp_path / "in"
    folder.mkdir()
    gradient_image(20, 16).save(folder / "a.jpg")
    gradient_image(20, 16, seed=5).save(folder / "a_s.png")  # a real photo, not stylize's output
    result = invoke("batch", folder, "-o", folder, "--model", model, "--suffix", "_s", "--overwrite")
    assert "would overwrite an input image" in invoke.error_line(result, 2)


def test_glob_with_dotdot_cannot_write_outside_the_output(invoke, tmp_path, model, monkeypatch):
    (tmp_path / "photos" / "a").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    gradient_image(20, 16).save(tmp_path / "other" / "x.jpg")
    monkeypatch.chdir(tmp_path)
    result = invoke("batch", "photos/*/../../other/*.jpg", "-o", tmp_path / "out", "--model", model)
    assert "'..' after a wildcard" in invoke.error_line(result, 2)
    assert not (tmp_path / "out").exists() and sorted(p.name for p in tmp_path.rglob("*.png")) == []


def test_out_of_memory_on_the_cpu_is_one_line(invoke, tmp_path, model, monkeypatch):
    from stylize.tasks.fast import FastStylizer

    def exhausted(self, *args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:118] DefaultCPUAllocator: can't allocate memory: you "
                           "tried to allocate 99999999999 bytes")

    monkeypatch.setattr(FastStylizer, "__call__", exhausted)
    photo = tmp_path / "p.png"
    gradient_image(20, 16).save(photo)
    result = invoke("run", photo, "--model", model, "-o", tmp_path / "o.png")
    assert invoke.error_line(result, 1) == "Error: out of memory"


def test_out_of_memory_while_training_is_one_line_that_says_what_to_lower(invoke, tmp_path, photos, monkeypatch):
    """Red-team: --image-size 100000 had the kernel kill the data loader, and training printed a traceback."""
    from stylize.tasks.upscale import UpscaleObjective

    def exhausted(self, *args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:118] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(UpscaleObjective, "loss", exhausted)
    result = invoke("train", "--task", "upscale", "--data", photos, "-o", tmp_path / "m.safetensors", "--steps", "2",
                    "--batch-size", "1", "--image-size", "32", "--workers", "0", "-q")
    assert invoke.error_line(result, 1) == ("Error: out of memory while training, at step 0: lower --batch-size or "
                                            "--image-size (now 1 and 32)")
    too_large = invoke("train", "--task", "upscale", "--data", photos, "-o", tmp_path / "m.safetensors",
                       "--image-size", "100000")
    assert "'--image-size': 100000 is not in the range 32<=x<=2048" in invoke.error_line(too_large, 2)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--suffix", "/x"], 2, "must not contain a path separator"),
        (["--style-weight", "nan"], 2, "is not a finite number"),
        (["--size", "99999"], 2, "'--size': 99999 is not in the range"),
    ],
)
def test_odd_option_values_are_one_line_usage_errors(invoke, photos, tmp_path, args, code, message):
    style = tmp_path / "style.png"
    stripes_image(32, 32).save(style)
    result = invoke("batch", photos, "-o", tmp_path / "out", "--style", style, "--steps", "1", *args)
    assert message in invoke.error_line(result, code)


def test_a_foreign_checkpoint_to_resume_is_one_line(invoke, tmp_path, photos):
    style = tmp_path / "style.png"
    stripes_image(32, 32).save(style)
    torch.save({"state_dict": {"w": torch.ones(2)}}, tmp_path / "m.ckpt")
    result = invoke("train", "--style", style, "--data", photos, "-o", tmp_path / "m.safetensors", "--resume",
                    "--steps", "1", "--workers", "0")
    assert "not a stylize training checkpoint" in invoke.error_line(result, 1)


def test_export_without_the_onnx_extra_names_the_install_command(invoke, model, tmp_path, monkeypatch):
    import stylize.extras as extras

    real = extras.importlib.import_module

    def missing(name, *args):
        if name.startswith("onnx"):
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(extras.importlib, "import_module", missing)
    result = invoke("export", model, "--onnx", tmp_path / "m.onnx")
    assert 'pip install "stylize[onnx]"' in invoke.error_line(result, 1)


def _planted_part(folder: Path, name: str, pid: int, age: float) -> Path:
    """A temporary file named as stylize names its own (files.part_path), for a writer `pid`, `age` s old."""
    with mock.patch("os.getpid", return_value=pid):
        path = part_path(folder / name)
    path.write_bytes(b"half")
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_stale_temporary_files_of_killed_runs_are_removed(invoke, tmp_path, photos, model):
    out = tmp_path / "out"
    out.mkdir()
    import fcntl

    dead = _planted_part(out, "a.png", 999999999, 3600)
    killed = _planted_part(out, "c.png", 999999998, 5)  # a run killed seconds ago: no lock, nobody writes it
    alive = _planted_part(out, "b.png", os.getpid() * 10 + 1, 3600)  # its writer holds the lock, as they all do
    writer = os.open(alive, os.O_RDONLY)
    fcntl.flock(writer, fcntl.LOCK_EX)
    try:
        assert part_writer(dead.name) == 999999999
        assert invoke("batch", photos, "-o", out, "--model", model, "-q").exit_code == 0
        assert not dead.exists() and not killed.exists() and alive.exists()
    finally:
        os.close(writer)
    assert remove_stale_parts(out) == 1 and not alive.exists()  # its writer gone, its lock with it


@pytest.mark.parametrize("command", ["upscale", "batch", "train"])
def test_a_users_own_part_files_are_never_removed(invoke, tmp_path, photos, model, monkeypatch, command):
    """Red-team 1: every writing command removed any old hidden `*.part` in its output folder."""
    out = tmp_path / "out"
    out.mkdir()
    old = time.time() - 3600
    mine = {}
    for name in (".notes.part", ".a.png.999999999.abcd.part", ".x.stylize-999999999-0123456789abcdef-00000000.part"):
        mine[name] = out / name
        mine[name].write_bytes(b"data")
        os.utime(mine[name], (old, old))
    (out / "link.part").symlink_to(mine[".notes.part"])
    monkeypatch.chdir(out)
    args = {
        "upscale": ["upscale", photos / "a.jpg", "--scale", "2", "-q"],
        "batch": ["batch", photos, "-o", out, "--model", model, "-q"],
        "train": ["train", "--task", "upscale", "--scale", "2", "--data", photos, "-o", out / "m.safetensors",
                  "--steps", "1", "--batch-size", "1", "--image-size", "32", "--rescale", "1", "--preview-images", "0",
                  "--workers", "0", "-q"],
    }[command]
    assert invoke(*args).exit_code == 0
    assert all(path.read_bytes() == b"data" for path in mine.values())
    assert (out / "link.part").is_symlink()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no fifos on this system")
def test_a_fifo_is_never_opened(tmp_path, photos, model):
    """Red-team 3: a fifo among the training photos, or at an output's name, blocked forever in a read."""
    os.mkfifo(photos / "x.jpg")
    found, _ = find_images(photos)
    assert sorted(path.name for path in found) == ["a.jpg", "b.png"]
    os.mkfifo(photos / "sub" / "b_styled.png")
    result = subprocess.run([sys.executable, "-m", "stylize", "batch", str(photos), "-o", str(photos), "--suffix",
                             "_styled", "--model", str(model), "--device", "cpu", "-q"],
                            capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr
    assert (photos / "a_styled.png").is_file()
    with pytest.raises(ImageError, match="not a regular file"):
        load_image(photos / "x.jpg")
    named = subprocess.run([sys.executable, "-m", "stylize", "batch", str(photos / "x.jpg"), "-o", str(photos / "o"),
                            "--model", str(model), "-q"], capture_output=True, text=True, timeout=120)
    assert named.returncode == 2 and named.stderr.strip().endswith("x.jpg is not a regular file (a pipe, device or "
                                                                   "socket)"), named.stderr


def test_find_images_in_an_empty_tree_of_loops_ends(tmp_path):
    os.symlink(".", tmp_path / "self")
    with pytest.raises(DataError, match="no readable images"):
        find_images(tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_a_batch_cleanly_with_summary_and_report(tmp_path, signum, code):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(3):
        gradient_image(40, 32, seed=i).save(inputs / f"{i}.png")
    style = tmp_path / "style.png"
    stripes_image(32, 32).save(style)
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "stylize", "batch", str(inputs), "-o", str(tmp_path / "out"), "--style",
               str(style), "--size", "40", "--steps", "100000", "--tolerance", "0", "--report", str(report),
               "--device", "cpu"]
    # SIGINT back to its default in the child: under a pytest run in the background it is inherited as
    # ignored, and Python then installs no KeyboardInterrupt handler.
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        # The started marker: the bar of images, drawn as the batch begins (imports, weights and planning are
        # done), however slow or loaded the machine is.
        seen, deadline = "", time.time() + 300
        while "img/s" not in seen and time.time() < deadline and process.poll() is None:
            seen += process.stderr.read(1)
        process.send_signal(signum)
        _, rest = process.communicate(timeout=120)
        stderr = seen + rest
    finally:
        if process.poll() is None:  # never leave the child running, whatever failed above
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == code, stderr
    assert "run the same command again" in stderr and "Traceback" not in stderr
    data = json.loads(report.read_text())
    assert data["interrupted"] is True
    assert not list((tmp_path / "out").rglob("*.part"))


@pytest.mark.parametrize("command", ["train", "export", "batch", "upscale", "video"])
@pytest.mark.parametrize("code", ["ENOSPC", "EIO"])
def test_a_failing_write_is_one_line_exit_1_and_leaves_nothing_half_written(tmp_path, photos, model, monkeypatch,
                                                                               command, code):
    """Red-team 7 and issue 33: a full disk at a checkpoint, an export, a report or a video's state ended in
    a traceback. Every write goes through files.atomic_output, which fails here at its first fsync."""
    import errno

    from stylize import files

    if command == "video":
        pytest.importorskip("av")
        from clips import make_clip

        make_clip(tmp_path / "clip.mp4", frames=3, audio=False)
    out = tmp_path / "out"
    args = {
        "train": ["train", "--task", "upscale", "--scale", "2", "--data", photos, "-o", out / "m.safetensors",
                  "--steps", "2", "--batch-size", "1", "--image-size", "32", "--rescale", "1", "--preview-images",
                  "0", "--workers", "0", "--checkpoint-every", "1"],
        "export": ["export", model, "-o", out / "m.onnx"],
        "batch": ["batch", photos, "-o", out, "--model", model, "--report", out / "report.json"],
        "upscale": ["upscale", photos / "a.jpg", "--scale", "2", "-o", out / "a.png"],
        "video": ["video", tmp_path / "clip.mp4" if command == "video" else "", "--model", model, "-o", out / "v.mp4",
                  "--no-temporal"],
    }[command]
    if command == "export":
        pytest.importorskip("onnx")
    out.mkdir()

    def full(descriptor):
        raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)))

    monkeypatch.setattr(files.os, "fsync", full)
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and os.strerror(getattr(errno, code)) in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) <= 1
    if command == "video":  # a segment's saved state failed: the finished ones are kept, and the line says so
        assert "--resume" in result.stderr, result.stderr
    leftovers = [p.name for p in out.rglob("*") if p.is_file() and files.part_writer(p.name) is not None]
    assert not leftovers
    assert not any(p.suffix in (".safetensors", ".onnx", ".png", ".json", ".mp4") for p in out.iterdir() if p.is_file())


def test_export_onto_the_model_itself_calls_it_the_model(invoke, tmp_path):
    """Red-team 9: `export -o MODEL.safetensors` called the model "an input image"."""
    import shutil

    from stylize.zoo import resolve_model

    model = tmp_path / "starry.safetensors"
    shutil.copyfile(resolve_model("starry"), model)
    result = invoke("export", model, "-o", model)
    assert result.exit_code == 2 and "is the model of this job" in result.stderr


FAULTS = ("ENOSPC", "EDQUOT", "EIO", "EACCES")


def _same_outputs(reference: Path, out: Path) -> int:
    """How many outputs of an uninterrupted run (under `reference`) a faulted or killed run and its rerun
    (under `out`) reproduced bit for bit: decoded pixels, model weights, video frames; with no temporary file
    left anywhere. ONNX files (their bytes carry no randomness worth comparing) only exist."""
    from stylize import files
    from stylize.modelfile import load_model
    from stylize.videoio import read_frames

    assert not [p for p in out.rglob("*") if p.is_file() and files.part_writer(p.name) is not None]
    compared = 0
    for written in sorted(p for p in reference.rglob("*") if p.is_file()):
        twin = out / written.relative_to(reference)
        if written.suffix == ".png":
            assert torch.equal(load_image(twin).pixels, load_image(written).pixels), twin
        elif written.suffix == ".safetensors":
            ours, theirs = load_model(twin)[0].state_dict(), load_model(written)[0].state_dict()
            assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
        elif written.suffix == ".mp4":
            ours_frames = [frame.rgb for frame in read_frames(twin)]
            theirs_frames = [frame.rgb for frame in read_frames(written)]
            assert len(ours_frames) == len(theirs_frames) > 0
            assert all((a == b).all() for a, b in zip(ours_frames, theirs_frames, strict=True))
        elif written.suffix == ".onnx":
            assert twin.is_file() and twin.stat().st_size > 0
        else:
            continue
        compared += 1
    return compared


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("command", ["batch", "upscale", "colorize", "train", "video", "export"])
def test_the_nth_write_failing_is_one_line_and_a_rerun_finishes_as_if_nothing_happened(tmp_path, photos, model,
                                                                                         monkeypatch, command, seed):
    """Issue 33, items 1 and 4: a seeded fault at the n-th atomic write of a command (a full disk, a quota, an
    I/O error at its fsync; a permission refused at its open), then the same command again (with --resume
    where the command has one) once the fault is gone. Every write path goes through files.atomic_output."""
    import errno
    import random

    from stylize import files

    if command == "video":
        pytest.importorskip("av")
        from clips import make_clip

        make_clip(tmp_path / "clip.mp4", frames=4, audio=False)
    if command == "export":
        pytest.importorskip("onnx")

    def args(out: Path) -> list:
        return {
            "batch": ["batch", photos, "-o", out, "--model", model, "--report", out / "report.json"],
            "upscale": ["upscale", photos, "--scale", "2", "-o", out],
            "colorize": ["colorize", photos, "-o", out],
            "train": ["train", "--task", "upscale", "--scale", "2", "--data", photos, "-o", out / "m.safetensors",
                      "--steps", "3", "--batch-size", "1", "--image-size", "32", "--rescale", "1",
                      "--preview-images", "0", "--workers", "0", "--checkpoint-every", "1"],
            "video": ["video", tmp_path / "clip.mp4", "--model", model, "-o", out / "v.mp4", "--no-temporal",
                      "--segment-seconds", "0.5"],
            "export": ["export", model, "-o", out / "m.onnx"],
        }[command]

    writes = []  # the temporary files of the run, in the order their names were made
    real_part_path = files.part_path

    def counted_part_path(path: Path) -> Path:
        writes.append(real_part_path(path))
        return writes[-1]

    monkeypatch.setattr(files, "part_path", counted_part_path)
    reference = tmp_path / "reference"
    assert CliRunner().invoke(cli, [str(a) for a in args(reference)]).exit_code == 0
    rng = random.Random(f"{command}-{seed}")  # seeded: the same faults each run of the suite
    nth, fault = rng.randint(1, len(writes)), rng.choice(FAULTS)
    print(f"{command}: fault {fault} at write {nth} of {len(writes)}")
    code = getattr(errno, fault)
    count = len(writes)
    writes.clear()
    real_open, real_fsync = files.os.open, files.os.fsync
    # The fault is tied to the n-th temporary file itself, not to a count at the moment of the call: batch
    # jobs write from I/O threads, and another job's name may be made between a file's name and its fsync.
    target: list[int] = []  # the n-th file's descriptor once opened; then a marker once its fsync failed

    def is_target(path) -> bool:
        return len(writes) >= nth and os.fspath(path) == os.fspath(writes[nth - 1])

    def failing_open(path, flags, *rest):
        if fault == "EACCES" and flags & os.O_EXCL and is_target(path):
            raise OSError(code, os.strerror(code))
        descriptor = real_open(path, flags, *rest)
        if is_target(path) and not target:
            target.append(descriptor)
        return descriptor

    def failing_fsync(descriptor):
        if fault != "EACCES" and target == [descriptor]:
            target.append(-1)  # once: the rest of the run writes normally
            raise OSError(code, os.strerror(code))
        return real_fsync(descriptor)

    out = tmp_path / "out"
    monkeypatch.setattr(files.os, "open", failing_open)
    monkeypatch.setattr(files.os, "fsync", failing_fsync)
    result = CliRunner().invoke(cli, [str(a) for a in args(out)])
    assert result.exit_code == 1, (nth, count, fault, result.output)
    assert "Traceback" not in result.output and os.strerror(code) in result.stderr, result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("Error: ")]) <= 1
    assert not [p for p in out.rglob("*") if p.is_file() and files.part_writer(p.name) is not None]
    monkeypatch.setattr(files.os, "open", real_open)
    monkeypatch.setattr(files.os, "fsync", real_fsync)
    # What the command says to do: --resume where there is something to resume (train's first checkpoint may be
    # the write that failed: then the same command again).
    resumable = {"train": out / "m.ckpt", "video": out / ".v.mp4.stylize"}.get(command)
    again = args(out) + (["--resume"] if resumable is not None and resumable.exists() else [])
    rerun = CliRunner().invoke(cli, [str(a) for a in again])
    assert rerun.exit_code == 0, (nth, fault, rerun.output)
    assert _same_outputs(reference, out) > 0


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (root only; skipped elsewhere): a real full disk, not an injected one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("a tmpfs needs root and mount (CI runs as root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.mark.parametrize("command", ["batch", "upscale", "train", "video"])
def test_a_real_full_disk_fails_the_files_that_do_not_fit_and_a_rerun_finishes(tmp_path, photos, model, small_disk,
                                                                                command):
    """Issue 33, item 1, on a real tmpfs filled up to a few KB: each write that does not fit fails alone with
    its reason, exit 1, nothing half-written; with the space freed, the same command finishes the rest."""
    from stylize import files

    for index in range(6):  # enough photos that some fit and some do not
        gradient_image(96, 80, seed=10 + index).save(photos / f"p{index}.png")
    if command == "video":
        pytest.importorskip("av")
        from clips import make_clip

        make_clip(tmp_path / "clip.mp4", frames=8, width=128, height=96, audio=False, noise=0.2)
    out = small_disk / "out"
    args = {
        "batch": ["batch", photos, "-o", out, "--model", model],
        "upscale": ["upscale", photos, "--scale", "2", "-o", out],
        "train": ["train", "--task", "upscale", "--scale", "2", "--data", photos, "-o", out / "m.safetensors",
                  "--steps", "2", "--batch-size", "1", "--image-size", "32", "--rescale", "1", "--preview-images",
                  "0", "--workers", "0", "--checkpoint-every", "1", "--width", "8", "--blocks", "1"],
        "video": ["video", tmp_path / "clip.mp4", "--model", model, "-o", out / "v.mp4", "--no-temporal",
                  "--segment-seconds", "0.5"],
    }[command]
    filler = small_disk / "filler"
    free = os.statvfs(small_disk)
    filler.write_bytes(b"\0" * (free.f_bavail * free.f_frsize - 12_000))  # a few KB left
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "No space left on device" in result.stderr, result.stderr
    assert not [p for p in small_disk.rglob("*") if p.is_file() and files.part_writer(p.name) is not None]
    filler.unlink()
    resumable = {"train": out / "m.ckpt", "video": out / ".v.mp4.stylize"}.get(command)
    again = args + (["--resume"] if resumable is not None and resumable.exists() else [])
    rerun = CliRunner().invoke(cli, [str(a) for a in again])
    assert rerun.exit_code == 0, rerun.output
    expected = {"batch": 8, "upscale": 8, "train": 1, "video": 1}[command]
    written = [p for p in out.rglob("*") if p.is_file() and p.suffix in (".png", ".safetensors", ".mp4")]
    assert len(written) == expected and all(p.stat().st_size > 0 for p in written)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["batch", "train", "video"])
def test_sigkill_at_random_points_then_rerun_equals_an_uninterrupted_run(tmp_path, photos, command):
    """Issue 33, item 2: a seeded loop of runs killed with SIGKILL after random delays (start-up included:
    a kill may land anywhere), each followed by the same command (--resume where it has one), until one
    finishes. Every finished output then equals an uninterrupted run's, bit for bit on the CPU, and no
    temporary file survives."""
    import random


    for index in range(10):
        gradient_image(192, 160, seed=20 + index).save(photos / f"p{index}.png")
    if command == "video":
        pytest.importorskip("av")
        from clips import make_clip

        make_clip(tmp_path / "clip.mp4", frames=24, width=160, height=120, audio=False, noise=0.1)

    def args(out: Path, resume: bool = False) -> list[str]:
        words = {
            "batch": ["batch", photos, "-o", out, "--model", "starry"],
            "train": ["train", "--task", "upscale", "--scale", "2", "--data", photos, "-o", out / "m.safetensors",
                      "--steps", "60", "--batch-size", "2", "--image-size", "48", "--rescale", "1",
                      "--preview-images", "0", "--workers", "0", "--checkpoint-every", "4", "--width", "16",
                      "--blocks", "2"],
            "video": ["video", tmp_path / "clip.mp4", "--model", "starry", "-o", out / "v.mp4", "--no-temporal",
                      "--segment-seconds", "0.5"],
        }[command]
        return [sys.executable, "-m", "stylize", *map(str, words), "-q", *(["--resume"] if resume else [])]

    environment = {**os.environ, "OMP_NUM_THREADS": "1"}  # the same arithmetic in every run
    reference = tmp_path / "reference"
    started = time.monotonic()
    subprocess.run(args(reference), check=True, env=environment, capture_output=True)
    duration = time.monotonic() - started  # start-up and the job: kills land anywhere in it
    rng = random.Random(command)
    out = tmp_path / "out"
    runs = kills = 0
    while True:
        resumable = {"train": out / "m.ckpt", "video": out / ".v.mp4.stylize"}.get(command)
        # As a context manager, each run's stderr pipe is closed, killed or not.
        with subprocess.Popen(args(out, resumable is not None and resumable.exists()), env=environment,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
            runs += 1
            try:
                process.wait(timeout=rng.uniform(0.3, duration) if kills < 5 else 600)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                kills += 1
                continue
            assert process.returncode == 0, process.stderr.read().decode()
        break
    print(f"{command}: {runs} runs, {kills} killed")
    compared = _same_outputs(reference, out)
    assert compared == {"batch": 12, "train": 1, "video": 1}[command]


@pytest.mark.parametrize("tamper", ["shapes", "no parameter groups", "float rng state", "optimizer of another net"])
def test_a_tampered_checkpoint_whose_task_matches_is_one_line(invoke, photos, tmp_path, tamper):
    """Red-team 7: checkpoints whose keys and task are right but whose contents do not fit the network gave
    tracebacks on --resume."""
    out = tmp_path / "m.safetensors"
    args = ["train", "--task", "upscale", "--scale", "2", "--data", photos, "-o", out, "--steps", "3",
            "--batch-size", "1", "--image-size", "32", "--rescale", "1", "--preview-images", "0", "--workers", "0",
            "--checkpoint-every", "1", "--width", "8", "--blocks", "1", "-q"]
    assert invoke(*args).exit_code == 0
    checkpoint = tmp_path / "m.ckpt"
    state = torch.load(checkpoint, weights_only=True)
    if tamper == "shapes":
        name = next(iter(state["model"]))
        state["model"][name] = torch.zeros(3, 3)
    elif tamper == "no parameter groups":
        state["optimizer"] = {"state": {}, "param_groups": []}
    elif tamper == "float rng state":
        state["rng_cpu"] = torch.rand(10)
    else:
        state["optimizer"]["param_groups"][0]["params"] = [0]
    torch.save(state, checkpoint)
    out.unlink()
    result = invoke(*args, "--steps", "4", "--resume")
    assert "damaged or tampered checkpoint" in invoke.error_line(result, 1)


def test_a_part_file_of_a_writer_killed_a_moment_ago_is_removed_by_the_next_run(tmp_path):
    """Issue 33 (found by the SIGKILL loop in CI): a checkpoint's temporary file from a run killed seconds
    before stayed after the completed rerun, for its age. A writer holds a lock on it; the kernel drops the
    lock when the writer dies, so the next run knows at once that nobody writes it."""
    code = ("import sys, time; from pathlib import Path; from stylize.files import atomic_output\n"
            "context = atomic_output(Path(sys.argv[1])); stream = context.__enter__(); stream.write(b'half')\n"
            "stream.flush()\n"
            "print('writing', flush=True); time.sleep(60)")
    writer = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "m.ckpt")], stdout=subprocess.PIPE)
    try:
        assert writer.stdout.readline().strip() == b"writing"
        (part,) = [p for p in tmp_path.iterdir() if part_writer(p.name) is not None]
        time.sleep(1.2)
        assert remove_stale_parts(tmp_path) == 0 and part.exists()  # alive and writing: left alone
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()
    assert remove_stale_parts(tmp_path) == 1 and not part.exists()


def test_outputs_with_names_near_the_longest_a_file_system_takes_are_written(invoke, tmp_path, photos, model):
    """Red-team: a photo of a 240-byte name (a long caption as its name) could not be stylized, upscaled or
    colorized at all: "File name too long", though its output's name fits, because the temporary file beside it
    adds 50 bytes to the name (the lock and a video's work folder add some too). Those are shortened now, each
    to a prefix and a digest of the whole name, so two long names that begin alike keep their own."""
    long_photos = tmp_path / "long"
    long_photos.mkdir()
    names = ["é" * 100 + "x" * 40 + ".png", "é" * 100 + "y" * 40 + ".png"]  # 244 bytes each in UTF-8
    for name in names:
        (long_photos / name).write_bytes((photos / "sub" / "b.png").read_bytes())
    out = tmp_path / "out"
    result = invoke("batch", long_photos, "-o", out, "--model", model)
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in out.iterdir()) == names  # nothing else left beside them
    temporary = part_path(out / names[0])
    assert len(os.fsencode(temporary.name)) <= 255 and part_writer(temporary.name) == os.getpid()
    temporary.name.encode("utf-8")  # cut between characters, never inside one
    from stylize.files import OutputLock
    from stylize.tasks.video import work_folder

    locks = {OutputLock(out / name).lock.name for name in names}
    works = {work_folder(out / name).name for name in names}
    assert len(locks) == len(works) == 2 and all(len(os.fsencode(name)) <= 255 for name in locks | works)
    assert part_path(out / "a.png").name.startswith(".a.png.stylize-")  # a short name is kept whole


def test_a_photo_whose_name_is_not_utf8_is_read_and_written(invoke, tmp_path, photos, model):
    """Red-team: "café.jpg" named in Latin-1 (as old cameras, Windows zips and CD-ROMs of scans name files) was
    read, then failed at the write: "'utf-8' codec can't encode character '\\udce9'", because the temporary file's
    tag hashed the name as UTF-8 text. Names are bytes to the file system; they are hashed as such now."""
    folder = tmp_path / "scans"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9.png")
    try:
        (folder / name).write_bytes((photos / "sub" / "b.png").read_bytes())
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system takes UTF-8 names only")
    out = tmp_path / "out"
    result = invoke("batch", folder, "-o", out, "--model", model, "--report", tmp_path / "report.json")
    assert result.exit_code == 0, result.output
    assert [path.name for path in out.iterdir()] == [name]
    assert json.loads((tmp_path / "report.json").read_text())["files"][0]["status"] == "done"
    result = invoke("upscale", folder / name, "--scale", "2", "-o", tmp_path / os.fsdecode(b"gro\xdf.png"))
    assert result.exit_code == 0, result.output
    assert load_image(tmp_path / os.fsdecode(b"gro\xdf.png")).pixels.shape[-1] == 2 * 40
    # Training's --resume fingerprint hashed the names as UTF-8 too.
    result = invoke("train", "--task", "upscale", "--scale", "2", "--data", folder, "-o", tmp_path / "m.safetensors",
                    "--steps", "1", "--batch-size", "1", "--image-size", "32", "--preview-images", "0",
                    "--workers", "0", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m.safetensors").is_file()
