import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from conftest import gradient_image, stripes_image
from torch.utils.data import DataLoader

from stylize.config import StyleTrainConfig
from stylize.errors import ConfigError, TrainingError
from stylize.modelfile import load_model
from stylize.tasks.fast import StyleObjective
from stylize.training import loop
from stylize.training.checkpoint import checkpoint_path_for, save_training_state
from stylize.training.loop import fit

TINY = StyleTrainConfig(image_size=48, batch_size=2, steps=30, workers=0, width=8, residual_blocks=1, log_every=5,
                        checkpoint_every=10, preview_every=15, preview_images=2, style_size=64, lr=5e-3)


def train(config, style, data, output, credit=None, **options):
    return fit(StyleObjective(config, style, credit), data, output, **options)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    (root / "nested").mkdir()
    for i in range(8):
        gradient_image(72, 56, seed=i).save(root / ("nested" if i % 2 else ".") / f"photo{i}.jpg")
    style = root.parent / "style.png"
    stripes_image(64, 64).save(style)
    return root, style


def test_training_loss_falls_and_writes_model_checkpoint_and_previews(dataset, tmp_path, device):
    data, style = dataset
    logs, previews = [], []
    result = train(TINY, style, data, tmp_path / "m.safetensors", device=device, on_log=logs.append,
                   on_preview=previews.append, credit={"title": "Stripes"}, record={"command": "stylize train ..."})
    assert logs[-1].losses["total"] < 0.85 * logs[0].losses["total"]
    assert result.steps == 30 and not result.interrupted
    net, info = load_model(result.model_path, task="style")
    assert info.style["title"] == "Stripes" and info.training["steps_done"] == 30
    assert info.training["command"] == "stylize train ..."
    assert info.document["losses"]["total"] == pytest.approx(logs[-1].losses["total"])
    assert checkpoint_path_for(result.model_path).is_file()
    assert [p.name for p in previews] == ["step0000015.png", "step0000030.png"]


def test_interrupt_and_resume_gives_the_same_weights(dataset, tmp_path):
    data, style = dataset
    config = TINY.replace(steps=12, checkpoint_every=4)
    straight = train(config, style, data, tmp_path / "a.safetensors", device="cpu")

    calls = []
    stopped = train(config, style, data, tmp_path / "b.safetensors", device="cpu",
                    should_stop=lambda: calls.append(1) or len(calls) >= 6)
    assert stopped.interrupted and stopped.steps == 6 and stopped.model_path is None
    resumed = train(config, style, data, tmp_path / "b.safetensors", device="cpu", resume=True)
    assert resumed.steps == 12
    a, b = load_model(straight.model_path)[0].state_dict(), load_model(resumed.model_path)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_second_run_to_the_same_output_stops_at_once_and_leaves_the_first_alone(dataset, tmp_path):
    """Red-team: two `stylize train -o same.safetensors` overwrote each other's checkpoints, so that a resumed run
    went on from the other's state."""
    from stylize.errors import BusyError
    from stylize.files import OutputLock

    data, style = dataset
    output = tmp_path / "m.safetensors"
    first = OutputLock(output)  # the first run's lock, as another process holds it (flock is per open file)
    assert first.acquire()
    try:
        with pytest.raises(BusyError, match=f"another stylize process is writing {output}"):
            train(TINY.replace(steps=2), style, data, output, device="cpu")
        assert sorted(tmp_path.iterdir()) == [tmp_path / ".m.safetensors.stylize-lock"]  # nothing of its own
    finally:
        first.release()
    assert train(TINY.replace(steps=2), style, data, output, device="cpu").model_path == output
    assert not list(tmp_path.glob(".*stylize-lock"))


def test_one_loader_serves_every_epoch(dataset, tmp_path, monkeypatch):
    # 6 training photos in batches of 2: 12 steps are 4 epochs, and the loader (its workers) starts once.
    made = []
    monkeypatch.setattr(loop, "DataLoader", lambda *args, **kwargs: made.append(1) or DataLoader(*args, **kwargs))
    result = train(TINY.replace(steps=12), dataset[1], dataset[0], tmp_path / "m.safetensors", device="cpu")
    assert result.steps == 12 and len(made) == 1


