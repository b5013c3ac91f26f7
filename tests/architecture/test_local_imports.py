"""A module's own-package dependencies stand at its top: no function-local import of a ``monai_synth`` module.

The exceptions say why on the import line, with a comment from a small set of reasons:

- ``# optional: ...``: the imported module needs an optional dependency (an extra of ``setup.cfg``) at import;
- ``# lazy: ...``: importing it earlier would change what a light entry point loads (torch, MONAI).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "monai_synth"
REASON = re.compile(r"#\s*(optional|lazy):\s*\S")


def _is_project_import(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.Import):
        return any(alias.name == "monai_synth" or alias.name.startswith("monai_synth.") for alias in node.names)
    module = node.module or ""
    return bool(node.level) or module == "monai_synth" or module.startswith("monai_synth.")


def unexplained_local_imports(source: str) -> list[int]:
    """Line numbers of function-local imports of ``monai_synth`` modules without a reason comment."""
    lines = source.splitlines()
    found: list[int] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if in_function and isinstance(child, (ast.Import, ast.ImportFrom)) and _is_project_import(child):
                span = lines[child.lineno - 1 : child.end_lineno]
                if not any(REASON.search(line) for line in span):
                    found.append(child.lineno)
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(source), False)
    return found


def test_checker_finds_a_bare_local_import():
    source = (
        "from monai_synth.io import write_png\n"
        "\n"
        "def f():\n"
        "    from monai_synth.data import build_datalist\n"
        "    from .sibling import helper\n"
        "    import json\n"
        "    from monai_synth.deploy.restore.app import RestoreApp  # optional: monai.deploy\n"
        "    from monai_synth.transforms import window  # lazy: imports torch\n"
        "    from monai_synth.metrics import fid  # just because\n"
        "\n"
        "class C:\n"
        "    def m(self):\n"
        "        if True:\n"
        "            import monai_synth.engines\n"
    )
    assert unexplained_local_imports(source) == [4, 5, 9, 14]


def test_no_unexplained_local_imports_of_the_package():
    bad = [
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line in unexplained_local_imports(path.read_text())
    ]
    assert not bad, (
        "function-local imports of monai_synth modules: move them to the top of the module, or say why not "
        "on the line (# optional: ... for an optional dependency, # lazy: ... for a light entry point):\n"
        + "\n".join(bad)
    )
