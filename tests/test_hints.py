"""Colour hints for colorize (`--hint X,Y,COLOUR`): parsed, spread over their object and stopped at its edges."""

import math
from pathlib import Path

import pytest
import torch
from PIL import Image
from test_colorize import _save_gray, scene

from stylize.colorspace import gray_rgb, rgb_to_lab
from stylize.errors import ConfigError
from stylize.images import load_image
from stylize.tasks.colorize import Colorizer
from stylize.tasks.hints import ColorHint, _diffuse

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def hue_degrees(lab: torch.Tensor) -> float:
    """The hue of the mean a*, b* of a Lab patch."""
    return math.degrees(math.atan2(float(lab[:, 2].mean()), float(lab[:, 1].mean()))) % 360


def test_hints_parse_pixels_per_cents_and_css_colours():
    assert ColorHint.parse("412,230,tan") == ColorHint(412, 230, (210, 180, 140))
    assert ColorHint.parse(" 52% , 30%, #c08060") == ColorHint(0.52, 0.30, (192, 128, 96), relative=True)
    assert ColorHint.parse("0,0,rgb(1, 2, 3)").colour == (1, 2, 3)  # the colour's own commas are its own
    assert ColorHint.parse("5,6,#ff000080").colour == (255, 0, 0)  # an alpha is dropped
    for text, words in [("1,2", "X,Y,COLOUR"), ("1,2,blurple", "not a colour"), ("a,2,red", "are numbers"),
                        ("10%,2,red", "both X and Y"), ("120%,2%,red", "lie in the photo"),
                        ("-1,2,red", "lie in the photo"), ("nan,2,red", "lie in the photo")]:
        with pytest.raises(ConfigError, match=words):
            ColorHint.parse(text)
    hint = ColorHint.parse("99,10,red")
    assert hint.fractions(50, 100) == pytest.approx((0.995, 0.21))
    with pytest.raises(ConfigError, match=r"lies outside the photo \(99x50 pixels\)"):
        hint.fractions(50, 99)
    assert ColorHint.parse("100%,50%,red").fractions(7, 9) == (1.0, 0.5)
    lab = ColorHint.parse("0,0,#c08060").chroma()
    assert lab.tolist() == pytest.approx([21.16, 27.43], abs=0.01)


def test_a_hint_spreads_along_strong_ties_and_stops_at_a_weak_edge():
    """The screened Poisson equation: 1 at the hint, falling with distance where the edges are strong, and next to
    nothing past a column of weak edges (an object's outline)."""
    sources = torch.zeros(2, 40, 40)
    sources[0, 20, 10] = 1
    sources[1, 5, 35] = 1
    across, down = torch.ones(40, 39), torch.ones(39, 40)
    across[:, 24] = 1e-4  # a wall between columns 24 and 25
    reach = _diffuse(sources, across, down, decay=1 / 12**2)
    first = reach[0, 20]
    assert first[10] == 1 and 0 <= reach.min() and reach.max() <= 1
    assert first[12] > first[18] > first[24] > 0.05  # falling with distance, on its own side
    assert first[25] < 0.02 * first[24]  # and stopped at the wall
    assert reach[1, 5, 35] == 1 and reach[1, 5, 30] > 0.2  # the second hint, solved at the same time


def pale_house(seed: int) -> torch.Tensor:
    """test_colorize's scene with the house pale yellow: its outline a clear edge in the gray photo (L* 88 against
    the ground's 52; the red house's 44 is a faint one, which a hint crosses in part, as Levin et al.'s would)."""
    image = scene(seed, 96)
    image[..., 32:64, 32:64] = (torch.tensor([0.95, 0.85, 0.5]).view(1, 3, 1, 1) + image[..., 32:64, 32:64]
                                - image[..., 32:64, 32:64].mean(dim=(2, 3), keepdim=True)).clamp(0, 1)
    return image


