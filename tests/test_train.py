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


class _Recorded(loop.ImageFiles):
    """ImageFiles that notes the photos each dataset is made of (the training one first, then the validation one)."""

    made: list[list] = []

    def __init__(self, paths, *args, **kwargs):
        super().__init__(paths, *args, **kwargs)
        _Recorded.made.append(sorted(paths))


def test_validation_photos_are_held_back_and_the_loss_on_them_is_reported_and_recorded(dataset, tmp_path,
                                                                                       monkeypatch):
    data, style = dataset
    monkeypatch.setattr(loop, "ImageFiles", _Recorded)
    monkeypatch.setattr(loop, "VALIDATION_CROPS", 5)  # 64 as shipped: fewer here, to be quick
    _Recorded.made = []
    starts, checks = [], []
    config = TINY.replace(steps=12, validation_images=2, validate_every=5)
    result = train(config, style, data, tmp_path / "m.safetensors", device="cpu", on_start=starts.append,
                   on_validate=checks.append)
    trained, validation = _Recorded.made
    assert len(validation) == 2 and not set(validation) & set(trained)
    assert starts[0].images == 8 - 2 - 2 and starts[0].validation == 2 and starts[0].held_back == 2
    assert [check.step for check in checks] == [5, 10, 12]  # every 5 steps and at the end
    assert all(check.losses["total"] == pytest.approx(sum(v for k, v in check.losses.items() if k != "total"))
               for check in checks)
    assert result.validation == [(check.step, check.losses["total"]) for check in checks]
    best = min(result.validation, key=lambda entry: entry[1])
    assert checks[-1].best_step == best[0] and checks[-1].best_total == best[1]
    recorded = load_model(result.model_path)[1].training
    assert recorded["validation"]["images"] == 2 and recorded["validation"]["crops"] == 6  # 3 of each photo
    assert [step for step, _ in recorded["validation"]["losses"]] == [5, 10, 12]
    assert recorded["validation"]["weights_of_step"] == 12  # without --keep-best: the last step's

    # Without validation photos the split is as before: those two photos train again, nothing else moves.
    _Recorded.made = []
    train(TINY.replace(steps=1), style, data, tmp_path / "n.safetensors", device="cpu")
    assert _Recorded.made == [sorted(trained + validation)]


def test_validation_changes_nothing_in_training_and_gives_the_same_figure_for_the_same_weights(tmp_path,
                                                                                            monkeypatch):
    """Measured in eval mode without gradients, its random draws and the network's buffers put back: colorize's
    running colour prior, updated by every training loss, is not touched by the validation photos."""
    from stylize.config import ColorizeTrainConfig
    from stylize.tasks.colorize import ColorizeObjective

    monkeypatch.setattr(loop, "VALIDATION_CROPS", 4)  # a few crops, to be quick: their number is not the subject
    data = tmp_path / "photos"
    data.mkdir()
    for i in range(6):
        gradient_image(80, 64, seed=i).save(data / f"{i}.png")
    config = ColorizeTrainConfig(image_size=64, batch_size=2, steps=4, width=8, workers=0, preview_images=0,
                                 validation_images=2)
    often = fit(ColorizeObjective(config.replace(validate_every=1)), data, tmp_path / "a.safetensors", device="cpu")
    once = fit(ColorizeObjective(config), data, tmp_path / "b.safetensors", device="cpu")
    assert [step for step, _ in often.validation] == [1, 2, 3, 4] and [step for step, _ in once.validation] == [4]
    assert often.validation[-1] == once.validation[-1]
    a, b = load_model(often.model_path)[0].state_dict(), load_model(once.model_path)[0].state_dict()
    assert "prior" in a and all(torch.equal(a[k], b[k]) for k in a)


_STYLE_LOSS = StyleObjective.loss


def _valley_loss(self, net, batch):
    """A style objective's loss whose validation figure is lowest after 10 training steps (scripted: the real one
    falls with these few steps), to check which weights --keep-best writes."""
    if net.training:
        self.steps = getattr(self, "steps", 0) + 1
        return _STYLE_LOSS(self, net, batch)
    return torch.tensor([abs(self.steps - 10) + 1.0, 0.0, 0.0], device=batch.device)


