"""CLI of the fast-model path: run --model, train, models, export."""

import importlib.util
import re

import pytest
import torch
from conftest import gradient_image, stripes_image

from stylize.images import load_image
from stylize.modelfile import load_model, save_model
from stylize.nets.johnson import JohnsonNet
from stylize.tasks.network import tile_spec
from stylize.tensors import tile_boxes


@pytest.fixture(autouse=True)
def model_cache(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("STYLIZE_HOME", str(home))
    return home / "models"


@pytest.fixture
def model_file(model_cache):
    torch.manual_seed(0)
    net = JohnsonNet(width=8, residual_blocks=1)
    return save_model(model_cache / "stripes.safetensors", net, "style",
                      {"style": {"file": "stripes.png", "title": "Stripes", "artist": "Test", "license": "CC0"},
                       "training": {"steps_done": 7}})


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    gradient_image(45, 31).save(path)
    return path


def test_run_model_by_name_keeps_full_size(invoke, photo, model_file, tmp_path):
    out = tmp_path / "out.png"
    result = invoke("run", photo, "--model", "stripes", "-o", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert load_image(out).pixels.shape == (1, 3, 31, 45)


def _cut_out(path, width: int = 48, height: int = 32):
    """A photo cut out: opaque in an ellipse, fading at its edge, transparent around it."""
    from PIL import Image, ImageDraw, ImageFilter

    image = gradient_image(width, height).convert("RGBA")
    shape = Image.new("L", (width, height), 0)
    ImageDraw.Draw(shape).ellipse((4, 3, width - 5, height - 4), fill=255)
    image.putalpha(shape.filter(ImageFilter.GaussianBlur(1.5)))
    image.save(path)
    return image


def test_a_cut_out_stays_cut_out_and_a_jpeg_of_it_is_laid_on_white(invoke, model_file, tmp_path):
    """Red-team: a logo or a product photo cut out (a PNG with transparency) came back as a rectangle, its
    transparent part painted. The output keeps its transparency where the format has one (resized with
    --size); a JPEG is laid on white."""
    from PIL import Image

    source = _cut_out(tmp_path / "logo.png")
    for name, size in (("out.png", []), ("small.webp", ["--size", "24"]), ("out.jpg", [])):
        result = invoke("run", tmp_path / "logo.png", "--model", "stripes", "-o", tmp_path / name, *size)
        assert result.exit_code == 0, result.output
    png, small, jpeg = (Image.open(tmp_path / name) for name in ("out.png", "small.webp", "out.jpg"))
    assert png.mode == "RGBA" and png.getchannel("A").tobytes() == source.getchannel("A").tobytes()
    inside = (24, 16)
    painted = zip(png.getpixel(inside)[:3], source.getpixel(inside)[:3], strict=True)
    assert max(abs(a - b) for a, b in painted) > 10
    assert small.mode == "RGBA" and small.size == (24, 16)
    assert small.getpixel((0, 0))[3] == 0 and small.getpixel((12, 8))[3] == 255
    assert jpeg.mode == "RGB" and min(jpeg.getpixel((0, 0))) >= 250


def test_a_cut_outs_half_clear_pixels_keep_their_colour_and_what_is_stored_under_clear_ones_changes_nothing(
        invoke, model_file, tmp_path):
    """A cut-out was styled laid on white, and the transparency put back on the result: a half-clear pixel came
    out paler twice, once laid and once shown (at --strength 0, the photo itself, a drop shadow at 40 % black
    showed at 16 %). Each pixel that is not wholly clear is worked on in its own colour, the clear ones white
    (images.white_where_clear): shown on white, the photo at --strength 0 is the cut-out as it was, and what
    the file stores under its clear pixels (black, green) changes nothing."""
    import numpy as np
    from PIL import Image

    source = np.asarray(_cut_out(tmp_path / "logo.png")).copy()
    source[20:, 30:, 3] = np.maximum(source[20:, 30:, 3], 102)  # a drop shadow at 40 %, black
    source[20:, 30:, :3] = np.where(source[20:, 30:, 3:] == 102, 0, source[20:, 30:, :3])
    outputs = []
    for stored in ((0, 0, 0), (0, 255, 0)):
        source[source[..., 3] == 0, :3] = stored
        Image.fromarray(source).save(tmp_path / "logo.png")
        for strength in ("0", "1"):
            result = invoke("run", tmp_path / "logo.png", "--model", "stripes", "--strength", strength,
                            "-o", tmp_path / f"out{strength}.png")
            assert result.exit_code == 0, result.output
        outputs.append(np.asarray(Image.open(tmp_path / "out1.png")))

        def shown(path):
            return np.asarray(Image.alpha_composite(Image.new("RGBA", (48, 32), "white"),
                                                    Image.open(path).convert("RGBA")).convert("RGB")).astype(int)

        assert np.abs(shown(tmp_path / "out0.png") - shown(tmp_path / "logo.png")).max() <= 2
    assert np.array_equal(outputs[0], outputs[1])


def test_run_model_by_path_with_every_fast_option(invoke, photo, model_file, tmp_path):
    out = tmp_path / "out.jpg"
    result = invoke("run", photo, "--model", model_file, "-o", out, "--size", "60", "--strength", "0.5",
                    "--preserve-color", "--tile", "200", "--quality", "90", "-q")
    assert result.exit_code == 0, result.output
    assert load_image(out).pixels.shape == (1, 3, 41, 60)


def test_run_model_shows_the_tiles_of_a_large_photo_unless_quiet(invoke, model_file, tmp_path):
    photo = tmp_path / "large.png"
    gradient_image(200, 150).save(photo)
    tiles = len(tile_boxes(150, 200, 128, tile_spec(load_model(model_file)[0])))
    shown = invoke("run", photo, "--model", "stripes", "--tile", "128", "-o", tmp_path / "out.png")
    assert shown.exit_code == 0 and f"0/{tiles} [" in shown.stderr and "tile" in shown.stderr  # the tqdm bar
    quiet = invoke("run", photo, "--model", "stripes", "--tile", "128", "-o", tmp_path / "out.png", "-q")
    assert quiet.exit_code == 0 and f"/{tiles} [" not in quiet.stderr
    untiled = invoke("run", photo, "--model", "stripes", "-o", tmp_path / "out.png")  # small: one pass
    assert untiled.exit_code == 0 and f"/{tiles} [" not in untiled.stderr and "Wrote" in untiled.stderr


def test_default_output_name_uses_the_model_name(invoke, photo, model_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("run", photo, "--model", "stripes", "-q").exit_code == 0
    assert (tmp_path / "photo_stripes.png").is_file()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--model", "nosuch"], 2, "unknown model 'nosuch'; known models: "),
        (["--model", "missing.safetensors"], 2, "no such model file"),
        # The painting where the model goes: a name of no model either way, but what to do instead is known.
        (["--model", "monet.JPG"], 2, "monet.JPG is an image, not a model: a painting goes to --style"),
        (["--model", "PHOTO"], 2, "photo.png is an image, not a model: a painting goes to --style"),
        (["--model", "upscale-x2"], 2, "is a model for 'upscale', not a style model: use it with `stylize upscale"),
        (["--model", "arbitrary"], 2, "--model arbitrary is the arbitrary-style model: give the painting with --style"),
        (["--model", "arbitrary", "--model", "stripes", "--style", "PHOTO", "--mask", "PHOTO", "--mask", "PHOTO"], 2,
         "--model arbitrary takes one model"),
        (["--model", "stripes", "--steps", "3"], 2, "--steps cannot be used with --model"),
        (["--model", "stripes", "--strength", "2"], 2, "0<=x<=1"),
        (["--model", "stripes", "--style", "PHOTO"], 2,
         "--style cannot be used with the per-style model 'stripes' (it has its own style): use --model arbitrary"),
        (["--model", "stripes", "--style", "missing.png"], 2, "'missing.png' does not exist"),
    ],
)
def test_run_model_errors(invoke, photo, model_file, tmp_path, args, code, message):
    args = [photo if a == "PHOTO" else a for a in args]
    result = invoke("run", photo, *args, "-o", tmp_path / "o.png")
    line = invoke.error_line(result, code, message)
    if "nosuch" in args:
        assert "stripes" in line  # the cached model is listed beside the shipped ones


def test_corrupt_model_file_is_a_one_line_error(invoke, photo, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    result = invoke("run", photo, "--model", bad, "-o", tmp_path / "o.png")
    assert result.exit_code == 1 and "not a valid model file" in result.stderr


def test_strength_option_only_with_model(invoke, photo, tmp_path):
    style = tmp_path / "s.png"
    stripes_image(32, 32).save(style)
    result = invoke("run", photo, "--style", style, "--strength", "0.5", "-o", tmp_path / "o.png")
    assert result.exit_code == 2 and "--strength cannot be used with --style" in result.stderr


def test_models_lists_credits(invoke, model_file):
    result = invoke("models")
    assert result.exit_code == 0
    assert "stripes" in result.output and "Stripes, Test" in result.output and "[CC0]" in result.output


def test_models_with_none_installed_says_how_to_get_one(invoke, monkeypatch):
    import stylize.zoo as pretrained

    monkeypatch.setattr(pretrained, "shipped_dir", lambda: pretrained.cache_dir() / "none")
    result = invoke("models")
    assert result.exit_code == 0 and "stylize train" in result.output


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    for i in range(6):
        gradient_image(50, 40, seed=i).save(root / ("sub" if i % 2 else ".") / f"{i}.png")
    (root / "broken.jpg").write_bytes(b"garbage")
    style = tmp_path / "style.png"
    stripes_image(48, 48).save(style)
    return root, style


TRAIN_FAST = ["--steps", "4", "--image-size", "32", "--batch-size", "2", "--workers", "0", "--width", "8",
              "--residual-blocks", "1", "--style-size", "48", "--log-every", "2", "--checkpoint-every", "2",
              "--preview-every", "2", "--preview-images", "1", "--device", "cpu"]


def test_train_writes_a_model_that_run_can_use(invoke, photos, tmp_path, model_cache):
    data, style = photos
    result = invoke("train", "--style", style, "--data", data, *TRAIN_FAST, "--lr", "0.002", "--seed", "3",
                    "--content-weight", "1", "--style-weight", "5", "--tv-weight", "0.5", "--weights", "caffe",
                    "--title", "Stripes", "--artist", "Me", "--year", "2026", "--license", "CC0", "--no-amp")
    assert result.exit_code == 0, result.output
    assert "Training on 5 images, 1 unreadable skipped (1 held back" in result.stderr
    assert "effective batch 2" in result.stderr
    # In a log (no terminal here): its first state and its last, whole, not a line at every --log-every (each
    # report of the losses redrew the bar) cut at 100 columns.
    # A bar's line shows its rate as step/s, or as s/step where a step takes over a second (a loaded machine).
    bars = [line for line in result.stderr.splitlines() if "/4 [" in line]
    assert len(bars) == 2 and bars[-1].startswith("100%") and "total=" in bars[-1] and "\r" not in result.stderr
    assert re.search(r"img/s=\d+\.\d\]$", bars[-1]), bars[-1]  # the last of the losses, whole
    model = model_cache / "style.safetensors"
    _, info = load_model(model)
    assert info.style == {**info.style, "title": "Stripes", "artist": "Me", "year": "2026", "license": "CC0"}
    assert info.training["seed"] == 3 and info.training["amp"] is False
    assert info.training["command"].startswith("stylize train --task style --style ")
    assert "--no-amp" in info.training["command"] and "--seed 3" in info.training["command"]
    assert (model_cache / "style_previews" / "step0000004.png").is_file()
    assert invoke("run", data / "0.png", "--model", "style", "-o", tmp_path / "o.png").exit_code == 0


def test_train_epochs_and_resume(invoke, photos, tmp_path):
    data, style = photos
    out = tmp_path / "m.safetensors"
    result = invoke("train", "--style", style, "--data", data, "-o", out, *TRAIN_FAST, "--epochs", "1", "-q")
    assert result.exit_code == 0, result.output
    assert load_model(out)[1].training["steps_done"] == 2  # 5 - 1 held back = 4 photos, batch 2
    more = invoke("train", "--style", style, "--data", data, "-o", out, *TRAIN_FAST, "--epochs", "2", "--resume", "-q")
    assert more.exit_code == 0, more.output
    assert load_model(out)[1].training["steps_done"] == 4


@pytest.mark.parametrize(("args", "code", "message"), [
    pytest.param(["--style", "STYLE", "--data", "EMPTY"], 1, "no readable images", id="empty data"),
    pytest.param(["--data", "NOPE", "--style", "STYLE"], 2, "does not exist", id="missing data"),
    pytest.param(["--style", "TEXT", "--data", "DATA"], 1, "not an image", id="bad style"),
    pytest.param(["--style", "STYLE", "--data", "DATA", "--resume"], 1, "nothing to resume", id="nothing to resume"),
    pytest.param(["--style", "STYLE", "-o", "PT", "--data", "DATA"], 2, "model files end in .safetensors",
                 id="bad output"),
    pytest.param(["--image-size", "8", "--style", "STYLE", "--data", "DATA"], 2,
                 "'--image-size': 8 is not in the range 32<=x<=2048", id="bad size"),
])
def test_train_errors(invoke, photos, tmp_path, args, code, message):
    data, style = photos
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.png").write_text("not an image")
    out = tmp_path / "m.safetensors"
    places = {"STYLE": style, "DATA": data, "EMPTY": tmp_path / "empty", "NOPE": tmp_path / "nope",
              "TEXT": tmp_path / "bad.png", "PT": tmp_path / "m.pt"}
    args = [places.get(arg, arg) for arg in args]
    if "-o" not in args:
        args += ["-o", out]
    fast = TRAIN_FAST if "--image-size" not in args else ["--steps", "1", "--workers", "0"]
    result = invoke("train", *args, *fast)
    invoke.error_line(result, code, message)
    assert not out.exists()


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime not installed")
def test_export_onnx_round_trip(invoke, model_file, tmp_path):
    out = tmp_path / "m.onnx"
    result = invoke("export", "stripes", "--onnx", out, "--opset", "17")
    assert result.exit_code == 0, result.output
    assert "checked with onnxruntime" in result.stderr
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    pixels = torch.rand(1, 3, 45, 67)
    (exported,) = session.run(None, {"image": pixels.numpy()})
    with torch.inference_mode():
        expected = load_model(model_file)[0](pixels)
    assert exported.shape == (1, 3, 45, 67)
    assert (torch.from_numpy(exported) - expected).abs().max() < 1e-4


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime not installed")
def test_export_of_a_shipped_model_says_one_line(invoke, tmp_path):
    import warnings

    from stylize.zoo import available_models

    if not any(e.name == "starry" and e.source == "shipped" for e in available_models()):
        pytest.skip("no shipped starry model")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = invoke("export", "shipped:starry", "-o", tmp_path / "starry.onnx")
    assert result.exit_code == 0 and result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if line.startswith("Wrote")]
    # The exporter's notes to its developers (other versions of torch may say other things; these it said).
    assert not [str(w.message) for w in caught if "Constant folding" in str(w.message)]


def test_export_unknown_model(invoke, tmp_path):
    result = invoke("export", "nosuch", "-o", tmp_path / "m.onnx", "-q")
    assert result.exit_code == 1 and "unknown model" in result.stderr


def test_export_output_must_be_an_onnx_file(invoke, tmp_path):
    result = invoke("export", "shipped:starry", "-o", tmp_path / "starry.png")
    assert result.exit_code == 2 and "starry.png: ONNX files end in .onnx" in result.stderr
    assert not list(tmp_path.iterdir())


def test_progress_in_a_log_file_is_plain_lines_not_an_endless_redrawn_one(invoke, tmp_path, model_file, monkeypatch):
    """Red-team: `nohup stylize train ... > train.log 2>&1` wrote tqdm's bar redrawn behind carriage returns, ten
    times a second: one endless line (a day's training about 25 MB) that neither `tail` nor `grep` can read.
    Where stderr is no terminal each redraw is a line of its own, at most every PLAIN_PROGRESS_SECONDS."""
    import io
    import sys

    from stylize.cli import jobs

    for index in range(3):
        gradient_image(40, 30, seed=index).save(tmp_path / f"p{index}.png")
    result = invoke("batch", *(tmp_path / f"p{index}.png" for index in range(3)), "--model", "stripes",
                    "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output
    lines = result.output.splitlines()
    assert lines[0].lstrip().startswith("0%|") and lines[1].lstrip().startswith("100%|") and "3/3" in lines[1]
    assert lines[2] == "3 done, 0 skipped (output exists), 0 failed, 0 not images"
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    bar = jobs.progress_bar(total=1000, unit="step")
    for _ in range(1000):  # done in well under PLAIN_PROGRESS_SECONDS: the first state and the last
        bar.update(1)
    bar.close()
    assert [line.split("|")[0].strip() for line in log.getvalue().splitlines()] == ["0%", "100%"]
    bar = jobs.progress_bar(total=5, leave=False)  # a bar that is cleared when it ends leaves no blank line
    bar.close()
    assert log.getvalue().count("\n") == 3 and not log.getvalue().endswith("\n\n")
