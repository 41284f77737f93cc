"""Every tutorial in examples/tutorials/ runs in its short setting and prints results that make
sense (accuracy above chance, the dynamics the tutorial explains), and the side-by-side
benchmark of tutorials 5 and 6 compares programs that start from the same weights."""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "examples" / "tutorials"
SCRIPTS = sorted(TUTORIALS.glob("tutorial_*.py"))
RESULT = re.compile(r"^result (\w+) = (\S+)$", re.MULTILINE)

Check = Callable[[dict[str, float]], bool]

#: script -> (checks on its "result name = value" lines, figures it saves with --plots)
EXPECTED: dict[str, tuple[dict[str, Check], int]] = {
    "tutorial_1_spike_encoding.py": ({
        "rate_error": lambda r: r["rate_error"] < 0.2,          # 100 Bernoulli steps per pixel
        "latency_order": lambda r: r["latency_order"] > 20,     # dim pixels fire later
        "delta_spikes": lambda r: r["delta_spikes"] > 10,
    }, 3),
    "tutorial_2_lif_neuron.py": ({
        "decay_error": lambda r: r["decay_error"] < 1e-5,
        "lapicque_spikes": lambda r: r["lapicque_spikes"] > 0,
        "spikes_subtract": lambda r: r["spikes_subtract"] > 0,
        "spikes_zero": lambda r: r["spikes_zero"] > 0,
        "spikes_none": lambda r: r["spikes_none"] > r["spikes_subtract"],
    }, 3),
    "tutorial_3_feedforward.py": ({
        "single_neuron_spikes": lambda r: r["single_neuron_spikes"] > 0,
        "hidden_spikes": lambda r: r["hidden_spikes"] > 0,
        "output_spikes": lambda r: r["output_spikes"] > 0,
        "sequence_equals_steps": lambda r: r["sequence_equals_steps"] == 1,
    }, 3),
    "tutorial_4_second_order.py": ({
        "current_decay": lambda r: abs(r["current_decay"] - 0.9) < 1e-4,
        "synaptic_peak_step": lambda r: r["synaptic_peak_step"] > 5,   # after the input at 5
        "synaptic_spikes": lambda r: r["synaptic_spikes"] > 0,
        "alpha_spikes": lambda r: r["alpha_spikes"] > 0,
        "network_output_spikes": lambda r: r["network_output_spikes"] > 0,
    }, 2),
    "tutorial_5_training.py": ({
        "test_accuracy": lambda r: r["test_accuracy"] > 0.5,           # chance: 0.1
        "train_accuracy": lambda r: r["train_accuracy"] > 0.5,
        "final_loss": lambda r: math.isfinite(r["final_loss"]),
    }, 0),
    "tutorial_6_surrogate_conv.py": ({
        "test_accuracy": lambda r: r["test_accuracy"] > 0.2,           # chance: 0.1
        "final_loss": lambda r: r["final_loss"] < math.log(10),         # below the untrained
    }, 2),
    "tutorial_7_neuromorphic.py": ({
        "test_accuracy": lambda r: r["test_accuracy"] > 0.5,           # chance: 0.25
        "final_loss": lambda r: math.isfinite(r["final_loss"]),
    }, 2),
    "tutorial_population_coding.py": ({
        "accuracy_single_neuron": lambda r: r["accuracy_single_neuron"] > 0.2,
        "accuracy_population": lambda r: r["accuracy_population"] > 0.5,
        "population_wins": lambda r: r["accuracy_population"] > r["accuracy_single_neuron"],
    }, 0),
    "tutorial_regression_1.py": ({
        "l1_after": lambda r: r["l1_after"] < 0.5 * r["l1_before"],
        "relative_error": lambda r: r["relative_error"] < 0.5,
    }, 1),
    "tutorial_regression_2.py": ({
        "accuracy_count_loss": lambda r: r["accuracy_count_loss"] > 0.3,   # chance: 0.1
        "accuracy_membrane_loss": lambda r: r["accuracy_membrane_loss"] > 0.15,
    }, 0),
}


