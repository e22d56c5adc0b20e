import pytest
import torch

from stylize.checkpoint import save_model
from stylize.errors import StylizeError
from stylize.fast import FastStylizer
from stylize.pretrained import available_models, resolve_model, shipped_dir
from stylize.transformer import TransformerNet

SHIPPED = [entry for entry in available_models() if entry.source == "shipped"]


def test_shipped_models_are_small_and_credited():
    assert len(SHIPPED) >= 5
    assert sum(entry.path.stat().st_size for entry in SHIPPED) < 40 * 2**20
    for entry in SHIPPED:
        style = entry.metadata["style"]
        assert {"title", "artist", "year", "license", "file", "sha256"} <= set(style), entry.name
        assert entry.metadata["training"]["steps_done"] > 0 and entry.metadata["losses"]["total"] > 0


@pytest.mark.parametrize("entry", SHIPPED, ids=lambda e: e.name)
def test_each_shipped_model_stylizes_by_name(entry):
    stylizer = FastStylizer.load(entry.name, "cpu")
    image = torch.rand(1, 3, 37, 50) * 0.2 + 0.4
    out = stylizer(image)
    assert out.shape == image.shape
    assert (out - image).abs().mean() > 0.05  # visibly stylized, not the photo back


def test_cached_models_are_found_and_shipped_names_win(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLIZE_HOME", str(tmp_path))
    cached = save_model(tmp_path / "models" / "mine.safetensors", TransformerNet(width=8, residual_blocks=1), {})
    assert resolve_model("mine") == cached
    if SHIPPED:
        shadowed = tmp_path / "models" / f"{SHIPPED[0].name}.safetensors"
        save_model(shadowed, TransformerNet(width=8, residual_blocks=1), {})
        assert resolve_model(SHIPPED[0].name).parent == shipped_dir()
    (tmp_path / "models" / "junk.safetensors").write_bytes(b"junk")
    assert "junk" not in [e.name for e in available_models()]
    with pytest.raises(StylizeError, match="known models: .*mine"):
        resolve_model("nosuch")