def test_resume_of_a_checkpoint_saved_at_an_epochs_end_by_older_versions(dataset, tmp_path):
    # Before one loader served every epoch, a checkpoint at an epoch's end kept (epoch, position = its end).
    data, style = dataset
    config = TINY.replace(steps=12, checkpoint_every=3)
    straight = train(config, style, data, tmp_path / "a.safetensors", device="cpu")
    calls = []
    train(config, style, data, tmp_path / "b.safetensors", device="cpu",
          should_stop=lambda: calls.append(1) or len(calls) >= 6)
    path = checkpoint_path_for(tmp_path / "b.safetensors")
    state = torch.load(path, weights_only=True)
    assert (state["step"], state["epoch"], state["position"]) == (6, 2, 0)
    save_training_state(path, {**state, "epoch": 1, "position": 6})
    calls.clear()
    train(config, style, data, tmp_path / "b.safetensors", device="cpu", resume=True,
          should_stop=lambda: calls.append(1) or len(calls) >= 4)
    state = torch.load(path, weights_only=True)
    assert (state["step"], state["epoch"], state["position"]) == (10, 3, 2)  # counted on from epoch 2
    resumed = train(config, style, data, tmp_path / "b.safetensors", device="cpu", resume=True)
    a, b = load_model(straight.model_path)[0].state_dict(), load_model(resumed.model_path)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_long_thin_style_is_read_longer_and_a_line_is_refused(tmp_path):
    """At style_size 64 a 1000x10 scroll would be 64x1 px, under the 8 px of the deepest loss layer (relu4_3):
    it is read 800 px long instead. A 2000x1 line is a one-line error before any photo is read."""
    from stylize.errors import ImageError

    gradient_image(1000, 10).save(tmp_path / "scroll.png")
    assert StyleObjective(TINY, tmp_path / "scroll.png").style_image.shape[-2:] == (8, 800)
    gradient_image(2000, 1).save(tmp_path / "line.png")
    with pytest.raises(ImageError, match="a 2000x1 px image is too narrow as a style"):
        StyleObjective(TINY, tmp_path / "line.png")


def test_a_stop_during_the_last_step_still_writes_the_model(dataset, tmp_path):
    data, style = dataset
    objective = StyleObjective(TINY.replace(steps=3), style)
    losses = []
    real_loss = objective.loss
    objective.loss = lambda net, batch: losses.append(1) or real_loss(net, batch)
    # The stop (a SIGTERM, say) arrives while the third and last step computes.
    result = fit(objective, data, tmp_path / "m.safetensors", device="cpu", should_stop=lambda: len(losses) >= 3)
    assert not result.interrupted and result.steps == 3
    assert result.model_path is not None and load_model(result.model_path)[1].training["steps_done"] == 3


def test_resume_of_a_finished_checkpoint_without_its_model_writes_the_model(dataset, tmp_path):
    data, style = dataset
    output = tmp_path / "m.safetensors"
    train(TINY.replace(steps=2), style, data, output, device="cpu")
    output.unlink()  # killed between the last checkpoint and the model write
    result = train(TINY.replace(steps=2), style, data, output, device="cpu", resume=True)
    assert result.model_path == output and load_model(output)[1].training["steps_done"] == 2


def test_resume_with_nothing_or_other_settings(dataset, tmp_path):
    data, style = dataset
    with pytest.raises(Exception, match="nothing to resume"):
        train(TINY, style, data, tmp_path / "none.safetensors", device="cpu", resume=True)
    train(TINY.replace(steps=2), style, data, tmp_path / "m.safetensors", device="cpu")
    with pytest.raises(ConfigError, match="batch_size=2"):
        train(TINY.replace(batch_size=3), style, data, tmp_path / "m.safetensors", device="cpu", resume=True)
    before = (tmp_path / "m.safetensors").read_bytes()
    again = train(TINY.replace(steps=2), style, data, tmp_path / "m.safetensors", device="cpu", resume=True)
    assert again.finished_before and again.steps == 2 and (tmp_path / "m.safetensors").read_bytes() == before


