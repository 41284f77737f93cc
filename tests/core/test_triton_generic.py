"""The generic Triton kernels (any describable neuron on the ``triton`` backend) against eager.

The kernels run on a CUDA GPU when there is one, else on CPU tensors under Triton's interpreter
(``TRITON_INTERPRET=1``, in a subprocess: the setting must be there before Triton builds its
kernels). Without a GPU the generated kernels are also compiled ahead of time for a GPU target,
which checks that the code Triton would run on a GPU compiles (and without floating-point
contraction). The shipped families (``snn-neurons-extra``) are covered when that plugin is
installed (the all-in-one test session)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
from torch import Tensor

import snncore as snn
from snncore._backends import get_backend
from snncore.backends import _triton

sys.path.insert(0, str(Path(__file__).resolve().parent))
from triton_helpers import INTERPRET, rerun_under_interpreter  # noqa: E402

T, B, N = 37, 2, 19  # T spans two checkpoint blocks, the last one partial
HERE = Path(__file__).resolve().parent


def _family_cases() -> list:
    try:
        import snn_neurons_extra  # noqa: F401
    except ImportError:
        return []
    sys.path.insert(0, str(HERE.parent / "neurons_extra"))
    from test_generic_fused import CASES

    return CASES


FAMILIES = _family_cases()


class TanhState(NamedTuple):
    mem: Tensor
    trace: Tensor


class SoftLIF(snn.Neuron):
    """A third-party neuron: a tanh-saturated drive, a decaying trace, LIF firing."""

    State = TanhState

    def __init__(self, beta: float = 0.9, **kw) -> None:
        super().__init__(**kw)
        self.add_param("beta", beta, True, low=0.0, high=1.0)
        self.add_param("gain", torch.linspace(0.5, 1.5, N), True)

    def step(self, x, state):
        thr = self.param("threshold", x)
        drive = torch.tanh(self.param("gain", x) * x) - 0.2 * torch.expm1(-state.trace)
        mem = self.integrate(self.param("beta", x, clamp01=True), state.mem, drive, thr)
        spk, mem = self.fire_and_reset(mem, thr)
        return spk, TanhState(mem, 0.7 * state.trace + spk)


class IntegratorState(NamedTuple):
    mem: Tensor


class LeakyIntegrator(snn.Neuron):
    """A linear step (fixed decay, output the membrane): its gradient reads no state."""

    State = IntegratorState

    def step(self, x, state):
        mem = 0.75 * state.mem + x
        return 2.0 * mem, self.State(mem)


def _core_cases() -> list:
    cases = []
    for reset in ("subtract", "zero", "none"):
        for delay in (True, False):
            cases.append((f"leaky_sigmoid_{reset}_{delay}", lambda r=reset, d=delay: snn.Leaky(
                beta=0.9, surrogate="sigmoid", reset=r, reset_delay=d, learn_beta=True,
                learn_threshold=True, learn_graded_spikes_factor=True), 1.0))
    cases += [("soft_lif", lambda: SoftLIF(learn_threshold=True), 1.5),
              ("linear_integrator", LeakyIntegrator, 1.0),
              ("leaky_atan_generic", lambda: snn.Leaky(beta=torch.linspace(0.5, 0.95, N),
                                                       learn_beta=True), 1.0)]
    return cases


CASES = _core_cases() + [(f"family_{name}", make, scale) for name, make, scale in FAMILIES]


def test_under_interpreter():
    """Without a GPU, rerun this file's kernel tests on CPU under TRITON_INTERPRET=1."""
    assert rerun_under_interpreter(__file__, "kernels", timeout=900) >= len(CASES) + 6


def _inputs(neuron, scale, seed=0, t=T, b=B, n=N):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(t, b, n, generator=g) * 2 - 0.35) * scale
    state = neuron.prepare(x[0], None)
    state = type(state)(*(s + 0.1 * torch.rand(s.shape, generator=g) * s.abs().clamp(min=1)
                          for s in state))
    w_out = torch.rand(t, b, n, generator=g)
    w_state = [torch.rand(b, n, generator=g) for _ in state]
    return x, state, w_out, w_state


