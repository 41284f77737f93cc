"""``snncore bench --quick``: runs, prints the timings and ratios, and the numbers are sane."""

from __future__ import annotations

import io
import json

import pytest

from snncore._bench import run_bench
from snncore._cli import main


def _benchmark_module(name: str):
    """``benchmarks/<name>.py`` loaded as a module (the benchmarks are scripts, not a package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"snncore_benchmarks_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_quick_prints_ratios():
    out = io.StringIO()
    assert main(["bench", "--quick", "--json", "--threads", "1"], out=out) == 0
    text = out.getvalue()
    report, payload = text.split("{", 1)
    result = json.loads("{" + payload)
    assert "snncore bench (quick)" in report and "1 threads" in report
    assert f"snncore ({result['backend']})" in report
    assert "x as fast as snncore (eager)" in report
    assert set(result["median_s"]) >= {"snncore", "snncore eager"}
    assert all(s > 0 for s in result["median_s"].values())
    # the fused whole-sequence loop beats a loop of single autograd steps by a wide margin,
    # so even on a busy machine it is ahead
    if result["backend"] == "fused":
        assert result["ratios"]["snncore eager"] > 1.0
    snntorch = [n for n in result["median_s"] if n.startswith("snnTorch")]
    try:
        import snntorch as _  # noqa: F401
    except ImportError:
        assert not snntorch and "snnTorch is not installed" in report
    else:
        assert snntorch and f"as fast as {snntorch[0]}" in report


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_bench_rejects_bad_threads(threads):
    with pytest.raises(ValueError, match="threads must be an int >= 1"):
        run_bench(threads=threads, out=io.StringIO())


def test_pair_overhead_diagnostic_times_every_part():
    """benchmarks/pair_overhead.py finds the product and both native loops inside the fused
    pair (its timers wrap internals: a renamed one would leave a part at zero) and restores
    what it wrapped."""
    import torch

    from snncore.backends import _fused, _native

    if _native.native_library() is None:
        pytest.skip("the native loops are not built here")
    mod = _benchmark_module("pair_overhead")
    addmm, call = torch.addmm, _fused.native.call_parallel
    med = mod.measure("leaky", 64, 2, steps=40)
    assert torch.addmm is addmm and _fused.native.call_parallel is call
    for part in ("product", "neuron loop", "reverse loop", "glue", "loss", "backward"):
        assert med[part] > 0, part
    assert med["forward"] > med["product"] + med["neuron loop"]
    assert med["pair total"] > 0 and med["floor total"] > 0 and med["pair / floor"] > 0
    assert med["direct total"] > 0 and med["direct / floor"] > 0
    assert "apply" not in vars(_fused._FusedLinearFunction)  # restored to the inherited one


def test_conv_overhead_diagnostic_compares_with_the_floor():
    """benchmarks/conv_overhead.py runs snncore's conv network (automatic and fixed time
    blocks) against the conv-only floor, with no peer in between, and times the B=1 forward."""
    mod = _benchmark_module("conv_overhead")
    res = mod.measure(1, chunks=(2,), T=4, B=2, warmup=0)
    assert set(res) == {mod.OURS, f"{mod.OURS}, time_chunk=2", mod.FLOOR}
    for r in res.values():
        assert r["fwd"] > 0 and r["bwd"] > 0 and r["total"] >= r["fwd"] and r["ratio"] > 0
    assert res[mod.FLOOR]["ratio"] == 1.0
    cost = mod.fixed_cost(steps=4, block=2, reps=2)
    assert set(cost) == {"snncore", "floor"} and min(cost.values()) > 0
    with pytest.raises(SystemExit):
        mod.main(["--chunks", "5,x"])
    with pytest.raises(SystemExit):
        mod.main(["--block", "0"])


def test_benchmark_report_shows_only_measuring_arguments():
    """The command that docs/benchmarks.md quotes leaves out where the results were written
    (``--json``/``--out``, often a local path) and keeps what changes the measurement."""
    mod = _benchmark_module("run")
    shown = mod._measuring_args(["--json", "/tmp/x.json", "--repeats", "9", "--out=-",
                                 "--skip", "gpu", "--out", "report.md", "--json=/tmp/y"])
    assert shown == ["--repeats", "9", "--skip", "gpu"]
    assert mod._measuring_args([]) == []
