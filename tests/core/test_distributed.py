"""DDP on 2 CPU processes (gloo): averaged gradients equal one process on the global batch."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ddp_train.py"


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                    reason="torch.distributed with gloo is not available")
def test_ddp_two_processes_match_one_process(tmp_path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env["CUDA_VISIBLE_DEVICES"] = ""  # gloo on CPU even where a GPU is present
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           str(EXAMPLE), "--check", "--steps", "3"]
    for _attempt in range(2):
        res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=240,
                             env=env)
        out = res.stdout + res.stderr
        # a rare abort inside gloo's teardown at process exit ("terminate called without an
        # active exception"), after every check has passed and printed, is retried once; any
        # other failure fails at once
        if res.returncode == 0 or "terminate called without an active exception" not in out:
            break
    assert res.returncode == 0, out
    diffs = re.findall(r"\[(\w+)\] gradient check over 2 process\(es\): max \|DDP - single\| = "
                       r"(\S+)", out)
    assert {name for name, _ in diffs} == {"stateless", "stateful"}, out
    assert all(float(d) <= 1e-5 for _, d in diffs), out
    assert out.count("steps on 2 process(es) (gloo)") == 2, out
