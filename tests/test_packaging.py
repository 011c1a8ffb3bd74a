"""The distribution installs one import package, `fuse`: the top-level
`dialects/`, `passes/` and `lowering/` folders become `fuse.dialects`,
`fuse.passes` and `fuse.lowering` (DESIGN.md section 1) in a normal,
non-editable install."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    [built] = out.glob("fuse_ai-*.whl")
    return built


def test_the_wheel_holds_only_the_fuse_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {
        name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")
    }
    assert top_level == {"fuse"}
    for layer in ("dialects", "passes", "lowering"):
        assert f"fuse/{layer}/__init__.py" in names


def test_an_installed_copy_imports_from_any_directory(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    check = (
        "import importlib.util, fuse.dialects, fuse.passes, fuse.lowering\n"
        f"assert fuse.__file__.startswith({str(site)!r}), fuse.__file__\n"
        "assert all(importlib.util.find_spec(m) is None for m in ('dialects', 'passes', 'lowering'))\n"
        "from fuse.passes.registry import all_passes\n"
        "assert 'fuse-stratify' in all_passes()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check],
        cwd=elsewhere,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
