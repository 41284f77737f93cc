"""``snncore bench --quick``: runs, prints the timings and ratios, and the numbers are sane."""

from __future__ import annotations

import io
import json

import pytest

from snncore._bench import run_bench
from snncore._cli import main


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
