"""Super-resolution: the network, tiling at a scale, training pairs, the upscale command and its errors."""

import importlib.util
import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import gradient_image
from PIL import Image

from stylize.cli import cli
from stylize.config import UpscaleConfig, UpscaleTrainConfig
from stylize.errors import ConfigError
from stylize.images import load_image, pil_to_tensor, tensor_to_pil
from stylize.modelfile import save_model
from stylize.nets.johnson import JohnsonNet
from stylize.nets.srnet import SRNet
from stylize.png16 import write_png16
from stylize.tasks.network import tile_spec
from stylize.tasks.upscale import PairTransform, UpscaleObjective, Upscaler, blend_weights, shrink_region
from stylize.tensors import resize_matlab, resize_to, tile_boxes
from stylize.training.loop import fit


def tiny(scale: int, seed: int = 0) -> SRNet:
    torch.manual_seed(seed)
    net = SRNet(scale, width=8, blocks=2)
    with torch.no_grad():  # a visible residual, so that tiling mistakes would show
        for parameter in net.parameters():
            parameter.mul_(3)
    return net


@pytest.fixture
def model_file(tmp_path):
    return save_model(tmp_path / "x3.safetensors", tiny(3), "upscale", {})


SHIPPED_SCALES = [scale for scale in (2, 3, 4)
                  if any(e.name == f"upscale-x{scale}" for e in __import__("stylize.zoo").zoo.available_models())]


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("shape", [(1, 3, 17, 23), (2, 3, 8, 5)])
def test_output_is_exactly_scale_times_the_input(scale, shape):
    assert tiny(scale)(torch.rand(shape)).shape == (shape[0], 3, shape[2] * scale, shape[3] * scale)


@pytest.mark.parametrize("scale", [2, 3])
def test_tiled_equals_untiled(scale):
    upscaler = Upscaler(tiny(scale), device="cpu", config=UpscaleConfig(tile=0))
    tiled = Upscaler(tiny(scale), device="cpu", config=UpscaleConfig(tile=32))
    image = torch.rand(1, 3, 70, 53)
    assert len(tile_boxes(70, 53, 32, tiled.runner.spec)) >= 4
    # Before clamping, so that saturated pixels cannot hide a difference.
    assert torch.allclose(tiled.runner(image), upscaler.runner(image), rtol=1e-5, atol=1e-4)


def test_the_cpu_upscales_in_bf16_where_amx_makes_it_fast(monkeypatch):
    upscaler = Upscaler.load(None, "cpu", UpscaleConfig(scale=2))  # the shipped network (its weights matter)
    image = pil_to_tensor(gradient_image(40, 32))
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    exact = upscaler(image)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    rounded = upscaler(image)
    assert not torch.equal(rounded, exact)
    assert (rounded - exact).abs().mean() < 0.5 / 255  # 0.08 levels on a photo


@pytest.mark.parametrize("ensemble", [False, True])
def test_progress_counts_every_tile_of_every_pass(ensemble):
    calls = []
    upscaler = Upscaler(tiny(2), device="cpu", config=UpscaleConfig(tile=32, ensemble=ensemble),
                        on_progress=lambda done, total: calls.append((done, total)))
    tiles = len(tile_boxes(70, 53, 32, upscaler.runner.spec))  # a square turned a quarter has as many tiles
    upscaler(torch.rand(1, 3, 70, 70))
    passes = 8 if ensemble else 1
    total = passes * len(tile_boxes(70, 70, 32, upscaler.runner.spec))
    done = [count for count, _ in calls]
    assert tiles >= 4 and calls[0] == (0, total) and calls[-1] == (total, total)
    assert done == sorted(done) and set(done) == set(range(total + 1))  # every tile, never backwards
    assert {seen for _, seen in calls} == {total}


def test_cli_shows_the_tiles_of_one_large_image_unless_quiet(model_file, tmp_path):
    source = tmp_path / "photo.png"
    gradient_image(70, 60).save(source)
    shown = CliRunner().invoke(cli, ["upscale", str(source), "--model", str(model_file), "--tile", "32",
                                     "-o", str(tmp_path / "big.png"), "--device", "cpu"])
    tiles = len(tile_boxes(60, 70, 32, tile_spec(tiny(3))))
    assert shown.exit_code == 0 and f"0/{tiles} [" in shown.stderr and "tile" in shown.stderr  # the tqdm bar
    quiet = CliRunner().invoke(cli, ["upscale", str(source), "--model", str(model_file), "--tile", "32",
                                     "-o", str(tmp_path / "big.png"), "--device", "cpu", "-q"])
    assert quiet.exit_code == 0 and "tile" not in quiet.stderr


