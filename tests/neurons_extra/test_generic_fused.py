"""Every shipped neuron family on the generic fused loops against eager: identical spikes,
states and gradients (input, initial state, every learnable parameter) within 1e-5."""

from __future__ import annotations

import itertools

import pytest
import torch

import snn_neurons_extra as sx
import snncore as snn
from snncore._backends import get_backend, select_backend
from snncore.extend import describe

T, B, N = 37, 2, 19  # N*B not a multiple of the kernel tile; T not a multiple of the block
RESETS = ("subtract", "zero", "none")


@pytest.fixture(autouse=True, params=["streaming", "plain"])
def stores(request, monkeypatch):
    """Every test with the native loops writing their outputs with streaming stores (the
    threshold at a few bytes, so that these small tensors take that path) and without them."""
    monkeypatch.setenv("SNNCORE_STREAM_STORES_MB", "1e-6" if request.param == "streaming"
                       else "0")


def _family_cases():
    cases = []
    for reset, delay in itertools.product(RESETS, (True, False)):
        common = dict(reset=reset, reset_delay=delay, learn_threshold=True,
                      learn_graded_spikes_factor=True)
        cases += [
            ("leaky", lambda c=common: snn.Leaky(beta=0.9, learn_beta=True, **c), 1.0),
            ("synaptic", lambda c=common: sx.Synaptic(alpha=0.8, beta=0.9, learn_alpha=True,
                                                      learn_beta=True, **c), 0.8),
            ("lapicque", lambda c=common: sx.Lapicque(beta=0.9, learn_beta=True, **c), 1.0),
            ("if", lambda c=common: sx.IF(**c), 0.6),
            ("alif", lambda c=common: sx.ALIF(beta=0.9, rho=0.9, adapt_scale=0.5,
                                              learn_beta=True, learn_rho=True,
                                              learn_adapt_scale=True, **c), 1.0),
            ("rleaky_elementwise", lambda c=common: sx.RLeaky(
                beta=0.9, V=0.3, all_to_all=False, learn_beta=True, learn_recurrent=True, **c),
             1.0),
        ]
        alpha_common = {k: v for k, v in common.items() if k != "reset_delay"}
        if delay:
            cases.append(("alpha", lambda c=alpha_common: sx.Alpha(
                alpha=0.9, beta=0.8, learn_alpha=True, learn_beta=True, **c), 1.0))
    for delay in (True, False):
        cases += [
            ("izhikevich", lambda d=delay: sx.Izhikevich(reset_delay=d,
                                                         learn=("a", "b", "c", "d")), 12.0),
            ("adex", lambda d=delay: sx.AdEx(reset_delay=d, time_step=0.5,
                                             learn=("a", "b", "tau_w", "V_T")),
             3000.0),
        ]
    cases += [
        ("li", lambda: sx.LI(beta=0.9, learn_beta=True), 1.0),
        # a fixed decay: the linear step's backward reads no state (no checkpoints, no recompute)
        ("li_fixed", lambda: sx.LI(beta=0.9), 1.0),
        ("li_fixed_per_neuron", lambda: sx.LI(beta=torch.linspace(0.5, 0.95, N)), 1.0),
        ("leaky_per_neuron", lambda: snn.Leaky(beta=torch.linspace(0.5, 0.95, N),
                                               threshold=torch.linspace(0.8, 1.2, N),
                                               learn_beta=True, learn_threshold=True), 1.0),
        ("leaky_fast_sigmoid", lambda: snn.Leaky(beta=0.9, surrogate="fast_sigmoid"), 1.0),
        ("leaky_sigmoid", lambda: snn.Leaky(beta=0.9, surrogate="sigmoid"), 1.0),
        ("leaky_triangular", lambda: snn.Leaky(beta=0.9, surrogate="triangular"), 1.0),
        ("alpha_detach_reset_false", lambda: sx.Alpha(alpha=0.9, beta=0.8,
                                                      detach_reset=False), 1.0),
        ("lapicque_detach_reset_false", lambda: sx.Lapicque(beta=0.9, detach_reset=False,
                                                            learn_beta=True), 1.0),
        ("alif_quant", lambda: sx.ALIF(beta=0.9, state_quant=lambda t: torch.round(t * 64) / 64),
         1.0),
        ("state_leaky", lambda: sx.StateLeaky(beta=0.9, learn_beta=True, learn_threshold=True,
                                              graded_spikes_factor=1.5,
                                              learn_graded_spikes_factor=True), 1.0),
        ("state_leaky_per_neuron", lambda: sx.StateLeaky(
            beta=torch.linspace(0.5, 0.95, N), surrogate="fast_sigmoid",
            state_quant=lambda t: torch.round(t * 64) / 64), 1.0),
        ("delta_leaky", lambda: sx.DeltaLeaky(beta=0.9, delta_threshold=0.3, learn_beta=True,
                                              learn_threshold=True, graded_spikes_factor=1.5,
                                              learn_graded_spikes_factor=True), 1.0),
        ("delta_leaky_per_neuron", lambda: sx.DeltaLeaky(
            beta=torch.linspace(0.5, 0.95, N), delta_threshold=torch.linspace(0.2, 0.4, N),
            surrogate="sigmoid"), 1.0),
        ("delta_leaky_quant", lambda: sx.DeltaLeaky(
            beta=0.8, delta_threshold=0.25, state_quant=lambda t: torch.round(t * 32) / 32), 1.0),
    ]
    return cases


