"""Helpers of the Triton kernel tests: the ``device`` fixture (registered in conftest.py) and
rerunning a test file under Triton's interpreter."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


@pytest.fixture
def device():
    """A CUDA device when there is one, else CPU when this process runs under Triton's
    interpreter (see test_under_interpreter)."""
    pytest.importorskip("triton")
    if torch.cuda.is_available():
        return "cuda"
    if not INTERPRET:
        pytest.skip("no CUDA device; covered by test_under_interpreter in a subprocess")
    return "cpu"


def rerun_under_interpreter(path: str, selection: str, timeout: int = 600) -> int:
    """Without a GPU, rerun the kernel tests of ``path`` matching ``selection`` on CPU under
    TRITON_INTERPRET=1 (the setting must be there before triton builds its kernels, hence the
    fresh process); returns how many passed (none may be skipped or fail)."""
    pytest.importorskip("triton")
    if torch.cuda.is_available() or INTERPRET:
        pytest.skip("the kernel tests run directly in this process")
    env = dict(os.environ, TRITON_INTERPRET="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", path,
         "-k", selection],
        env=env, capture_output=True, text=True, timeout=timeout, cwd=os.path.dirname(path))
    tail = (proc.stdout + proc.stderr)[-3000:]
    assert proc.returncode == 0, tail
    last = proc.stdout.strip().splitlines()[-1]
    assert " passed" in last and "skipped" not in last and "failed" not in last, tail
    return int(last.split(" passed")[0].split()[-1])