def test_keep_best_writes_the_weights_of_the_lowest_validation_loss(dataset, tmp_path, monkeypatch):
    data, style = dataset
    config = TINY.replace(steps=20, validation_images=2, validate_every=5, keep_best=True)
    monkeypatch.setattr(StyleObjective, "loss", _valley_loss)
    monkeypatch.setattr(loop, "VALIDATION_CROPS", 2)
    result = train(config, style, data, tmp_path / "best.safetensors", device="cpu")
    assert result.validation == [(5, 6.0), (10, 1.0), (15, 6.0), (20, 11.0)] and result.kept_step == 10
    # The weights of step 10: those of the same run stopped there (a constant learning rate, the same batches).
    stopped = train(config.replace(steps=10, keep_best=False), style, data, tmp_path / "ten.safetensors", device="cpu")
    best, ten = load_model(result.model_path), load_model(stopped.model_path)
    assert all(torch.equal(best[0].state_dict()[k], v) for k, v in ten[0].state_dict().items())
    assert best[1].training["steps_done"] == 20 and best[1].training["validation"]["weights_of_step"] == 10
    # The checkpoint keeps the last step's weights, to train on from.
    last = torch.load(checkpoint_path_for(result.model_path), weights_only=True)
    assert last["step"] == 20 and last["validation"]["best_step"] == 10
    assert not all(torch.equal(last["model"][k], v) for k, v in ten[0].state_dict().items())


def test_an_interrupted_run_with_validation_resumes_to_the_same_figures_and_weights(dataset, tmp_path,
                                                                                    monkeypatch):
    data, style = dataset
    monkeypatch.setattr(loop, "VALIDATION_CROPS", 4)
    config = TINY.replace(steps=12, checkpoint_every=4, validation_images=2, validate_every=3, keep_best=True)
    straight = train(config, style, data, tmp_path / "a.safetensors", device="cpu")
    calls = []
    stopped = train(config, style, data, tmp_path / "b.safetensors", device="cpu",
                    should_stop=lambda: calls.append(1) or len(calls) >= 7)
    assert stopped.interrupted and stopped.validation == straight.validation[:2]
    resumed = train(config, style, data, tmp_path / "b.safetensors", device="cpu", resume=True)
    assert resumed.validation == straight.validation and resumed.kept_step == straight.kept_step
    a, b = load_model(straight.model_path)[0].state_dict(), load_model(resumed.model_path)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_validation_options_that_cannot_work_are_one_line_errors(dataset, tmp_path, invoke):
    data, style = dataset
    base = ("train", "--style", style, "--data", data, "-o", tmp_path / "m.safetensors", "--steps", "1",
            "--image-size", "48", "--width", "8", "--residual-blocks", "1", "--workers", "0")
    invoke.error_line(invoke(*base, "--keep-best"), 2, "--keep-best needs --validation-images")
    too_many = invoke(*base, "--validation-images", "5", "--batch-size", "2", "--preview-images", "2")
    invoke.error_line(too_many, 1, "1 training image(s) under")  # 8 photos, 2 for previews, 5 held back
    assert "hold fewer back with --validation-images" in too_many.stderr
    invoke.error_line(invoke(*base, "--validation-images", "-1"), 2, "--validation-images")


def _train_twenty_steps_keeping_the_best(invoke, dataset, output):
    """`stylize train` of a tiny style model for 20 steps, validated every 5 on 2 photos, with --keep-best."""
    data, style = dataset
    return invoke("train", "--style", style, "--data", data, "-o", output, "--steps", "20", "--image-size", "48",
                  "--width", "8", "--residual-blocks", "1", "--workers", "0", "--batch-size", "2", "--style-size",
                  "64", "--validation-images", "2", "--validate-every", "5", "--keep-best")


def test_train_prints_each_validation_loss_and_which_weights_it_wrote(dataset, tmp_path, invoke, monkeypatch):
    monkeypatch.setattr(StyleObjective, "loss", _valley_loss)
    monkeypatch.setattr(loop, "VALIDATION_CROPS", 2)
    result = _train_twenty_steps_keeping_the_best(invoke, dataset, tmp_path / "m.safetensors")
    assert result.exit_code == 0, result.output
    assert "Training on 2 images (4 held back for previews, 2 for the validation loss)" in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Validation loss")]
    assert lines == ["Validation loss at step 5: 6 (content 6, style 0, tv 0); the lowest so far",
                     "Validation loss at step 10: 1 (content 1, style 0, tv 0); the lowest so far",
                     "Validation loss at step 15: 6 (content 6, style 0, tv 0); the lowest: 1 at step 10",
                     "Validation loss at step 20: 11 (content 11, style 0, tv 0); the lowest: 1 at step 10"]
    assert result.stderr.rstrip().endswith("; the weights of step 10, whose validation loss was the lowest (1)")