def _run(neuron, x, state, w_out, w_state, how, device, record=(), use=("out", "state")):
    """Run eagerly or in the generic Triton kernels; gradients of a weighted loss."""
    neuron = neuron.to(device)
    x = x.to(device).clone().requires_grad_()
    st = type(state)(*(s.to(device).clone().requires_grad_() for s in state))
    for p in neuron.parameters():
        p.grad = None
    if how == "eager":
        if record:
            out, fin, rec = neuron.record(x, record, st, backend="eager")
        else:
            (out, fin), rec = neuron.run(x, st, backend="eager"), {}
    else:
        from snncore.backends._triton_generic import triton_generic_run

        out, fin, rec = triton_generic_run(neuron, x, st, tuple(record))
    loss = x.sum() * 0
    if "out" in use:
        loss = loss + (out * w_out.to(device)).sum()
    if "state" in use:
        loss = loss + sum((f * w.to(device)).sum() for f, w in zip(fin, w_state, strict=True))
    for v in rec.values():
        loss = loss + (v * (w_out.to(device) + 0.5)).sum() * 0.1
    loss.backward()
    cpu = lambda t: None if t is None else t.detach().cpu()  # noqa: E731
    return {"out": cpu(out), "fin": [cpu(f) for f in fin],
            "rec": {k: cpu(v) for k, v in rec.items()}, "gx": cpu(x.grad),
            "gstate": [cpu(s.grad) for s in st],
            "gparams": {n: cpu(p.grad) for n, p in neuron.named_parameters()}}


def _close(a, b, what):
    assert (a is None) == (b is None), f"{what}: None on one side only"
    if a is None:
        return
    scale = b.abs().max().clamp(min=1e-6)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * float(scale), msg=what)


def _assert_same(got, ref):
    assert torch.equal(got["out"], ref["out"]), "outputs differ"
    for i, (a, b) in enumerate(zip(got["fin"], ref["fin"], strict=True)):
        _close(a, b, f"final state {i}")
    assert got["rec"].keys() == ref["rec"].keys()
    for k in ref["rec"]:
        _close(got["rec"][k], ref["rec"][k], f"recorded {k}")
    _close(got["gx"], ref["gx"], "input gradient")
    for i, (a, b) in enumerate(zip(got["gstate"], ref["gstate"], strict=True)):
        if a is None or b is None:  # an initial state no output depends on: None or zeros
            assert (a if a is not None else b).abs().max() == 0, f"initial state gradient {i}"
            continue
        _close(a, b, f"initial state gradient {i}")
    assert got["gparams"].keys() == ref["gparams"].keys()
    for k in ref["gparams"]:  # None exactly where eager gives None
        _close(got["gparams"][k], ref["gparams"][k], f"gradient of {k}")


@pytest.mark.parametrize("case", range(len(CASES)), ids=[c[0] for c in CASES])
def test_kernels_equal_eager(case, device):
    name, make, scale = CASES[case]
    neuron = make()
    x, state, w_out, w_state = _inputs(neuron, scale)
    ref = _run(neuron, x, state, w_out, w_state, "eager", device)
    assert ref["out"].abs().sum() > 0, "the case must produce some output"
    _assert_same(_run(neuron, x, state, w_out, w_state, "triton", device), ref)


@pytest.mark.parametrize("case", [0, 6] + list(range(len(_core_cases()), len(CASES), 7)),
                         ids=lambda i: CASES[i][0])
def test_kernels_record_equal_eager(case, device):
    name, make, scale = CASES[case]
    neuron = make()
    x, state, w_out, w_state = _inputs(neuron, scale, seed=1)
    fields = neuron.State._fields[-1:]
    ref = _run(neuron, x, state, w_out, w_state, "eager", device, record=fields)
    got = _run(neuron, x, state, w_out, w_state, "triton", device, record=fields)
    _assert_same(got, ref)


@pytest.mark.parametrize("use", [("state",), ("out",)])
def test_kernels_none_versus_zero_gradients(use, device):
    """A loss on the membrane only leaves the spike factor's gradient None (as eager does)."""
    neuron = snn.Leaky(beta=0.9, surrogate="sigmoid", learn_beta=True, learn_threshold=True,
                       learn_graded_spikes_factor=True)
    x, state, w_out, w_state = _inputs(neuron, 1.0, seed=2)
    ref = _run(neuron, x, state, w_out, w_state, "eager", device, use=use)
    got = _run(neuron, x, state, w_out, w_state, "triton", device, use=use)
    _assert_same(got, ref)
    if use == ("state",):
        assert ref["gparams"]["graded_spikes_factor"] is None
    assert got["gparams"]["beta"] is not None


