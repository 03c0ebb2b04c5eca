"""Cheap checks of the packaging files (the real PyInstaller build is packaging/build.sh).

build.spec is Python run by PyInstaller; here its helper functions and constants are executed
without PyInstaller (the spec's build calls are left out) and checked: what is bundled, what
is dropped, and that every path it names exists.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "build.spec"


def _spec_helpers() -> dict:
    """Run the spec's imports, constants and functions: everything before ``Analysis(...)``,
    without the PyInstaller import (so this test needs no PyInstaller)."""
    tree = ast.parse(SPEC.read_text(), filename=str(SPEC))
    body = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and getattr(node.value.func, "id", "") == "Analysis":
            break
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("PyInstaller"):
            continue
        body.append(node)
    ns: dict = {"SPECPATH": str(ROOT), "__name__": "build_spec"}
    exec(compile(ast.Module(body=body, type_ignores=[]), str(SPEC), "exec"), ns)  # noqa: S102
    return ns


@pytest.fixture(scope="module")
def spec() -> dict:
    return _spec_helpers()


class TestSpec:
    def test_spec_parses_and_builds_one_folder_app(self) -> None:
        tree = ast.parse(SPEC.read_text())
        calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= calls
        flags = [(k.arg, k.value) for n in ast.walk(tree) if isinstance(n, ast.Call)
                 for k in n.keywords if k.arg in {"strip", "upx"}]
        flags += [(k.value, v) for n in ast.walk(tree) if isinstance(n, ast.Dict)
                  for k, v in zip(n.keys, n.values)
                  if isinstance(k, ast.Constant) and k.value in {"strip", "upx"}]
        assert {"strip", "upx"} <= {name for name, _ in flags}
        # strip=True breaks numpy's OpenBLAS; only libtorch is stripped, by the spec itself
        assert all(isinstance(v, ast.Constant) and v.value is False for _, v in flags), flags

    def test_entry_script_exists_and_calls_cli_main(self) -> None:
        entry = ROOT / "packaging" / "ecgviewer_main.py"
        src = entry.read_text()
        assert "freeze_support()" in src and "from ecgviewer.cli import main" in src
        assert str(entry.relative_to(ROOT)) in SPEC.read_text().replace('" / "', "/")

    def test_measured_excludes_present(self, spec: dict) -> None:
        excludes = set(spec["EXCLUDES"])
        for mod in ("torch._inductor", "torch._dynamo", "torch.utils.tensorboard", "torch.onnx",
                    "sympy", "networkx", "jinja2", "tkinter", "pyqtgraph.opengl",
                    "PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtDBus",
                    "PySide6.QtSql", "PySide6.QtXml", "wfdb", "pandas", "matplotlib",
                    "hypothesis", "pytest", "dask"):
            assert mod in excludes, mod
        # modules the app imports must not be excluded
        for mod in ("torch", "numpy", "scipy", "PIL", "pyqtgraph", "pypdfium2", "tqdm",
                    "PySide6.QtOpenGL", "PySide6.QtSvg", "PySide6.QtTest", "torch.testing",
                    "skimage", "skimage.filters", "skimage.measure", "skimage.transform",
                    "skimage.morphology", "skimage.util", "skimage.exposure", "skimage.draw"):
            assert mod not in excludes, mod

    @pytest.mark.parametrize(
        "dest, kept",
        [
            ("torch/bin/torch_shm_manager", True),  # torch fails to start without it
            ("torch/bin/test_jit", False),
            ("torch/bin/protoc", False),
            ("torch/lib/libtorch_cpu.so", True),
            ("torch/lib/libtorchbind_test.so", False),
            ("torch/include/ATen/ATen.h", False),
            ("torch/test/some_test", False),
            ("torch/testing/_internal/common_utils.py", False),
            ("torch/nn/modules/conv.py", True),
            ("PySide6/Qt/translations/qtbase_de.qm", False),
            ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
            ("PySide6/Qt/plugins/platforms/libqoffscreen.so", True),
            ("PySide6/Qt/plugins/platforms/libqminimal.so", True),
            ("PySide6/Qt/plugins/platforms/libqwayland.so", False),
            ("PySide6/Qt/plugins/platforms/libqvnc.so", False),
            ("PySide6/Qt/plugins/platforms/libqeglfs.so", False),
            ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", False),
            ("PySide6/Qt/plugins/imageformats/libqjpeg.so", True),
            ("PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so", True),
            ("PySide6\\Qt\\plugins\\platforms\\qwindows.dll", True),
            ("PySide6/Qt/plugins/platforms/libqcocoa.dylib", True),
            ("resources/samples/ecg00015.png", True),
        ],
    )
    def test_keep(self, spec: dict, dest: str, kept: bool) -> None:
        assert spec["keep"](dest) is kept

    def test_app_data_bundles_resources_models_and_licences(self, spec: dict) -> None:
        entries = spec["app_data"]()
        dests = {d for d, _, _ in entries}
        assert all(kind == "DATA" and Path(src).is_file() for _, src, kind in entries)
        assert all(not Path(d).is_absolute() and ".." not in Path(d).parts for d in dests)
        assert "THIRD_PARTY_LICENSES.md" in dests
        assert {"licenses/LGPL-3.0.txt", "licenses/GPL-3.0.txt"} <= dests
        samples = ROOT / "resources" / "samples"
        for f in samples.iterdir():
            if f.is_file():
                assert f"resources/samples/{f.name}" in dests
        for f in (ROOT / "models").glob("rhythm_cnn.*"):  # weights and card, once trained
            assert f"models/{f.name}" in dests
        for f in (ROOT / "models").glob("*"):  # training records stay out of the app
            if f.suffix not in {".pt", ".md"} and not f.with_suffix(".pt").is_file():
                assert f"models/{f.name}" not in dests
        assert not any(d.startswith("models/") and "/" in d[len("models/"):] for d in dests)

    def test_smoke_test_samples_are_bundled(self) -> None:
        smoke = (ROOT / "packaging" / "smoke_test.sh").read_text()
        for name in ("ecg00015.png", "cinc2017_A00004_strip.png", "ecg00033.jpg"):
            assert name in smoke
            assert (ROOT / "resources" / "samples" / name).is_file()


class TestScripts:
    @pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
    @pytest.mark.parametrize("script", ["build.sh", "smoke_test.sh"])
    def test_shell_syntax(self, script: str) -> None:
        path = ROOT / "packaging" / script
        subprocess.run(["bash", "-n", str(path)], check=True)
        assert path.stat().st_mode & 0o111, f"{script} is not executable"


class TestLicences:
    def test_third_party_licences_name_bundled_packages_and_data(self) -> None:
        text = (ROOT / "THIRD_PARTY_LICENSES.md").read_text()
        for needle in ("PySide6", "LGPL", "shiboken6", "PyTorch", "BSD-3-Clause", "NumPy",
                       "SciPy", "Pillow", "pyqtgraph", "pypdfium2", "PDFium", "tqdm",
                       "CinC 2017", "ODC-By", "PTB-XL", "CC BY 4.0", "ECG-Image-Kit"):
            assert needle in text, needle
