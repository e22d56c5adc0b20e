import json

import pytest
import torch
from safetensors.torch import save_file

from stylize.checkpoint import (
    ModelFileError,
    load_model,
    load_training_state,
    read_metadata,
    save_model,
    save_training_state,
)
from stylize.transformer import TransformerNet


def test_round_trip_keeps_outputs_and_metadata(tmp_path):
    net = TransformerNet(width=8, residual_blocks=1)
    path = save_model(tmp_path / "m.safetensors", net, {"style": {"file": "s.jpg", "sha256": "ab"}, "losses": {"style": 1.5}})
    loaded, metadata = load_model(path)
    x = torch.rand(1, 3, 24, 20)
    with torch.no_grad():
        assert torch.equal(net(x), loaded(x))
    assert metadata["architecture"] == {"width": 8, "residual_blocks": 1}
    assert metadata["style"]["file"] == "s.jpg" and metadata["format_version"] == 1 and metadata["stylize_version"]
    assert read_metadata(path) == metadata


def test_half_precision_files_are_half_the_size_and_close(tmp_path):
    net = TransformerNet(width=8, residual_blocks=1)
    full = save_model(tmp_path / "f.safetensors", net, {})
    half = save_model(tmp_path / "h.safetensors", net, {}, half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(load_model(full)[0](x), load_model(half)[0](x), atol=1e-2)


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
        save_model(path, TransformerNet(width=8, residual_blocks=1), {})
        path.write_bytes(path.read_bytes()[:-500])
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_training_state_round_trip_and_missing(tmp_path):
    state = {"step": 3, "model": {"w": torch.ones(2)}, "config": {"lr": 0.1, "layers": ["a"]}}
    path = save_training_state(tmp_path / "t.ckpt", state)
    loaded = load_training_state(path)
    assert loaded["step"] == 3 and torch.equal(loaded["model"]["w"], torch.ones(2))
    with pytest.raises(ModelFileError, match="nothing to resume"):
        load_training_state(tmp_path / "none.ckpt")
