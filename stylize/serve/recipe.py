"""What the page asks for: a job's kind, its images and settings, checked by the same config classes as the
command line; the task it builds (the library's own, nothing reimplemented) and the equivalent command."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stylize.config import ArbitraryConfig, ColorizeConfig, FastConfig, GatysConfig, Settings, UpscaleConfig
from stylize.errors import ConfigError
from stylize.files import is_within
from stylize.masks import MaskSet
from stylize.serve.uploads import Upload, Uploads, safe_stem
from stylize.task_table import ARBITRARY, TASKS
from stylize.tasks.hints import MAX_HINTS, ColorHint
from stylize.tasks.styling import build_style_task
from stylize.tasks.upscale import DEFAULT_SCALE, enlarged_size, scale_text
from stylize.tensors import fit_longest_side

if TYPE_CHECKING:
    from stylize.tasks.gatys import StepCallback
    from stylize.tasks.protocol import NoticeCallback, ProgressCallback, Task

KINDS = ("style", "upscale", "colorize", "video")
CLIP_KINDS = ("video", "upscale", "colorize")  # the kinds that take a whole clip
# The settings the page may send for each way of working: the fields of its config class a user tunes
# (paths, layers and weight sources stay the command line's).
_SETTINGS: dict[str, tuple[type[Settings], tuple[str, ...]]] = {
    "optimize": (GatysConfig, ("size", "style_weight", "content_weight", "steps", "preserve_color", "style_scale",
                               "seed", "init")),
    "model": (FastConfig, ("size", "strength", "preserve_color", "work_size")),
    "arbitrary": (ArbitraryConfig, ("size", "strength", "preserve_color", "style_scale", "transform", "refine")),
    "upscale": (UpscaleConfig, ("scale", "sharpness", "ensemble", "degradation")),
    "colorize": (ColorizeConfig, ("strength",)),
}
_MASK_SETTINGS = ("feather", "mask_invert")  # with a mask, in every way of styling
# The page is shared, and one job runs at a time: an optimization's steps a scale are bounded where the command
# line's are not. 300 is what the optimization ran before its coarse-to-fine schedule (README), 15 times today's.
PAGE_MAX_STEPS = 300


@dataclass(frozen=True)
class Recipe:
    """A checked request: what to make and from what."""

    kind: str  # one of KINDS
    mode: str  # a key of _SETTINGS: how the result is made
    photo: Upload | None  # None for a folder job
    config: Settings
    model: str | None = None  # a model name from the listing (never a path from the client)
    style: Upload | None = None  # the painting (optimization, arbitrary)
    reference: Upload | None = None  # colorize: a colour photo of a similar scene
    mask: Upload | None = None  # style: white where the style goes (dropped, or painted with the page's brush)
    preview: bool = False  # shown on the page only, not written to the output folder
    settings: dict[str, Any] = field(default_factory=dict)  # what the page sent, as checked
    folder: Path | None = None  # a folder job (batch): a folder below the server's --root, resolved
    folder_name: str = ""  # that folder as the page named it, relative to --root
    hints: tuple[ColorHint, ...] = ()  # colorize: colours the user clicked onto the photo (fractions of its size)

    @property
    def clip(self) -> bool:
        """A whole clip (painted, enlarged or colorized into a video)."""
        return self.photo is not None and self.photo.video

    @property
    def size(self) -> int | None:
        return getattr(self.config, "size", 0) or None

    @property
    def label(self) -> str:
        """What names the result: the model, the painting, the enlargement or the colorization."""
        if self.mode == "model":
            return safe_stem(self.model or "model")
        if self.style is not None:
            return safe_stem(self.style.name, "painting")
        if self.mode == "upscale":
            return f"x{scale_text(getattr(self.config, 'scale', None) or DEFAULT_SCALE)}"
        return "color"

    @property
    def source_name(self) -> str:
        """What the result is named after: the photo's name, or the folder's."""
        return self.photo.name if self.photo is not None else (self.folder.name if self.folder else "folder")

    def output_size(self) -> tuple[int, int]:
        """(width, height) of the result: the photo at the recipe's size, or enlarged by the upscale factor."""
        if self.photo is None:
            raise ConfigError("a folder has no one size: its images are estimated one by one as they go")
        width, height = self.photo.width, self.photo.height
        if self.kind == "upscale":
            height, width = enlarged_size(height, width, getattr(self.config, "scale", None) or DEFAULT_SCALE)
            return width, height
        return fit_longest_side(width, height, self.size) if self.size else (width, height)

    def task_key(self) -> tuple:
        """Equal for recipes that build the same task (the page caches the last ones)."""
        images = tuple(upload.id for upload in (self.style, self.reference, self.mask) if upload is not None)
        config = self.config.replace(size=0) if hasattr(self.config, "size") else self.config
        return (self.mode, self.model, images, config)  # colour points are given to the built task (with_points)

    def tuned(self) -> dict[str, Any]:
        """The settings a user tunes for this way of working, as the config holds them (defaults included)."""
        names = _SETTINGS[self.mode][1] + (_MASK_SETTINGS if self.mask is not None else ())
        return {name: value for name, value in self.config.to_dict().items() if name in names}

    def masks(self) -> MaskSet | None:
        """The mask as the styling tasks take it, with the recipe's --mask-invert and --feather."""
        if self.mask is None:
            return None
        config = self.config
        assert isinstance(config, (GatysConfig, FastConfig, ArbitraryConfig))
        return MaskSet((self.mask.path,), config.mask_invert, config.feather)

    def uploads(self) -> list[Upload]:
        return [upload for upload in (self.photo, self.style, self.reference, self.mask) if upload is not None]

    def command_words(self) -> list[str]:
        """The command and its input: `stylize run PHOTO`, or `stylize batch FOLDER` for a folder job."""
        if self.kind in ("upscale", "colorize", "video"):
            command = ["stylize", self.kind]
        else:
            command = ["stylize", "run" if self.photo is not None else "batch"]
        return [*command, self.photo.name if self.photo is not None else self.folder_name]

    def command(self, output: Path) -> str:
        """The `stylize` command that makes the same result from the same files."""
        defaults = type(self.config)()
        changed = {name: value for name, value in self.tuned().items() if value != getattr(defaults, name)}
        words = self.command_words()
        if self.mode == "model":
            words += ["--model", self.model or ""]
        elif self.mode == "arbitrary":
            words += ["--model", self.model or ARBITRARY.name]
        elif self.model:
            words += ["--model", self.model]
        if self.style is not None:
            words += ["--style", self.style.name]
        if self.reference is not None:
            words += ["--reference", self.reference.name]
        if self.mask is not None:
            words += ["--mask", self.mask.name]
        for hint in self.hints:
            words += ["--hint", hint.text()]
        for name, value in changed.items():
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                words += [flag] if value else []
            elif isinstance(value, float) and value.is_integer():  # --scale 2, as a user writes it, not 2.0
                words += [flag, str(int(value))]
            else:
                words += [flag, str(value)]
        return shlex.join([*words, "-o", str(output)])


