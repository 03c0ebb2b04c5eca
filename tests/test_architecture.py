"""The architecture's rules, checked rather than only written down.

- The import contracts in ``pyproject.toml`` (import-linter): presentation above the core, the
  core never imports Qt, torch only in ``rhythm/`` and ``segment/``, ``io/`` knows nothing of
  the layers above it, no cycles.
- Size limits that keep modules readable: no module over 600 lines, no GUI module over 400
  lines, no function over 80 lines in the core (everything but ``gui/`` and ``commands/``).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ecgviewer"
PRESENTATION = ("gui", "commands")


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _is_core(path: Path) -> bool:
    return path.relative_to(PACKAGE).parts[0] not in PRESENTATION


def test_import_contracts_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
        "lint-imports"
    )
    if lint is None:
        pytest.skip("import-linter is not installed (it comes with the 'test' extra)")
    run = subprocess.run(
        [lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "BROKEN" not in run.stdout


def test_no_module_over_600_lines_and_no_gui_module_over_400():
    too_long = []
    for path in _modules():
        n = len(path.read_text(encoding="utf-8").splitlines())
        limit = 400 if path.relative_to(PACKAGE).parts[0] == "gui" else 600
        if n > limit:
            too_long.append(f"{path.relative_to(ROOT)}: {n} lines (limit {limit})")
    assert not too_long, "\n".join(too_long)


def test_no_function_over_80_lines_in_the_core():
    too_long = []
    for path in filter(_is_core, _modules()):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > 80:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {n}")
    assert not too_long, "\n".join(too_long)

