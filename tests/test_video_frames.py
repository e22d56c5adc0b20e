"""The frames of `stylize video` on the test device (--device): onto it as 8 bits, stylized, warped, blended and
rounded there, and back as 8 bits. None of this needs PyAV or OpenCV, so it runs on a card's machine too."""

import numpy as np
import pytest
import torch

from stylize.errors import ConfigError
from stylize.nets.decoders import VGGDecoders
from stylize.nets.johnson import JohnsonNet
from stylize.tasks.arbitrary import ArbitraryStylizer
from stylize.tasks.fast import FastStylizer
from stylize.tasks.video import (
    ClipMasks,
    FrameRegions,
    Motion,
    TemporalBlend,
    frames_to_tensor,
    masked_frames,
    rounded_frame,
    tensor_frames,
    unit_frames,
)


def _frames(count: int, height: int = 24, width: int = 32) -> list[np.ndarray]:
    generator = np.random.default_rng(0)
    return [generator.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


def _johnson() -> JohnsonNet:
    torch.manual_seed(0)
    return JohnsonNet(width=8, residual_blocks=1)


def test_frames_stay_on_the_device_from_the_model_to_the_rounding(device):
    """A card's frames cross to the CPU once, as 8 bits: the model's output stays where it ran, and is rounded
    there to what the CPU gives (one level apart at most, for the card's own arithmetic)."""
    frames = _frames(2)
    out = tensor_frames(FastStylizer(_johnson(), device=device), device)(frames)
    assert out.device.type == torch.device(device).type and out.shape == (2, 3, 24, 32)
    expected = FastStylizer(_johnson(), device="cpu")(frames_to_tensor(frames))
    assert torch.equal(frames_to_tensor(frames), torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2) / 255)
    for index in range(2):
        previous, rgb = rounded_frame(out[index:index + 1])
        assert rgb.dtype == np.uint8 and rgb.shape == (24, 32, 3) and previous.device == out.device
        levels = (expected[index].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
        assert np.abs(rgb.astype(int) - levels).max() <= (0 if device == "cpu" else 1)
        # What a resumed job reads back from its state (the written frame) is what the blend had, to the bit.
        read_back = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None]
        assert torch.equal(unit_frames(read_back, device), unit_frames(previous, device))


def test_the_arbitrary_model_returns_frames_on_the_device_they_came_on(device):
    torch.manual_seed(0)
    task = ArbitraryStylizer(VGGDecoders(levels=2, width=8), device=device).with_styles(
        [torch.rand(1, 3, 32, 32)])
    cpu_frames = frames_to_tensor(_frames(1))
    assert task(cpu_frames).device.type == "cpu"
    assert tensor_frames(task, device)(_frames(1)).device.type == torch.device(device).type


def test_the_blend_takes_the_consistency_share_of_each_reliable_pixel_from_the_warped_previous_output(device):
    blend = TemporalBlend(0.8)
    previous = torch.full((1, 3, 16, 24), 200, dtype=torch.uint8)  # the 8-bit frame written before
    stylized = torch.full((1, 3, 16, 24), 100 / 255, device=device)
    motion = Motion(np.zeros((8, 12, 2), np.float32), np.ones((8, 12), np.float32))  # at half size
    out = blend(motion, previous, stylized)
    assert out.shape == (1, 3, 16, 24) and out.device == stylized.device
    assert torch.allclose(out * 255, torch.full_like(out, 180), atol=1e-3)
    motion.trust[:, :6] = 0
    out = blend(motion, previous, stylized).cpu() * 255
    assert torch.allclose(out[..., :8], torch.tensor(100.0), atol=1e-3)
    assert torch.allclose(out[..., 16:], torch.tensor(180.0), atol=1e-3)
    same = Motion(np.zeros((16, 24, 2), np.float32), np.ones((16, 24), np.float32))  # at the frame's size
    blend(same, previous, stylized)
    assert (motion.trust[:, 6:] == 1).all() and (same.trust == 1).all()  # the motions are left as they were
    assert blend(None, previous, stylized) is stylized and TemporalBlend(0)(motion, previous, stylized) is stylized


