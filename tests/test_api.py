"""The public names of `import stylize`: each the real definition (that --help does not import torch is
tested in test_cli.py)."""

import ast
from pathlib import Path

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
