import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import gradient_image
from PIL import Image, ImageCms, ImageOps

from stylize.errors import ImageError
from stylize.images import (
    is_image_file,
    load_image,
    open_image,
    pil_to_tensor,
    save_image,
    tensor_to_pil,
)
from stylize.tensors import fit_longest_side, resize_longest


def test_load_gives_float_rgb_batch_in_unit_range(tmp_path):
    path = tmp_path / "a.png"
    gradient_image(30, 20).save(path)
    pixels = load_image(path).pixels
    assert pixels.shape == (1, 3, 20, 30)
    assert pixels.dtype == torch.float32
    assert 0 <= pixels.min() and pixels.max() <= 1


def test_resize_by_longest_side_keeps_aspect(tmp_path):
    path = tmp_path / "a.png"
    gradient_image(300, 200).save(path)
    assert load_image(path, max_side=60).pixels.shape == (1, 3, 40, 60)
    assert load_image(path, max_side=600).pixels.shape == (1, 3, 400, 600)
    assert resize_longest(torch.rand(1, 3, 50, 100), 20).shape == (1, 3, 10, 20)


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    gradient_image(40, 20).save(path, exif=exif)
    assert load_image(path).pixels.shape == (1, 3, 40, 20)


@pytest.mark.parametrize("orientation", [1, 3, 6])
def test_a_large_jpeg_shrunk_on_loading_is_decoded_smaller_and_comes_out_the_same(tmp_path, orientation):
    """A 24 MP photo at --size 1024 took 0.43 s to load, most of it decoding pixels the shrink throws away. A JPEG
    at least twice the size asked is decoded at 1/2 to 1/8 of its size (libjpeg's scaled DCT) where that fraction
    divides both its sides: the same size as from the full decoding, upright, and the same picture within 40 dB
    PSNR. Where it does not divide them (2000x1333), the smaller picture's last row stood for a quarter of one and
    the shrink stretched the whole picture by it (35 dB, 41 levels off): such a JPEG is decoded whole."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    rng = np.random.default_rng(0)
    for size, fraction in (((1008, 504), 4), ((1001, 505), 1)):
        path = tmp_path / f"camera{size[0]}.jpg"
        noisy = np.asarray(gradient_image(*size), dtype=np.float64) + rng.normal(0, 12, (size[1], size[0], 3))
        Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(path, quality=92, exif=exif)
        with Image.open(path) as image:
            image.load()
            reference = ImageOps.exif_transpose(image)
        shrunk = reference.resize(fit_longest_side(*reference.size, 250), Image.Resampling.LANCZOS)
        opened = open_image(path, longest=250)
        assert max(opened.size) == max(size) // fraction
        loaded = load_image(path, 250).pixels
        assert loaded.shape == (1, 3, shrunk.height, shrunk.width)
        mse = ((loaded - pil_to_tensor(shrunk)) ** 2).mean()
        assert 10 * torch.log10(1 / mse) > (40 if fraction > 1 else 99), size
    assert load_image(path, 0).pixels.shape[-2:] == load_image(path).pixels.shape[-2:]  # 0: its own size


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "LA", "I;16", "RGBA"])
def test_every_mode_becomes_rgb(tmp_path, mode):
    image = gradient_image(16, 12).convert(mode if mode != "I;16" else "L")
    if mode == "I;16":
        image = image.convert("I").point(lambda v: v * 257).convert("I;16")
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    image.save(path)
    pixels = load_image(path).pixels
    assert pixels.shape == (1, 3, 12, 16)
    assert pixels.std() > 0.05  # not flattened to a constant (16-bit is scaled, not clipped)


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    image = Image.new("I;16", (4, 4), 32768)
    path = tmp_path / "half.png"
    image.save(path)
    assert load_image(path).pixels.mean().item() == pytest.approx(0.5, abs=0.01)


def test_transparent_pixels_are_laid_on_white(tmp_path):
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0, 255))
    path = tmp_path / "alpha.png"
    image.save(path)
    pixels = load_image(path).pixels
    assert torch.allclose(pixels[0, :, 1, 1], torch.ones(3))
    assert torch.allclose(pixels[0, :, 0, 0], torch.tensor([1.0, 0, 0]))


def test_what_a_task_works_on_under_transparency():
    """A painter (images.white_where_clear) and an upscaler (images.on_own_colours) see an opaque pixel in its
    colour and a half-clear one too (laid on white it was paler, and paler again once shown); a clear one is
    white to the painter, and takes the colours near it for the upscaler (not what the file stores there);
    with every pixel clear the picture is white."""
    from stylize.images import on_own_colours, white_where_clear

    pixels = torch.rand(1, 3, 9, 13)
    alpha = torch.zeros(1, 1, 9, 13)
    alpha[..., 2:5, 3:7] = 1
    alpha[..., 6, 2] = 0.4
    pixels[..., 2:5, 3:7] = torch.tensor([0.9, 0.3, 0.1]).view(1, 3, 1, 1)
    laid = on_own_colours(pixels, alpha)
    assert laid.shape == pixels.shape and torch.equal(laid[..., 2:5, 3:7], pixels[..., 2:5, 3:7])
    assert torch.equal(laid[..., 6, 2], pixels[..., 6, 2])
    clear = (alpha == 0).expand_as(pixels)
    assert torch.equal(on_own_colours(torch.rand(1, 3, 9, 13).where(clear, pixels), alpha), laid)
    assert (laid[..., 0, 12] - torch.tensor([0.9, 0.3, 0.1])).abs().max() < 0.25  # the red-orange, far off
    assert torch.equal(on_own_colours(pixels, torch.zeros_like(alpha)), torch.ones_like(pixels))
    painted = white_where_clear(pixels, alpha)
    assert torch.equal(painted, laid.where(alpha > 0, torch.ones_like(laid)))


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(100_000, 100_000))
    with pytest.raises(ImageError, match="over the limit"):
        load_image(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"hello, not an image", "not an image"), (None, "corrupt or truncated")],
)
def test_unreadable_files_raise_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.jpg"
    if content is None:
        buffer = io.BytesIO()
        gradient_image(64, 64).save(buffer, format="JPEG")
        content = buffer.getvalue()[:300]
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message) as info:
        load_image(path)
    assert "\n" not in str(info.value)


def _open_descriptors() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors through /proc (Linux)")
def test_no_file_is_left_open_by_a_refused_or_a_multi_frame_image(tmp_path):
    """A truncated file, one over the pixel limit, and an animated GIF (which Pillow keeps open after load)
    leave no descriptor open, even while the error (its traceback holds the decoder's frames) is kept, as a
    batch keeps its failures: no waiting for the garbage collector, and no ResourceWarning under -W default."""
    buffer = io.BytesIO()
    gradient_image(64, 64).save(buffer, format="JPEG")
    (tmp_path / "truncated.jpg").write_bytes(buffer.getvalue()[:300])
    gradient_image(64, 64).save(tmp_path / "large.png")
    frames = [gradient_image(16, 16), gradient_image(16, 16).rotate(90)]
    frames[0].save(tmp_path / "moving.gif", save_all=True, append_images=frames[1:])
    before = _open_descriptors()
    with pytest.raises(ImageError, match="corrupt or truncated") as truncated:
        load_image(tmp_path / "truncated.jpg")
    with pytest.raises(ImageError, match="over the limit") as large:
        open_image(tmp_path / "large.png", max_pixels=100)
    image = open_image(tmp_path / "moving.gif")
    assert image.size == (16, 16) and truncated.tb is not None and large.tb is not None
    assert _open_descriptors() <= before


def test_folder_and_missing_file_errors(tmp_path):
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.png")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".jpeg", ".webp"])
def test_save_round_trips_by_extension(tmp_path, suffix):
    pixels = torch.rand(1, 3, 10, 12)
    path = save_image(pixels, tmp_path / f"out{suffix}")
    with Image.open(path) as image:
        assert image.format == {".jpeg": "JPEG", ".jpg": "JPEG"}.get(suffix, suffix[1:].upper())
        assert image.size == (12, 10)
    if suffix == ".png":
        assert torch.equal(load_image(path).pixels, tensor_to_pil(pixels) and pil_to_tensor(tensor_to_pil(pixels)))
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_save_rejects_unknown_extension(tmp_path):
    with pytest.raises(ImageError, match="extension"):
        save_image(torch.rand(1, 3, 4, 4), tmp_path / "out.gifx")



def test_sixteen_bit_grayscale_keeps_every_level_through_load_and_save(tmp_path):
    import numpy as np

    levels = np.arange(0, 65536, 7, dtype=np.uint16)[:9000].reshape(90, 100)  # 9000 distinct levels
    Image.fromarray(levels).save(tmp_path / "scan.png")
    for keep_alpha in (False, True):
        loaded = load_image(tmp_path / "scan.png", keep_alpha=keep_alpha)
        assert loaded.grayscale and loaded.sixteen_bit and loaded.pixels.shape == (1, 3, 90, 100)
        assert loaded.alpha is None
        save_image(loaded.pixels, tmp_path / "out.png", grayscale=True, sixteen_bit=True)
        with Image.open(tmp_path / "out.png") as written:
            assert written.mode == "I;16" and np.array_equal(np.asarray(written), levels)
    eight = load_image(tmp_path / "scan.png", max_side=50)  # resized: 8 bits, as every resized image
    assert eight.grayscale and not eight.sixteen_bit


@pytest.mark.parametrize(("suffix", "alpha", "mode"), [(".png", False, "L"), (".png", True, "LA"), (".jpg", False, "L"),
                                                       (".jpg", True, "L"), (".webp", True, "RGBA")])
def test_grayscale_save_writes_luma_and_keeps_alpha(tmp_path, suffix, alpha, mode):
    pixels = torch.rand(1, 3, 6, 8)
    transparency = torch.zeros(1, 1, 6, 8) if alpha else None
    path = save_image(pixels, tmp_path / f"gray{suffix}", alpha=transparency, grayscale=True)
    with Image.open(path) as image:
        assert image.mode == mode and image.size == (8, 6)
        if suffix == ".png" and not alpha:
            assert image.tobytes() == tensor_to_pil(pixels).convert("L").tobytes()
        if suffix == ".jpg" and alpha:  # transparent pixels laid on white, as for colour images
            assert image.getextrema()[0] >= 250
        if suffix == ".webp":  # lossy WebP's YUV rounding leaves a level here and there, not a tint
            rgb = pil_to_tensor(image.convert("RGB")).mul(255)
            assert (rgb - rgb.mean(dim=1, keepdim=True)).abs().max() <= 2

def test_failed_save_leaves_no_partial_file_and_keeps_old_output(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    save_image(torch.zeros(1, 3, 4, 4), path)
    before = path.read_bytes()

    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(ImageError, match="No space left"):
        save_image(torch.ones(1, 3, 4, 4), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_icc_profile_is_carried_to_the_output(tmp_path):
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = tmp_path / "tagged.jpg"
    gradient_image(8, 8).save(source, icc_profile=profile)
    loaded = load_image(source)
    assert loaded.icc_profile == profile
    for suffix in (".png", ".jpg", ".webp"):
        out = save_image(loaded.pixels, tmp_path / f"out{suffix}", loaded.icc_profile)
        with Image.open(out) as image:
            assert image.info.get("icc_profile") == profile


def test_gray_profile_goes_to_gray_outputs_only(tmp_path):
    gray_profile = bytes(16) + b"GRAY" + b"XYZ " + bytes(104)  # an ICC header of gray data (not parsed)
    source = tmp_path / "scan.png"
    gradient_image(8, 8).convert("L").save(source, icc_profile=gray_profile)
    loaded = load_image(source)
    assert loaded.icc_profile == gray_profile and loaded.grayscale
    for suffix in (".png", ".jpg"):
        gray = save_image(loaded.pixels, tmp_path / f"gray{suffix}", loaded.icc_profile, grayscale=True)
        colour = save_image(loaded.pixels, tmp_path / f"colour{suffix}", loaded.icc_profile)
        with Image.open(gray) as image:
            assert image.mode == "L" and image.info.get("icc_profile") == gray_profile
        with Image.open(colour) as image:  # an RGB image with a gray profile would be misread by viewers
            assert image.mode == "RGB" and not image.info.get("icc_profile")
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    save_image(loaded.pixels, tmp_path / "g.png", srgb, grayscale=True)
    with Image.open(tmp_path / "g.png") as image:
        assert not image.info.get("icc_profile")


def _camera_exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Fujifilm"  # Make
    exif[0x0112] = orientation
    exif[0x0131] = "Camera firmware 1.0"  # Software
    details = exif.get_ifd(0x8769)
    details[0x9003] = "2024:05:06 07:08:09"  # DateTimeOriginal
    details[0xA002], details[0xA003] = 40, 20  # PixelXDimension, PixelYDimension
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 30.0)  # GPSLatitude
    return exif


def test_exif_is_carried_to_the_output_upright_and_marked(tmp_path):
    source = tmp_path / "camera.jpg"
    gradient_image(40, 20).save(source, exif=_camera_exif(orientation=6))
    loaded = load_image(source)
    assert loaded.pixels.shape == (1, 3, 40, 20)
    for suffix in (".png", ".jpg", ".webp"):
        out = save_image(loaded.pixels, tmp_path / f"out{suffix}", exif=loaded.exif)
        with Image.open(out) as image:
            exif = image.getexif()
            # Kept: what the photographer recorded. Dropped: what no longer describes these pixels.
            assert exif[0x010F] == "Fujifilm" and exif.get_ifd(0x8825)[2] == (48.0, 51.0, 30.0)
            assert exif.get_ifd(0x8769)[0x9003] == "2024:05:06 07:08:09"
            assert 0x0112 not in exif and not {0xA002, 0xA003} & set(exif.get_ifd(0x8769))
            assert exif[0x0131].startswith("stylize")
            assert image.size == (20, 40)


def test_outputs_of_photos_without_exif_get_only_the_mark(tmp_path):
    source = tmp_path / "plain.png"
    gradient_image(8, 8).save(source)
    assert load_image(source).exif is None
    orientation_only = Image.Exif()
    orientation_only[0x0112] = 1
    gradient_image(8, 8).save(tmp_path / "upright.jpg", exif=orientation_only)
    assert load_image(tmp_path / "upright.jpg").exif is None  # nothing left worth carrying
    with Image.open(save_image(load_image(source).pixels, tmp_path / "out.png")) as image:
        assert "exif" not in image.info and image.info["Software"].startswith("stylize")


def test_exif_too_long_for_a_jpeg_is_left_out_of_it(tmp_path):
    exif = Image.Exif()
    exif[0x010E] = "scan notes " * 7000  # ImageDescription: 77 KB, more than a JPEG segment holds
    source = tmp_path / "scan.png"
    gradient_image(8, 8).save(source, exif=exif)
    loaded = load_image(source)
    with Image.open(save_image(loaded.pixels, tmp_path / "out.jpg", exif=loaded.exif)) as image:
        assert 0x010E not in image.getexif() and image.getexif()[0x0131].startswith("stylize")
    with Image.open(save_image(loaded.pixels, tmp_path / "out.png", exif=loaded.exif)) as image:
        assert image.getexif()[0x010E].startswith("scan notes")


def test_exif_that_fits_a_jpeg_only_without_the_mark_is_left_out_of_it(tmp_path):
    def described(length: int) -> bytes:
        exif = Image.Exif()
        exif[0x010E] = "x" * length  # ImageDescription
        return exif.tobytes()

    exif = described(65533 - (len(described(1000)) - 1000))  # the most a JPEG holds (to a padding byte)
    assert 65520 < len(exif) <= 65533  # fits alone; with the Software tag (over 12 bytes more) it would not
    with Image.open(save_image(torch.rand(1, 3, 8, 8), tmp_path / "out.jpg", exif=exif)) as image:
        assert 0x010E not in image.getexif() and image.getexif()[0x0131].startswith("stylize")


def test_damaged_exif_is_left_behind(tmp_path):
    source = tmp_path / "damaged.jpg"
    gradient_image(8, 8).save(source, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")
    with warnings.catch_warnings(record=True) as caught:  # and quietly: no warning line for the user either
        warnings.simplefilter("always")
        loaded = load_image(source)
    assert loaded.exif is None and loaded.pixels.shape == (1, 3, 8, 8)
    assert [str(w.message) for w in caught] == []


def test_is_image_file(tmp_path):
    (tmp_path / "a.JPG").write_bytes(b"x")
    (tmp_path / "b.txt").write_bytes(b"x")
    (tmp_path / "c.png").mkdir()
    assert is_image_file(tmp_path / "a.JPG")
    assert not is_image_file(tmp_path / "b.txt")
    assert not is_image_file(tmp_path / "c.png")
    assert not is_image_file(Path("missing.png"))


def _write_png16(path: Path, samples: torch.Tensor, **metadata) -> Path:
    from stylize.png16 import write_png16

    with open(path, "wb") as stream:
        write_png16(stream, samples, **metadata)
    return path


def _decoded_png16(path: Path) -> torch.Tensor:
    """A 16-bit PNG's levels as (C, H, W) int32 in the file's channel order, decoded by OpenCV."""
    cv2 = pytest.importorskip("cv2")
    import numpy as np

    levels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert levels.dtype == np.uint16
    levels = levels[..., None] if levels.ndim == 2 else levels
    if levels.shape[2] >= 3:  # BGR(A), and gray and alpha as BGRA
        levels = cv2.cvtColor(levels, cv2.COLOR_BGRA2RGBA if levels.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return torch.from_numpy(levels.astype(np.int32)).permute(2, 0, 1)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png16_writer_output_decodes_to_the_same_levels_with_its_metadata(tmp_path, channels):
    samples = torch.rand(channels, 150, 7)  # 150 rows: three bands of the writer, the Up filter across them
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "Scanner maker"
    path = _write_png16(tmp_path / "out.png", samples, icc_profile=profile, text={"Software": "stylize test"},
                        exif=exif.tobytes())
    decoded = _decoded_png16(path)
    assert torch.equal(decoded[[0, 3]] if channels == 2 else decoded, samples.mul(65535).round().to(torch.int32))
    with Image.open(path) as image:
        assert image.info["Software"] == "stylize test" and image.info["icc_profile"] == profile
        assert image.getexif()[0x010F] == "Scanner maker"


@pytest.mark.parametrize("channels", [3, 4, 2])
def test_sixteen_bit_colour_keeps_every_level_through_load_and_save(tmp_path, channels):
    pytest.importorskip("cv2")  # the 16bit extra
    samples = torch.rand(channels, 12, 9)
    source = _write_png16(tmp_path / "scan.png", samples)
    levels = samples.mul(65535).round()
    loaded = load_image(source, keep_alpha=True)
    assert loaded.sixteen_bit and loaded.grayscale == (channels == 2) and loaded.pixels.shape == (1, 3, 12, 9)
    colour = levels[:-1] if channels != 3 else levels
    assert torch.equal(loaded.pixels[0].mul(65535).round(), colour.expand(3, 12, 9))
    if channels == 3:
        assert loaded.alpha is None
    else:
        assert torch.equal(loaded.alpha[0].mul(65535).round(), levels[-1:])
        flat = load_image(source).pixels  # without keep_alpha, laid on white as an 8-bit image is
        alpha = levels[-1:] / 65535
        assert torch.allclose(flat[0], colour / 65535 * alpha + 1 - alpha, atol=1e-6)
    out = save_image(loaded.pixels, tmp_path / "out.png", alpha=loaded.alpha, grayscale=loaded.grayscale,
                     sixteen_bit=True)
    decoded = _decoded_png16(out)
    assert torch.equal(decoded[[0, 3]] if channels == 2 else decoded, levels.to(torch.int32))
    assert load_image(source, max_side=6).sixteen_bit is False  # resized: 8 bits, as every resized image


@pytest.mark.parametrize("orientation", range(1, 9))
def test_sixteen_bit_colour_is_turned_upright_as_pillow_turns_eight_bits(tmp_path, orientation):
    pytest.importorskip("cv2")
    exif = Image.Exif()
    exif[0x0112] = orientation
    source = _write_png16(tmp_path / "turned.png", torch.rand(3, 5, 8), exif=exif.tobytes())
    loaded = load_image(source)
    assert loaded.sixteen_bit
    with Image.open(source) as image:  # Pillow reads 16-bit colour at 8 bits (the high byte), turned upright
        eight_bits = pil_to_tensor(ImageOps.exif_transpose(image))
    assert loaded.pixels.shape == eight_bits.shape
    assert (loaded.pixels - eight_bits).abs().max() < 1 / 255


def test_sixteen_bit_tiff_is_read_at_sixteen_bits_with_opencv(tmp_path):
    cv2 = pytest.importorskip("cv2")
    import numpy as np

    levels = (torch.rand(6, 5, 3) * 65535).round().to(torch.int32)
    cv2.imwrite(str(tmp_path / "scan.tif"), levels.numpy().astype(np.uint16)[..., ::-1].copy())  # BGR
    loaded = load_image(tmp_path / "scan.tif")
    assert loaded.sixteen_bit and not loaded.grayscale
    assert torch.equal(loaded.pixels[0].mul(65535).round().to(torch.int32), levels.permute(2, 0, 1))


def test_without_opencv_sixteen_bit_colour_is_read_at_eight_bits(tmp_path, monkeypatch):
    monkeypatch.setattr("stylize.images.available", lambda module: False)
    samples = torch.rand(3, 4, 6)
    loaded = load_image(_write_png16(tmp_path / "scan.png", samples))
    assert not loaded.sixteen_bit and (loaded.pixels[0] - samples).abs().max() < 1 / 255  # Pillow's high byte


def test_heif_photos_are_read_with_their_exif(tmp_path):
    """An iPhone saves HEIC: read through pillow-heif (the heic extra), its pixels and its EXIF kept."""
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    source = gradient_image(64, 48)
    exif = Image.Exif()
    exif[0x0110] = "iPhone 15"  # Model
    source.save(tmp_path / "IMG_0001.HEIC", quality=95, exif=exif.tobytes())
    loaded = load_image(tmp_path / "IMG_0001.HEIC")
    assert loaded.pixels.shape == (1, 3, 48, 64)
    assert (loaded.pixels - pil_to_tensor(source)).abs().mean() < 0.02  # HEVC is lossy
    save_image(loaded.pixels, tmp_path / "out.jpg", exif=loaded.exif)
    assert Image.open(tmp_path / "out.jpg").getexif()[0x0110] == "iPhone 15"
    assert is_image_file(tmp_path / "IMG_0001.HEIC")


def test_a_heif_photo_without_the_extra_names_the_install_command(tmp_path, monkeypatch):
    import sys

    from stylize import images
    from stylize.errors import MissingExtraError

    # ISO base media's 'ftyp' box with the 'heic' brand: what an iPhone's photo starts with.
    (tmp_path / "IMG_0002.heic").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64))
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # not installed
    images._read_heif.cache_clear()
    with pytest.raises(MissingExtraError, match=r'IMG_0002.heic is a HEIF photo .*pip install "stylize\[heic\]"'):
        load_image(tmp_path / "IMG_0002.heic")
    images._read_heif.cache_clear()


@pytest.mark.parametrize("suffix", [".avif", ".jp2", ".jfif"])
def test_formats_pillow_reads_are_images_in_folders(tmp_path, suffix):
    """Red-team: `stylize batch` on a folder of AVIF photos said "not an image" for each: only the extension
    list was missing them (Pillow reads AVIF and JPEG 2000, an archive's scans)."""
    path = tmp_path / f"photo{suffix}"
    gradient_image(40, 30).save(path, format={".jfif": "JPEG"}.get(suffix))
    assert is_image_file(path)
    assert load_image(path).pixels.shape == (1, 3, 30, 40)


def test_a_webp_at_quality_100_is_lossless(tmp_path):
    """libwebp's lossy quality 100 still changes the pixels: --quality 100 writes a lossless WebP."""
    from stylize.images import save_image

    pixels = torch.rand(1, 3, 24, 32)
    for quality in (95, 100):
        save_image(pixels, tmp_path / f"q{quality}.webp", quality=quality)
    levels = pixels.mul(255).round()
    back = {quality: load_image(tmp_path / f"q{quality}.webp").pixels.mul(255).round() for quality in (95, 100)}
    assert torch.equal(back[100], levels) and not torch.equal(back[95], levels)


def test_a_jpegs_quality_is_read_from_its_quantization_tables(tmp_path):
    from stylize.images import jpeg_quality

    photo = gradient_image(64, 48)
    for quality in (30, 50, 75, 84, 90, 95):
        photo.save(tmp_path / f"q{quality}.jpg", quality=quality)
        assert jpeg_quality(tmp_path / f"q{quality}.jpg") == quality
    photo.save(tmp_path / "lossless.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    photo.save(tmp_path / "named.jpg", format="PNG")  # told by its content, not its name
    assert [jpeg_quality(tmp_path / name) for name in ("lossless.png", "broken.jpg", "named.jpg", "none.jpg")] == \
        [None] * 4


def _colour_patches(width: int = 120, height: int = 80) -> np.ndarray:
    """A picture of four coloured quarters (red, green, blue, yellow-gray) with a soft gradient, as uint8."""
    ys, xs = np.mgrid[0:height, 0:width]
    picture = np.zeros((height, width, 3))
    left, top = xs < width // 2, ys < height // 2
    picture[top & left] = (200, 40, 40)
    picture[top & ~left] = (40, 170, 60)
    picture[~top & left] = (40, 60, 190)
    picture[~top & ~left] = (150, 140, 90)
    return (picture * (0.7 + 0.3 * xs / width)[..., None]).astype(np.uint8)


@pytest.mark.parametrize("layout", ["mosaic", "linear"], ids=["a camera's mosaic", "a phone's linear DNG (ProRAW)"])
def test_a_camera_raw_is_developed_whole_not_read_as_its_preview(tmp_path, layout):
    """Red-team: `stylize upscale IMG_0001.NEF` read the file as a TIFF, whose first image is the camera's small
    preview (a NEF's 160x120), and enlarged that without a word. A camera RAW file is developed by LibRaw (the
    raw extra): the whole sensor, its colours, turned upright by the orientation the camera wrote."""
    pytest.importorskip("rawpy")
    from raws import write_dng

    from stylize.images import read_header

    picture = _colour_patches()
    path = write_dng(tmp_path / "IMG_0001.DNG", picture, layout=layout)
    with Image.open(path) as preview:  # what Pillow alone saw
        assert preview.size == (30, 20)
    loaded = load_image(path)
    assert loaded.pixels.shape == (1, 3, 80, 120) and read_header(path) == ((120, 80), "RAW")
    assert is_image_file(path) and loaded.sixteen_bit  # (its own size: developed at 16 bits, the next test)
    developed = loaded.pixels[0].permute(1, 2, 0).numpy()
    for channel in range(3):  # LibRaw brightens (1 % of pixels clip) but keeps the picture and its hues
        correlation = torch.corrcoef(torch.stack([torch.from_numpy(developed[..., channel]).flatten(),
                                                  torch.from_numpy(picture[..., channel] / 255.0).flatten().float()]))
        assert correlation[0, 1] > 0.97
    quarters = {"red": developed[:40, :60], "green": developed[:40, 60:], "blue": developed[40:, :60]}
    for index, (name, quarter) in enumerate(quarters.items()):
        mean = quarter.reshape(-1, 3).mean(0)
        assert mean[index] > np.delete(mean, index).max() + 0.2, (name, mean)
    turned = load_image(write_dng(tmp_path / "IMG_0002.DNG", picture, orientation=6, layout=layout))
    assert turned.pixels.shape == (1, 3, 120, 80)
    assert (turned.pixels - loaded.pixels.rot90(-1, (-2, -1))).abs().max() < 1 / 255
    # The camera's EXIF goes to the outputs (the date a photo library sorts by), less the orientation, which
    # the pixels now have, and the maker note, whose offsets point into the RAW file.
    save_image(turned.pixels, tmp_path / "out.jpg", exif=turned.exif)
    exif = Image.open(tmp_path / "out.jpg").getexif()
    assert (exif[0x0110], exif.get_ifd(0x8769)[0x9003]) == ("Test camera", "2024:05:01 10:30:00")
    assert 0x0112 not in exif and 0x927C not in exif.get_ifd(0x8769) and 0x0111 not in exif  # nor strip offsets
    # Shrunk to half or less, it is developed at half size (each 2x2 block of the mosaic one pixel): the same picture.
    halved = load_image(path, max_side=60).pixels
    assert halved.shape == (1, 3, 40, 60)
    assert load_image(path, 0).pixels.shape == loaded.pixels.shape  # 0 is its own size, not half of it
    assert (halved - torch.nn.functional.avg_pool2d(loaded.pixels, 2)).abs().mean() < 0.03
    with pytest.raises(ImageError, match="over the limit of 0 MP"):
        load_image(path, max_pixels=9000)


@pytest.mark.parametrize("layout", ["mosaic", "monochrome"])
def test_a_camera_raw_kept_at_its_size_keeps_the_sensors_levels(tmp_path, layout):
    """Red-team: a RAW file was developed at 8 bits a channel, so `stylize upscale IMG.NEF` gave a 16-bit sensor's
    photo in 256 levels (banding in a sky once it is edited), where a 16-bit scan keeps 65536. Kept at its own size
    (upscale, colorize), it is developed at 16 bits: the levels of a smooth ramp from a 12-bit sensor, the picture
    LibRaw develops at 8 bits within a level, and a 16-bit PNG out."""
    pytest.importorskip("rawpy")
    from raws import write_dng

    from stylize.images import save_image

    ys, xs = np.mgrid[0:80, 0:120]
    ramp = np.stack([xs * 2, ys * 3, xs + ys], axis=-1).astype(np.uint8)
    path = write_dng(tmp_path / "IMG_0001.DNG", ramp, layout=layout)
    loaded = load_image(path)
    assert loaded.sixteen_bit and loaded.grayscale == (layout == "monochrome")
    levels = loaded.pixels.mul(65535).round()
    assert len(levels.unique()) > 1000 and (levels % 257).any()  # an 8-bit development has at most 256
    eight_bit = load_image(path, at_least=80)  # shrunk by its caller anyway: 8 bits, as LibRaw's 8-bit output
    assert not eight_bit.sixteen_bit and len(eight_bit.pixels.mul(255).round().unique()) <= 256
    assert (loaded.pixels - eight_bit.pixels).abs().max() <= 1 / 255 + 1e-6
    save_image(loaded.pixels, tmp_path / "out.png", sixteen_bit=True, grayscale=loaded.grayscale)
    with Image.open(tmp_path / "out.png") as written:
        assert written.mode == ("I;16" if layout == "monochrome" else "RGB")
    if layout == "mosaic":  # Pillow reads 16-bit colour at 8 bits: the file's own depth, from its header
        assert (tmp_path / "out.png").read_bytes()[24] == 16


def test_libraws_own_messages_join_the_one_line_error_and_nothing_else_is_lost(tmp_path, capfd, monkeypatch):
    """Red-team: a RAW file cut short (a copy that did not finish) printed LibRaw's own "unknown file: Unexpected end
    of file" to the process's stderr, a line above stylize's one-line error. It is part of that line now; what else
    reaches stderr meanwhile (another thread's progress bar) still does, after."""
    rawpy = pytest.importorskip("rawpy")
    import os

    from raws import write_dng

    ys, xs = np.mgrid[0:200, 0:300]
    path = write_dng(tmp_path / "IMG_0001.DNG", (np.stack([xs, ys, xs + ys], axis=-1) % 256).astype(np.uint8))
    cut = tmp_path / "IMG_0002.DNG"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size * 3 // 5])
    capfd.readouterr()
    with pytest.raises(ImageError, match=r"\(Input/output error; Unexpected end of file\)$"):
        load_image(cut)
    assert capfd.readouterr().err == ""

    def printing(stream):  # LibRaw's line and another thread's, then its error
        os.write(2, b"unknown file: data corrupted at 1234\n")
        os.write(2, b"50%|#####     | 1/2\n")
        raise rawpy.LibRawDataError(b"Corrupted data or internal error")

    monkeypatch.setattr(rawpy, "imread", printing)
    with pytest.raises(ImageError, match=r"\(Corrupted data or internal error; data corrupted at 1234\)$"):
        load_image(path)
    assert capfd.readouterr().err == "50%|#####     | 1/2\n"
    monkeypatch.undo()  # and with no temporary file to be had (a full disk), LibRaw prints as it would
    import tempfile

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", full)
    assert load_image(path).pixels.shape == (1, 3, 200, 300)
    with pytest.raises(ImageError, match=r"\(Input/output error\)$"):
        load_image(cut)
    assert capfd.readouterr().err == "unknown file: Unexpected end of file\n"


def test_a_monochrome_cameras_raw_is_a_gray_photo(tmp_path):
    """Red-team: a monochrome sensor's DNG (a Leica Monochrom's: one sample a pixel) developed to one channel, and
    the loader failed with a traceback (Pillow's "Cannot handle this data type"). It is a gray photo now, as a gray
    scan is: grayscale outputs, the picture's luma."""
    pytest.importorskip("rawpy")
    from raws import write_dng

    picture = _colour_patches()
    loaded = load_image(write_dng(tmp_path / "L1000001.DNG", picture, layout="monochrome"))
    assert loaded.grayscale and loaded.pixels.shape == (1, 3, 80, 120)
    assert (loaded.pixels[:, :1] == loaded.pixels).all()
    luma = torch.from_numpy(picture @ np.array([0.2126, 0.7152, 0.0722])).float().flatten()
    assert torch.corrcoef(torch.stack([loaded.pixels[0, 0].flatten(), luma]))[0, 1] > 0.97


def test_a_camera_raw_without_the_extra_or_broken_is_one_line(tmp_path, monkeypatch):
    """Without rawpy a RAW file is refused with the install command (never read as its preview); a damaged one,
    or a JPEG named .cr2, is a one-line error naming the file."""
    import sys

    from raws import write_dng

    from stylize.errors import MissingExtraError
    from stylize.extras import available
    from stylize.images import read_header

    path = write_dng(tmp_path / "DSC_0001.NEF", _colour_patches())
    if available("rawpy"):
        broken = tmp_path / "cut.nef"
        broken.write_bytes(path.read_bytes()[:1000])
        gradient_image(40, 30).save(tmp_path / "renamed.cr2", format="JPEG")
        for bad in (broken, tmp_path / "renamed.cr2"):
            with pytest.raises(ImageError, match=rf"^{bad} is corrupt, truncated or not a RAW format LibRaw reads "
                                                 r"\((Unsupported file format or not RAW file|Input/output error)"
                                                 r"(; Unexpected end of file)?\)$"):
                load_image(bad)
            assert read_header(bad) is None
    monkeypatch.setitem(sys.modules, "rawpy", None)  # not installed
    with pytest.raises(MissingExtraError, match=rf'^{path} is a camera RAW file: pip install "stylize\[raw\]" '):
        load_image(path)
    assert read_header(path) is None
