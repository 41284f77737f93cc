"""The main job: `snncore demo` reaches >= 96% test accuracy with the fixed seed."""

from __future__ import annotations

import io

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("tqdm")


def test_demo_reaches_target_accuracy():
    from snncore._cli import main

    out = io.StringIO()
    status = main(["demo", "--no-progress", "--min-accuracy", "0.96"], out=out)
    text = out.getvalue()
    assert status == 0, text
    assert "test accuracy:" in text
    acc = float(text.rsplit("test accuracy:", 1)[1].split("%")[0])
    assert acc >= 96.0


def test_demo_rejects_bad_epochs():
    from snncore._demo import run_demo

    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        run_demo(epochs=0, progress=False, out=io.StringIO())
