import itertools
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import file_digest, gradient_image
from PIL import Image

from stylize.cli import cli
from stylize.images import load_image

FAST = ["--size", "40", "--steps", "2"]


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.fixture
def inputs(content_path, style_path, second_style_path):
    paths = [content_path, style_path, second_style_path]
    digests = [file_digest(p) for p in paths]
    yield paths
    assert [file_digest(p) for p in paths] == digests, "an input image was modified"


def test_run_end_to_end_with_bundled_weights(invoke, inputs, tmp_path):
    content, style, _ = inputs
    out = tmp_path / "out.png"
    result = invoke("run", content, "--style", style, "-o", out, "--size", "48", "--steps", "12", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert f"Wrote {out}" in result.stderr
    pixels = load_image(out).pixels
    assert pixels.shape == (1, 3, 40, 48)
    assert (pixels - load_image(content).pixels).abs().mean() > 0.02


def test_default_output_name_is_in_the_current_folder(invoke, inputs, tmp_path, monkeypatch):
    content, style, _ = inputs
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert invoke("run", content, "--style", style, *FAST, "--quiet").exit_code == 0
    assert (work / "content_style.png").is_file()


def test_same_seed_gives_identical_bytes(invoke, inputs, tmp_path):
    content, style, _ = inputs
    outs = [tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"]
    for out, seed in zip(outs, (3, 3, 4), strict=False):
        result = invoke("run", content, "--style", style, "-o", out, *FAST, "--init", "noise", "--seed", seed, "-q")
        assert result.exit_code == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert outs[0].read_bytes() != outs[2].read_bytes()


def test_all_optimization_options_are_accepted_and_used(invoke, inputs, tmp_path):
    content, style, second = inputs
    out = tmp_path / "blend.jpg"
    result = invoke(
        "run", content, "--style", style, "--style", second, "--style-blend", "0.7,0.3", "--style-scale", "0.8",
        "-o", out, "--size", "64", "--start-size", "32", "--steps", "3", "--content-weight", "2",
        "--style-weight", "20", "--tv-weight", "0.5", "--content-layers", "relu3_2",
        "--style-layers", "relu1_1,relu2_1,relu3_1", "--optimizer", "adam", "--lr", "0.05", "--init", "style",
        "--seed", "1", "--pooling", "avg", "--weights", "caffe", "--quality", "80", "--device", "cpu",
    )
    assert result.exit_code == 0, result.output
    assert load_image(out).pixels.shape == (1, 3, 53, 64)


def test_preserve_color_flag(invoke, inputs, tmp_path):
    from stylize.colorspace import rgb_to_yiq
    from stylize.tensors import resize_longest

    content, style, _ = inputs
    plain, kept = tmp_path / "plain.png", tmp_path / "kept.png"
    invoke("run", content, "--style", style, "-o", plain, "--size", "40", "--steps", "12", "-q")
    invoke("run", content, "--style", style, "-o", kept, "--size", "40", "--steps", "12", "-q", "--preserve-color")
    reference = rgb_to_yiq(resize_longest(load_image(content).pixels, 40))[:, 1:]
    error = {p: (rgb_to_yiq(load_image(p).pixels)[:, 1:] - reference).abs().mean() for p in (plain, kept)}
    assert error[kept] < 0.5 * error[plain]


def test_save_every_writes_intermediate_images(invoke, inputs, tmp_path):
    content, style, _ = inputs
    out = tmp_path / "out.png"
    assert invoke("run", content, "--style", style, "-o", out, *FAST[:2], "--steps", "4",
                  "--save-every", "2", "-q").exit_code == 0
    assert sorted(p.name for p in tmp_path.glob("out*.png")) == ["out.png", "out_step0002.png"]


def test_the_steps_saved_on_the_way_of_a_cut_out_photo_keep_its_transparency(invoke, inputs, tmp_path):
    _, style, _ = inputs
    cut_out = gradient_image(40, 32).convert("RGBA")
    cut_out.putalpha(Image.new("L", (40, 32), 0))
    cut_out.paste(gradient_image(20, 16), (10, 8))  # opaque in the middle, transparent around it
    cut_out.save(tmp_path / "cut.png")
    out = tmp_path / "out.png"
    assert invoke("run", tmp_path / "cut.png", "--style", style, "-o", out, "--size", "64", "--start-size", "32",
                  "--steps", "2", "--tolerance", "0", "--save-every", "1", "-q").exit_code == 0
    steps = sorted(tmp_path.glob("out_step*.png"))
    assert len(steps) == 3  # two at 32 px, one at 64 px (the last step is the output itself)
    for path in [*steps, out]:
        with Image.open(path) as image:
            alpha = np.asarray(image.getchannel("A"))
            height, width = alpha.shape
            assert image.mode == "RGBA" and alpha[0, 0] == 0 and alpha[height // 2, width // 2] == 255, path.name


def test_quiet_prints_nothing_and_default_prints_progress(invoke, inputs, tmp_path):
    content, style, _ = inputs
    quiet = invoke("run", content, "--style", style, "-o", tmp_path / "q.png", *FAST, "--quiet")
    assert quiet.exit_code == 0 and quiet.output == ""
    loud = invoke("run", content, "--style", style, "-o", tmp_path / "l.png", *FAST)
    assert "Wrote" in loud.stderr


def test_size_zero_keeps_the_content_size(invoke, inputs, tmp_path):
    content, style, _ = inputs
    out = tmp_path / "native.webp"
    assert invoke("run", content, "--style", style, "-o", out, "--size", "0", "--steps", "1", "-q").exit_code == 0
    assert load_image(out).pixels.shape == load_image(content).pixels.shape


def test_torchvision_weights_offline_is_a_one_line_error(invoke, inputs, tmp_path, monkeypatch):
    from urllib.error import URLError

    from torchvision.models import VGG19_Weights

    def offline(self, *args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(type(VGG19_Weights.IMAGENET1K_V1), "get_state_dict", offline)
    content, style, _ = inputs
    result = invoke("run", content, "--style", style, "-o", tmp_path / "o.png", *FAST, "--weights", "torchvision")
    assert result.exit_code == 1
    assert len(error_lines(result)) == 1 and "--weights caffe" in result.stderr


def _bad_file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.png"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not an image")
    elif kind == "truncated":
        gradient_image(64, 64).save(path)
        path.write_bytes(path.read_bytes()[:120])
    return path


RUN = ["run", "CONTENT", "--style", "STYLE"]  # what most bad-input cases add to


@pytest.mark.parametrize(("args", "code", "message"), [
    pytest.param(["run", "NOPE", "--style", "STYLE"], 2, "does not exist", id="missing content"),
    pytest.param(["run", "TMP", "--style", "STYLE"], 2, "is a folder: a folder of photos goes through `stylize batch`",
                 id="folder content"),
    pytest.param(["run", "CONTENT", "--style", "NOPE"], 2, "does not exist", id="missing style"),
    pytest.param(["run", "EMPTY", "--style", "STYLE"], 1, "empty", id="empty content"),
    pytest.param(["run", "CONTENT", "--style", "TEXT"], 1, "not an image", id="text style"),
    pytest.param(["run", "TRUNCATED", "--style", "STYLE"], 1, "corrupt or truncated", id="truncated content"),
    pytest.param([*RUN, "-o", "CONTENT"], 2, "is an input image of this job", id="output is input"),
    pytest.param([*RUN, "-o", "STYLE_BY_ANOTHER_PATH"], 2, "is the style image of this job", id="output is style"),
    pytest.param([*RUN, "-o", "INSIDE_CONTENT"], 2, "cannot write", id="output in a file"),
    pytest.param([*RUN, "-o", "OUT_XYZ"], 2, "unknown image extension", id="output extension"),
    pytest.param([*RUN, "-o", "FOLDER_PNG"], 2, "is a folder", id="output folder"),
    pytest.param([*RUN, "--steps", "0"], 2, "'--steps': 0 is not in", id="steps zero"),
    pytest.param([*RUN, "--tv-weight", "-1"], 2, "'--tv-weight': -1 is not", id="negative weight"),
    pytest.param([*RUN, "--style-layers", "relu1_1,relu6_1"], 2, "unknown layer", id="bad layer"),
    pytest.param([*RUN, "--style", "SECOND", "--style-blend", "1"], 2, "1 weight(s) for 2 style", id="blend count"),
    pytest.param([*RUN, "--style-blend", "a"], 2, "comma-separated numbers", id="blend text"),
    pytest.param([*RUN, "--optimizer", "sgd"], 2, "'sgd' is not one of", id="bad optimizer"),
    pytest.param([*RUN, "--size", "-5"], 2, "--size", id="bad size"),
    pytest.param([*RUN, "--device", "cuda:7"], 2, "not available", id="missing device"),
    pytest.param([*RUN, "--device", "tpu"], 2, "unknown device", id="unknown device"),
    pytest.param(["run", "CONTENT"], 2, "Missing option '--style' (or '--model')", id="no style"),
])
def test_bad_input_gives_one_line_and_exit_code(invoke, inputs, tmp_path, args, code, message):
    content, style, second = inputs
    out = tmp_path / "out.png"
    places = {"CONTENT": content, "STYLE": style, "SECOND": second, "TMP": tmp_path, "NOPE": tmp_path / "nope.jpg",
              "INSIDE_CONTENT": content / "out.png", "OUT_XYZ": tmp_path / "out.xyz",
              "FOLDER_PNG": _folder(tmp_path / "folder.png"),
              "STYLE_BY_ANOTHER_PATH": style.parent / ".." / style.parent.name / style.name,
              **{kind.upper(): _bad_file(tmp_path, kind) for kind in ("empty", "text", "truncated")}}
    args = [places.get(arg, arg) for arg in args]
    if "-o" not in args:
        args += ["-o", out]
    for option, value in (("--size", "40"), ("--steps", "1")):
        if option not in args:
            args += [option, value]
    invoke.error_line(invoke(*args, "-q"), code, message)
    assert not out.exists()


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def test_version_and_help(invoke):
    assert invoke("--version").output.startswith("stylize, version ")
    help_text = invoke("run", "--help").output
    for option in ("--style-blend", "--preserve-color", "--save-every", "--start-size", "--weights"):
        assert option in help_text


def test_the_readme_names_every_option_of_every_command():
    """Each command's README section lists its options (the brief); train's and export's had left some to --help."""
    import click

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    missing = [f"{name} {option.opts[0]}" for name, command in cli.commands.items() for option in command.params
               if isinstance(option, click.Option) and "--help" not in option.opts
               and not any(flag in readme for flag in option.opts + option.secondary_opts if flag.startswith("--"))]
    assert missing == []


def test_the_documents_tables_end_and_their_pictures_exist():
    """A line right after a table's last row is read as one more row (GitHub's Markdown): the README's sentence
    after the shipped models' table was shown inside it. And every picture the README and docs show is shipped, and
    examples/README.md says what each example file is and where it comes from (three pictures were missing)."""
    root = Path(__file__).resolve().parents[1]
    documents = [root / "README.md", root / "examples" / "README.md", *sorted((root / "docs").glob("*.md"))]
    glued, missing = [], []
    for document in documents:
        text = document.read_text()
        lines = text.splitlines()
        glued += [f"{document.name}:{number + 2}" for number, (line, after) in enumerate(itertools.pairwise(lines))
                  if line.startswith("|") and after.strip() and not after.startswith("|")]
        missing += [f"{document.name}: {target}" for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
                    if not (document.parent / target).is_file()]
    assert glued == [] and missing == []
    listed = (root / "examples" / "README.md").read_text()  # what each example file is, where it comes from
    assert [path.name for path in sorted((root / "examples").iterdir()) if path.suffix in (".jpg", ".png", ".py")
            and not re.search(rf"(?<![\w.]){re.escape(path.name)}", listed)] == []


def test_the_example_scripts_answer_help_without_making_their_pictures():
    """`python examples/video_masks.py --help` made and wrote examples/video_masks.jpg again: a script that makes a
    shipped picture says what it does, and writes nothing, when asked for help."""
    examples = Path(__file__).resolve().parents[1] / "examples"
    scripts = sorted(path for path in examples.glob("*.py") if path.name != "frame_sheet.py")
    before = {path: path.stat().st_mtime_ns for path in examples.iterdir()}
    code = ("import runpy, sys\nfor script in sys.argv[1:]:\n    sys.argv = [script, '--help']\n    try:\n"
            "        runpy.run_path(script, run_name='__main__')\n    except SystemExit as done:\n"
            "        assert done.code == 0, script\n    else:\n        raise AssertionError(script + ' ran')\n")
    result = subprocess.run([sys.executable, "-c", code, *map(str, scripts)], capture_output=True, text=True,
                            cwd=examples)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("usage:") == len(scripts) >= 10
    assert {path: path.stat().st_mtime_ns for path in examples.iterdir()} == before


def test_every_package_is_installed():
    """pyproject.toml names its packages one by one: a new one left out (stylize.tasks.video, when video.py became a
    package) is missing from a wheel and from `pip install .`, though an editable install, as the tests run, finds
    it. Every folder of stylize/ with Python in it is named, and every file of the page matches its package data."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 on
    root = Path(__file__).resolve().parents[1]
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    named = set(setuptools["packages"])
    folders = {".".join(path.parent.relative_to(root).parts) for path in (root / "stylize").rglob("__init__.py")}
    assert folders <= named, sorted(folders - named)
    page = [path for path in (root / "stylize" / "serve" / "static").iterdir() if path.is_file()]
    patterns = setuptools["package-data"]["stylize.serve.static"]
    assert page and [path.name for path in page if not any(path.match(pattern) for pattern in patterns)] == []


def test_python_dash_m_and_fast_help():
    # --help must not import torch: start-up is a feature users feel on every command.
    code = "import sys, runpy; sys.argv=['stylize','--help']\ntry: runpy.run_module('stylize', run_name='__main__')\n" \
           "except SystemExit: pass\nassert 'torch' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "run" in result.stdout


def test_interrupt_is_reported_without_traceback(invoke, inputs, tmp_path, monkeypatch):
    from stylize.tasks import gatys

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gatys.GatysTransfer, "__call__", interrupted)
    content, style, _ = inputs
    result = invoke("run", content, "--style", style, "-o", tmp_path / "o.png", *FAST)
    assert result.exit_code == 130
    # The line says that nothing was written, and what keeps a picture (red-team: "Error: interrupted" alone).
    assert error_lines(result) == [f"Error: interrupted: {tmp_path / 'o.png'} was not written; --save-every N keeps "
                                   "the picture every N steps"]
    assert not (tmp_path / "o.png").exists()
    result = invoke("run", content, "--style", style, "-o", tmp_path / "o.png", *FAST, "--save-every", "5")
    assert error_lines(result)[0].endswith("the steps saved so far are beside it (o_stepNNNN.png)")


def test_an_interrupted_run_goes_on_with_resume(invoke, inputs, tmp_path, monkeypatch, model):
    """A long optimization (--size 4096: 14 minutes on 2 cores) stopped by Ctrl-C or SIGTERM goes on from where it
    stopped with --resume, where it used to lose everything."""
    from stylize.tasks.gatys.progress import Progress

    content, style, _ = inputs
    out = tmp_path / "o.png"
    kept = tmp_path / ".o.png.stylize-run"
    command = ["run", content, "--style", style, "-o", out, "--size", "64", "--start-size", "32", "--steps", "4",
               "--tolerance", "0"]
    report = Progress.report

    def interrupted_at_step_6(self, *args, **kwargs):
        report(self, *args, **kwargs)
        if self.done == 6:
            raise KeyboardInterrupt

    monkeypatch.setattr(Progress, "report", interrupted_at_step_6)
    result = invoke(*command)
    assert result.exit_code == 130
    assert error_lines(result)[-1] == (f"Error: interrupted: {out} was not written; run the same command with "
                                       "--resume to go on from step 2 of scale 2/2 (60% of the work)")
    assert kept.is_file() and not out.exists()
    monkeypatch.setattr(Progress, "report", report)
    steps = []
    monkeypatch.setattr("stylize.cli.run.progress_bar", lambda quiet, **options: _Steps(steps, **options))
    result = invoke(*command, "--resume")
    assert result.exit_code == 0, result.output
    assert f"Note: going on from the interrupted run of {out} at step 2 of scale 2/2 (60% of the work)" in \
        error_lines(result)
    assert steps == [(3.0, 4.0), (4.0, 5.0)]  # the bar starts where it stopped: two steps of 64 px were left
    assert load_image(out).pixels.shape == (1, 3, 53, 64)
    assert not kept.exists()  # the result is written: nothing is left to go on from
    again = invoke(*command, "--resume", "--quiet", "-o", tmp_path / "p.png")
    assert again.exit_code == 0 and again.output == ""  # quiet: no note that there was nothing to resume
    result = invoke(*command, "--resume", "-o", tmp_path / "q.png")
    assert f"Note: no interrupted run of {tmp_path / 'q.png'} to go on from: starting from the beginning" in \
        error_lines(result)
    result = invoke("run", content, "--model", model, "--resume", "-o", tmp_path / "m.png")
    assert result.exit_code == 2 and "--resume cannot be used with --model" in result.stderr


class _Steps:
    """A progress bar that records (where it starts, each position it is moved to)."""

    def __init__(self, record, initial=0.0, **options):
        self.record, self.n, self.total = record, initial, options["total"]

    def set_description(self, *args, **kwargs):
        pass

    set_postfix = set_description

    def update(self, amount):
        self.record.append((self.n, self.n + amount))
        self.n += amount

    def close(self):
        pass


def test_resume_refuses_a_kept_run_of_other_settings_and_a_fresh_run_says_it_replaces_it(invoke, inputs, tmp_path,
                                                                                          monkeypatch):
    from stylize.tasks.gatys.progress import Progress

    content, style, _ = inputs
    out = tmp_path / "o.png"
    command = ["run", content, "--style", style, "-o", out, "--size", "64", "--start-size", "32", "--steps", "4"]

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(Progress, "report", interrupted)
        assert invoke(*command).exit_code == 130
    result = invoke(*command, "--resume", "--style-weight", "3")
    assert result.exit_code == 1
    assert error_lines(result) == [f"Error: the interrupted run kept in {tmp_path / '.o.png.stylize-run'} was made "
                                   "with other settings, another photo or style, or another memory plan: run without "
                                   "--resume to start again"]
    result = invoke(*command, "--style-weight", "3")
    assert result.exit_code == 0
    assert error_lines(result)[0] == (f"Note: an interrupted run of {out} is kept in {tmp_path / '.o.png.stylize-run'}"
                                      ": this run starts afresh and replaces it once it has done as much (--resume "
                                      "goes on from it)")
    assert not (tmp_path / ".o.png.stylize-run").exists()


@pytest.mark.parametrize(("signal_error", "code", "message"), [("Terminated", 143, "stopped by SIGTERM"),
                                                                ("KeyboardInterrupt", 130, "interrupted")])
def test_a_signal_during_start_up_exits_with_its_own_code(monkeypatch, capsys, signal_error, code, message):
    """Issue 35: SIGTERM before a job started (click turns it into Abort) exited 130 "interrupted"."""
    from stylize.cli import exits, styling

    error = exits.Terminated if signal_error == "Terminated" else KeyboardInterrupt

    def interrupted(*args, **kwargs):
        raise error

    monkeypatch.setattr(styling, "plan_style", interrupted)
    monkeypatch.setattr("stylize.cli.run.plan_style", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", __file__, "--style", __file__])
    assert exit_info.value.code == code and message in capsys.readouterr().err


@pytest.mark.parametrize("command", ["upscale", "colorize"])
def test_report_is_written_for_a_single_input(tmp_path, command):
    """Issue 35: `upscale photo.jpg -o up/x.png --report up/r.json` exited 0 and wrote no report."""
    import json

    from conftest import gradient_image

    photo = tmp_path / "photo.png"
    gradient_image(24, 20).save(photo)
    args = ["--scale", "2"] if command == "upscale" else []
    result = CliRunner().invoke(cli, [command, str(photo), *args, "-o", str(tmp_path / "up" / "x.png"), "--report",
                                      str(tmp_path / "up" / "r.json"), "-q"])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "up" / "r.json").read_text())
    assert data["totals"] == {"done": 1, "skipped": 0, "failed": 0} and len(data["files"]) == 1


def test_an_existing_folder_as_the_output_file_says_so(tmp_path):
    """Issue 35: `-o FOLDER` said "unknown image extension"."""
    from conftest import gradient_image

    photo = tmp_path / "photo.png"
    gradient_image(24, 20).save(photo)
    (tmp_path / "out").mkdir()
    result = CliRunner().invoke(cli, ["run", str(photo), "--model", "starry", "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "is a folder: -o names the output file here" in result.stderr


@pytest.mark.parametrize("args", [
    ["run", "CONTENT", "--style", "STYLE", "--style", "STYLE", "--style-blend", "1"],
    ["run", "CONTENT", "--style", "STYLE", "--steps", "0"],
    ["run", "CONTENT", "--model", "starry", "--feather", "3"],
    ["batch", "CONTENT", "-o", "OUT", "--style", "STYLE", "--batch-size", "2"],
    ["upscale", "CONTENT", "--scale", "9"],
    ["train", "--data", "TMP", "--task", "upscale", "--style", "STYLE"],
])
def test_usage_errors_are_found_before_torch_is_imported(inputs, tmp_path, args):
    """Issue 35, item 5: a wrong --style-blend count cost 3.5 s (31 s under load) of importing torch first."""
    content, style, _ = inputs
    places = {"CONTENT": str(content), "STYLE": str(style), "OUT": str(tmp_path / "out"), "TMP": str(tmp_path)}
    argv = ["stylize", *(places.get(arg, arg) for arg in args)]
    code = (f"import sys, runpy; sys.argv={argv!r}\ntry: runpy.run_module('stylize', run_name='__main__')\n"
            "except SystemExit as exit: assert exit.code == 2, exit.code\nassert 'torch' not in sys.modules, 'torch'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Error: ") == 1


def test_texts_a_new_user_reads(invoke):
    """Issue 35, item 8: `video --help` spoke of the photo's size; `stylize models` had no headers."""
    assert "0 keeps the input's own size" in " ".join(invoke("video", "--help").output.split())
    listing = invoke("models").output.splitlines()
    assert listing[0].split()[:3] == ["NAME", "SOURCE", "TASK"] and not any(" from x" in line for line in listing)