@pytest.mark.parametrize("t, n", [(32, 19), (64, 300), (5, 7), (1, 3)])
def test_kernels_block_and_lane_edges(t, n, device):
    """T a multiple of the checkpoint block or shorter than it; more neurons than one
    program's lanes."""
    neuron = snn.Leaky(beta=0.8, surrogate="sigmoid", reset="zero", learn_beta=True)
    x, state, w_out, w_state = _inputs(neuron, 1.5, seed=3, t=t, b=1, n=n)
    ref = _run(neuron, x, state, w_out, w_state, "eager", device)
    _assert_same(_run(neuron, x, state, w_out, w_state, "triton", device), ref)


def test_linear_step_keeps_no_checkpoints():
    """A backward that reads no state recomputes nothing: no checkpoints, no scratch, no input
    (the case itself runs in test_kernels_equal_eager)."""
    from snncore.backends import _triton_generic as tg

    _, bwd = tg.kernel_sources(LeakyIntegrator(), torch.rand(5, B, N))
    names = [a for a, _ in bwd.args]
    assert "CK" not in names and "SCR" not in names and "X" not in names
    _, bwd = tg.kernel_sources(SoftLIF(), torch.rand(5, B, N))
    assert {"CK", "SCR", "X"} <= {a for a, _ in bwd.args}


def test_kernels_backward_once(device):
    """A second backward (retain_graph) and double backward raise clear errors."""
    neuron = SoftLIF().to(device)
    x = torch.rand(T, B, N, device=device, requires_grad=True)
    from snncore.backends._triton_generic import triton_generic_run

    out, fin, _ = triton_generic_run(neuron, x, neuron.prepare(x[0], None))
    loss = out.sum() + fin.mem.sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
    out, fin, _ = triton_generic_run(neuron, x, neuron.prepare(x[0], None))
    (g,) = torch.autograd.grad(fin.mem.sum(), x, create_graph=True)
    with pytest.raises(snn.BackendError, match="double backward.*'triton'"):
        g.sum().backward()


def test_kernels_readme_custom_neuron(device):
    from test_generic import readme_custom_neuron

    with readme_custom_neuron() as name:
        neuron = snn.create(name, threshold=0.5, learn_threshold=True)
        x, state, w_out, w_state = _inputs(neuron, 0.5, seed=4)
        ref = _run(neuron, x, state, w_out, w_state, "eager", device)
        _assert_same(_run(neuron, x, state, w_out, w_state, "triton", device), ref)


def test_kernels_backend_dispatch(device, monkeypatch):
    """The triton backend runs hand-written kinds in their kernels, everything else (and
    record) in the generic ones."""
    from snncore.backends import _triton_generic

    calls = []
    real = _triton_generic.triton_generic_run
    monkeypatch.setattr(_triton, "triton_generic_run",
                        lambda *a, **k: calls.append(type(a[0]).__name__) or real(*a, **k))
    backend = get_backend("triton")
    x = torch.rand(T, B, N, device=device)
    lif = snn.Leaky(beta=0.9).to(device)
    spk, _ = backend.run(lif, x, lif.prepare(x[0], None))
    assert calls == []
    soft = SoftLIF().to(device)
    out, fin = backend.run(soft, x, soft.prepare(x[0], None))
    spk_e, fin_e = soft.run(x, backend="eager")
    assert calls == ["SoftLIF"] and torch.equal(out, spk_e)
    _, _, rec = backend.record(lif, x, lif.prepare(x[0], None), ("mem",))
    assert calls == ["SoftLIF", "Leaky"] and rec["mem"].shape == x.shape
    torch.testing.assert_close(rec["mem"], lif.trace(x)[1].mem.detach())
    sig = snn.Leaky(beta=0.9, surrogate="sigmoid").to(device)  # an option the hand kernels lack
    out, _ = backend.run(sig, x, sig.prepare(x[0], None))
    assert calls[-1] == "Leaky" and len(calls) == 3
    assert torch.equal(out, sig.run(x, backend="eager")[0])


def test_kernels_reject_tensors_on_another_device(device):
    from snncore.backends._triton_generic import triton_generic_run

    neuron = SoftLIF()
    x = torch.rand(T, B, N, device=device)
    state = neuron.prepare(torch.zeros(B, N), None)
    # a parameter left on another device (set past the range check, which reads values)
    neuron._parameters["gain"] = torch.nn.Parameter(neuron.gain.detach().to("meta"))
    with pytest.raises(ValueError, match="gain is on meta but the input is on"):
        triton_generic_run(neuron, x, type(state)(*(s.to(device) for s in state)))