def test_a_checkpoint_whose_validation_section_is_damaged_is_one_line(dataset, tmp_path, monkeypatch):
    from stylize.errors import ModelFileError

    data, style = dataset
    monkeypatch.setattr(loop, "VALIDATION_CROPS", 2)
    config = TINY.replace(steps=2, validation_images=2, preview_images=0, keep_best=True)
    result = train(config, style, data, tmp_path / "m.safetensors", device="cpu")
    state = torch.load(result.checkpoint_path, weights_only=True)
    for damaged in ({"history": [["step", 1.0]]}, {**state["validation"], "best_weights": {"w": "not a tensor"}}):
        save_training_state(result.checkpoint_path, {**state, "step": 1, "validation": damaged})
        with pytest.raises(ModelFileError, match="does not fit this training"):
            train(config.replace(steps=3), style, data, tmp_path / "m.safetensors", device="cpu", resume=True)


def _scored(higher_is_better):
    """A style objective's score (scripted: style has none) that is best after 15 training steps, while its loss
    (_valley_loss) is lowest after 10: --keep-best must choose by the score."""
    from stylize.tasks.protocol import ValidationScore

    def validate(self, net, batch):
        distance = abs(self.steps - 15) + 1.0
        scores = torch.full((len(batch),), -distance if higher_is_better else distance, device=batch.device)
        return self.loss(net, batch), scores

    return ValidationScore("PSNR" if higher_is_better else "CIEDE2000", " dB" if higher_is_better else "",
                           higher_is_better), validate


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_keep_best_chooses_by_the_tasks_score_where_it_has_one(dataset, tmp_path, monkeypatch, invoke,
                                                               higher_is_better):
    measure, validate = _scored(higher_is_better)
    monkeypatch.setattr(StyleObjective, "loss", _valley_loss)
    monkeypatch.setattr(StyleObjective, "validation_score", measure, raising=False)
    monkeypatch.setattr(StyleObjective, "validate", validate, raising=False)
    monkeypatch.setattr(loop, "VALIDATION_CROPS", 2)
    result = _train_twenty_steps_keeping_the_best(invoke, dataset, tmp_path / "m.safetensors")
    assert result.exit_code == 0, result.output
    sign, name, unit = ("-", "PSNR", " dB") if higher_is_better else ("", "CIEDE2000", "")
    lines = [line for line in result.stderr.splitlines() if line.startswith("Validation")]
    assert lines == [f"Validation at step 5: {name} {sign}11{unit}, loss 6 (content 6, style 0, tv 0); the best so far",
                     f"Validation at step 10: {name} {sign}6{unit}, loss 1 (content 1, style 0, tv 0); the best so far",
                     f"Validation at step 15: {name} {sign}1{unit}, loss 6 (content 6, style 0, tv 0); the best so far",
                     f"Validation at step 20: {name} {sign}6{unit}, loss 11 (content 11, style 0, tv 0); "
                     f"the best: {name} {sign}1{unit} at step 15"]
    assert result.stderr.rstrip().endswith(f"; the weights of step 15, whose validation {name} was the best "
                                           f"({sign}1{unit})")
    recorded = load_model(tmp_path / "m.safetensors")[1].training["validation"]
    assert recorded["best_step"] == recorded["weights_of_step"] == 15
    values = [-11.0, -6.0, -1.0, -6.0] if higher_is_better else [11.0, 6.0, 1.0, 6.0]
    assert recorded["score"] == {"name": name, "higher_is_better": higher_is_better,
                                 "values": [[step, value] for step, value in zip((5, 10, 15, 20), values, strict=True)]}
    # Not the last step's weights (the checkpoint keeps those; which step's they are is tested above).
    kept = load_model(tmp_path / "m.safetensors")[0].state_dict()
    last = torch.load(checkpoint_path_for(tmp_path / "m.safetensors"), weights_only=True)
    assert last["validation"]["best_step"] == 15 and last["validation"]["history"][2] == [15, 6.0, values[2]]
    assert not all(torch.equal(last["model"][k], v) for k, v in kept.items())