def test_every_tutorial_is_checked():
    assert {s.name for s in SCRIPTS} == set(EXPECTED)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_tutorial_quick_run(script: Path, tmp_path: Path):
    checks, figures = EXPECTED[script.name]
    plots = tmp_path / "plots"
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONHASHSEED="0")
    res = subprocess.run([sys.executable, str(script), "--quick", "--plots", str(plots)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, f"{script.name} failed:\n{res.stdout}\n{res.stderr}"
    results = {k: float(v) for k, v in RESULT.findall(res.stdout)}
    assert results, f"{script.name} printed no results:\n{res.stdout}"
    failed = [name for name, ok in checks.items() if not ok(results)]
    assert not failed, f"{script.name}: {failed} out of range in\n{res.stdout}"
    saved = sorted(p.name for p in plots.glob("*")) if plots.exists() else []
    assert len(saved) == figures, f"{script.name} saved {saved}"


def test_quick_setting_from_environment(tmp_path: Path):
    """``SNNCORE_TUTORIAL_QUICK=1`` selects the short run like ``--quick``."""
    sys.path.insert(0, str(TUTORIALS))
    try:
        from _common import parse_args
    finally:
        sys.path.remove(str(TUTORIALS))
    os.environ.pop("SNNCORE_TUTORIAL_QUICK", None)
    assert parse_args("t", epochs=10, quick_epochs=2, argv=[]).epochs == 10
    assert parse_args("t", epochs=10, quick_epochs=2, argv=["--quick"]).epochs == 2
    assert parse_args("t", epochs=10, quick_epochs=2, argv=["--epochs", "4"]).epochs == 4
    os.environ["SNNCORE_TUTORIAL_QUICK"] = "1"
    try:
        assert parse_args("t", epochs=10, quick_epochs=2, argv=[]).epochs == 2
    finally:
        del os.environ["SNNCORE_TUTORIAL_QUICK"]
    with pytest.raises(SystemExit):
        parse_args("t", epochs=10, quick_epochs=2, argv=["--epochs", "0"])


# -- the side-by-side benchmark of tutorials 5 and 6 --------------------------------------------
def _benchmark_module():
    spec = importlib.util.spec_from_file_location("tutorials_bench",
                                                  ROOT / "benchmarks" / "tutorials.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_switch_imports_changes_only_the_imports():
    bench = _benchmark_module()
    src = ("import snntorch as snn\nfrom snntorch import surrogate, utils\n"
           "import snntorchx\nx = 'snntorch'\n    from snntorch import functional as SF\n")
    assert bench.switch_imports(src) == (
        "import snn_compat.snntorch as snn\nfrom snn_compat.snntorch import surrogate, utils\n"
        "import snntorchx\nx = 'snntorch'\n    from snn_compat.snntorch import functional as SF\n")


@pytest.mark.parametrize("tutorial", [5, 6])
def test_benchmark_programs_start_alike(tutorial: int):
    """Every program of the benchmark trains from the same initial weights; the first loss of
    the snnTorch program, the native rewrite and the one-Sequential variant agree."""
    pytest.importorskip("snntorch")
    import torch

    bench = _benchmark_module()
    x, _, y, _ = bench.load_digits(0, flat=(tutorial == 5))
    progs = bench.contenders(tutorial, seed=0)
    assert {"snnTorch 1.0.0", "snncore native", "snncore, one Sequential"} <= set(progs)
    if importlib.util.find_spec("snn_compat") is not None:     # the program, imports switched
        assert "snn_compat" in progs
    torch.manual_seed(0)
    losses = {name: step(x[:32], y[:32]) for name, step in progs.items()}
    ref = losses["snnTorch 1.0.0"]
    for loss in losses.values():
        assert loss == pytest.approx(ref, rel=1e-4), losses