def test_the_previous_frame_is_warped_along_the_flow_brought_to_the_frames_size(device):
    """The flow travels at the size it was estimated at (here half the frame's) and is stretched on the frame's
    device: a backward flow of 1.5 px there is 3 px in the frame, pixel x takes the previous frame's x + 3 (the
    last columns the border's), and the rows stay; the reliability comes along at the frame's size."""
    columns = torch.arange(40, dtype=torch.float32, device=device).view(1, 1, 1, 40).expand(1, 3, 10, 40)
    backward = np.zeros((5, 20, 2), np.float32)
    backward[..., 0] = 1.5
    warped, trust = Motion(backward, np.full((5, 20), 0.5, np.float32)).warp(columns, 10, 40)
    expected = (torch.arange(40, dtype=torch.float32) + 3).clamp(max=39)
    assert warped.shape == (1, 3, 10, 40) and trust.shape == (1, 1, 10, 40) and warped.device == columns.device
    assert torch.allclose(warped.cpu(), expected.expand(1, 3, 10, 40), atol=1e-3)
    assert torch.allclose(trust.cpu(), torch.tensor(0.5))
    one = Motion(np.full((1, 1, 2), 0.7, np.float32), np.ones((1, 1), np.float32))  # a 1 px frame stays itself
    assert torch.equal(one.warp(columns[..., :1, :1], 1, 1)[0], columns[..., :1, :1])


def test_a_clip_mask_keeps_every_frame_exactly_outside_it_through_the_model_and_the_blend(device, tmp_path):
    """`stylize video --mask`: each frame is the model's inside the mask and itself, to the bit, outside it,
    also after the blend with the previous output (confined to the mask); a still mask is read once a clip."""
    from PIL import Image

    from stylize.masks import MaskSet

    mask = Image.new("L", (32, 24), 0)
    mask.paste(255, (0, 0, 16, 24))
    mask.save(tmp_path / "left.png")
    masks = ClipMasks(MaskSet((tmp_path / "left.png",)))
    masks.device = torch.device(device)  # as frame_functions sets it: made where the model is
    stylizer = FastStylizer(_johnson(), device=device)
    frames = _frames(2)
    regions = masks.frames(0, 24, 32)
    own = [next(regions), next(regions)]
    assert own[0].before is None and own[1].before is own[0].masks
    assert own[0].masks[0] is own[1].masks[0] and own[0].masks[0].shape == (1, 1, 24, 32)  # read once
    assert own[0].masks[0].device.type == torch.device(device).type
    out = masked_frames(lambda frame: [stylizer(frame)], device)(frames, own)
    inputs = frames_to_tensor(frames, device)
    assert out.device == inputs.device and out.shape == inputs.shape
    assert torch.equal(out[..., 16:], inputs[..., 16:])
    assert torch.allclose(out[..., :16], stylizer(inputs)[..., :16], atol=1e-5)
    previous = torch.full((1, 3, 24, 32), 200, dtype=torch.uint8)
    still = Motion(np.zeros((24, 32, 2), np.float32), np.ones((24, 32), np.float32))
    blended = TemporalBlend(0.8)(still, previous, out[1:], own[1])
    assert torch.equal(blended[..., 16:], out[1:, :, :, 16:])  # the photo, untouched by the blend
    assert torch.allclose(blended[..., :16] * 255, 0.2 * out[1:, :, :, :16] * 255 + 0.8 * 200, atol=1e-3)
    with pytest.raises(ConfigError, match="is a folder: a clip takes one mask"):  # batch's kind of mask
        ClipMasks(MaskSet((tmp_path,)))


def test_where_a_moving_region_reaches_new_pixels_the_blend_takes_nothing_from_the_previous_photo(device):
    """A matte moving right: the band it newly covers was the photo in the previous output, so the blend takes
    none of it there (a pale band would trail along the region's edge), and all it may elsewhere."""
    left = [torch.zeros(1, 1, 24, 32), torch.zeros(1, 1, 24, 32)]
    left[0][..., :8], left[1][..., :16] = 1, 1
    regions = FrameRegions(masks=[left[1]], before=[left[0]])
    previous = torch.full((1, 3, 24, 32), 200, dtype=torch.uint8)
    stylized = torch.full((1, 3, 24, 32), 100 / 255, device=device)
    still = Motion(np.zeros((24, 32, 2), np.float32), np.ones((24, 32), np.float32))
    out = TemporalBlend(0.5)(still, previous, stylized, regions).cpu() * 255
    assert torch.allclose(out[..., :8], torch.tensor(150.0), atol=1e-3)  # stylized in both: blended
    assert torch.allclose(out[..., 8:], torch.tensor(100.0), atol=1e-3)  # newly covered, or outside: fresh