def parse_recipe(body: object, session: str, uploads: Uploads, models: dict[str, str],
                 root: Path | None = None, live: bool = False) -> Recipe:
    """A Recipe from the page's JSON, or ConfigError (one line, a 400 answer). models: name -> task of the
    models the page may name; root: the folder below which folder jobs may read (None: no folder jobs); live: the
    recipe of the camera's frames, which come with it (no photo; a style model or any painting in one pass)."""
    if not isinstance(body, dict):
        raise ConfigError("the request must be a JSON object")
    kind = body.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"unknown kind {kind!r}: use {', '.join(KINDS)}")

    def upload(key: str, required: bool = False) -> Upload | None:
        upload_id = body.get(key)
        if upload_id is None and not required:
            return None
        try:
            return uploads.get(session, str(upload_id))
        except KeyError:
            raise ConfigError(f"no uploaded image {key} {upload_id!r} (upload it first)") from None

    folder, folder_name = None, ""
    if body.get("folder") is not None:
        folder_name = str(body["folder"])
        folder = _folder_below(root, folder_name)
        if body.get("preview"):
            raise ConfigError("a folder job has no preview: preview one of its photos")
    if live and (body.get("photo") is not None or folder is not None or body.get("preview")):
        raise ConfigError("the camera's frames are its photos: send no photo, folder or preview with them")
    photo = upload("photo", required=folder is None and not live) if folder is None else None
    # A clip is painted (kind video), enlarged or colorized whole, as `stylize video`, `upscale CLIP` and
    # `colorize CLIP` do; its first frame, an image upload of its own, is what previews and pictures take.
    if (kind == "video" or (photo is not None and photo.video)) and body.get("preview"):
        raise ConfigError("a video has no preview job: preview its first frame (kind style)")
    if photo is not None and photo.video and kind not in CLIP_KINDS:
        raise ConfigError(f"{photo.name} is a video: paint the whole clip as a video job, or preview its first "
                          "frame")
    if photo is not None and not photo.video and kind == "video":
        raise ConfigError(f"{photo.name} is an image, not a video")
    model = body.get("model") or None
    if model is not None and (not isinstance(model, str) or model not in models):
        raise ConfigError(f"unknown model {model!r}: choose one of {', '.join(sorted(models)) or 'none installed'}")
    style, reference, mask = upload("style"), upload("reference"), upload("mask")
    if mask is not None and mask.video and kind != "video":
        raise ConfigError(f"{mask.name} is a video of masks: it goes with a whole clip (a video job); a picture "
                          "takes a mask image")
    if live and (kind != "style" or model is None):  # the optimization takes seconds a frame, the others are not styles
        raise ConfigError("the camera paints with a style model or any painting (the optimization takes too long "
                          "a frame)")
    task = models.get(model) if model else None
    if kind in ("style", "video"):
        if task == ARBITRARY.name:
            mode = "arbitrary"
        elif model:
            if task is None or "run" not in TASKS[task].commands:
                raise ConfigError(f"{model} is not a style model")
            mode = "model"
        elif kind == "video":
            raise ConfigError("the page paints a clip with a style model or any painting (--model arbitrary); "
                              "optimizing every frame is for `stylize video --style`")
        else:
            mode = "optimize"
        if mode != "model" and style is None:
            raise ConfigError("drop a painting first (the style image)")
        if mode == "model":
            style = None
    else:
        if model and task != kind:
            raise ConfigError(f"{model} is a model for {task!r}, not {kind!r}")
        if mask is not None:
            raise ConfigError("a mask says where a style goes: it is for styling only")
        mode, style = kind, None
    settings = body.get("settings") or {}
    if not isinstance(settings, dict):
        raise ConfigError("settings must be a JSON object")
    config_class, allowed = _SETTINGS[mode]
    allowed += _MASK_SETTINGS if mask is not None else ()
    if kind == "video":  # frames are one pass (stylize video has no --refine)
        allowed = tuple(name for name in allowed if name != "refine")
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r} here: use {', '.join(allowed)}")
    # The config classes take None as "not given" (the command line's unset options); from the page it is a
    # value, which failed the job later or wrote "--refine None" into its command.
    empty = sorted(name for name, value in settings.items() if value is None)
    if empty:
        raise ConfigError(f"setting {empty[0]!r} is null: leave it out for its default")
    config = config_class(**settings)  # checked there, as for the command line
    if isinstance(config, GatysConfig) and config.steps > PAGE_MAX_STEPS:
        raise ConfigError(f"steps {config.steps} is over the page's limit of {PAGE_MAX_STEPS}: run longer "
                          "optimizations with `stylize run --steps`")
    hints = _hints(body.get("hints"), kind, photo)
    if live:
        _check_live(mask, config)
    return Recipe(kind, mode, photo, config, model, style, reference if kind == "colorize" else None, mask,
                  bool(body.get("preview")), dict(settings), folder, folder_name, hints)