def test_self_ensemble_is_exactly_equivariant_and_exact_for_an_equivariant_network():
    image = torch.rand(1, 3, 11, 7)  # odd and not square: a turn undone the wrong way changes the shape
    ensemble = Upscaler(tiny(2), device="cpu", config=UpscaleConfig(tile=0, ensemble=True))
    plain = Upscaler(tiny(2), device="cpu", config=UpscaleConfig(tile=0))
    with torch.no_grad():
        output = ensemble(image)
        assert output.shape == (1, 3, 22, 14)
        assert not torch.allclose(output, plain(image), atol=1e-3)  # the tiny network is not equivariant
        # The average over the 8 flips and turns commutes with each of them, whatever the network.
        assert torch.allclose(ensemble(image.flip(-1)), output.flip(-1), atol=1e-5)
        assert torch.allclose(ensemble(image.rot90(1, (-2, -1))), output.rot90(1, (-2, -1)), atol=1e-5)
        # A network that is only its bicubic skip is equivariant already: the ensemble changes nothing.
        bicubic_only = tiny(2)
        bicubic_only.upsample[0].weight.zero_()
        bicubic_only.upsample[0].bias.zero_()
        expected = Upscaler(bicubic_only, device="cpu", config=UpscaleConfig(tile=0))(image)
        actual = Upscaler(bicubic_only, device="cpu", config=UpscaleConfig(tile=0, ensemble=True))(image)
        assert torch.allclose(actual, expected, atol=1e-5)


def test_sharpness_blends_weights_and_reproduces_each_end():
    faithful, crisp = tiny(2, seed=1), tiny(2, seed=2)
    x = torch.rand(1, 3, 9, 9)
    with torch.no_grad():
        assert torch.equal(blend_weights(faithful, crisp, 0.0)(x), faithful(x))
        assert torch.equal(blend_weights(faithful, crisp, 1.0)(x), crisp(x))
        middle = blend_weights(faithful, crisp, 0.5)
        expected = {k: (v + crisp.state_dict()[k]) / 2 for k, v in faithful.state_dict().items()}
        assert all(torch.allclose(middle.state_dict()[k], v, atol=1e-6) for k, v in expected.items())


def test_training_pairs_are_aligned_and_degraded_like_the_benchmarks():
    photo = gradient_image(100, 90)
    torch.manual_seed(0)
    low, high = PairTransform(3, 48)(photo)
    assert low.shape == (3, 16, 16) and high.shape == (3, 48, 48)
    # The low-resolution crop is the MATLAB bicubic downscale of the high one (up to 8-bit rounding and
    # the crop's border, where the whole photo's neighbours differ).
    expected = resize_matlab(high[None], 1 / 3)[0]
    assert (low - expected)[:, 2:-2, 2:-2].abs().max() < 1.5 / 255


def test_real_world_pairs_damage_the_low_resolution_crop_only():
    """--degradation real: the same crops as the clean pairs, the low-resolution one then blurred, noised or
    JPEG-compressed at random (most of them), the target untouched."""
    photo = gradient_image(100, 90)
    damaged = 0
    for seed in range(10):
        torch.manual_seed(seed)
        clean_low, clean_high = PairTransform(4, 64)(photo)
        torch.manual_seed(seed)
        low, high = PairTransform(4, 64, degradation="real")(photo)
        assert low.shape == (3, 16, 16) and torch.equal(high, clean_high)
        damaged += bool((low - clean_low).abs().max() > 1.5 / 255)
    assert damaged >= 5


def test_scale_augmentation_shrinks_the_photo_but_never_below_a_crop(monkeypatch):
    # A horizontal ramp: the span of values across a crop tells how much of the photo it covers.
    ramp = torch.linspace(0, 1, 200).expand(1, 3, 120, 200)
    photo = tensor_to_pil(ramp)

    def spans(transform, seeds=range(8)):
        result = []
        for seed in seeds:
            torch.manual_seed(seed)
            low, high = transform(photo)
            assert low.shape == (3, 16, 16) and high.shape == (3, 64, 64)
            expected = resize_matlab(high[None], 1 / 4)[0]  # still the benchmark degradation of the crop
            assert (low - expected)[:, 2:-2, 2:-2].abs().max() < 1.5 / 255
            result.append(float(high.max() - high.min()))  # flips and turns do not change it
        return result

    plain = spans(PairTransform(4, 64))
    assert max(plain) - min(plain) < 0.01  # the same coverage every time: 63/199 of the ramp
    shrunk = spans(PairTransform(4, 64, rescale=0.6))
    assert max(shrunk) > 1.2 * plain[0] and max(shrunk) < plain[0] / 0.6 + 0.01
    # The short side (120 px) may shrink to the crop's 64, never below (an enlarged photo would be blurred).
    factors = []

    def recording(pixels, factor):
        if factor != 1 / 4:  # the scale augmentation's resize, not the crop's downscale
            factors.append(factor)
        return resize_matlab(pixels, factor)

    monkeypatch.setattr("stylize.tasks.upscale.resize_matlab", recording)
    spans(PairTransform(4, 64, rescale=0.25), seeds=range(20))
    assert len(factors) == 20 and min(factors) >= 64 / 120 and max(factors) < 1


