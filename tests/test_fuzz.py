"""Mutated image and model files (seeded, generated here): only the project's own errors may come out."""

import io
import random
import zlib

import pytest
import torch
from conftest import gradient_image

from stylize.errors import StylizeError
from stylize.images import load_image
from stylize.modelfile import load_model, save_model
from stylize.nets.johnson import JohnsonNet
from stylize.nets.srnet import SRNet


def _mutations(data: bytes, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        mutated = bytearray(data)
        kind = rng.randrange(4)
        if kind == 0:  # flip bytes
            for _ in range(rng.randint(1, 20)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        elif kind == 1:  # truncate
            mutated = mutated[: rng.randrange(len(mutated))]
        elif kind == 2:  # insert garbage
            at = rng.randrange(len(mutated))
            mutated[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        else:  # overwrite the header region, where lengths and dimensions live
            for _ in range(rng.randint(1, 8)):
                mutated[rng.randrange(min(64, len(mutated)))] = rng.randrange(256)
        out.append(bytes(mutated))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "TIFF", "BMP"])
def test_mutated_images_raise_only_image_errors(tmp_path, fmt):
    buffer = io.BytesIO()
    gradient_image(40, 30).save(buffer, format=fmt)
    path = tmp_path / f"x.{fmt.lower()}"
    for index, data in enumerate(_mutations(buffer.getvalue(), 60, seed=zlib.crc32(fmt.encode()))):
        path.write_bytes(data)
        try:
            pixels = load_image(path, max_side=32).pixels
        except StylizeError as error:
            assert "\n" not in str(error), (index, error)
        else:
            assert pixels.dim() == 4 and pixels.shape[1] == 3


@pytest.mark.slow
@pytest.mark.parametrize("net", [JohnsonNet(width=8, residual_blocks=1), SRNet(2, width=8, blocks=1)],
                         ids=["johnson", "srnet"])
def test_mutated_model_files_raise_only_model_errors(tmp_path, net):
    task = "style" if isinstance(net, JohnsonNet) else "upscale"
    data = save_model(tmp_path / "good.safetensors", net, task, {"style": {"title": "x"}}).read_bytes()
    path = tmp_path / "m.safetensors"
    for index, mutated in enumerate(_mutations(data, 150, seed=7)):
        path.write_bytes(mutated)
        try:
            loaded, _ = load_model(path)
        except StylizeError as error:
            assert "\n" not in str(error), (index, error)
        else:
            with torch.no_grad():  # flipped bits in the weights may give any values, but never a crash
                assert loaded(torch.rand(1, 3, 16, 16)).shape[:2] == (1, 3)
