import math
from itertools import islice

import pytest
import torch
from conftest import gradient_image
from torch.utils.data import DataLoader

from stylize.errors import DataError
from stylize.tasks.fast import CropTransform
from stylize.training.data import ImageFiles, ResumableSampler, batches, find_images


def test_find_images_recurses_skips_and_counts_unreadable(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    gradient_image(20, 20).save(tmp_path / "one.jpg")
    gradient_image(30, 10).save(tmp_path / "a" / "b" / "two.png")
    (tmp_path / "a" / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "a" / "notes.txt").write_text("hello")
    sizes, unreadable = find_images(tmp_path)
    # Walk order: a folder's own files (sorted) before its subfolders (sorted), the same on every machine.
    assert {p.relative_to(tmp_path).as_posix(): size for p, size in sizes.items()} == {
        "one.jpg": (20, 20), "a/b/two.png": (30, 10)}
    assert [p.relative_to(tmp_path).as_posix() for p in sizes] == ["one.jpg", "a/b/two.png"]
    assert unreadable == [tmp_path / "a" / "broken.jpg"]


def test_missing_or_empty_data_folder(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        find_images(tmp_path / "missing")
    with pytest.raises(DataError, match="no readable images"):
        find_images(tmp_path)


def test_a_folder_of_heif_photos_without_the_extra_says_what_reads_them(tmp_path, monkeypatch):
    import sys

    for name in ("IMG_0001.HEIC", "IMG_0002.HEIC"):
        (tmp_path / name).write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64))
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    needs = r'\(2 unreadable; 2 are HEIF photos, which need pip install "stylize\[heic\]"\)'
    with pytest.raises(DataError, match=needs):
        find_images(tmp_path)


def test_training_photos_take_a_raw_and_jpeg_pair_once_and_develop_a_raw_alone(tmp_path):
    """A photographer's folder of RAW+JPEG pairs is one photo a shot to train on (the camera's JPEG, as `stylize
    batch` takes it), and a RAW file alone is developed at its sensor's size, not read as its preview."""
    import numpy as np

    pytest.importorskip("rawpy")
    from raws import write_dng

    write_dng(tmp_path / "IMG_0001.CR2", np.asarray(gradient_image(48, 32, seed=1)))
    gradient_image(36, 24, seed=1).save(tmp_path / "IMG_0001.JPG")
    write_dng(tmp_path / "IMG_0002.NEF", np.asarray(gradient_image(40, 60, seed=2)))
    sizes, unreadable = find_images(tmp_path)
    assert {path.name: size for path, size in sizes.items()} == {"IMG_0001.JPG": (36, 24), "IMG_0002.NEF": (40, 60)}
    assert unreadable == []


def test_samples_are_deterministic_per_seed_epoch_and_index(tmp_path):
    for i in range(3):
        gradient_image(60, 40, seed=i).save(tmp_path / f"{i}.png")
    sizes, _ = find_images(tmp_path)
    data = ImageFiles(list(sizes), CropTransform(32), seed=1)
    first = data[(0, 1)]
    assert first.shape == (3, 32, 32)
    torch.manual_seed(123)  # the global generator must not matter
    assert torch.equal(data[(0, 1)], first)
    assert not torch.equal(data[(1, 1)], first)  # another epoch, other augmentation


@pytest.mark.parametrize("size", [(4032, 3024), (3000, 1000), (900, 1600), (300, 280)])
def test_a_crop_of_a_photo_decoded_smaller_is_never_enlarged(size):
    """Training decodes a large JPEG at decode_longest (a phone's 12 MP photo at 1/4): even the smallest crop that
    RandomResizedCrop can draw from a photo of that size (25 % of the area, aspect 3/4) still has the output's
    pixels, so no crop is enlarged and nothing the full decoding would give is lost."""
    from torchvision.transforms import RandomResizedCrop

    from stylize.tensors import fit_longest_side

    transform = CropTransform(256)
    longest = transform.decode_longest(*size)
    if longest >= max(size):  # a small photo: decoded whole, its crops enlarged as they always were
        assert size == (300, 280)
        return
    assert size != (4032, 3024) or longest == 683  # a 12 MP photo: a quarter of its size, 1008x756, is enough
    width, height = fit_longest_side(*size, longest)  # the smallest a draft decodes it to
    torch.manual_seed(0)
    crop = transform.crop
    crops = [RandomResizedCrop.get_params(torch.empty(3, height, width), list(crop.scale), list(crop.ratio))
             for _ in range(3000)]
    assert min(min(h, w) for _, _, h, w in crops) >= 256 * 0.99  # (the size's own rounding)