def test_a_checkpoint_from_before_scores_resumes_and_its_entries_rank_last(dataset, tmp_path, monkeypatch):
    """A run started before its task measured a score (its history holds (step, total) alone) resumes: the
    entries without a score are kept and never chosen over one with a score."""
    data, style = dataset
    measure, validate = _scored(higher_is_better=False)
    monkeypatch.setattr(StyleObjective, "loss", _valley_loss)
    monkeypatch.setattr(loop, "VALIDATION_CROPS", 2)
    config = TINY.replace(steps=10, validation_images=2, validate_every=5, keep_best=True, preview_images=0)
    before = train(config, style, data, tmp_path / "m.safetensors", device="cpu")
    assert before.validation_scores == [] and before.kept_step == 10  # no score: the lowest loss, at step 10
    state = torch.load(before.checkpoint_path, weights_only=True)
    state["validation"]["history"] = [entry[:2] for entry in state["validation"]["history"]]
    save_training_state(before.checkpoint_path, state)
    monkeypatch.setattr(StyleObjective, "validation_score", measure, raising=False)
    monkeypatch.setattr(StyleObjective, "validate", validate, raising=False)
    objective = StyleObjective(config.replace(steps=20), style)
    objective.steps = 10  # the scripted figures count the steps this objective trained: 10 before the stop
    resumed = fit(objective, data, tmp_path / "m.safetensors", device="cpu", resume=True)
    assert resumed.validation == [(5, 6.0), (10, 1.0), (15, 6.0), (20, 11.0)]
    assert resumed.validation_scores == [(15, 1.0), (20, 6.0)] and resumed.kept_step == 15


def test_colorize_and_upscale_report_their_benchmarks_measures_on_the_held_back_photos(tmp_path, monkeypatch):
    """Colorize: the mean CIEDE2000 of its readout (with the crop's true lightness) to the true colours; upscale:
    PSNR on luma; each beside its loss, from the same pass. Here a colorizer whose readout is gray scores exactly
    the gray crops' CIEDE2000."""
    from stylize.colorspace import rgb_to_lab
    from stylize.config import ColorizeTrainConfig, UpscaleTrainConfig
    from stylize.metrics import ciede2000, psnr_luma
    from stylize.tasks.colorize import ColorizeObjective
    from stylize.tasks.upscale import UpscaleObjective

    monkeypatch.setattr(loop, "VALIDATION_CROPS", 4)
    data = tmp_path / "photos"
    data.mkdir()
    for i in range(6):
        gradient_image(80, 64, seed=i).save(data / f"{i}.png")
    config = ColorizeTrainConfig(image_size=64, batch_size=2, steps=2, width=8, workers=0, preview_images=0,
                                 validation_images=2, keep_best=True)
    colorize = ColorizeObjective(config)
    result = fit(colorize, data, tmp_path / "c.safetensors", device="cpu")
    assert [step for step, _ in result.validation_scores] == [2] and 0 < result.validation_scores[0][1] < 100
    crops = torch.stack([colorize.transform()(gradient_image(80, 64, seed=i).convert("RGB")) for i in range(2)])
    net = load_model(result.model_path)[0]  # eval mode, with the colour prior its loss's weights are made from
    monkeypatch.setattr(net, "chroma", lambda maps, lightness: torch.zeros(len(lightness), 2, *lightness.shape[-2:]))
    true_lab = rgb_to_lab(crops[:, :3])
    gray = torch.cat([true_lab[:, :1], torch.zeros_like(true_lab[:, 1:])], dim=1)
    terms, scores = colorize.validate(net, crops)
    assert torch.allclose(scores, ciede2000(gray, true_lab).mean(dim=(1, 2)), atol=1e-5)
    assert torch.allclose(terms, colorize.loss(net, crops))

    upscale = UpscaleObjective(UpscaleTrainConfig(scale=2, image_size=32, batch_size=2, steps=3, width=8, blocks=1,
                                                  workers=0, preview_images=0, validation_images=2, validate_every=1,
                                                  keep_best=True))
    result = fit(upscale, data, tmp_path / "u.safetensors", device="cpu")
    scores = dict(result.validation_scores)
    assert list(scores) == [1, 2, 3] and all(10 < value < 60 for value in scores.values())
    assert result.kept_step == max(scores, key=scores.get)  # higher is better
    low, high = upscale.transform()(gradient_image(80, 64, seed=0).convert("RGB"))
    def nearest(pixels):
        return torch.nn.functional.interpolate(pixels, scale_factor=2, mode="nearest")

    terms, scores = upscale.validate(nearest, (low[None], high[None]))
    assert torch.allclose(scores, psnr_luma(nearest(low[None]), high[None], 2))
    assert torch.allclose(terms, upscale.loss(nearest, (low[None], high[None])))
