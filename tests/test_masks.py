"""Spatial control: styles in regions, the photo kept outside every mask."""

import pytest
import torch
from conftest import gradient_image, stripes_image
from PIL import Image

from stylize.config import GatysConfig
from stylize.images import load_image, pil_to_tensor
from stylize.losses import gram, guided_gram
from stylize.masks import composite, feather
from stylize.modelfile import save_model
from stylize.nets.johnson import JohnsonNet
from stylize.tasks.gatys import GatysTransfer
from stylize.vgg import VGGFeatures


def half_mask(width: int, height: int, left: bool) -> Image.Image:
    image = Image.new("L", (width, height), 0)
    image.paste(255, (0, 0, width // 2, height) if left else (width // 2, 0, width, height))
    return image


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    gradient_image(64, 48).save(path)
    return path


def test_guided_gram_of_a_full_mask_is_the_plain_gram_and_ignores_what_is_outside():
    features = torch.rand(1, 4, 8, 8)
    assert torch.allclose(guided_gram(features, torch.ones(1, 1, 32, 32)), gram(features), atol=1e-6)
    left = torch.zeros(1, 1, 8, 8)
    left[..., :4] = 1
    changed = features.clone()
    changed[..., 4:] = torch.rand(1, 4, 8, 4)
    assert torch.allclose(guided_gram(features, left), guided_gram(changed, left), atol=1e-6)
    assert torch.allclose(guided_gram(features, left), gram(features[..., :4]), atol=1e-6)  # size-invariant


def test_two_styles_on_two_halves_give_each_half_its_own_style(device):
    content = pil_to_tensor(gradient_image(64, 48))
    styles = [pil_to_tensor(stripes_image(48, 48)), pil_to_tensor(gradient_image(48, 48, seed=4).rotate(45))]
    masks = [pil_to_tensor(half_mask(64, 48, left)).mean(dim=1, keepdim=True) for left in (True, False)]
    config = GatysConfig(size=0, steps=40, style_layers=("relu1_1", "relu2_1", "relu3_1"), content_weight=0.2)
    output = GatysTransfer(styles, config, device)(content, masks=masks)
    vgg = VGGFeatures(["relu1_1", "relu2_1"])
    targets = [{k: gram(v) for k, v in vgg(style).items()} for style in styles]

    def distance(region: torch.Tensor, target: dict) -> float:
        features = vgg(region)
        return sum(((gram(features[k]) - t).norm() / t.norm()).item() for k, t in target.items())

    left, right = output[..., :, :28], output[..., :, 36:]
    assert distance(left, targets[0]) < distance(left, targets[1])
    assert distance(right, targets[1]) < distance(right, targets[0])


def test_fast_model_leaves_the_unmasked_region_exactly_the_photo(invoke, photo, model, tmp_path):
    mask = tmp_path / "mask.png"
    half_mask(64, 48, left=True).save(mask)
    out = tmp_path / "out.png"
    result = invoke("run", photo, "--model", model, "--mask", mask, "--feather", "4", "-o", out)
    assert result.exit_code == 0, result.output
    pixels, original = load_image(out).pixels, load_image(photo).pixels
    # Feathering reaches 1.5 x 4 px from the edge at x = 32; beyond that the photo is untouched.
    assert torch.equal(pixels[..., 39:], original[..., 39:])
    assert (pixels[..., :24] - original[..., :24]).abs().mean() > 0.05
    inverted = tmp_path / "inverted.png"
    assert invoke("run", photo, "--model", model, "--mask", mask, "--mask-invert", "-o", inverted).exit_code == 0
    assert torch.equal(load_image(inverted).pixels[..., :32], original[..., :32])


def test_soft_masks_blend():
    photo, stylized = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    half = torch.full((1, 1, 8, 8), 0.5)
    assert torch.allclose(composite(photo, [stylized], [half]), (photo + stylized) / 2)
    # Overlapping masks past full coverage share it; none leaves the photo.
    other = torch.rand(1, 3, 8, 8)
    full = torch.ones(1, 1, 8, 8)
    assert torch.allclose(composite(photo, [stylized, other], [full, full]), (stylized + other) / 2)
    assert torch.equal(composite(photo, [stylized], [torch.zeros(1, 1, 8, 8)]), photo)


def test_feather_is_local_and_keeps_range():
    mask = torch.zeros(1, 1, 20, 40)
    mask[..., :20] = 1
    soft = feather(mask, 4)
    assert torch.allclose(soft[..., :13], mask[..., :13]) and torch.equal(soft[..., 27:], mask[..., 27:])
    assert 0 < soft[0, 0, 0, 20] < 1 and soft.min() >= 0 and soft.max() <= 1


def test_several_models_paint_several_regions(invoke, photo, model, tmp_path):
    torch.manual_seed(5)
    other = save_model(tmp_path / "other.safetensors", JohnsonNet(width=8, residual_blocks=1), "style", {})
    left, right = tmp_path / "l.png", tmp_path / "r.png"
    half_mask(64, 48, True).save(left)
    half_mask(64, 48, False).save(right)
    both, only_first, only_second = (tmp_path / f"{n}.png" for n in ("both", "first", "second"))
    assert invoke("run", photo, "--model", model, "--mask", left, "--model", other, "--mask", right,
                  "-o", both).exit_code == 0
    assert invoke("run", photo, "--model", model, "-o", only_first).exit_code == 0
    assert invoke("run", photo, "--model", other, "-o", only_second).exit_code == 0
    pixels = load_image(both).pixels
    assert torch.equal(pixels[..., :32], load_image(only_first).pixels[..., :32])
    assert torch.equal(pixels[..., 32:], load_image(only_second).pixels[..., 32:])


def test_batch_takes_masks_from_a_folder_mirroring_the_inputs(invoke, model, tmp_path):
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    (photos / "trip").mkdir(parents=True)
    (masks / "trip").mkdir(parents=True)
    gradient_image(32, 24).save(photos / "trip" / "a.jpg")
    gradient_image(32, 24, seed=2).save(photos / "b.jpg")
    half_mask(32, 24, True).save(masks / "trip" / "a.png")
    result = invoke("batch", photos, "-o", tmp_path / "out", "--model", model, "--mask", masks)
    assert result.exit_code == 1  # b.jpg has no mask
    assert "no mask for b.jpg" in result.stderr
    out = load_image(tmp_path / "out" / "trip" / "a.png").pixels
    assert torch.equal(out[..., 16:], load_image(photos / "trip" / "a.jpg").pixels[..., 16:])


@pytest.mark.parametrize(("args", "code", "message"), [
    pytest.param(["--style", "STYLE", "--mask", "WHITE", "--mask", "WHITE"], 2, "2 masks for 1 style image: give one",
                 id="count"),
    pytest.param(["--model", "MODEL", "--mask", "TEXT"], 1, "not an image", id="unreadable"),
    pytest.param(["--mask", "BLACK", "--model", "MODEL"], 1, "is all black: nothing would be stylized", id="all black"),
    pytest.param(["--mask-invert", "--model", "MODEL", "--mask", "WHITE"], 1, "is all black once inverted",
                 id="inverted white"),
    pytest.param(["--feather", "3", "--model", "MODEL"], 2, "--feather needs --mask", id="feather without mask"),
    pytest.param(["--model", "MODEL"] * 2, 2, "several --model need one --mask each", id="models without masks"),
    pytest.param(["--mask", "NOPE", "--model", "MODEL"], 2, "does not exist", id="missing"),
])
def test_bad_masks(invoke, photo, model, tmp_path, args, code, message):
    style = tmp_path / "style.png"
    stripes_image(32, 32).save(style)
    black, white, text = tmp_path / "black.png", tmp_path / "white.png", tmp_path / "text.png"
    Image.new("L", (8, 8), 0).save(black)
    Image.new("L", (8, 8), 255).save(white)
    text.write_text("not an image")
    places = {"STYLE": style, "MODEL": model, "BLACK": black, "WHITE": white, "TEXT": text,
              "NOPE": tmp_path / "nope.png"}
    args = [places.get(arg, arg) for arg in args]
    result = invoke("run", photo, *args, "--steps" if "--style" in args else "--quality", "1", "-o", tmp_path / "o.png")
    invoke.error_line(result, code, message)
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("mode", [["--steps", "1"], ["--model", "arbitrary"]], ids=["optimization", "any painting"])
def test_blend_weights_with_masks_are_refused_for_every_way_of_painting(invoke, photo, tmp_path, mode):
    """Blend weights mix the styles everywhere and masks give each its region: the optimization refused the
    pair, and the arbitrary-style model took the masks and dropped the weights without a word (run, batch,
    video)."""
    stripes_image(32, 32).save(tmp_path / "a.png")
    gradient_image(32, 32, seed=5).save(tmp_path / "b.png")
    half_mask(64, 48, True).save(tmp_path / "left.png")
    half_mask(64, 48, False).save(tmp_path / "right.png")
    result = invoke("run", photo, *mode, "--style", tmp_path / "a.png", "--mask", tmp_path / "left.png",
                    "--style", tmp_path / "b.png", "--mask", tmp_path / "right.png", "--style-blend", "0.3,0.7",
                    "-o", tmp_path / "o.png")
    invoke.error_line(result, 2, "style blend weights mix styles everywhere; with masks each style has its region")
    assert not (tmp_path / "o.png").exists()


def test_a_wide_feather_blurs_a_shrunk_copy_and_stays_close_to_the_exact_blur(monkeypatch):
    """Red-team: `--feather 1000` on a 3 MP photo took 116 s (a 3000-tap kernel)."""
    from stylize import masks
    from stylize.tensors import gaussian_blur

    mask = torch.zeros(1, 1, 300, 400)
    mask[..., 100:200, 120:300] = 1
    exact = gaussian_blur(mask, 40).clamp(0, 1)
    assert (feather(mask, 80) - exact).abs().max() < 0.02
    sigmas = []
    monkeypatch.setattr(masks, "gaussian_blur",
                        lambda image, sigma: sigmas.append(sigma) or gaussian_blur(image, sigma))
    large = torch.zeros(1, 1, 1500, 2000)
    large[..., 500:1000, 600:1400] = 1
    soft = feather(large, 1000)
    assert sigmas and max(sigmas) < 2 * masks.FAST_FEATHER_SIGMA  # the kernel no longer grows with the width
    assert soft.shape == large.shape and 0 <= soft.min() and soft.max() <= 1
    assert soft[..., 750, 1000] > soft[..., 0, 0]