@pytest.mark.parametrize("factor", [0.5, 0.75])
def test_a_shrunk_region_equals_the_shrunk_photo_without_border_effects(monkeypatch, factor):
    photo = torch.rand(1, 3, 300, 360, generator=torch.Generator().manual_seed(0))
    start = 16  # where the region begins along each axis; 16 * factor is whole, so the grids coincide
    monkeypatch.setattr(torch, "randint", lambda low, high, size: torch.tensor(start))
    region = shrink_region(photo, 48, factor)
    assert min(region.shape[-2:]) >= 48 and max(region.shape[-2:]) < 0.75 * 300
    whole = resize_matlab(photo, factor)
    first = round(start * factor) + math.ceil((math.ceil(2 / factor) + 1) * factor)  # the cut border's pixels
    height, width = region.shape[-2:]
    assert torch.allclose(region, whole[..., first : first + height, first : first + width], atol=1e-5)


@pytest.mark.parametrize(("degradation", "recorded"), [("bicubic", "matlab-bicubic"),
                                                        ("real", "matlab-bicubic, blur, noise, jpeg")])
def test_a_few_training_steps_lower_the_loss(tmp_path, degradation, recorded):
    data = tmp_path / "photos"
    data.mkdir()
    for i in range(6):
        gradient_image(64, 64, seed=i).save(data / f"{i}.png")
    logs = []
    config = UpscaleTrainConfig(scale=2, image_size=32, batch_size=4, steps=30, lr=3e-3, workers=0, width=8,
                                blocks=1, log_every=5, preview_images=1, preview_every=30, degradation=degradation)
    result = fit(UpscaleObjective(config), data, tmp_path / "x2.safetensors", device="cpu", on_log=logs.append)
    assert logs[-1].losses["pixel"] < 0.8 * logs[0].losses["pixel"]
    upscaler = Upscaler.load(result.model_path, "cpu")
    assert upscaler.scale == 2 and upscaler.info.document["upscale"]["kind"] == "faithful"
    assert upscaler.info.document["upscale"]["degradation"] == recorded
    assert (tmp_path / "x2_previews" / "step0000030.png").is_file()


@pytest.mark.skipif(2 not in SHIPPED_SCALES, reason="no shipped upscale models")
@pytest.mark.parametrize(("suffix", "frame_count"), [(".png", 1), (".apng", 2), (".apng", 1)])
def test_a_cut_outs_enlarged_edge_keeps_its_colour_whatever_is_stored_under_its_clear_pixels(invoke, tmp_path,
                                                                                              suffix, frame_count):
    """A cut-out's clear pixels store a colour that means nothing (often black, here also green and white): the
    network spread it into the enlarged edge, a dark, green or light fringe. It enlarges the picture over its
    own colours spread there (images.on_own_colours): an orange disc's edge stays orange, and the output is the
    same whatever is stored. A sticker's frames the same (an animated PNG), and an animated PNG of one frame,
    which is a still (`-o big.apng` was refused for it: "unknown image extension")."""
    disc = np.zeros((20, 28, 4), np.uint8)
    disc[..., :3] = (230, 120, 40)
    ys, xs = np.mgrid[0:20, 0:28]
    disc[..., 3] = np.clip((8.5 - np.hypot(ys - 9.5, xs - 13.5)) * 128, 0, 255).astype(np.uint8)  # a soft edge
    outputs = []
    for stored in ((0, 0, 0), (0, 255, 0), (255, 255, 255)):
        disc[disc[..., 3] == 0, :3] = stored
        frames = [Image.fromarray(disc), Image.fromarray(np.roll(disc, 1, axis=1))][:frame_count]
        frames[0].save(tmp_path / f"cut{suffix}", format="PNG", save_all=True, append_images=frames[1:], duration=100)
        result = invoke("upscale", tmp_path / f"cut{suffix}", "--scale", "2", "-o", tmp_path / f"big{suffix}")
        assert result.exit_code == 0, result.output
        with Image.open(tmp_path / f"big{suffix}") as big:
            outputs.append(np.asarray(big.convert("RGBA")).astype(int))
        seen = outputs[-1][..., 3] > 8
        assert outputs[-1].shape == (40, 56, 4) and seen.sum() > 700
        assert np.abs(outputs[-1][..., :3][seen] - (230, 120, 40)).max() <= 12, stored
    assert all(np.array_equal(outputs[0][seen], other[seen]) for other in outputs[1:])


