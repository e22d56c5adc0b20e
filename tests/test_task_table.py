"""The one table of tasks and the task contract: every row is complete, and every built task keeps the contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stylize.batch import single_job
from stylize.images import load_image, save_image
from stylize.modelfile import ARCHITECTURES
from stylize.task_table import TASKS
from stylize.tasks.protocol import Objective, Task


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_row_names_a_known_network_a_config_and_an_objective_that_keeps_the_protocol(name, style_path):
    row = TASKS[name]
    assert row.name == name and row.architecture in ARCHITECTURES
    objective_class = row.objective_class()
    objective = row.make_objective(row.train_config(steps=1), style_path if row.trains_on_style else None)
    assert objective.task == name and isinstance(objective, objective_class)
    for member in ("build", "prepare", "transform", "loss", "preview", "metadata", "inputs", "loss_names"):
        assert hasattr(objective, member), f"{objective_class.__name__} lacks {member} of {Objective.__name__}"
    assert row.commands and row.usage.startswith("stylize ")
    assert (row.export_output is None) == (name == "colorize")


def test_default_model_names_follow_the_row(tmp_path):
    data = tmp_path / "photos"
    assert TASKS["style"].default_model_name(data, TASKS["style"].train_config(), Path("a/monet.jpg")) == "monet"
    assert TASKS["upscale"].default_model_name(data, TASKS["upscale"].train_config(scale=3)) == "photos-x3"
    assert TASKS["colorize"].default_model_name(data, TASKS["colorize"].train_config()) == "colorize-photos"


def test_the_table_is_read_without_torch():
    code = "import sys, stylize.task_table, stylize.cli.train; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_train_help_lists_every_task():
    from click.testing import CliRunner

    from stylize.cli.app import command_group

    result = CliRunner().invoke(command_group(), ["train", "--help"], terminal_width=400)
    assert all(f"{name} = {row.help}" in " ".join(result.output.split()) for name, row in TASKS.items())


def test_every_built_task_keeps_the_contract(content_path, style_path, tmp_path):
    """What batch.run_jobs, the CLI and the page call: a device, and process(images, jobs) giving one result
    per image; progress goes to the callback given when the task was built."""
    from stylize.config import ArbitraryConfig, FastConfig, GatysConfig, UpscaleConfig
    from stylize.tasks.arbitrary import ArbitraryStylizer
    from stylize.tasks.colorize import Colorizer
    from stylize.tasks.fast import FastStylizer
    from stylize.tasks.gatys import GatysTransfer
    from stylize.tasks.upscale import Upscaler

    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))

    style = load_image(style_path).pixels
    tasks = [
        FastStylizer.load("starry", "cpu", FastConfig(tile=128), on_progress=progress),
        Upscaler.load(None, "cpu", UpscaleConfig(tile=96, ensemble=False), on_progress=progress),
        ArbitraryStylizer.load("arbitrary", "cpu", ArbitraryConfig(tile=128), on_progress=progress)
        .with_styles([style]),
        GatysTransfer([style], GatysConfig(steps=2, size=64, start_size=64), "cpu"),
        Colorizer.from_files([style_path], config=None, device="cpu"),
    ]
    photo = tmp_path / "photo.png"
    save_image(torch.rand(1, 3, 150, 170), photo)
    image = load_image(photo)
    for task in tasks:
        assert isinstance(task, Task) and isinstance(task.device, torch.device)
        seen.clear()
        (result,) = task.process([image], [single_job(photo, tmp_path / "out.png")])
        pixels = getattr(result, "pixels", result)
        assert pixels.shape[0] == 1 and pixels.shape[1] == 3
        if type(task).__name__ in ("FastStylizer", "Upscaler", "StyledTask"):
            assert seen and seen[-1][0] == seen[-1][1] > 1, type(task).__name__  # its tiles, counted