CASES = _family_cases()


def _inputs(neuron, scale, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(T, B, N, generator=g) * 2 - 0.35) * scale
    state = neuron.prepare(x[0], None)
    state = type(state)(*(s + 0.1 * torch.rand(s.shape, generator=g) * s.abs().clamp(min=1)
                          for s in state))
    w_out = torch.rand(T, B, N, generator=g)
    w_state = [torch.rand(B, N, generator=g) for _ in state]
    return x, state, w_out, w_state


def _run(neuron, x, state, w_out, w_state, backend, record=()):
    x = x.clone().requires_grad_()
    st = type(state)(*(s.clone().requires_grad_() for s in state))
    for p in neuron.parameters():
        p.grad = None
    if record:
        out, fin, rec = neuron.record(x, record, st, backend=backend)
    else:
        out, fin = neuron.run(x, st, backend=backend)
        rec = {}
    loss = (out * w_out).sum() + sum((f * w).sum() for f, w in zip(fin, w_state, strict=True))
    for v in rec.values():
        loss = loss + (v * (w_out + 0.5)).sum() * 0.1
    loss.backward()
    return {"out": out.detach(), "fin": [f.detach() for f in fin],
            "rec": {k: v.detach() for k, v in rec.items()}, "gx": x.grad,
            "gstate": [s.grad if s.grad is not None else torch.zeros_like(s) for s in st],
            "gparams": {n: p.grad.clone() for n, p in neuron.named_parameters()
                        if p.grad is not None}}


def _close(a, b, what):
    scale = b.abs().max().clamp(min=1e-6)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * float(scale), msg=what)


def _assert_same(got, ref, exact_out=True):
    if exact_out:
        assert torch.equal(got["out"], ref["out"]), "outputs differ"
    else:
        _close(got["out"], ref["out"], "out")
    for i, (a, b) in enumerate(zip(got["fin"], ref["fin"], strict=True)):
        _close(a, b, f"final state {i}")
    for k in ref["rec"]:
        _close(got["rec"][k], ref["rec"][k], f"recorded {k}")
    _close(got["gx"], ref["gx"], "input gradient")
    for i, (a, b) in enumerate(zip(got["gstate"], ref["gstate"], strict=True)):
        _close(a, b, f"initial state gradient {i}")
    assert got["gparams"].keys() == ref["gparams"].keys()
    for k in ref["gparams"]:
        _close(got["gparams"][k], ref["gparams"][k], f"gradient of {k}")