def _check_live(mask: Upload | None, config: Settings) -> None:
    """What the camera takes besides a model: one pass a frame (any painting's refinement takes seconds a frame),
    and no mask, which is drawn for one photo's shape."""
    if mask is not None:
        raise ConfigError("a mask is drawn for one photo: the camera paints the whole frame")
    if getattr(config, "refine", 0):
        raise ConfigError("the camera shows any painting's one pass: send refine 0")


def _hints(value: object, kind: str, photo: Upload | None) -> tuple[ColorHint, ...]:
    """The page's colour points ([{"x": 0.4, "y": 0.3, "colour": "#d8a080"}, ...], x and y fractions of the
    photo's width and height), checked as `--hint` checks them; only for colorizing one photo."""
    if value is None or value == []:
        return ()
    if kind != "colorize" or photo is None or photo.video:
        raise ConfigError("colour points are for colorizing one photo (not a clip, a folder or another job)")
    if not isinstance(value, list) or len(value) > MAX_HINTS:
        raise ConfigError(f"hints must be a list of at most {MAX_HINTS} points")
    hints = []
    for point in value:
        if not isinstance(point, dict) or set(point) != {"x", "y", "colour"}:
            raise ConfigError('each colour point is {"x": X, "y": Y, "colour": "#RRGGBB"}')
        x, y, colour = point["x"], point["y"], point["colour"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y)) or not isinstance(
                colour, str) or len(colour) > 40:
            raise ConfigError("a colour point's x and y are numbers from 0 to 1, its colour a string such as #d8a080")
        hints.append(ColorHint.parse(f"{100 * x!r}%,{100 * y!r}%,{colour}"))
    return tuple(hints)


