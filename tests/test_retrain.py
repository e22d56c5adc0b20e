"""The retraining script of the shipped models: every model, dependencies first, commands recorded."""

import subprocess
import sys
from pathlib import Path

from stylize.zoo import available_models

ROOT = Path(__file__).resolve().parents[1]


def _dry_run(profile: str, *more: str) -> str:
    return subprocess.run([sys.executable, str(ROOT / "pretrained" / "retrain.py"), "--dry-run", "--profile", profile,
                           *more], capture_output=True, text=True, check=True).stdout


def test_dry_run_lists_every_shipped_model_with_dependencies_first():
    shipped = {entry.name for entry in available_models() if entry.source == "shipped"}
    trained = set()
    for profile in ("cpu", "gpu"):
        lines = [line for line in _dry_run(profile).splitlines() if " train " in line]
        names = [line.split(" -o ")[1].split()[0].rsplit("/", 1)[1].removesuffix(".safetensors") for line in lines]
        trained |= set(names)
        for line, name in zip(lines, names, strict=True):
            if "--init" in line:
                path = Path(line.split("--init ")[1].split()[0])
                dependency = path.name.removesuffix(".safetensors")
                if path.parent == ROOT / "pretrained":  # one the profile does not train: the shipped file
                    assert dependency in shipped and dependency not in names
                else:
                    assert names.index(dependency) < names.index(name)
    assert shipped <= trained
    gpu = _dry_run("gpu")
    assert "--width 32" in gpu and "--image-size 256" in gpu


def test_extra_options_come_after_the_profiles_so_that_they_win():
    line = _dry_run("gpu", "--only", "arbitrary", "--extra", "--upsampling bilinear --steps 10").strip()
    assert line.index("--upsampling nearest") < line.index("--upsampling bilinear")
    assert line.endswith("--upsampling bilinear --steps 10")


def test_every_shipped_model_records_the_command_that_made_it():
    for entry in available_models():
        if entry.source == "shipped":
            assert entry.info is not None, entry.error
            assert entry.info.training.get("command", "").startswith("stylize train --task "), entry.name