def test_a_gray_cut_out_stays_gray_whatever_is_stored_under_its_clear_pixels(invoke, model_file, tmp_path):
    """A black-and-white cut-out saved as RGBA with green under its clear pixels was taken for a colour photo, and
    the tiny network's tint stayed: its colours are its own spread there (images.on_own_colours), and it stays
    neutral."""
    cut = np.asarray(gradient_image(21, 15).convert("L").convert("RGBA")).copy()
    cut[:, :6] = (0, 255, 0, 0)
    Image.fromarray(cut).save(tmp_path / "scan.png")
    result = invoke("upscale", tmp_path / "scan.png", "--model", model_file, "-o", tmp_path / "big.png")
    assert result.exit_code == 0, result.output
    big = np.asarray(Image.open(tmp_path / "big.png").convert("RGBA")).astype(int)
    seen = big[..., 3] > 0
    assert big.shape == (45, 63, 4) and seen.any()
    assert (big[..., 0] == big[..., 1])[seen].all() and (big[..., 1] == big[..., 2])[seen].all()


def test_cli_single_file_keeps_alpha_and_metadata(invoke, model_file, tmp_path):
    image = gradient_image(21, 15).convert("RGBA")
    image.putalpha(Image.new("L", image.size, 128))
    source = tmp_path / "photo.png"
    exif = Image.Exif()
    exif[0x010F] = "Scanner maker"
    image.save(source, exif=exif)
    result = invoke("upscale", source, "--model", model_file, "-o", tmp_path / "big.png", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.stderr and "63x45" in result.stderr
    with Image.open(tmp_path / "big.png") as big:
        assert big.mode == "RGBA" and big.size == (63, 45)
        assert abs(big.getchannel("A").getextrema()[0] - 128) <= 1
        assert big.getexif()[0x010F] == "Scanner maker"

@pytest.mark.parametrize(("mode", "suffix", "written"), [("L", ".png", "L"), ("LA", ".png", "LA"),
                                                        ("I;16", ".png", "I;16"), ("I;16", ".jpg", "L"),
                                                        ("neutral RGB", ".png", "RGB"), ("RGB", ".png", "RGB"),
                                                        ("RGB;16", ".png", "RGB")])
def test_cli_grayscale_photo_stays_grayscale(invoke, model_file, tmp_path, mode, suffix, written):
    # The tiny network's output for a gray photo is tinted (its channels differ), as the shipped ones are
    # slightly: a black-and-white scan must come back black and white, a colour photo in colour.
    image = gradient_image(13, 11)
    source = tmp_path / "scan.png"
    if mode == "RGB":
        image.save(source)
    elif mode == "neutral RGB":  # a black-and-white photo saved as RGB, its channels a level apart here and there
        levels = np.repeat(np.asarray(image.convert("L"))[..., None], 3, axis=2).astype("int16")
        levels[::3, ::2, 2] += 1
        Image.fromarray(levels.clip(0, 255).astype("uint8")).save(source)
    elif mode == "I;16":
        Image.fromarray((torch.rand(11, 13) * 65535).to(torch.int32).numpy().astype("uint16")).save(source)
    elif mode == "RGB;16":  # a 16-bit colour scan (Pillow alone would read it at 8 bits and open it as "RGB")
        pytest.importorskip("cv2")
        with open(source, "wb") as stream:
            write_png16(stream, pil_to_tensor(image)[0])
    else:
        image.convert(mode).save(source)
    output = tmp_path / f"big{suffix}"
    assert invoke("upscale", source, "--model", model_file, "-o", output, "--device", "cpu").exit_code == 0
    with Image.open(output) as big:
        assert big.mode == written and big.size == (39, 33)
        if written == "I;16":  # levels between the 8-bit ones: the 16 bits were not rounded away on the way
            assert (torch.from_numpy(np.asarray(big, dtype="int32")) % 257).any()
        channels = load_image(output).pixels
    if mode == "RGB;16":  # written with 16 bits a channel too
        import cv2

        levels = cv2.imread(str(output), cv2.IMREAD_UNCHANGED)
        assert levels.dtype == np.uint16 and levels.shape == (33, 39, 3) and (levels % 257).any()
    spread = (channels.amax(dim=1) - channels.amin(dim=1)).max()
    assert (spread > 0.1) if mode.startswith("RGB") else (spread == 0)
    if not mode.startswith("RGB"):
        colour = tiny(3)(load_image(source).pixels)
        assert (colour[:, 0] - colour[:, 1]).abs().max() > 0.01  # what would have been written in colour


def test_neutral_means_channels_within_two_levels_and_sepia_is_colour():
    from stylize.tasks.upscale import is_neutral

    gray = torch.rand(1, 1, 9, 7).expand(1, 3, 9, 7).clone()
    assert is_neutral(gray)
    assert is_neutral(gray + torch.tensor([0, 1, 2]).view(1, 3, 1, 1) / 255)
    sepia = gray * torch.tensor([1.0, 0.9, 0.7]).view(1, 3, 1, 1)  # toned prints keep their tone
    assert not is_neutral(sepia) and not is_neutral(gray + torch.tensor([0, 0, 3]).view(1, 3, 1, 1) / 255)


def test_cli_default_output_name_and_folders(invoke, model_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scans" / "old").mkdir(parents=True)
    gradient_image(10, 8).save(tmp_path / "scans" / "a.jpg")
    gradient_image(9, 7).save(tmp_path / "scans" / "old" / "b.png")
    assert invoke("upscale", "scans/a.jpg", "--model", model_file, "-q").exit_code == 0
    assert load_image(tmp_path / "a_x3.png").pixels.shape == (1, 3, 24, 30)
    result = invoke("upscale", "scans", "-o", "big", "--model", model_file, "--format", "webp", "--suffix", "_x3",
                    "--report", "report.json", "--io-threads", "1", "--batch-size", "2", "--shard", "1/1",
                    "--overwrite", "--tile", "0", "--quality", "90")
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(tmp_path / "big").as_posix() for p in (tmp_path / "big").rglob("*.webp")) == [
        "a_x3.webp", "old/b_x3.webp"]


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("scale without a model", 2, "no model for x3 is installed"),
        ("bad scale", 2, "'--scale': 9 is not in the range 1<=x<=8"),
        ("scale of one", 2, "scale must be above 1 (an enlargement), got 1"),
        ("style model", 1, "is a model for 'style', not 'upscale': use it with `stylize run --model`"),
        ("sharpness with a model", 2, "cannot be used with --model"),
        ("real-world network with a model", 2, "--degradation real chooses the shipped network for JPEG and noisy "
                                               "photos; it cannot be used with --model"),
        ("real-world network with sharpness", 2, "has no crisp twin: use one or the other"),
        ("too large", 1, "would be 36x30, over the limit of"),
        ("folder without -o", 2, "give -o FOLDER"),
        ("missing file without -o", 2, "missing.png: no such file, folder or pattern"),
        ("empty pattern without -o", 2, "*.tif: the pattern matches no file"),
        ("unwritable format", 2, "out.tif: unknown image extension; use one of .apng, .jpeg, .jpg, .png, .webp"),
    ],
)
def test_bad_input(invoke, model_file, tmp_path, monkeypatch, case, code, message):
    import stylize.tasks.upscale as upscale_task

    photo = tmp_path / "p.png"
    gradient_image(12, 10).save(photo)
    style_model = save_model(tmp_path / "style.safetensors", JohnsonNet(width=8, residual_blocks=1), "style", {})
    if case == "scale without a model":
        monkeypatch.setattr(upscale_task, "shipped_name", lambda scale, sharp=False: "no-such-model")
    if case == "too large":
        monkeypatch.setattr(upscale_task, "MAX_PIXELS", 1000)
    args = {
        "scale without a model": [photo, "--scale", "3"],
        "bad scale": [photo, "--scale", "9"],
        "scale of one": [photo, "--scale", "1"],
        "style model": [photo, "--model", style_model],
        "sharpness with a model": [photo, "--model", model_file, "--sharpness", "0.5"],
        "real-world network with a model": [photo, "--model", model_file, "--degradation", "real"],
        "real-world network with sharpness": [photo, "--degradation", "real", "--sharpness", "0.5"],
        "too large": [photo, "--model", model_file],
        "folder without -o": [tmp_path, "--model", model_file],
        "missing file without -o": [tmp_path / "missing.png", "--model", model_file],
        "empty pattern without -o": [tmp_path / "*.tif", "--model", model_file],
        "unwritable format": [photo, "--model", model_file, "-o", tmp_path / "out.tif"],  # not a folder either
    }[case]
    result = invoke("upscale", *args) if case.endswith("without -o") or "-o" in args else \
        invoke("upscale", *args, "-o", tmp_path / "out.png")
    invoke.error_line(result, code, message)
    assert not (tmp_path / "out.png").exists() and not (tmp_path / "out.tif").exists()