def _folder_below(root: Path | None, name: str) -> Path:
    """The folder `name` below root, resolved (links followed) and checked to stay inside it."""
    if root is None:
        raise ConfigError("folder jobs need the server started with --root FOLDER")
    root = root.resolve()
    path = (root / name).resolve()
    if Path(name).is_absolute() or not (path == root or is_within(path, root)) or not path.is_dir():
        raise ConfigError(f"no folder {name!r} under the studio's --root")
    return path


def folders_below(root: Path, limit: int = 200) -> list[str]:
    """Folders below root (root itself as "."), nearest first, for the page to offer as folder jobs."""
    root = root.resolve()
    found = ["."]
    for folder, names, _ in os.walk(root):  # links to folders are not entered: no loops, nothing outside
        names[:] = sorted(name for name in names if not name.startswith(".") and not os.path.islink(
            os.path.join(folder, name)))
        for name in names:
            if len(found) >= limit:
                return found
            found.append((Path(folder) / name).relative_to(root).as_posix())
    return found


def build_task(recipe: Recipe, device: str, on_step: StepCallback | None = None,
               on_progress: ProgressCallback | None = None, on_notice: NoticeCallback | None = None) -> Task:
    """The library's task for a recipe, with the page's callbacks (the same objects the commands build)."""
    if recipe.kind == "style":
        styles = [recipe.style.path] if recipe.style is not None else []
        models = [recipe.model or ARBITRARY.name] if recipe.mode in ("model", "arbitrary") else []
        config = recipe.config
        assert isinstance(config, (GatysConfig, FastConfig, ArbitraryConfig))
        return build_style_task(styles, models, config, device, recipe.masks(), on_step=on_step, on_notice=on_notice,
                                on_progress=on_progress)
    if recipe.kind == "upscale":
        from stylize.tasks.upscale import Upscaler

        assert isinstance(recipe.config, UpscaleConfig)
        return Upscaler.load(recipe.model, device, recipe.config, on_progress)
    from stylize.tasks.colorize import Colorizer

    assert isinstance(recipe.config, ColorizeConfig)
    references = [recipe.reference.path] if recipe.reference is not None else []
    return Colorizer.from_files(references, None, recipe.config, device, recipe.model)


def with_points(task: Task, recipe: Recipe) -> Task:
    """A built task (kept for the next jobs, without colour points) with this recipe's colour points: the colorizer
    shares its networks, so a point placed does not load them again."""
    if recipe.kind != "colorize":
        return task
    from stylize.tasks.colorize import Colorizer

    assert isinstance(task, Colorizer)
    return task.with_hints(recipe.hints)
