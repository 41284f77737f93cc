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


def test_demo_says_when_it_builds_the_native_loops(monkeypatch):
    """The first fused call on a machine compiles native code: the demo prints what and why
    before training starts (simulated here: the build logs as the real one does)."""
    import logging

    from snncore import _demo
    from snncore.backends import _native as _fused_native

    def building() -> str:
        logging.getLogger("snncore.backends.fused").info(
            "fused: building the native time loops into %s (once)", "/cache/fused_x.so")
        return "native (/cache/fused_x.so)"

    monkeypatch.setattr(_fused_native, "native_status", building)
    out = io.StringIO()
    _demo._prepare_fused(out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("first use of the fused backend")
    assert "building the native time loops into /cache/fused_x.so" in lines[0]
    assert lines[1].startswith("fused: native time loops built in")
    # nothing is said when they are already built; the reason is said when they cannot be used
    monkeypatch.setattr(_fused_native, "native_status", lambda: "native (/cache/fused_x.so)")
    out = io.StringIO()
    _demo._prepare_fused(out)
    assert out.getvalue() == ""
    monkeypatch.setattr(_fused_native, "native_status", lambda: "no C++ compiler found")
    out = io.StringIO()
    _demo._prepare_fused(out)
    assert "native loops not used (no C++ compiler found)" in out.getvalue()


@pytest.mark.parametrize("argv,match", [
    (["demo", "--min-accuracy", "96"], "--min-accuracy: 96 is not a fraction in"),
    (["demo", "--min-accuracy", "nan"], "--min-accuracy: nan is not a fraction"),
    (["demo", "--epochs", "0"], "--epochs: 0 is not an int >= 1"),
    (["demo", "--seed", "-1"], r"--seed: -1 is not an int in \[0"),
    (["demo", "--save-plots="], "--save-plots: an empty path"),
    (["bench", "--threads", "0"], "--threads: 0 is not an int >= 1"),
])
def test_bad_options_are_usage_errors(argv, match, capsys):
    from snncore._cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv, out=io.StringIO())
    assert exc.value.code == 2
    assert __import__("re").search(match, capsys.readouterr().err)


def test_a_failed_accuracy_gate_says_why(monkeypatch):
    import snncore._demo as demo
    from snncore._cli import main

    monkeypatch.setattr(demo, "run_demo", lambda **kw: {"test_accuracy": 0.875})
    out = io.StringIO()
    assert main(["demo", "--no-progress", "--min-accuracy", "0.9"], out=out) == 1
    assert "test accuracy 0.8750 is below --min-accuracy 0.9" in out.getvalue()


def test_plots_without_the_viz_plugin_are_refused_before_training(monkeypatch):
    import importlib.util

    from snncore._demo import run_demo

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "snn_viz" else real(name, *a))
    with pytest.raises(ImportError, match=r"snncore\[viz\]"):
        run_demo(epochs=1, save_plots="plots", progress=False, out=io.StringIO())
