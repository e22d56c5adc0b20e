"""The public names of `import stylize`: each the real definition (that --help does not import torch is
tested in test_cli.py), and what they take."""

import ast
from pathlib import Path

import pytest
import torch

import stylize

INIT = Path(stylize.__file__)


def test_every_public_name_resolves_to_its_module_definition():
    for name in stylize.__all__:
        value = getattr(stylize, name)
        if name != "__version__":
            assert value.__name__ == name, name


def test_type_checkers_see_exactly_the_public_names():
    tree = ast.parse(INIT.read_text())
    guarded = next(node for node in tree.body if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test))
    imported = {alias.asname or alias.name for node in guarded.body for alias in node.names}
    assert imported == set(stylize.__all__) - {"__version__"}


def _import_graph() -> dict[str, set[str]]:
    """stylize's modules and the stylize modules each imports anywhere in it (also inside functions and under
    TYPE_CHECKING): `from a.b import c` counts as importing a.b.c when that is a module, else a.b."""
    import ast
    from pathlib import Path

    root = Path(__file__).parents[1] / "stylize"
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stylize"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    imported.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names if alias.name in modules)
        graph[name] = {module for module in imported if module in modules and module != name}
    return graph


def test_no_module_imports_one_that_imports_it_back():
    """Issue 28: no circle in the import graph, of any length (a package's __init__ re-exporting its own
    modules lazily for the public API is the one kind allowed: `stylize` itself)."""
    graph = _import_graph()
    graph["stylize"] = set()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert circles == []


def test_every_stylizer_takes_a_pil_image_as_transfer_does():
    """A PIL image where a tensor goes was "'JpegImageFile' object is not iterable" (ArbitraryStylizer) or "must
    be a PIL image or a torch tensor ... got JpegImageFile" (the others): each takes it, as a batch of one."""
    from PIL import Image

    from stylize.images import pil_to_tensor

    photo = Image.new("RGB", (40, 24), (200, 120, 40))
    painting = Image.effect_mandelbrot((48, 48), (-2, -1.5, 1, 1.5), 50).convert("RGB")
    arbitrary = stylize.ArbitraryStylizer.load(device="cpu")
    outputs = {
        "fast": stylize.FastStylizer.load("starry", device="cpu")(photo),
        "arbitrary": arbitrary(photo, painting),
        "arbitrary, styles fixed": arbitrary.with_styles([painting, pil_to_tensor(painting)])(photo),
        "colorize, automatic": stylize.Colorizer([], device="cpu")(photo.convert("L")),
        # References as bare images too ("not enough values to unpack" when they were not (name, image) pairs).
        "colorize, references": stylize.Colorizer([painting, pil_to_tensor(painting)], device="cpu")(photo),
    }
    for name, output in outputs.items():
        assert isinstance(output, torch.Tensor) and output.shape == (1, 3, 24, 40), name
    assert stylize.Upscaler.load(device="cpu")(photo).shape == (1, 3, 96, 160)
    with pytest.raises(TypeError, match="got list"):
        stylize.FastStylizer.load("starry", device="cpu")([photo])
