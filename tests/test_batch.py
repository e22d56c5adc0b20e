import errno
import json
import os
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import gradient_image, stripes_image
from PIL import Image

from stylize import batch
from stylize.cli import cli
from stylize.errors import ConfigError
from stylize.images import load_image
from stylize.modelfile import save_model
from stylize.nets.johnson import JohnsonNet


@pytest.fixture
def tree(tmp_path):
    """photos/ with nested folders, a corrupt JPEG, a zero-byte file, text named .png and a non-image."""
    root = tmp_path / "photos"
    (root / "trip" / "day1").mkdir(parents=True)
    gradient_image(40, 30, seed=1).save(root / "a.jpg")
    gradient_image(40, 30, seed=2).save(root / "trip" / "b.png")
    gradient_image(30, 40, seed=3).save(root / "trip" / "day1" / "c.jpg")
    gradient_image(40, 30, seed=4).save(root / "trip" / "day1" / "d.webp")
    good = (root / "a.jpg").read_bytes()
    (root / "trip" / "corrupt.jpg").write_bytes(good[: len(good) // 3])
    (root / "trip" / "empty.jpg").write_bytes(b"")
    (root / "trip" / "fake.png").write_text("not really a png")
    (root / "notes.txt").write_text("hello")
    return root


GOOD = ["a.png", "trip/b.png", "trip/day1/c.png", "trip/day1/d.png"]
BAD = {"trip/corrupt.jpg": "corrupt or truncated", "trip/empty.jpg": "empty", "trip/fake.png": "not an image"}


def test_batch_mirrors_tree_reports_failures_and_exits_nonzero(invoke, tree, model, tmp_path):
    out, report = tmp_path / "out", tmp_path / "report.json"
    result = invoke("batch", tree, "-o", out, "--model", model, "--report", report, "--device", "cpu")
    assert result.exit_code == 1
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == GOOD
    assert "4 done, 0 skipped (output exists), 3 failed, 1 not images" in result.stderr
    data = json.loads(report.read_text())
    assert data["totals"] == {"done": 4, "skipped": 0, "failed": 3}
    failed = {r["source"]: r["error"] for r in data["files"] if r["status"] == "failed"}
    for name, reason in BAD.items():
        assert reason in failed[str(tree / name)]
        # One line per failure on the terminal, naming the file once (its error starts with its path).
        (line,) = [line for line in result.stderr.splitlines() if line.startswith("  failed: ") and name in line]
        assert line.count(str(tree / name)) == 1 and reason in line, line
    assert all(r["seconds"] >= 0 for r in data["files"])
    assert data["not_images"] == [str(tree / "notes.txt")]
    assert data["settings"]["models"] == [str(model)]
    assert load_image(out / "trip" / "day1" / "c.png").pixels.shape == (1, 3, 40, 30)


def test_animations_among_the_images_are_done_as_their_first_frame_and_said_so(invoke, tree, model, tmp_path):
    """A folder's animated GIF or WebP is an image to batch (its first frame), which went unsaid: a note names it
    and the command that does one whole (`stylize video`; for upscale and colorize, themselves)."""
    frames = [gradient_image(40, 30, seed=seed) for seed in range(3)]
    frames[0].save(tree / "loop.gif", save_all=True, append_images=frames[1:], duration=100)
    frames[0].save(tree / "trip" / "spin.webp", save_all=True, append_images=frames[1:], duration=100)
    # An animated PNG named .apng, as `stylize video -o x.apng` writes one (it was "not an image" to a folder's scan).
    frames[0].save(tree / "trip" / "wave.apng", format="PNG", save_all=True, append_images=frames[1:], duration=100)
    frames[0].save(tree / "still.gif")
    result = invoke("batch", tree / "loop.gif", tree / "trip", tree / "still.gif", "-o", tmp_path / "out",
                    "--model", model)
    assert result.exit_code == 1 and "7 done" in result.stderr  # trip/ holds the bad files of `tree`
    assert (tmp_path / "out" / "wave.png").is_file()
    assert (f"Note: {tree / 'loop.gif'} and 2 more are animations: the first frame was done here; `stylize video "
            "FILE` does one whole") in result.stderr
    result = invoke("upscale", tree / "trip" / "spin.webp", tree / "a.jpg", "--scale", "2", "-o", tmp_path / "big")
    assert result.exit_code == 0
    assert (f"Note: {tree / 'trip' / 'spin.webp'} is an animation: the first frame was done here; `stylize upscale "
            f"{tree / 'trip' / 'spin.webp'}` does it whole") in result.stderr
    # A video among a folder's files is not an image to it: the line names the command that does it.
    clip = tree / "trip" / "clip.mp4"
    clip.write_bytes(b"\0" * 16)
    result = invoke("batch", tree / "trip", "-o", tmp_path / "again", "--model", model)
    assert f"  not an image: {clip} (a video: `stylize video {clip}` does it)" in result.stderr.splitlines()
    result = invoke("upscale", tree / "trip", "--scale", "2", "-o", tmp_path / "bigger")
    assert f"(a video: `stylize upscale {clip}` does it)" in result.stderr
    # One animation with a still image as -o: the same note after the "Wrote" line.
    result = invoke("upscale", tree / "loop.gif", "--scale", "2", "-o", tmp_path / "first.png")
    assert result.exit_code == 0 and Image.open(tmp_path / "first.png").size == (80, 60)
    assert result.stderr.splitlines()[-1] == (f"Note: {tree / 'loop.gif'} is an animation: the first frame was done "
                                              f"here; `stylize upscale {tree / 'loop.gif'}` does it whole")


def test_a_tiff_of_several_pages_is_done_as_its_first_and_said_so(invoke, tree, model, tmp_path):
    """Red-team: an album scanned into one TIFF of several pages (`stylize colorize album.tif`) came back as its
    first page without a word. A note names the file and its pages, after one file and in a folder's summary."""
    pages = [gradient_image(40, 30, seed=seed).convert("L") for seed in range(3)]  # black-and-white photos
    pages[0].save(tmp_path / "album.tif", save_all=True, append_images=pages[1:])
    pages[0].save(tree / "scan.tiff")  # one page: nothing to say
    result = invoke("colorize", tmp_path / "album.tif", "-o", tmp_path / "album_color.png")
    assert result.exit_code == 0 and Image.open(tmp_path / "album_color.png").size == (40, 30)
    assert result.stderr.splitlines()[-1] == (f"Note: {tmp_path / 'album.tif'} has 3 pages: the first page was done "
                                              "here; save each page as a file of its own to do them all")
    result = invoke("batch", tmp_path / "album.tif", tree / "scan.tiff", tree / "a.jpg", "-o", tmp_path / "out",
                    "--model", model)
    assert result.exit_code == 0 and "3 done" in result.stderr
    assert f"Note: {tmp_path / 'album.tif'} has 3 pages: the first page was done here;" in result.stderr
    assert "scan.tiff has" not in result.stderr


def test_rerun_skips_done_and_overwrite_redoes(invoke, tree, model, tmp_path):
    out = tmp_path / "out"
    invoke("batch", tree / "a.jpg", tree / "trip" / "b.png", "-o", out, "--model", model, "-q")
    before = (out / "a.png").stat().st_mtime_ns
    again = invoke("batch", tree / "a.jpg", tree / "trip" / "b.png", "-o", out, "--model", model)
    assert again.exit_code == 0 and "0 done, 2 skipped" in again.stderr
    assert (out / "a.png").stat().st_mtime_ns == before
    redo = invoke("batch", tree / "a.jpg", "-o", out, "--model", model, "--overwrite")
    assert "1 done" in redo.stderr


def test_interrupted_run_and_rerun_write_every_output_exactly_once(tree, tmp_path, monkeypatch):
    jobs = batch.plan_jobs(batch.collect_inputs([tree])[0], tmp_path / "out")
    good_jobs = [job for job in jobs if job.relative not in BAD]
    writes = []
    real_save = batch.save_image

    def counting_save(pixels, path, *args):
        writes.append(path)
        return real_save(pixels, path, *args)

    monkeypatch.setattr(batch, "save_image", counting_save)
    calls = []

    def interrupting(images, group_jobs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return [image.pixels for image in images]

    first = batch.run_jobs(good_jobs, interrupting)
    assert first.interrupted and first.count("done") == 2
    assert not list((tmp_path / "out").rglob("*.part"))
    second = batch.run_jobs(good_jobs, lambda images, group_jobs: [image.pixels for image in images])
    assert second.count("skipped") == 2 and second.count("done") == 2
    assert sorted(writes) == sorted(job.output for job in good_jobs)


def test_failed_write_leaves_no_partial_file_and_run_goes_on(tree, tmp_path, monkeypatch):
    from PIL import Image

    jobs = batch.plan_jobs(batch.collect_inputs([tree / "a.jpg", tree / "trip" / "b.png"])[0], tmp_path / "out")
    real = Image.Image.save
    calls = []

    def failing(self, fp, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # the first save (a.png, with one I/O thread) runs out of disk half-way
            fp.write(b"half")
            raise OSError(28, "No space left on device")
        return real(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", failing)
    report = batch.run_jobs(jobs, lambda images, group_jobs: [image.pixels for image in images], io_threads=1)
    assert [r.status for r in sorted(report.results, key=lambda r: r.source)] == ["failed", "done"]
    assert "No space left" in report.failed[0].error
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["b.png"]


def test_shards_partition_the_inputs_and_match_one_process(invoke, tree, model, tmp_path):
    whole = tmp_path / "whole"
    invoke("batch", tree, "-o", whole, "--model", model, "-q")
    parts = tmp_path / "parts"
    for index in (1, 2, 3):
        invoke("batch", tree, "-o", parts, "--model", model, "--shard", f"{index}/3", "-q")
    names = sorted(p.relative_to(parts).as_posix() for p in parts.rglob("*.png"))
    assert names == GOOD
    for name in GOOD:
        assert torch.equal(load_image(parts / name).pixels, load_image(whole / name).pixels)
    jobs = batch.plan_jobs(batch.collect_inputs([tree])[0], tmp_path / "x")
    shards = [batch.shard(jobs, i, 3) for i in range(3)]
    assert sorted(j.relative for s in shards for j in s) == sorted(j.relative for j in jobs)
    assert sum(len(s) for s in shards) == len(jobs)


def test_style_mode_computes_style_targets_once(invoke, tree, tmp_path, monkeypatch):
    from stylize.tasks import gatys

    style = tmp_path / "style.png"
    stripes_image(40, 40).save(style)
    made = []
    real_init = gatys.GatysTransfer.__init__

    def spy(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(gatys.GatysTransfer, "__init__", spy)
    result = invoke("batch", tree / "a.jpg", tree / "trip", "-o", tmp_path / "out", "--style", style,
                    "--size", "32", "--steps", "2", "--seed", "5", "--format", "jpg", "--suffix", "_s",
                    "--quality", "90", "-q")
    assert result.exit_code == 1  # the bad files in trip/
    assert len(made) == 1 and made[0].style_target_computations == 1
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.jpg")) == ["a_s.jpg", "b_s.jpg", "c_s.jpg", "d_s.jpg"]


def test_style_mode_seeds_each_image_reproducibly(invoke, tree, tmp_path):
    style = tmp_path / "style.png"
    stripes_image(40, 40).save(style)
    for name in ("one", "two"):
        invoke("batch", tree / "a.jpg", "-o", tmp_path / name, "--style", style, "--size", "32", "--steps", "2",
               "--init", "noise", "-q")
    assert (tmp_path / "one" / "a.png").read_bytes() == (tmp_path / "two" / "a.png").read_bytes()


def test_glob_patterns_keep_the_path_below_the_fixed_part(invoke, tree, model, tmp_path, monkeypatch):
    monkeypatch.chdir(tree.parent)
    result = invoke("batch", "photos/trip/**/*.jpg", "-o", tmp_path / "out", "--model", model, "--batch-size", "2",
                    "--io-threads", "2", "--format", "webp")
    assert result.exit_code == 1  # corrupt.jpg and empty.jpg match the pattern too
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.webp")) == [
        "day1/c.webp"
    ]


def test_never_overwrites_an_input(invoke, tree, model):
    result = invoke("batch", tree / "trip", "-o", tree / "trip", "--model", model)
    assert result.exit_code == 2 and "would overwrite an input" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope/*.jpg"], "matches no file"),
        (["missing.jpg"], "no such file"),
        (["--shard", "0/3"], "between 1 and N"),
        (["--shard", "x"], "I/N"),
        (["--steps", "3"], "--steps cannot be used with --model"),
    ],
)
def test_batch_usage_errors(invoke, tree, model, tmp_path, args, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs = [a for a in args if not a.startswith("-") and a not in ("0/3", "x", "3")]
    options = [a for a in args if a not in inputs]
    result = invoke("batch", *(inputs or [tree]), "-o", tmp_path / "out", "--model", model, *options)
    assert result.exit_code == 2 and message in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1


@pytest.mark.parametrize(("command", "inputs", "message"), [
    ("batch", ["clip.mp4"], "no input images found: clip.mp4 is a video; `stylize video` stylizes a clip"),
    ("upscale", ["clip.mp4", "notes.txt"], "clip.mp4 is a video: a clip is done alone (stylize upscale CLIP -o OUT)"),
    ("colorize", ["clips"], "clips/a.mp4 is a video; `stylize colorize` takes one clip at a time (stylize colorize "
                            "CLIP -o OUT)"),
    ("colorize", ["notes"], "no input images found: notes/todo.txt is not an image"),
    ("batch", ["empty"], "no input images found: empty holds no files, in subfolders either (hidden ones are not "
                         "read)"),
    ("upscale", ["empty", "empty/deeper"], "no input images found: empty, empty/deeper hold no files, in subfolders "
                                           "either"),
])
def test_inputs_without_an_image_are_a_usage_error_not_zero_done(invoke, model, tmp_path, monkeypatch, command,
                                                                 inputs, message):
    """Red-team: `stylize upscale clip.mp4 -o big.mp4` did nothing, said "0 done, 1 not images" and exited 0."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    (tmp_path / "notes.txt").write_text("no pictures")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("no pictures")
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    (tmp_path / "empty" / "deeper").mkdir(parents=True)
    (tmp_path / "empty" / "deeper" / ".DS_Store").write_bytes(b"\x00")
    extra = ["--model", model] if command == "batch" else []
    result = invoke(command, *inputs, "-o", tmp_path / "out.mp4", *extra)
    invoke.error_line(result, 2, message)
    assert not (tmp_path / "out.mp4").exists()


def test_same_stem_collisions_are_refused(tmp_path):
    (tmp_path / "x").mkdir()
    gradient_image(8, 8).save(tmp_path / "x" / "p.jpg")
    gradient_image(8, 8).save(tmp_path / "x" / "p.png")
    with pytest.raises(ConfigError, match="would both write"):
        batch.plan_jobs(batch.collect_inputs([tmp_path / "x"])[0], tmp_path / "out")


def test_a_file_named_twice_is_one_job(tmp_path):
    """`batch x x/p.jpg` or overlapping patterns: it was "x/p.jpg and x/p.jpg would both write out/p.png"."""
    (tmp_path / "x").mkdir()
    gradient_image(8, 8).save(tmp_path / "x" / "p.jpg")
    gradient_image(8, 8).save(tmp_path / "x" / "q.jpg")
    specs = [tmp_path / "x", tmp_path / "x" / "p.jpg", str(tmp_path / "x" / "*.jpg")]
    jobs = batch.plan_jobs(batch.collect_inputs(specs)[0], tmp_path / "out")
    assert [(job.source.name, job.output.name) for job in jobs] == [("p.jpg", "p.png"), ("q.jpg", "q.png")]


def test_batch_at_the_photos_own_size_uses_the_style_at_full_resolution(invoke, tmp_path):
    # The style must not be read at a hidden 512 px and upsampled for larger photos: batch equals run.
    photo, style = tmp_path / "wide.png", tmp_path / "style.png"
    gradient_image(600, 40).save(photo)
    stripes_image(700, 700).save(style)
    common = ["--style", style, "--size", "0", "--steps", "2", "--optimizer", "adam", "--lr", "0.1",
              "--style-layers", "relu1_1,relu2_1", "--content-layers", "relu2_1", "-q"]
    assert invoke("run", photo, "-o", tmp_path / "run.png", *common).exit_code == 0
    assert invoke("batch", photo, "-o", tmp_path / "out", *common).exit_code == 0
    assert (tmp_path / "run.png").read_bytes() == (tmp_path / "out" / "wide.png").read_bytes()


def test_a_task_returning_fewer_images_fails_the_whole_group(tree, tmp_path):
    jobs = [job for job in batch.plan_jobs(batch.collect_inputs([tree])[0], tmp_path / "out") if job.relative
            in ("a.jpg", "trip/b.png")]
    report = batch.run_jobs(jobs, lambda images, group_jobs: [images[0].pixels][:1], batch_size=2)
    assert sorted((r.source.rsplit("/", 1)[1], r.status) for r in report.results) == [("a.jpg", "failed"),
                                                                                       ("b.png", "failed")]
    assert all("returned 1 images for 2" in r.error for r in report.results)


def test_rerunning_a_batch_into_its_own_input_folder_skips_what_it_made(tmp_path):
    """Issue 33: `batch same -o same` run twice refused the second run: the first run's photo.png, the output
    of photo.jpg, became an input whose output was itself."""
    import torch
    from conftest import gradient_image


    torch.manual_seed(0)
    model = save_model(tmp_path / "m.safetensors", JohnsonNet(width=8, residual_blocks=1), "style", {})
    same = tmp_path / "same"
    same.mkdir()
    gradient_image(24, 20).save(same / "photo.jpg")
    gradient_image(24, 20, seed=3).save(same / "mine.png")  # a user's own PNG, not made by stylize
    first = CliRunner().invoke(cli, ["batch", str(same), "-o", str(same), "--model", str(model), "--suffix", "_s"])
    assert first.exit_code == 0, first.output
    made = (same / "photo_s.png").read_bytes()
    second = CliRunner().invoke(cli, ["batch", str(same), "-o", str(same), "--model", str(model), "--suffix", "_s"])
    assert second.exit_code == 0, second.output
    assert "0 done, 2 skipped" in second.stderr and (same / "photo_s.png").read_bytes() == made
    plain = tmp_path / "plain"
    plain.mkdir()
    gradient_image(24, 20).save(plain / "photo.jpg")
    for _ in range(2):  # without a suffix: photo.jpg -> photo.png, and photo.png is taken as that output
        result = CliRunner().invoke(cli, ["batch", str(plain), "-o", str(plain), "--model", str(model)])
        assert result.exit_code == 0, result.output
    assert "0 done, 1 skipped" in result.stderr and sorted(p.name for p in plain.iterdir()) == ["photo.jpg",
                                                                                                  "photo.png"]


def test_two_processes_on_one_folder_never_write_one_output_at_once(invoke, model, tmp_path):
    """Issue 33: a second batch (or the studio) on the same output folder skips what the first is writing
    (its lock beside the output), and a rerun afterwards finishes it."""
    from stylize.files import OutputLock

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a", "b"):
        gradient_image(32, 24, seed=ord(name)).save(photos / f"{name}.png")
    out = tmp_path / "out"
    held = OutputLock(out / "a.png")  # another process's lock: flock conflicts between open files
    assert held.acquire()
    try:
        result = invoke("batch", photos, "-o", out, "--model", model, "--report", tmp_path / "r.json")
        assert result.exit_code == 0, result.output
        assert "1 done, 0 skipped (output exists), 1 skipped (another stylize process is writing them)" in result.stderr
        report = json.loads((tmp_path / "r.json").read_text())
        by_name = {Path(item["source"]).name: item for item in report["files"]}
        assert by_name["a.png"]["status"] == "skipped" and "another stylize process" in by_name["a.png"]["error"]
        assert by_name["b.png"]["status"] == "done"
        assert not (out / "a.png").exists() and (out / "b.png").is_file()
    finally:
        held.release()
    assert not list(out.glob(".*stylize-lock"))
    rerun = invoke("batch", photos, "-o", out, "--model", model)
    assert rerun.exit_code == 0 and (out / "a.png").is_file() and "1 done, 1 skipped" in rerun.stderr


def test_an_output_whose_lock_cannot_be_made_fails_in_one_line(invoke, model, tmp_path, monkeypatch):
    """Red-team: `run -o /proc/x.png` passed the up-front check (root may write anywhere, says os.access) and
    then the lock beside the output raised a traceback; a batch lost every other file with it."""
    real_open = os.open

    def no_locks(path, *args, **kwargs):
        if str(path).endswith(".stylize-lock") and "a.png" in str(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_locks)
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a", "b"):
        gradient_image(32, 24, seed=ord(name)).save(photos / f"{name}.png")
    result = invoke("run", photos / "a.png", "--model", model, "-o", tmp_path / "a.png")
    assert f"cannot write {tmp_path / 'a.png'}: Read-only file system" in invoke.error_line(result, 1)
    result = invoke("batch", photos, "-o", tmp_path / "out", "--model", model)
    assert result.exit_code == 1 and "1 done" in result.stderr and "1 failed" in result.stderr
    assert "a.png: cannot write" in result.stderr and "Read-only file system" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b.png"]


def test_rerunning_in_place_with_another_format_never_takes_the_earlier_outputs_as_inputs(invoke, tmp_path):
    """Red-team: `upscale IN -o IN --suffix _x2` again with another --format upscaled the earlier outputs
    (a_x2_x2.jpg)."""
    from stylize.modelfile import save_model
    from stylize.nets.srnet import SRNet

    folder = tmp_path / "in"
    folder.mkdir()
    gradient_image(24, 20).save(folder / "a.png")
    upscaler = save_model(tmp_path / "x2.safetensors", SRNet(2, 8, 1), "upscale", {})
    for fmt in ("png", "jpg"):
        result = invoke("upscale", folder, "-o", folder, "--suffix", "_x2", "--format", fmt, "--model", upscaler)
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "a_x2.jpg", "a_x2.png"]


def test_a_folder_of_phone_photos_heic_and_avif_is_stylized(invoke, model, tmp_path):
    """Red-team: phones save HEIC (iPhone) or AVIF; `stylize batch` on such a folder said "not an image" for
    every photo. Both are read now (HEIC with the heic extra), and their outputs are PNG."""
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    photos = tmp_path / "phone"
    photos.mkdir()
    gradient_image(40, 30, seed=1).save(photos / "IMG_0001.HEIC")
    gradient_image(30, 40, seed=2).save(photos / "PXL_0002.avif")
    result = invoke("batch", photos, "-o", tmp_path / "out", "--model", model, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "2 done, 0 skipped (output exists), 0 failed" in result.stderr
    sizes = {path.name: Image.open(path).size for path in (tmp_path / "out").iterdir()}
    assert sizes == {"IMG_0001.png": (40, 30), "PXL_0002.png": (30, 40)}


def test_a_folder_of_raw_and_jpeg_pairs_does_each_shot_once(invoke, model, tmp_path):
    """A camera set to RAW+JPEG writes IMG_0001.DNG and IMG_0001.JPG, which would both write IMG_0001.png (a
    ConfigError for the whole folder). The camera's JPEG is done, the RAW twin left out and said so, in the
    summary and the report; a RAW alone is developed. Run again into the same folder with --format jpg, the
    outputs written beside the RAW files are not taken for camera JPEGs (the second run skips them as done)."""
    import numpy as np

    pytest.importorskip("rawpy")
    from raws import write_dng

    shoot = tmp_path / "shoot"
    shoot.mkdir()
    picture = gradient_image(48, 32, seed=3)
    write_dng(shoot / "IMG_0001.DNG", np.asarray(picture))
    picture.resize((36, 24)).save(shoot / "IMG_0001.JPG")  # smaller than the RAW: which one was done shows
    write_dng(shoot / "IMG_0002.DNG", np.asarray(gradient_image(32, 48, seed=4)))
    report = tmp_path / "report.json"
    result = invoke("batch", shoot, "-o", tmp_path / "out", "--model", model, "--report", report, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "2 done, 0 skipped (output exists), 0 failed, 0 not images" in result.stderr
    assert (f"Note: {shoot / 'IMG_0001.DNG'} is a camera RAW file left out: the camera's JPEG of the same shot was "
            "done (name the RAW files alone, as *.DNG, to do them)") in result.stderr
    sizes = {path.name: Image.open(path).size for path in (tmp_path / "out").iterdir()}
    assert sizes == {"IMG_0001.png": (36, 24), "IMG_0002.png": (32, 48)}
    data = json.loads(report.read_text())
    assert data["raw_left_for_camera_jpeg"] == [str(shoot / "IMG_0001.DNG")] and data["not_images"] == []
    for attempt in range(2):
        result = invoke("batch", shoot, "-o", shoot, "--format", "jpg", "--suffix", "", "--model", model,
                        "--device", "cpu")
        assert result.exit_code == 0, result.output
        assert ("2 done, 0 skipped" if attempt == 0 else "0 done, 2 skipped") in result.stderr
        assert "IMG_0001.DNG is a camera RAW" in result.stderr and "IMG_0002.DNG is a camera RAW" not in result.stderr
    assert Image.open(shoot / "IMG_0002.jpg").size == (32, 48)


def test_an_image_stopped_midway_goes_on_from_its_progress_when_the_batch_is_rerun(invoke, tmp_path, monkeypatch):
    """`stylize batch --style`: rerunning an interrupted command skipped the finished images and started the one in
    progress again from nothing (at --size 2048, minutes each on a CPU); it goes on from where it stopped now, as
    `run --resume` does, and a record of other settings is replaced, not an error (a batch goes on where it can)."""
    from stylize.tasks.gatys.progress import Progress

    photos = tmp_path / "photos"
    photos.mkdir()
    for seed, name in ((1, "a.png"), (2, "b.png")):
        gradient_image(64, 48, seed=seed).save(photos / name)
    stripes_image(40, 40).save(tmp_path / "style.png")
    out = tmp_path / "out"
    command = ["batch", photos, "-o", out, "--style", tmp_path / "style.png", "--size", "64", "--start-size", "32",
               "--steps", "4", "--tolerance", "0", "--device", "cpu"]
    report = Progress.report

    def interrupted_in_the_second_image(self, *args, **kwargs):
        report(self, *args, **kwargs)
        if (out / "a.png").exists() and self.done == 6:
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(Progress, "report", interrupted_in_the_second_image)
        assert invoke(*command).exit_code == 130
    kept = out / ".b.png.stylize-run"
    assert kept.is_file() and not (out / "b.png").exists()
    result = invoke(*command)
    assert result.exit_code == 0, result.output
    assert f"Note: going on from the interrupted run of {out / 'b.png'} at step 2 of scale 2/2 (60% of the work)" \
        in result.stderr
    assert (out / "b.png").is_file() and not kept.exists()
    # Interrupted again, then rerun with other settings: that image starts afresh, with no error and no note.
    (out / "b.png").unlink()
    with monkeypatch.context() as patch:
        patch.setattr(Progress, "report", interrupted_in_the_second_image)
        assert invoke(*command).exit_code == 130
    result = invoke(*command[:-4], "--style-weight", "3", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "going on" not in result.stderr and (out / "b.png").is_file() and not kept.exists()
