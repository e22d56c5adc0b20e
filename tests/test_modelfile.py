import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save, save_file

from stylize.errors import ModelFileError
from stylize.modelfile import load_model, read_model_info, save_model
from stylize.nets.johnson import JohnsonNet
from stylize.training.checkpoint import load_training_state, save_training_state


def test_round_trip_keeps_outputs_and_metadata(tmp_path):
    net = JohnsonNet(width=8, residual_blocks=1)
    path = save_model(tmp_path / "m.safetensors", net, "style",
                      {"style": {"file": "s.jpg", "sha256": "ab"}, "losses": {"style": 1.5}})
    loaded, info = load_model(path)
    x = torch.rand(1, 3, 24, 20)
    with torch.no_grad():
        assert torch.equal(net(x), loaded(x))
    assert (info.task, info.architecture, info.arguments) == ("style", "johnson", {"width": 8, "residual_blocks": 1})
    assert info.style["file"] == "s.jpg" and info.document["format_version"] == 2 and info.document["stylize_version"]
    assert read_model_info(path) == info


def test_half_precision_files_are_half_the_size_and_close(tmp_path):
    net = JohnsonNet(width=8, residual_blocks=1)
    full = save_model(tmp_path / "f.safetensors", net, "style", {})
    half = save_model(tmp_path / "h.safetensors", net, "style", {}, half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(load_model(full)[0](x), load_model(half)[0](x), atol=1e-2)


def test_format_one_files_keep_loading(tmp_path):
    # stylize 0.1 wrote "stylize-transformer" documents with the arguments under "architecture".
    net = JohnsonNet(width=8, residual_blocks=1)
    document = {"format": "stylize-transformer", "format_version": 1, "architecture": net.arguments(),
                "style": {"title": "Old"}}
    path = tmp_path / "old.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path),
              metadata={"stylize": json.dumps(document)})
    loaded, info = load_model(path, task="style")
    assert (info.task, info.architecture, info.style["title"]) == ("style", "johnson", "Old")
    x = torch.rand(1, 3, 20, 20)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))


def test_a_model_of_another_task_is_refused_with_its_command(tmp_path):
    path = save_model(tmp_path / "m.safetensors", JohnsonNet(width=8, residual_blocks=1), "style", {})
    with pytest.raises(ModelFileError, match="not 'upscale': use it with `stylize run --model`"):
        load_model(path, task="upscale")


@pytest.mark.parametrize("kind", ["missing", "garbage", "empty", "foreign", "other_format", "truncated"])
def test_foreign_or_corrupt_files_give_one_line_errors(tmp_path, kind):
    path = tmp_path / "m.safetensors"
    if kind == "garbage":
        path.write_bytes(b"\xff" * 100)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "foreign":
        save_file({"w": torch.zeros(2)}, str(path))
    elif kind == "other_format":
        save_file({"w": torch.zeros(2)}, str(path), metadata={"stylize": json.dumps({"format": "other"})})
    elif kind == "truncated":
        save_model(path, JohnsonNet(width=8, residual_blocks=1), "style", {})
        path.write_bytes(path.read_bytes()[:-500])
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def _raw_file(path, header: object) -> None:
    data = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(data)) + data)


def _document(**changes):
    net = JohnsonNet(width=8, residual_blocks=1)
    return {"format": "stylize-model", "format_version": 2, "task": "style", "architecture": "johnson",
            "arguments": net.arguments(), **changes}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("header is a list", "not a JSON object"),
        ("metadata is a list", "malformed metadata"),
        ("document is a list", "corrupt stylize metadata"),
        ("deeply nested", "corrupt stylize metadata"),
        ("task is a number", "task"),
        ("unknown architecture", "architecture this stylize does not know"),
        ("arguments of the wrong type", "whole numbers"),
        ("missing argument", "arguments must be"),
        ("tensor entry is a string", "not described as floats"),
    ],
)
def test_malformed_headers_are_refused_at_the_boundary(tmp_path, case, message):
    path = tmp_path / "bad.safetensors"
    good = {"__metadata__": {"stylize": json.dumps(_document())}}
    header = {
        "header is a list": [1, 2, 3],
        "metadata is a list": {"__metadata__": ["stylize"]},
        "document is a list": {"__metadata__": {"stylize": "[1, 2]"}},
        "deeply nested": {"__metadata__": {"stylize": "[" * 100_000 + "]" * 100_000}},
        "task is a number": {"__metadata__": {"stylize": json.dumps(_document(task=7))}},
        "unknown architecture": {"__metadata__": {"stylize": json.dumps(_document(architecture="gpt"))}},
        "arguments of the wrong type": {"__metadata__": {"stylize": json.dumps(
            _document(arguments={"width": "8", "residual_blocks": 1}))}},
        "missing argument": {"__metadata__": {"stylize": json.dumps(_document(arguments={"width": 8}))}},
        "tensor entry is a string": {**good, "w": "nonsense"},
    }[case]
    _raw_file(path, header)
    with pytest.raises(ModelFileError, match=message) as info:
        read_model_info(path)
    assert "\n" not in str(info.value)


def test_arguments_are_checked_against_the_tensors_before_building(tmp_path, monkeypatch):
    # A small file claiming a huge network: refused from the header, before any network is built.
    small = JohnsonNet(width=8, residual_blocks=1)
    tensors = {k: v.contiguous() for k, v in small.state_dict().items()}
    path = tmp_path / "liar.safetensors"
    path.write_bytes(save(tensors, metadata={"stylize": json.dumps(_document(arguments={"width": 128,
                                                                                          "residual_blocks": 1}))}))
    built = []
    real_init = JohnsonNet.__init__

    def spy(self, *args, **kwargs):
        built.append(torch.empty(0).device.type)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(JohnsonNet, "__init__", spy)
    with pytest.raises(ModelFileError, match="do not fit a johnson network"):
        load_model(path)
    assert "cpu" not in built  # only shape inference on the meta device ran
    path.write_bytes(save(tensors, metadata={"stylize": json.dumps(_document(arguments={"width": 512,
                                                                                          "residual_blocks": 1}))}))
    with pytest.raises(ModelFileError, match="outside 4..128"):
        load_model(path)


