"""Colorization from references: lightness kept, colours recovered, references chosen, bad inputs."""

from pathlib import Path

import pytest
import torch
from conftest import gradient_image, stripes_image
from PIL import Image

from stylize.colorspace import lab_to_rgb, lab_to_rgb_in_gamut, rgb_to_lab
from stylize.images import load_image
from stylize.tasks.colorize import Colorizer, gray_rgb


def scene(seed: int = 0, size: int = 96) -> torch.Tensor:
    """Blue sky over green ground with a red house: regions of distinct colour and luminance."""
    generator = torch.Generator().manual_seed(seed)
    image = torch.zeros(1, 3, size, size)
    image[..., : size // 2, :] = torch.tensor([0.35, 0.55, 0.9]).view(1, 3, 1, 1)
    image[..., size // 2 :, :] = torch.tensor([0.2, 0.55, 0.15]).view(1, 3, 1, 1)
    image[..., size // 3 : 2 * size // 3, size // 3 : 2 * size // 3] = torch.tensor([0.8, 0.15, 0.1]).view(1, 3, 1, 1)
    return (image + 0.03 * torch.randn(image.shape, generator=generator)).clamp(0, 1)


def delta(a: torch.Tensor, b: torch.Tensor) -> float:
    return (rgb_to_lab(a) - rgb_to_lab(b)).norm(dim=1).mean().item()


def test_lab_round_trip_and_gamut_keeps_lightness():
    pixels = torch.rand(1, 3, 8, 8)
    assert torch.allclose(lab_to_rgb(rgb_to_lab(pixels)), pixels, atol=1e-4)
    lightness = rgb_to_lab(pixels)[:, :1]
    rgb = lab_to_rgb_in_gamut(lightness, torch.full((1, 2, 8, 8), 120.0))
    assert rgb.min() >= 0 and rgb.max() <= 1
    assert (rgb_to_lab(rgb)[:, :1] - lightness).abs().max() < 0.05


def test_lightness_is_the_photos_and_its_own_colours_come_back():
    original = scene()
    gray = gray_rgb(rgb_to_lab(original)[:, :1])
    colorizer = Colorizer([("self", original)], device="cpu")
    result = colorizer(gray)
    quantized = result.mul(255).round().div(255)
    assert (rgb_to_lab(quantized)[:, :1] - rgb_to_lab(gray)[:, :1]).abs().max() < 0.6  # 8-bit rounding only
    assert delta(result, original) < 0.3 * delta(gray, original)


def test_colour_inputs_are_reduced_to_lightness_first():
    original = scene()
    colorizer = Colorizer([("self", original)], device="cpu")
    sepia = lab_to_rgb_in_gamut(rgb_to_lab(original)[:, :1], torch.tensor([8.0, 25.0]).view(1, 2, 1, 1).expand(
        1, 2, 96, 96))
    assert torch.allclose(colorizer(sepia), colorizer(gray_rgb(rgb_to_lab(original)[:, :1])), atol=1e-3)


def test_several_references_and_strength(tmp_path):
    original = scene()
    gray = gray_rgb(rgb_to_lab(original)[:, :1])
    top, bottom = original.clone(), original.clone()
    top[..., 48:, :] = 0.5
    bottom[..., :48, :] = 0.5
    both = Colorizer([("top", top), ("bottom", bottom)], device="cpu")(gray)
    assert delta(both, original) < 0.4 * delta(gray, original)
    from stylize.config import ColorizeConfig

    faint = Colorizer([("self", original)], ColorizeConfig(strength=0.0), device="cpu")(gray)
    assert delta(faint, gray) < 0.5


def test_folder_retrieval_picks_the_near_duplicate(invoke, tmp_path):
    folder = tmp_path / "refs"
    folder.mkdir()
    Image.fromarray((scene(seed=3)[0].permute(1, 2, 0) * 255).byte().numpy()).save(folder / "twin.png")
    stripes_image(96, 96).save(folder / "stripes.png")
    gradient_image(96, 96, seed=9).save(folder / "gradient.png")
    Image.new("L", (96, 96), 128).save(folder / "gray.png")  # gray images are never references
    photo = tmp_path / "photo.png"
    gray = gray_rgb(rgb_to_lab(scene(seed=1))[:, :1])
    Image.fromarray((gray[0].permute(1, 2, 0) * 255).round().byte().numpy()).save(photo)
    report = tmp_path / "report.json"
    result = invoke("colorize", photo, "--references", folder, "--top", "1", "-o", tmp_path / "out", "--report",
                    report)
    assert result.exit_code == 0, result.output
    import json

    used = json.loads(report.read_text())["files"][0]["details"]["references"]
    assert [u.rsplit("/", 1)[-1] for u in used] == ["twin.png"]
    colored = load_image(tmp_path / "out" / "photo.png").pixels
    assert delta(colored, scene(seed=1)) < 0.4 * delta(gray, scene(seed=1))


def test_cli_single_file(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pil_reference = Image.fromarray((scene()[0].permute(1, 2, 0) * 255).byte().numpy())
    pil_reference.save(tmp_path / "ref.png")
    pil_reference.convert("L").save(tmp_path / "old.png")
    result = invoke("colorize", "old.png", "--reference", "ref.png", "--strength", "0.8", "--working-size", "128",
                    "--quality", "90", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.stderr and "references: ref.png" in result.stderr
    out = load_image(tmp_path / "old_color.png").pixels
    assert out.shape == (1, 3, 96, 96) and rgb_to_lab(out)[:, 1:].abs().mean() > 5


@pytest.mark.parametrize(("args", "code", "message"), [
    pytest.param(["PHOTO"], 2, "colorize needs a colour reference", id="no reference"),
    pytest.param(["PHOTO", "--reference", "GRAY"], 1, "is itself black and white", id="gray reference"),
    pytest.param(["--reference", "NOPE", "PHOTO"], 2, "does not exist", id="missing reference"),
    pytest.param(["TEXT", "--reference", "REFERENCE"], 1, "not an image", id="unreadable photo"),
    pytest.param(["--reference", "TEXT", "PHOTO"], 1, "not an image", id="unreadable reference"),
])
def test_bad_input(invoke, tmp_path, monkeypatch, args, code, message):
    import stylize.tasks.colorize

    # "no reference" is an error only where no automatic model is installed: simulate that.
    monkeypatch.setattr(stylize.tasks.colorize, "automatic_model", lambda model=None: None)
    photo, reference, gray, text = (tmp_path / n for n in ("photo.png", "ref.png", "gray.png", "text.png"))
    Image.new("L", (32, 32), 100).save(photo)
    Image.fromarray((scene()[0].permute(1, 2, 0) * 255).byte().numpy()).save(reference)
    Image.new("L", (32, 32), 90).save(gray)
    text.write_text("not an image")
    places = {"PHOTO": photo, "REFERENCE": reference, "GRAY": gray, "TEXT": text, "NOPE": tmp_path / "nope.png"}
    args = [places.get(arg, arg) for arg in args]
    result = invoke("colorize", *args, "-o", tmp_path / "out.png")
    invoke.error_line(result, code, message)
    assert not (tmp_path / "out.png").exists()




def test_automatic_colorizer_trains_and_colorizes_without_a_reference(invoke, tmp_path):
    from stylize.config import ColorizeTrainConfig
    from stylize.tasks.colorize import ColorizeObjective
    from stylize.training.loop import fit

    data = tmp_path / "photos"
    data.mkdir()
    for i in range(6):
        Image.fromarray((scene(seed=i)[0].permute(1, 2, 0) * 255).byte().numpy()).save(data / f"{i}.png")
    logs = []
    config = ColorizeTrainConfig(image_size=64, batch_size=3, steps=50, lr=1e-3, lr_decay="none", workers=0,
                                 width=16, log_every=10, preview_images=1, preview_every=50)
    result = fit(ColorizeObjective(config), data, tmp_path / "auto.safetensors", device="cpu", on_log=logs.append)
    assert logs[-1].losses["chroma"] < 0.5 * logs[0].losses["chroma"]
    photo = tmp_path / "old.png"
    gray = gray_rgb(rgb_to_lab(scene(seed=9))[:, :1])
    Image.fromarray((gray[0].permute(1, 2, 0) * 255).round().byte().numpy()).save(photo)
    out = tmp_path / "old_color.png"
    cli_result = invoke("colorize", photo, "--model", result.model_path, "-o", out)
    assert cli_result.exit_code == 0, cli_result.output
    colored = load_image(out).pixels
    assert delta(colored, scene(seed=9)) < 0.7 * delta(gray, scene(seed=9))
    assert (rgb_to_lab(colored)[:, :1] - rgb_to_lab(gray)[:, :1]).abs().max() < 0.6


def test_automatic_network_starts_gray_and_is_not_saturated_by_large_features():
    """VGG19's raw activations reach the hundreds: the network must not saturate its output's tanh on them
    (the first real training run stalled at a constant loss for that reason)."""
    from stylize.nets.colornet import FEATURE_LAYERS, ColorNet

    torch.manual_seed(0)
    net = ColorNet(width=8)
    features = {name: torch.rand(1, channels, 6, 6) * 300 for name, channels in FEATURE_LAYERS.items()}
    lightness = torch.rand(1, 1, 6, 6)
    assert torch.equal(net(features, lightness), torch.zeros(1, 2, 6, 6))  # a fresh network predicts gray
    torch.nn.init.normal_(net.out.weight, std=0.1)
    scaled = {name: level * 1000 for name, level in features.items()}
    assert torch.allclose(net(features, lightness), net(scaled, lightness), atol=1e-3)
    assert net(scaled, lightness).abs().max() < 0.5 * 110


def test_shipped_automatic_model_colorizes_without_a_reference(invoke, tmp_path):
    """End to end with the shipped colorize-auto weights at a tiny size: lightness kept, colour added."""
    from stylize.tasks.colorize import automatic_model

    if automatic_model() is None:
        pytest.skip("no shipped automatic colorization model")
    cat = load_image(Path(__file__).resolve().parents[1] / "examples" / "chelsea.jpg", 128).pixels
    gray = gray_rgb(rgb_to_lab(cat)[:, :1])
    Image.fromarray((gray[0].permute(1, 2, 0) * 255).round().byte().numpy()).save(tmp_path / "cat.png")
    result = invoke("colorize", tmp_path / "cat.png", "-o", tmp_path / "cat_color.png", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "(128x85; automatic colorizer, no references)" in result.stderr
    out = load_image(tmp_path / "cat_color.png").pixels
    assert out.shape == gray.shape
    assert (rgb_to_lab(out)[:, :1] - rgb_to_lab(gray)[:, :1]).abs().max() < 0.6
    assert rgb_to_lab(out)[:, 1:].abs().mean() > 1  # some colour, where the input had none


def test_a_thin_image_among_the_references_is_passed_over_and_named_when_given_alone(invoke, tmp_path):
    """Red-team 9: one 1x300 image in --references DIR failed every photo, naming no file."""
    refs = tmp_path / "refs"
    refs.mkdir()
    Image.new("RGB", (1, 300), (200, 10, 10)).save(refs / "thin.png")
    Image.fromarray((scene()[0].permute(1, 2, 0) * 255).byte().numpy()).save(refs / "scene.png")
    photo = tmp_path / "old.png"
    Image.new("L", (48, 40), 100).save(photo)
    result = invoke("colorize", photo, "--references", refs, "-o", tmp_path / "out.png")
    assert result.exit_code == 0 and "references: scene.png" in result.stderr, result.output
    alone = invoke("colorize", photo, "--reference", refs / "thin.png", "-o", tmp_path / "out2.png")
    assert "the reference" in invoke.error_line(alone, 1, "thin.png: image of 1x300 px is too small")


def test_a_folder_of_references_is_ranked_by_small_descriptors_and_only_the_best_prepared(tmp_path, monkeypatch):
    """Issue 35, item 4: every image of a 280-photo folder was prepared in full (18.9 minutes, 12 GB); now
    the folder is indexed once at RANK_SIDE with progress, and only the top few are prepared."""
    from stylize.config import ColorizeConfig
    from stylize.tasks.colorize import Colorizer

    refs = tmp_path / "refs"
    refs.mkdir()
    for index in range(12):
        gradient_image(64, 48, seed=index).save(refs / f"r{index:02d}.png")
    seen, prepared = [], []
    colorizer = Colorizer.from_files([], refs, ColorizeConfig(top=2), "cpu",
                                     on_progress=lambda done, total: seen.append((done, total)))
    real_prepare = colorizer.prepare
    monkeypatch.setattr(colorizer, "prepare", lambda name, pixels: prepared.append(name) or real_prepare(name, pixels))
    gray = torch.full((1, 3, 40, 48), 0.5)
    colorizer(gray)
    colorizer(gray)
    assert seen[-1] == (12, 12) and len(seen) == 12  # indexed once, with progress
    assert len(prepared) == 2  # the two best, kept for the second photo