def test_kernels_benchmark_gpu_section(device):
    """benchmarks/run.py's GPU section runs end to end (tiny sizes here; the interpreter stands
    in for the GPU): the copy bandwidth, LIF in both kernels, and every family."""
    import importlib.util

    path = HERE.parents[1] / "benchmarks" / "run.py"
    spec = importlib.util.spec_from_file_location("snncore_benchmarks_run", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    md: list[str] = []
    raw: dict = {}
    targets = bench.gpu_section(md, raw, repeats=1, warmup=0, quick=True,
                                dev=torch.device(device))
    res = raw["gpu"]["results"]
    sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))
    import workloads

    fams = [n for n in workloads.family_neurons() if n != "leaky"]
    assert set(res) == {"leaky (hand-written kernels)", "leaky (generic kernels)", *fams}
    assert all(r["triton"] > 0 and r["eager"] > 0 for r in res.values())
    cuda = device == "cuda"
    assert all((r["triton_peak"] is not None) == cuda for r in res.values())
    assert raw["gpu"]["bandwidth_Bps"] > 0
    assert "80% of the copy bandwidth" in targets[0] and len(targets) == len(res) + 1
    assert any("eager / triton" in m for m in md)


def test_every_operation_has_a_triton_spelling(monkeypatch):
    from snncore._kernel import _OPS
    from snncore.backends import _triton_codegen as tcg
    from snncore.backends._triton_generic import triton_generic_supports

    assert set(tcg.TRITON_EXPR) == set(_OPS)
    monkeypatch.delitem(tcg.TRITON_EXPR, "TANH")
    ok, why = triton_generic_supports(SoftLIF(), torch.rand(4, 2, N), require_cuda=False)
    assert not ok and "cannot spell the operations ['TANH']" in why


def test_supports_reasons():
    backend = get_backend("triton")
    x = torch.rand(4, 2, 3)
    ok, why = backend.supports(SoftLIF(), x)
    assert not ok and "CUDA" in why
    from snncore.backends._triton_generic import triton_generic_supports

    assert triton_generic_supports(SoftLIF(), x, require_cuda=False) == (True, "")
    ok, why = triton_generic_supports(SoftLIF(), x.double(), require_cuda=False)
    assert not ok and "float32" in why
    ok, why = triton_generic_supports(snn.Leaky(beta=0.9, inhibition=True), x,
                                      require_cuda=False)
    assert not ok and any(w in why for w in ("inhibition", "argmax", "elementwise")), why
    ok, why = triton_generic_supports(snn.Leaky(beta=0.9, surrogate="sso"), x,
                                      require_cuda=False)
    assert not ok and "deterministic" in why
    with pytest.raises(ValueError, match="triton_generic_run: .*float32"):
        from snncore.backends._triton_generic import triton_generic_run

        xd = torch.rand(4, 2, N, dtype=torch.float64)
        triton_generic_run(SoftLIF(), xd, SoftLIF().prepare(xd[0], None))


def _aot_cases():
    names = ["soft_lif", "leaky_sigmoid_subtract_True", "linear_integrator"]
    names += [f"family_{n}" for n in ("adex", "alif_quant", "lapicque", "izhikevich")]
    first = {}
    for i, c in enumerate(CASES):
        first.setdefault(c[0], i)
    return [first[n] for n in names if n in first]


@pytest.mark.parametrize("case", _aot_cases(), ids=lambda i: CASES[i][0])
def test_generated_code_compiles_for_a_gpu(case):
    """The kernels Triton would run on a GPU compile (ahead of time, for sm_90, no GPU
    needed), with correctly rounded division and without fused multiply-adds."""
    triton = pytest.importorskip("triton")
    if INTERPRET:
        pytest.skip("ahead-of-time compilation needs Triton's compiler, not its interpreter")
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from snncore.backends import _triton_generic as tg

    neuron = CASES[case][1]()
    x = torch.rand(5, B, N)
    for src in tg.kernel_sources(neuron, x, record=neuron.State._fields[-1:]):
        fn = tg._load(src)
        try:
            compiled = triton.compile(
                ASTSource(fn=fn, signature=dict(src.args),
                          constexprs={"BLOCK": tg.NEURONS_PER_PROGRAM}),
                target=GPUTarget("cuda", 90, 32), options={"enable_fp_fusion": False})
        except (RuntimeError, FileNotFoundError) as exc:  # pragma: no cover - no ptxas here
            if "ptxas" in str(exc):
                pytest.skip(f"Triton's GPU assembler is not available: {exc}")
            raise
        ptx = compiled.asm["ptx"]
        assert "fma.rn.f32" not in ptx, "floating-point contraction must be off"
        assert "div.approx" not in ptx and "div.full" not in ptx
