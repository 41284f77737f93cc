from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from viz_helpers import assert_png_not_blank

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plot_raster.py"


def test_plot_raster_example_writes_its_pngs(tmp_path):
    run = subprocess.run([sys.executable, str(EXAMPLE), str(tmp_path)], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    assert run.returncode == 0, run.stderr
    spikes = int(run.stdout.split()[0])
    assert spikes > 0
    for name in ("raster.png", "traces.png", "surrogate.png"):
        assert_png_not_blank(tmp_path / name)
        assert f"wrote {tmp_path / name}" in run.stdout