def test_weights_that_are_not_finite_are_refused(tmp_path):
    net = JohnsonNet(width=8, residual_blocks=1)
    with torch.no_grad():
        net.out[1].weight[0, 0, 0, 0] = float("nan")
    path = save_model(tmp_path / "nan.safetensors", net, "style", {})
    with pytest.raises(ModelFileError, match="not finite"):
        load_model(path)


def test_training_state_round_trip_missing_and_foreign(tmp_path):
    state = {"task": "style", "step": 3, "epoch": 0, "position": 6, "config": {"lr": 0.1}, "inputs": {},
             "model": {"w": torch.ones(2)}, "optimizer": {}, "scaler": {}, "rng_cpu": torch.get_rng_state()}
    path = save_training_state(tmp_path / "t.ckpt", state)
    loaded = load_training_state(path)
    assert loaded["step"] == 3 and torch.equal(loaded["model"]["w"], torch.ones(2))
    with pytest.raises(ModelFileError, match="nothing to resume"):
        load_training_state(tmp_path / "none.ckpt")
    torch.save({"state_dict": {"w": torch.ones(2)}}, tmp_path / "foreign.ckpt")
    with pytest.raises(ModelFileError, match="not a stylize training checkpoint"):
        load_training_state(tmp_path / "foreign.ckpt")


def test_unreadable_checkpoints_say_why_in_a_few_words_and_never_advise_loading_them_unsafely(tmp_path):
    """torch.load's refusal opens with a paragraph (terminal escapes included) that advises loading again with
    weights_only=False, which may run the file's code: the message names what was refused instead."""
    complete = tmp_path / "objects.ckpt"
    torch.save({"task": "style", "where": Path("x")}, complete)  # a Python object torch will not load as data
    (tmp_path / "text.ckpt").write_text("not a checkpoint\n")
    (tmp_path / "cut.ckpt").write_bytes(complete.read_bytes()[:200])
    (tmp_path / "empty.ckpt").write_bytes(b"")
    path_class = f"{type(Path('x')).__module__}.{type(Path('x')).__name__}"
    expected = {"objects": f"it holds Python objects ({path_class}), not only tensors and plain values",
                "text": "not a PyTorch file", "cut": "a damaged or cut-short PyTorch file",
                "empty": "empty or cut short"}
    for name, reason in expected.items():
        with pytest.raises(ModelFileError) as refused:
            load_training_state(tmp_path / f"{name}.ckpt")
        message = str(refused.value)
        assert message == f"{tmp_path / name}.ckpt is not a readable training checkpoint ({reason})"


@pytest.mark.parametrize("change", ["truncated", "padded"])
def test_a_file_whose_size_differs_from_its_header_is_refused_before_its_weights_are_read(tmp_path, change,
                                                                                         monkeypatch):
    """Red-team 4: a 6 GB truncated model file was read whole (6.8 GB of memory) before any check."""
    path = save_model(tmp_path / "m.safetensors", JohnsonNet(width=8, residual_blocks=1), "style", {})
    data = path.read_bytes()
    path.write_bytes(data[:-100] if change == "truncated" else data + b"\0" * 100)
    monkeypatch.setattr("pathlib.Path.read_bytes", lambda self: pytest.fail("the weights were read"))
    with pytest.raises(ModelFileError, match="truncated or damaged"):
        load_model(path)


@pytest.mark.parametrize(("task", "net"), [("style", "srnet"), ("upscale", "johnson"), ("arbitrary", "johnson"),
                                           ("colorize", "vggdecoders"), ("style\nx", "johnson")])
def test_a_task_that_does_not_fit_the_architecture_is_refused(tmp_path, task, net):
    """Red-team 6: an upscaler claiming "style" ran in `run` and wrote a 2x image with exit 0."""
    from stylize.modelfile import ARCHITECTURES

    defaults = {"johnson": {"width": 8, "residual_blocks": 1}, "srnet": {"scale": 2, "width": 8, "blocks": 1},
                "vggdecoders": {"levels": 1, "width": 8}}
    path = save_model(tmp_path / "m.safetensors", ARCHITECTURES[net](**defaults[net]), "style", {})
    data = path.read_bytes()
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + length])
    document = json.loads(header["__metadata__"]["stylize"])
    document["task"] = task
    header["__metadata__"]["stylize"] = json.dumps(document)
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + length:])
    with pytest.raises(ModelFileError, match="claims the task|task this stylize does not know"):
        read_model_info(path)


def test_a_number_of_thousands_of_digits_in_a_header_is_a_one_line_error(tmp_path):
    """Red-team 7: int() refuses over 4300 digits with a ValueError that escaped as a traceback."""
    path = tmp_path / "m.safetensors"
    raw = ('{"__metadata__": {"stylize": "{}"}, "w": {"dtype": "F32", "shape": [' + "9" * 5000 + '], '
           '"data_offsets": [0, 4]}}').encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + b"\0" * 4)
    with pytest.raises(ModelFileError, match="unreadable header"):
        read_model_info(path)
    document = '{"task": ' + "9" * 5000 + "}"
    raw = json.dumps({"__metadata__": {"stylize": document}}).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw)
    with pytest.raises(ModelFileError, match="corrupt stylize metadata"):
        read_model_info(path)