@pytest.mark.parametrize(("scale", "network"), [(1.5, 2), (2, 2), (2.5, 3), (3, 3), (3.5, 4), (4, 4), (6, 4), (8, 4)])
def test_any_factor_runs_the_next_network_up_and_resizes_its_output(scale, network):
    """Real-ESRGAN's --outscale: x2.5 is x3's network shrunk, x6 x4's enlarged (benchmarks/upscale_any_scale.py)."""
    upscaler = Upscaler.load(None, "cpu", UpscaleConfig(scale=scale))  # the shipped networks
    photo = pil_to_tensor(gradient_image(31, 22))
    enlarged = upscaler(photo)
    assert upscaler.network_scale == network and upscaler.largest_factor == max(scale, network)
    assert enlarged.shape == (1, 3, int(22 * scale + 0.5), int(31 * scale + 0.5))
    direct = Upscaler.load(None, "cpu", UpscaleConfig(scale=network))(photo)
    assert torch.equal(enlarged, resize_to(direct, enlarged.shape[-2:]))
    # Not a blur: the gradient's mean is kept, and the network's detail is in it (not bicubic's).
    assert (enlarged.mean() - photo.mean()).abs() < 0.01
    assert scale == network or not torch.allclose(enlarged, resize_to(photo, enlarged.shape[-2:]), atol=0.01)


