"""The import direction pipelines -> domains -> shared, and a light CLI import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_layers_hold():
    """import-linter's contracts in pyproject.toml: layers, and science without Prefect."""
    exe = Path(sys.executable).parent / "lint-imports"
    res = subprocess.run([str(exe), str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 kept, 0 broken" in res.stdout


def test_cli_import_is_light():
    """`lowdim --help` must not pay for torch, Prefect, monai or umap."""
    code = ("import sys, pipelines.cli; "
            "print(sorted(m for m in ('torch','prefect','monai','umap','tensorly') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_library_code_sets_no_process_wide_state():
    """No torch.set_num_threads / TensorLy set_backend in library code (DESIGN, issue 8.11).

    Use shared.threads.cpu_threads (this thread's OpenMP pool, restored) and
    shared.lowrank.tensorly_pytorch (this thread's backend, restored).
    """
    import re

    bad = re.compile(r"torch\.set_num_threads\(|\btl\.set_backend\(|tensorly\.set_backend\(")
    offenders = []
    for pkg in ("shared", "domains", "pipelines"):
        for p in sorted((ROOT / pkg).rglob("*.py")):
            for i, line in enumerate(p.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                if bad.search(code) and "local_threadsafe=True" not in code:
                    offenders.append(f"{p.relative_to(ROOT)}:{i}")
    assert offenders == [], offenders