#: the compiled kernels are checked on the first case of every family (each variant compiles
#: once and is cached); the interpreter runs every case
_FIRST = sorted({c[0]: i for i, c in reversed(list(enumerate(CASES)))}.values())
ENGINES = [(i, "interpreter") for i in range(len(CASES))] + [(i, "compiled") for i in _FIRST]


@pytest.mark.parametrize("case, engine", ENGINES,
                         ids=[f"{CASES[i][0]}-{i}-{e}" for i, e in ENGINES])
def test_generic_equals_eager(case, engine, monkeypatch):
    monkeypatch.setenv("SNNCORE_FUSED_CODEGEN", "1" if engine == "compiled" else "0")
    name, make, scale = CASES[case]
    neuron = make()
    x, state, w_out, w_state = _inputs(neuron, scale)
    assert select_backend(neuron, x, "generic").name == "generic", name
    ref = _run(neuron, x, state, w_out, w_state, "eager")
    got = _run(neuron, x, state, w_out, w_state, "generic")
    assert ref["out"].abs().sum() > 0, "the case must produce some output"
    _assert_same(got, ref)


@pytest.mark.parametrize("case", [i for i, c in enumerate(CASES) if i % 5 == 0] + _FIRST[-3:])
def test_record_equals_eager(case, monkeypatch):
    monkeypatch.setenv("SNNCORE_FUSED_CODEGEN", "0")
    name, make, scale = CASES[case]
    neuron = make()
    x, state, w_out, w_state = _inputs(neuron, scale, seed=1)
    fields = neuron.State._fields[-1:]
    ref = _run(neuron, x, state, w_out, w_state, "eager", record=fields)
    got = _run(neuron, x, state, w_out, w_state, "generic", record=fields)
    _assert_same(got, ref)
    trace_out, trace_states = neuron.trace(x, state)
    assert torch.equal(got["rec"][fields[0]], getattr(trace_states, fields[0]).detach())


def test_auto_selects_fused_loops_for_every_family():
    x = torch.rand(T, B, N)
    for name, make, _ in CASES:
        neuron = make()
        chosen = select_backend(neuron, x).name
        expected = "fused" if getattr(neuron, "fused_kind", None) else "generic"
        assert chosen == expected, (name, chosen)


def test_hand_written_kinds_keep_their_eager_fallback():
    # options the hand-written loops do not take keep running eager under "auto"
    x = torch.rand(T, B, N)
    n = sx.Synaptic(alpha=0.8, beta=0.9, detach_reset=False)
    ok, why = get_backend("generic").supports(n, x)
    assert not ok and "hand-written kind 'synaptic'" in why
    assert select_backend(n, x).name == "eager"


@pytest.mark.parametrize("make, why", [
    (lambda: sx.RLeaky(beta=0.9, linear_features=N), "sub-module"),
    (lambda: sx.SLSTM(N, N), "matrix products"),
    (lambda: sx.SConv2dLSTM(2, 2, 3), "convolution"),
    (lambda: sx.LinearLeaky(0.9, N, N), "input projection"),
    (lambda: snn.Leaky(beta=0.9, inhibition=True), "inhibition"),
    (lambda: sx.ALIF(beta=0.9, inhibition=True), "argmax"),
    (lambda: sx.ALIF(beta=0.9, surrogate="sso"), "deterministic"),
])
def test_neurons_it_cannot_express_say_why(make, why):
    neuron = make()
    ok, reason = get_backend("generic").supports(neuron, torch.rand(T, B, N))
    assert not ok and why in reason, reason
    x = torch.rand(T, B, N)
    assert select_backend(neuron, x, "generic").name == "eager"


