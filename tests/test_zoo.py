import pytest
import torch

from stylize.errors import StylizeError
from stylize.modelfile import save_model
from stylize.nets.johnson import JohnsonNet
from stylize.tasks.fast import FastStylizer
from stylize.zoo import available_models, resolve_model, shipped_dir

SHIPPED = [entry for entry in available_models() if entry.source == "shipped"]


def test_shipped_models_are_small_readable_and_credited():
    assert len(SHIPPED) >= 5
    assert all(entry.info is not None for entry in SHIPPED), [e.error for e in SHIPPED]
    assert sum(entry.path.stat().st_size for entry in SHIPPED) < 40 * 2**20
    for entry in SHIPPED:
        if entry.info.task != "style":
            continue
        style = entry.info.style
        assert {"title", "artist", "year", "license", "file", "sha256"} <= set(style), entry.name
        assert entry.info.training["steps_done"] > 0 and entry.info.document["losses"]["total"] > 0


@pytest.mark.parametrize("entry", [e for e in SHIPPED if e.info and e.info.task == "style"], ids=lambda e: e.name)
def test_each_shipped_style_model_stylizes_by_name(entry):
    stylizer = FastStylizer.load(entry.name, "cpu")
    image = torch.rand(1, 3, 37, 50) * 0.2 + 0.4
    out = stylizer(image)
    assert out.shape == image.shape
    assert (out - image).abs().mean() > 0.05  # visibly stylized, not the photo back


def _tiny() -> JohnsonNet:
    return JohnsonNet(width=8, residual_blocks=1)


def test_names_resolve_cache_first_then_shipped_and_qualified_names_choose(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLIZE_HOME", str(tmp_path))
    cached = save_model(tmp_path / "models" / "mine.safetensors", _tiny(), "style", {})
    assert resolve_model("mine") == cached
    name = SHIPPED[0].name
    assert resolve_model(name).parent == shipped_dir()
    mine = save_model(tmp_path / "models" / f"{name}.safetensors", _tiny(), "style", {})
    assert resolve_model(name) == mine  # your own model under a shipped name is the one you get
    assert resolve_model(f"shipped:{name}").parent == shipped_dir()
    assert resolve_model(f"cache:{name}") == mine
    listed = {(e.source, e.name): e for e in available_models()}
    assert listed[("cache", name)].hidden_by is None
    assert listed[("shipped", name)].hidden_by == "cache"  # listed, and marked, never silently dropped
    with pytest.raises(StylizeError, match="known models: .*mine"):
        resolve_model("nosuch")
    with pytest.raises(StylizeError, match="unknown model source"):
        resolve_model("elsewhere:mine")


def test_a_file_in_the_current_folder_never_shadows_a_name(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLIZE_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    name = SHIPPED[0].name
    (tmp_path / name).write_bytes(b"not a model")
    assert resolve_model(name).parent == shipped_dir()
    save_model(tmp_path / "local.safetensors", _tiny(), "style", {})
    assert resolve_model("local.safetensors").resolve() == tmp_path / "local.safetensors"  # a path says so
    assert resolve_model("./local.safetensors").is_file()


def test_a_checkpoint_an_export_or_a_folder_given_as_a_model_is_named_for_what_it_is(tmp_path, monkeypatch):
    """Red-team: `--model m.ckpt` beside a training run said "unknown model 'm.ckpt'", as if it were not there."""
    monkeypatch.setenv("STYLIZE_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.ckpt").write_bytes(b"a checkpoint")
    (tmp_path / "m.onnx").write_bytes(b"an export")
    (tmp_path / "notes.txt").write_text("a note")
    (tmp_path / "monet").mkdir()
    with pytest.raises(StylizeError, match=r"^m.ckpt is a training checkpoint, not a model: .*--resume.*writes "
                                           r"the model m.safetensors when it finishes$"):
        resolve_model("m.ckpt")
    with pytest.raises(StylizeError, match=r"^m.onnx is an ONNX export, for other runtimes"):
        resolve_model("m.onnx")
    with pytest.raises(StylizeError, match=r"^notes.txt is not a model file \(model files end in .safetensors\)$"):
        resolve_model("notes.txt")
    with pytest.raises(StylizeError, match=r"^unknown model 'monet' \(here monet is a folder\); known models: "):
        resolve_model("monet")


def test_unreadable_cached_files_are_listed_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLIZE_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "junk.safetensors").write_bytes(b"junk")
    (tmp_path / "models" / "list.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00[1,2]")
    entries = {e.name: e for e in available_models() if e.source == "cache"}
    assert entries["junk"].info is None and "not a valid model file" in entries["junk"].error
    assert entries["list"].info is None and "not a JSON object" in entries["list"].error
    with pytest.raises(StylizeError, match="known models: (?!.*junk)"):
        resolve_model("nosuch")


def test_listing_says_what_each_kind_of_model_does(tmp_path):
    from stylize.modelfile import read_model_info
    from stylize.nets.colornet import ColorNet
    from stylize.nets.srnet import SRNet
    from stylize.zoo import describe

    style = save_model(tmp_path / "s.safetensors", _tiny(), "style", {
        "style": {"title": "Waves", "artist": "Anon", "license": "CC0"}, "training": {"steps_done": 50}})
    crisp = save_model(tmp_path / "c.safetensors", SRNet(3, width=8, blocks=1), "upscale", {
        "upscale": {"scale": 3, "kind": "perceptual"},
        "training": {"steps_done": 200, "init": "/models/upscale-x3.safetensors"}})
    colors = save_model(tmp_path / "k.safetensors", ColorNet(width=8), "colorize", {})
    assert describe(read_model_info(style)) == "Waves, Anon [CC0], 50 steps"
    assert describe(read_model_info(crisp)) == "x3, crisp, 200 steps (fine-tuned)"
    assert describe(read_model_info(colors)) == "automatic colorization"
    said = {256: "Waves; a quick CPU training, closer to a colour filter than a painting, 2000 steps",
            512: "Waves; a quick CPU training: the painting's palette and broad strokes, little fine texture, "
                 "2000 steps"}
    for painting, what in said.items():  # the painting's Gram matrices at 256 px or (stop 68) 512
        cpu = save_model(tmp_path / f"{painting}.safetensors", _tiny(), "style", {
            "style": {"title": "Waves"}, "training": {"steps_done": 2000, "image_size": 128, "style_size": painting}})
        assert describe(read_model_info(cpu)) == what


def test_the_cpu_trained_style_models_say_what_they_are_and_the_arbitrary_model_how_to_use_it():
    """Issue 35: the shipped style models look like colour filters next to the reference outputs."""
    from stylize.zoo import available_models, describe

    shipped = {entry.name: entry for entry in available_models() if entry.source == "shipped"}
    assert "closer to a colour filter" in describe(shipped["starry"].info)
    assert "--model arbitrary --style" in describe(shipped["arbitrary"].info)
    assert "colour filter" not in describe(shipped["upscale-x2"].info)