def test_training_decodes_a_large_jpeg_at_the_size_its_transform_needs(tmp_path, monkeypatch):
    """ImageFiles asks each task's transform how large a photo of that size must be decoded: the style tasks'
    crops (above), colorize's at most 1.4 times its working size."""
    from stylize.images import open_image
    from stylize.tasks.colorize import ColorCrops
    from stylize.training import data

    gradient_image(2400, 1600, seed=3).save(tmp_path / "big.jpg", quality=95)
    sizes, _ = find_images(tmp_path)
    opened = []
    monkeypatch.setattr(data, "open_image", lambda path, longest=None: opened.append(open_image(path, longest=longest))
                        or opened[-1])
    cases = [(CropTransform(128), (3, 128, 128)), (ColorCrops(128, 256), (4, 128, 128))]
    for transform, item in cases:
        assert ImageFiles(list(sizes), transform, seed=1, sizes=sizes)[(0, 0)].shape == item
        assert max(opened[-1].size) == 600  # a quarter of 2400, the smallest of 1/2, 1/4 and 1/8 still enough
    assert transform.decode_longest(2400, 1600) == math.ceil(256 * 1.4)


def test_truncated_file_is_replaced_by_the_next(tmp_path):
    gradient_image(40, 40).save(tmp_path / "a.png")
    gradient_image(40, 40).save(tmp_path / "b.png")
    (tmp_path / "a.png").write_bytes((tmp_path / "a.png").read_bytes()[:80])
    paths = sorted(tmp_path.glob("*.png"))
    assert ImageFiles(paths, CropTransform(16))[(0, 0)].shape == (3, 16, 16)


def test_a_workers_error_reaches_the_trainer_as_its_one_line(tmp_path):
    # Photos that vanish or break after the scan (a disk unmounted mid-run): every one fails in the worker.
    for name in ("a.png", "b.png"):
        gradient_image(40, 40).save(tmp_path / name)
        (tmp_path / name).write_bytes((tmp_path / name).read_bytes()[:80])
    data = ImageFiles(sorted(tmp_path.glob("*.png")), CropTransform(16))
    loader = DataLoader(data, batch_size=2, sampler=ResumableSampler(len(data), batch_size=2), num_workers=1)
    with pytest.raises(DataError) as caught:
        next(batches(loader))
    assert str(caught.value) == "none of the training images could be decoded"


def test_sampler_shards_partition_each_epoch_and_resume_mid_epoch():
    shards = [ResumableSampler(10, seed=3, rank=r, world=3).order(0) for r in range(3)]
    assert all(len(s) == 4 for s in shards)
    assert set(sum(shards, [])) == set(range(10))
    sampler = ResumableSampler(10, seed=3)
    full = list(islice(sampler, 10))
    assert full == [(0, i) for i in sampler.order(0)]
    sampler.start = 4
    assert list(islice(sampler, 6)) == full[4:]
    assert sampler.order(1) != sampler.order(0)


def test_sampler_runs_on_through_epochs_in_whole_batches():
    # 10 photos in batches of 4: each epoch serves 8 of them, so no batch mixes two epochs.
    sampler = ResumableSampler(10, seed=3, batch_size=4)
    assert sampler.per_epoch() == 8
    keys = list(islice(sampler, 20))
    assert [epoch for epoch, _ in keys] == [0] * 8 + [1] * 8 + [2] * 4
    assert [index for _, index in keys[8:16]] == sampler.order(1)
    sampler.epoch, sampler.start = 1, 4  # resumed mid-epoch: the rest of epoch 1, then epoch 2
    assert list(islice(sampler, 8)) == keys[12:20]


def test_training_on_a_folder_with_some_heif_photos_names_the_extra_even_when_quiet(invoke, tmp_path, monkeypatch):
    import sys

    data = tmp_path / "photos"
    data.mkdir()
    for i in range(2):
        gradient_image(48, 40, seed=i).save(data / f"{i}.jpg")
    (data / "IMG_0001.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64))
    (data / "broken.jpg").write_bytes(b"not a jpeg")
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    args = ("--data", data, "--steps", "1", "--image-size", "32", "--batch-size", "2", "--workers", "0",
            "--preview-images", "0", "--width", "8")
    result = invoke("train", "--task", "upscale", "--scale", "2", "--blocks", "1", "-o", tmp_path / "x2.safetensors",
                    *args, "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == ('Warning: 1 HEIF photo (an iPhone\'s .HEIC) skipped: pip install '
                                     '"stylize[heic]" to train on HEIF photos too')
    loud = invoke("train", "--task", "upscale", "--scale", "2", "--blocks", "1", "-o", tmp_path / "y.safetensors",
                  *args)
    assert "Training on 2 images, 2 unreadable skipped" in loud.stderr