def test_float64_runs_eager_with_reason():
    ok, reason = get_backend("generic").supports(sx.ALIF(beta=0.9),
                                                     torch.rand(T, B, N, dtype=torch.float64))
    assert not ok and "float32 on CPU" in reason


@pytest.mark.parametrize("make, reads", [
    (lambda: sx.LI(beta=0.9), (False, False)),
    (lambda: sx.LI(beta=0.9, learn_beta=True), (False, True)),
    (lambda: sx.AdEx(), (True, True)),
    (lambda: snn.Leaky(beta=0.9, reset="none"), (True, True)),
])
def test_backward_recomputes_only_when_its_program_reads_the_state(make, reads):
    neuron = make()
    desc = describe(neuron)
    learn = tuple(getattr(neuron, p).requires_grad for p in desc.params)
    assert desc.backward_reads(True, learn) == reads
    # a backward that reads neither the input nor a state keeps nothing of size T
    x = torch.rand(T, B, N, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        out, _ = neuron.run(x * 1.0, backend="generic")
    big = [t for t in saved if t.numel() >= T * B * N]
    assert bool(big) == any(reads), [tuple(t.shape) for t in big]
    out.sum().backward()


def test_state_leaky_runs_its_recurrence_fused_and_keeps_the_convolution_for_truncation():
    x = torch.rand(T, B, N) * 0.6
    n = sx.StateLeaky(beta=0.9)
    auto, _ = n.run(x)
    fused, _ = n.run(x, backend="generic")
    assert torch.equal(auto, fused)
    _, mems = n.trace(x)  # the causal convolution: the same membranes to rounding
    torch.testing.assert_close(n.record(x, "mem")[2]["mem"], mems.mem, rtol=1e-5, atol=1e-6)
    truncated = sx.StateLeaky(beta=0.9, kernel_truncation_steps=4)
    spk, _ = truncated.run(x)
    assert torch.equal(spk, truncated.trace(x)[0])
    with pytest.raises(ValueError, match="kernel_truncation_steps"):
        truncated.run(x, backend="generic")


def test_every_registry_neuron_is_benchmarked_fused_or_documented_as_eager():
    import importlib.util
    import re
    from pathlib import Path

    from snn_neurons_extra._plugin import _neurons

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("workloads", root / "benchmarks" / "workloads.py")
    wl = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wl)
    benchmarked = {name.split(" ")[0] for name in wl.family_neurons()}
    doc = (root / "docs" / "backends.md").read_text(encoding="utf-8")
    table = doc[doc.index("| neuron | why it runs eager |"):]
    table = table[:table.index("\n\n")]
    eager = set(re.findall(r"`([a-z_0-9]+)`", "\n".join(
        line.split("|")[1] for line in table.splitlines()[2:])))
    x = torch.rand(T, B, N) * 0.6
    for name in _neurons():
        assert name in benchmarked or name in eager, name
        if name in benchmarked and name not in ("rleaky", "rsynaptic"):
            make = wl.family_neurons()[name][0]
            assert select_backend(make(), x).name in ("fused", "generic"), name


@pytest.mark.parametrize("make", [lambda: sx.ALIF(beta=0.9, learn_beta=True),
                                  lambda: sx.LI(beta=0.9)])
def test_narrow_tiles_over_threads_equal_eager(make, monkeypatch):
    # enough work for two threads, and too few neurons to give each a full tile
    monkeypatch.setenv("SNNCORE_FUSED_CODEGEN", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        neuron = make()
        g = torch.Generator().manual_seed(7)
        x = torch.rand(800, 3001, generator=g) * 1.2
        state = neuron.prepare(x[0], None)
        w_out = torch.rand(800, 3001, generator=g)
        w_state = [torch.rand(3001, generator=g) for _ in state]
        ref = _run(neuron, x, state, w_out, w_state, "eager")
        got = _run(neuron, x, state, w_out, w_state, "generic")
    finally:
        torch.set_num_threads(threads)
    _assert_same(got, ref)