def test_resume_with_another_style_or_other_photos_is_refused(dataset, tmp_path):
    data, style = dataset
    output = tmp_path / "m.safetensors"
    train(TINY.replace(steps=2), style, data, output, device="cpu")
    other_style = tmp_path / "other.png"
    gradient_image(64, 64, seed=9).save(other_style)
    with pytest.raises(ConfigError, match="other style image"):
        train(TINY.replace(steps=4), other_style, data, output, device="cpu", resume=True)
    other_data = tmp_path / "other_data"
    other_data.mkdir()
    for i in range(8):
        gradient_image(72, 56, seed=20 + i).save(other_data / f"p{i}.jpg")
    with pytest.raises(ConfigError, match="other photos under --data"):
        train(TINY.replace(steps=4), style, other_data, output, device="cpu", resume=True)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(dataset, tmp_path):
    data, style = dataset
    output = tmp_path / "m.safetensors"
    train(TINY.replace(steps=4, checkpoint_every=2), style, data, output, device="cpu")
    good = checkpoint_path_for(output).read_bytes()
    with pytest.raises(TrainingError, match="finite"):
        train(TINY.replace(steps=8, checkpoint_every=2, lr=1e30), style, data, output, device="cpu")
    # The diverged run wrote no checkpoint after its loss went bad: the last good one is untouched.
    assert checkpoint_path_for(output).read_bytes() == good


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, data, style, output) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    train(TINY.replace(steps=3, preview_images=0), style, data, output, device="cpu")


@pytest.mark.slow
def test_two_process_gloo_run_writes_exactly_one_model(dataset, tmp_path):
    data, style = dataset
    output = tmp_path / "out" / "m.safetensors"
    mp.spawn(_rank_main, args=(2, _free_port(), data, style, output), nprocs=2, join=True)
    assert sorted(p.name for p in output.parent.iterdir()) == ["m.ckpt", "m.safetensors"]
    assert load_model(output)[1].training["world_size"] == 2


@pytest.mark.slow
def test_a_signal_to_the_whole_process_group_checkpoints_with_data_workers(dataset, tmp_path):
    """Ctrl-C, `timeout` and service managers signal the process group: a data-loading worker killed by it
    crashed the run ('DataLoader worker ... is killed by signal: Terminated') before it could checkpoint."""
    import signal
    import subprocess
    import sys
    import time

    data, style = dataset
    output = tmp_path / "m.safetensors"
    command = [sys.executable, "-m", "stylize", "train", "--style", str(style), "--data", str(data), "-o",
               str(output), "--steps", "100000", "--image-size", "48", "--batch-size", "2", "--width", "8",
               "--residual-blocks", "1", "--workers", "1", "--log-every", "1", "--preview-images", "0",
               "--device", "cpu"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.time() + 120
        line = ""
        while "step/s" not in line and "img/s" not in line and time.time() < deadline:  # training under way
            line = process.stderr.read(200) or ""
            if process.poll() is not None:
                break
        os.killpg(process.pid, signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr and "--resume" in stderr
    assert checkpoint_path_for(output).is_file()


def test_held_back_panoramas_are_centre_cropped_for_the_preview_sheet():
    """A 2000x1 banner held back for previews was drawn 128,000 px wide at 64 px high (49 s of a 2-step run):
    a held-back photo is cut to 2:1 at most."""
    from stylize.training.preview import preview_crop

    photo = torch.arange(10 * 100, dtype=torch.float32).view(1, 1, 10, 100).expand(1, 3, 10, 100)
    assert torch.equal(preview_crop(photo), photo[..., 40:60])  # the centre, 2:1
    assert preview_crop(torch.rand(1, 3, 1, 2000)).shape[-2:] == (1, 2)
    assert preview_crop(torch.rand(1, 3, 300, 10)).shape[-2:] == (20, 10)
    assert preview_crop(torch.rand(1, 3, 48, 64)).shape[-2:] == (48, 64)  # a photo's shape is kept
