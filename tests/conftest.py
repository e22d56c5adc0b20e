"""Shared fixtures: tiny generated images, the command line in process (`invoke`), and a --device option
(default cpu) for device-aware tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner, Result
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--device", default="cpu", help="device for tests that run networks: cpu, cuda, mps")


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> str:
    name = request.config.getoption("--device")
    if name.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip("CUDA not available")
    return name


class CommandLine:
    """`stylize` run in process by click's runner: call it with the arguments (paths become strings)."""

    def __call__(self, *args: object, catch_exceptions: bool = False) -> Result:
        from stylize.cli import cli

        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=catch_exceptions)

    @staticmethod
    def error_line(result: Result, code: int, message: str = "") -> str:
        """The one line a failed command printed (`Error: ...`, no traceback), checked for its exit code and
        message."""
        assert result.exit_code == code, result.output
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.stderr
        assert "Traceback" not in result.output
        return lines[0]


@pytest.fixture
def invoke() -> CommandLine:
    return CommandLine()


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """A tiny random style model file (the house's Johnson network at width 8, one residual block)."""
    from stylize.modelfile import save_model
    from stylize.nets.johnson import JohnsonNet

    torch.manual_seed(0)
    return save_model(tmp_path / "m.safetensors", JohnsonNet(width=8, residual_blocks=1), "style", {})


def gradient_image(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth colour gradient with a few shapes: structure for the content loss to hold on to."""
    generator = torch.Generator().manual_seed(seed)
    ys = torch.linspace(0, 1, height).view(height, 1).expand(height, width)
    xs = torch.linspace(0, 1, width).view(1, width).expand(height, width)
    pixels = torch.stack([xs, ys, (1 - xs) * ys], dim=0)
    pixels[:, height // 4 : height // 2, width // 4 : width // 2] = torch.rand(3, 1, 1, generator=generator)
    data = (pixels.permute(1, 2, 0) * 255).round().to(torch.uint8).contiguous()
    return Image.frombytes("RGB", (width, height), data.numpy().tobytes())


def stripes_image(width: int, height: int) -> Image.Image:
    """Diagonal coloured stripes: a texture with strong Gram statistics."""
    ys = torch.arange(height).view(height, 1)
    xs = torch.arange(width).view(1, width)
    band = ((xs + ys) // 4) % 3
    palette = torch.tensor([[230, 40, 30], [30, 60, 200], [250, 220, 40]], dtype=torch.uint8)
    data = palette[band].contiguous()
    return Image.frombytes("RGB", (width, height), data.numpy().tobytes())


@pytest.fixture
def content_path(tmp_path: Path) -> Path:
    path = tmp_path / "content.png"
    gradient_image(48, 40).save(path)
    return path


@pytest.fixture
def style_path(tmp_path: Path) -> Path:
    path = tmp_path / "style.png"
    stripes_image(40, 40).save(path)
    return path


@pytest.fixture
def second_style_path(tmp_path: Path) -> Path:
    path = tmp_path / "style2.jpg"
    gradient_image(40, 32, seed=3).rotate(90).save(path, quality=95)
    return path


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