def test_video_frames_keep_even_sides_and_black_and_white_frames_stay_neutral():
    upscaler = Upscaler(tiny(2), device="cpu", config=UpscaleConfig(scale=1.5))
    gray = torch.rand(1, 1, 10, 14).expand(1, 3, 10, 14)
    frames = upscaler.frames(torch.cat([gray, torch.rand(1, 3, 10, 14)]))
    assert frames.shape == (2, 3, 16, 22)  # 15x21 rounded up to even sides: 4:2:0 video holds it
    assert torch.equal(frames[0, 0], frames[0, 1]) and torch.equal(frames[0, 1], frames[0, 2])
    assert not torch.equal(frames[1, 0], frames[1, 1])
    assert upscaler.frames(torch.rand(1, 3, 9, 14)).shape[-2:] == (14, 21)  # odd frames: as they come


def test_cli_any_factor_names_its_output_and_keeps_alpha_and_a_models_own_scale_resizes(invoke, model_file,
                                                                                      tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    image = gradient_image(20, 14).convert("RGBA")
    image.putalpha(Image.new("L", image.size, 200))
    image.save(tmp_path / "cut.png")
    result = invoke("upscale", "cut.png", "--scale", "2.5", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "cut_x2.5.png (50x35, x2.5 on cpu)" in result.stderr
    with Image.open(tmp_path / "cut_x2.5.png") as big:
        assert big.mode == "RGBA" and big.size == (50, 35)
        assert abs(big.getchannel("A").getextrema()[0] - 200) <= 1 and big.getchannel("A").getextrema()[1] <= 201
    # A model of its own factor (x3 here) enlarges by --scale the same way: its output resized.
    assert invoke("upscale", "cut.png", "--model", model_file, "--scale", "2", "-q").exit_code == 0
    with Image.open(tmp_path / "cut_x2.png") as big:
        assert big.size == (40, 28)
    assert invoke("upscale", "cut.png", "--model", model_file, "-q").exit_code == 0
    with Image.open(tmp_path / "cut_x3.png") as big:
        assert big.size == (60, 42)


def test_an_upscale_model_is_refused_by_run(invoke, model_file, tmp_path):
    photo = tmp_path / "p.png"
    gradient_image(12, 10).save(photo)
    result = invoke("run", photo, "--model", model_file, "-o", tmp_path / "o.png")
    assert result.exit_code == 2 and "is a model for 'upscale', not a style model" in result.stderr


def test_config_checks():
    with pytest.raises(ConfigError, match="multiple of the scale"):
        UpscaleTrainConfig(scale=3, image_size=64)
    with pytest.raises(ConfigError, match="bicubic or real"):
        UpscaleTrainConfig(degradation="jpeg")


def test_fine_tuning_starts_from_another_models_matching_weights(invoke, tmp_path):
    data = tmp_path / "photos"
    data.mkdir()
    for i in range(5):
        gradient_image(48, 48, seed=i).save(data / f"{i}.png")
    x4 = save_model(tmp_path / "x4.safetensors", tiny(4), "upscale", {})
    result = invoke("train", "--task", "upscale", "--scale", "2", "--data", data, "-o", tmp_path / "x2.safetensors",
                    "--init", x4, "--width", "8", "--blocks", "2", "--steps", "1", "--lr", "1e-9", "--lr-decay",
                    "none", "--image-size", "32", "--batch-size", "2", "--workers", "0", "--preview-images", "0",
                    "-q")
    assert result.exit_code == 0, result.output
    from stylize.modelfile import load_model

    tuned, info = load_model(tmp_path / "x2.safetensors")
    source = tiny(4).state_dict()
    assert torch.allclose(tuned.state_dict()["head.weight"], source["head.weight"], atol=1e-6)
    assert "--init" in info.training["command"] and info.training["init"] == str(x4)
    mismatch = invoke("train", "--task", "upscale", "--scale", "2", "--data", data, "-o", tmp_path / "y.safetensors",
                      "--init", x4, "--width", "16", "--steps", "1", "--workers", "0", "--batch-size", "2",
                      "--image-size", "32", "-q")
    assert mismatch.exit_code == 2 and "none of its weights fit" in mismatch.stderr


def test_training_warns_once_about_photos_smaller_than_a_crop(invoke, tmp_path):
    data = tmp_path / "photos"
    data.mkdir()
    for i, side in enumerate((48, 48, 30, 28)):  # two of them under the 32 px crops: enlarged to fit
        gradient_image(side, 40, seed=i).save(data / f"{i}.png")
    args = ("--data", data, "--steps", "1", "--image-size", "32", "--batch-size", "2", "--workers", "0",
            "--preview-images", "0", "--width", "8")
    result = invoke("train", "--task", "upscale", "--scale", "2", "--blocks", "1", "-o", tmp_path / "x2.safetensors",
                    *args, "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("Warning: 2 of the 4 training photos are smaller than the 32 px crops") == 1
    style = invoke("train", "--style", data / "0.png", "-o", tmp_path / "s.safetensors", *args, "-q")
    assert style.exit_code == 0 and "Warning" not in style.stderr  # random resized crops resample anyway


def test_tiny_photos_train_but_are_not_held_back_for_previews(invoke, tmp_path):
    """A 1x1 photo (and a 2000x1 banner) held back for an x4 preview was a crop no network could take: a
    traceback at the first preview. Only photos of MIN_PREVIEW_SIDE (16 px) or more are held back; the rest
    train."""
    data = tmp_path / "photos"
    data.mkdir()
    for i in range(5):
        gradient_image(72, 64, seed=i).save(data / f"{i}.png")
    for i in range(4):
        gradient_image(1, 1, seed=i).save(data / f"dot{i}.png")
    gradient_image(2000, 1).save(data / "line.png")
    result = invoke("train", "--task", "upscale", "--scale", "4", "--data", data, "-o", tmp_path / "x4.safetensors",
                    "--width", "8", "--blocks", "1", "--steps", "2", "--image-size", "32", "--batch-size", "2",
                    "--workers", "0", "--preview-images", "3", "--preview-every", "1")
    assert result.exit_code == 0, result.output
    sheets = sorted((tmp_path / "x4_previews").iterdir())
    assert [sheet.name for sheet in sheets] == ["step0000001.png", "step0000002.png"]
    with Image.open(sheets[-1]) as sheet:
        assert sheet.size == (3 * 32, 3 * 32)  # three photos' 32 px centre crops, three rows each


def test_held_back_photos_smaller_than_the_crops_share_the_preview_sheet(invoke, tmp_path):
    """Red-team: `train --task upscale --data /proc` held back a 24 px photo among 192 px crops; the preview sheet
    could not stack their columns (a traceback at the first preview, before that step's checkpoint)."""
    data = tmp_path / "photos"
    data.mkdir()
    for i in range(4):
        gradient_image(72, 64, seed=i).save(data / f"{i}.png")
    gradient_image(20, 18, seed=9).save(data / "small.png")
    result = invoke("train", "--task", "upscale", "--scale", "2", "--data", data, "-o", tmp_path / "x2.safetensors",
                    "--width", "8", "--blocks", "1", "--steps", "2", "--image-size", "32", "--batch-size", "2",
                    "--workers", "0", "--preview-images", "2", "--preview-every", "1", "--seed", "4", "-q")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "x2_previews" / "step0000002.png") as sheet:
        # seed 4 holds back small.png and 3.png: the 18 px crop's column (3 x 18 px high) is enlarged to the
        # other's 3 x 32 px, its pixels as they are
        assert sheet.size == (32 + 32, 3 * 32)
    assert (tmp_path / "x2.ckpt").is_file()


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime not installed")
def test_export_onnx_upscaler_round_trip_and_colorizer_refused(invoke, model_file, tmp_path):
    out = tmp_path / "x3.onnx"
    result = invoke("export", model_file, "-o", out)
    assert result.exit_code == 0 and "checked with onnxruntime" in result.stderr, result.output
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["upscaled"]
    pixels = torch.rand(2, 3, 19, 26)
    (exported,) = session.run(None, {"image": pixels.numpy()})
    with torch.inference_mode():
        expected = tiny(3)(pixels)
    assert exported.shape == (2, 3, 57, 78) and (torch.from_numpy(exported) - expected).abs().max() < 1e-4
    from stylize.nets.colornet import ColorNet

    colorizer = save_model(tmp_path / "k.safetensors", ColorNet(width=8), "colorize", {})
    refused = invoke("export", colorizer, "-o", tmp_path / "k.onnx")
    assert refused.exit_code == 1 and "only style, upscale and arbitrary models can be exported" in refused.stderr
    assert not (tmp_path / "k.onnx").exists()


@pytest.mark.skipif(not SHIPPED_SCALES, reason="no shipped upscale models")
@pytest.mark.parametrize("scale", SHIPPED_SCALES)
def test_shipped_models_beat_bicubic_on_a_held_out_crop(scale):
    from pathlib import Path

    photo = load_image(Path(__file__).resolve().parents[1] / "examples" / "chelsea.jpg").pixels
    truth = photo[..., 60:156, 120:240]  # 120x96: divisible by 2, 3 and 4; never trained on
    low = resize_matlab(truth, 1 / scale).clamp(0, 1).mul(255).round().div(255)

    def psnr(output):
        error = (output.clamp(0, 1) - truth)[..., scale:-scale, scale:-scale].pow(2).mean()
        return -10 * torch.log10(error).item()

    bicubic = psnr(resize_matlab(low, scale))
    for sharpness in (0.0, 1.0):
        ours = Upscaler.load(None, "cpu", UpscaleConfig(scale=scale, sharpness=sharpness))(low)
        assert ours.shape[-2:] == truth.shape[-2:]
        if sharpness == 0:
            assert psnr(ours) > bicubic + 0.3


def test_an_input_whose_upscaled_size_is_too_large_is_refused_before_decoding(tmp_path, monkeypatch):
    """Red-team 4: a 165 KB 12000x12000 PNG with --scale 2 was decoded whole (6.7 GB) before the guard."""
    from click.testing import CliRunner
    from PIL import Image

    from stylize.cli import cli

    big = tmp_path / "big.png"
    Image.new("1", (9000, 9000)).save(big)  # 81 MP, 324 MP at x2: over the 150 MP limit
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("the pixels were decoded"))
    result = CliRunner().invoke(cli, ["upscale", str(big), "--scale", "2", "-o", str(tmp_path / "x.png")])
    # The limit of an input is what x2 can enlarge within 150 MP, and the line says so ("38 MP" alone puzzled).
    assert result.exit_code == 1 and result.stderr.splitlines()[-1].endswith(
        "(81 MP), over the limit of 38 MP (the largest photo x2 enlarges within 150 MP; a smaller --scale takes "
        "larger ones)"), result.output
    assert not (tmp_path / "x.png").exists()


def _jpeg_of(truth: torch.Tensor, path, quality: int) -> torch.Tensor:
    """The MATLAB bicubic x4 downscale of `truth` saved at `path` as a JPEG of `quality`, as read back."""
    tensor_to_pil(resize_matlab(truth, 1 / 4).clamp(0, 1)).save(path, quality=quality)
    return load_image(path).pixels


@pytest.mark.skipif(4 not in SHIPPED_SCALES, reason="no shipped upscale models")
def test_the_real_world_network_enlarges_a_web_jpeg_closer_and_auto_chooses_it(invoke, tmp_path):
    """A JPEG saved at quality 40 (a web image): the network trained on JPEG and noise (--degradation real) comes
    closer to the photo than the pair trained on the clean downscale, which sharpens the 8x8 blocks as detail.
    --degradation auto takes it for that JPEG only (its quality read from the file), also in a batch of
    same-sized images, and says so."""
    from pathlib import Path

    photo = load_image(Path(__file__).resolve().parents[1] / "examples" / "chelsea.jpg").pixels
    truth = photo[..., 40:232, 80:320]  # 240x192: the cat's face, never trained on
    low = _jpeg_of(truth, tmp_path / "web.jpg", 40)

    def psnr(output):
        error = (output.clamp(0, 1) - truth)[..., 4:-4, 4:-4].pow(2).mean()
        return -10 * torch.log10(error).item()

    clean = Upscaler.load(None, "cpu", UpscaleConfig(degradation="bicubic"))(low)
    real = Upscaler.load(None, "cpu", UpscaleConfig(degradation="real"))(low)
    assert real.shape == clean.shape == truth.shape
    assert psnr(real) > psnr(clean) + 0.2
    _jpeg_of(truth, tmp_path / "camera.jpg", 95)
    tensor_to_pil(low).save(tmp_path / "lossless.png")
    for batch in ("1", "3"):
        out = tmp_path / f"out{batch}"
        result = invoke("upscale", tmp_path / "*.*g", "-o", out, "--report", tmp_path / f"r{batch}.json",
                        "--batch-size", batch)
        assert result.exit_code == 0, result.output
        chosen = {Path(r["source"]).name: r["details"] for r in json.loads((tmp_path / f"r{batch}.json").read_text())
                  ["files"]}
        assert chosen == {"web.jpg": {"degradation": "real", "jpeg_quality": 40},
                          "camera.jpg": {"degradation": "bicubic", "jpeg_quality": 95},
                          "lossless.png": {"degradation": "bicubic", "jpeg_quality": None}}
        assert torch.allclose(load_image(out / "web.png").pixels, real.clamp(0, 1), atol=1.5 / 255)
    result = invoke("upscale", tmp_path / "web.jpg", "-o", tmp_path / "one.png")
    assert "a JPEG of quality 40: the network for JPEG and noisy photos" in result.stderr


def test_models_lists_the_real_world_network_for_what_it_is(invoke):
    result = invoke("models")
    assert result.exit_code == 0
    line = next((line for line in result.output.splitlines() if line.startswith("upscale-x4-real")), None)
    assert line is not None and "x4, faithful, for JPEG and noisy photos" in line