def test_on_a_large_grid_the_spread_is_solved_coarser_and_still_stops_at_an_outline():
    """A --working-size of 2048 gives a match grid of 512 a side, where the solve took minutes: it is solved at most
    HINT_GRID a side and brought back. Two halves of unlike features and lightness: a hint on the left colours the
    left half, the right half keeps its colours, the map keeps its size."""
    from stylize.tasks.hints import HINT_GRID, spread_hints

    side = 2 * HINT_GRID + 40
    on_left = torch.arange(side) < side // 2
    features = torch.where(on_left.repeat(side)[:, None], torch.eye(8)[0], torch.eye(8)[1])  # (side * side, 8)
    lightness = torch.where(on_left, 0.5, 0.8).view(1, 1, 1, side).expand(1, 1, side, side)
    chroma = torch.full((1, 2, side, side), 5.0)
    hint = ColorHint(0.2, 0.5, (40, 80, 220), relative=True)
    spread = spread_hints(chroma, features, lightness, [hint], (4 * side, 4 * side))
    assert spread.shape == chroma.shape
    assert (spread[0, :, side // 2, side // 5] - hint.chroma()).abs().max() < 0.5  # at the hint: its colour
    change = (spread[0] - 5).norm(dim=0)
    assert change[:, : side // 2 - 4].mean() > 40  # the hint's half, coloured
    assert change[:, side // 2 + 4 :].max() < 0.5  # past the outline: untouched


def test_a_hint_recolours_its_region_and_leaves_the_others(tmp_path):
    """With a reference of the scene's own colours, a blue hint on the pale house turns the house blue; the sky
    and the ground keep the reference's colours, the lightness is the photo's, and without the hint nothing
    changes."""
    truth = pale_house(0)
    gray = gray_rgb(rgb_to_lab(truth)[:, :1])
    colorizer = Colorizer([pale_house(1)], device="cpu")
    plain, _ = colorizer.colorize(gray)
    blue = [ColorHint(48, 48, (40, 80, 220))]
    hinted, _ = Colorizer([pale_house(1)], device="cpu", hints=blue).colorize(gray)
    plain_lab, hinted_lab = rgb_to_lab(plain), rgb_to_lab(hinted)
    house, sky, ground = (slice(38, 58), slice(38, 58)), (slice(4, 24), slice(4, 92)), (slice(72, 92), slice(4, 92))
    assert 60 < hue_degrees(plain_lab[..., house[0], house[1]]) < 120  # yellow
    assert 250 < hue_degrees(hinted_lab[..., house[0], house[1]]) < 320  # blue, as the hint
    for rows, cols in (sky, ground):
        moved = (hinted_lab - plain_lab)[:, 1:, rows, cols].norm(dim=1).mean()
        assert moved < 3, moved
    assert (hinted_lab[:, :1] - rgb_to_lab(gray)[:, :1]).abs().max() < 0.6
    assert torch.equal(colorizer.with_hints([]).colorize(gray)[0], plain)
    bound = colorizer.with_hints(blue)  # the studio's: the networks shared
    assert bound.vgg is colorizer.vgg and colorizer.hints == () and torch.equal(bound(gray), hinted)


def test_colorize_hint_on_the_command_line_with_the_shipped_model(invoke, tmp_path):
    """End to end, the shipped automatic model at a tiny size: a point of blue on the cat's fur turns the fur
    there blue and leaves the far corner as it was; the lightness stays the photo's. A hint outside the photo, a
    bad colour, a hint for several photos and one for a clip are one-line errors, and nothing is written."""
    from stylize.tasks.colorize import automatic_model

    if automatic_model() is None:
        pytest.skip("no shipped automatic colorization model")
    cat = load_image(EXAMPLES / "chelsea.jpg", 128).pixels  # 128x85
    gray = _save_gray(gray_rgb(rgb_to_lab(cat)[:, :1]), tmp_path / "cat.png")
    result = invoke("colorize", gray, "-o", tmp_path / "plain.png", "--device", "cpu")
    assert result.exit_code == 0, result.output
    result = invoke("colorize", gray, "-o", tmp_path / "hinted.png", "--hint", "45,40,#3050d0", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "1 hint" in result.output
    source, plain, hinted = (rgb_to_lab(load_image(tmp_path / name).pixels)
                             for name in ("cat.png", "plain.png", "hinted.png"))
    assert 240 < hue_degrees(hinted[..., 36:45, 41:50]) < 320 and hue_degrees(plain[..., 36:45, 41:50]) < 120
    assert (hinted - plain)[:, 1:, -10:, -10:].norm(dim=1).mean() < 2  # the far corner
    assert (hinted[:, :1] - source[:, :1]).abs().max() < 0.6
    for options, words, code in [(["--hint", "500,40,red"], "lies outside the photo (128x85 pixels)", 1),
                                 (["--hint", "5,4,blurple"], "'blurple' is not a colour", 2)]:
        result = invoke("colorize", gray, "-o", tmp_path / "bad.png", *options, "--device", "cpu")
        assert result.exit_code == code and words in result.output and "Traceback" not in result.output
        assert not (tmp_path / "bad.png").exists()
    result = invoke("colorize", gray, "-o", tmp_path / "bad.png", *["--hint", "5,4,red"] * 65, "--device", "cpu")
    assert result.exit_code == 2 and "65 hints: at most 64 a photo" in result.output
    second = tmp_path / "second.png"
    Image.open(gray).save(second)
    result = invoke("colorize", gray, second, "-o", tmp_path / "out", "--hint", "5,4,red", "--device", "cpu")
    assert result.exit_code == 2 and "--hint is for one photo at a time" in result.output
    assert not (tmp_path / "out").exists()
    clip = tmp_path / "film.gif"  # an animation is colorized as a clip
    Image.new("L", (64, 64), 80).save(clip, save_all=True, append_images=[Image.new("L", (64, 64), 160)], duration=100)
    result = invoke("colorize", clip, "--hint", "5,4,red", "--device", "cpu")
    assert result.exit_code == 2 and "--hint is for photos, not a video" in result.output
