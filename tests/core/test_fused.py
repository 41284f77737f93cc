"""The fused backend against eager: identical spikes, states and gradients within 1e-5."""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import time
from typing import NamedTuple

import pytest
import torch
from torch import Tensor

import snncore as snn
from snncore._backends import get_backend, select_backend
from snncore.backends import _fused
from snncore.backends import _native as _fused_native
from snncore.backends._fused import fused_run

#: every test here runs with streaming and with plain stores (conftest.py)
pytestmark = pytest.mark.usefixtures("stores")

T, B, N = 24, 3, 5
RESETS = ("subtract", "zero", "none")
KINDS = ("leaky", "synaptic", "rleaky_elementwise", "rsynaptic_elementwise")


# -- small test-local neurons written from the equations with the base class helpers -------------
class SynState(NamedTuple):
    syn: Tensor
    mem: Tensor


class RLState(NamedTuple):
    spk: Tensor
    mem: Tensor


class RSState(NamedTuple):
    spk: Tensor
    syn: Tensor
    mem: Tensor


class _Base(snn.Neuron):
    def __init__(self, beta, alpha=None, V=None, learn=False, **kw):
        super().__init__(learn_threshold=learn, learn_graded_spikes_factor=learn, **kw)
        self._register("beta", beta, learn, low=0.0, high=1.0)
        if alpha is not None:
            self._register("alpha", alpha, learn, low=0.0, high=1.0)
        if V is not None:
            self._register("V", V, learn)


class TSynaptic(_Base):
    """I_t = α I_{t−1} + X_t; U_t = β U_{t−1} + I_t − reset."""

    State = SynState
    fused_kind = "synaptic"

    def step(self, x, state):
        alpha = self._value("alpha", x, clamp01=True)
        beta = self._value("beta", x, clamp01=True)
        thr = self._value("threshold", x)
        syn = alpha * state.syn + x
        mem = self._integrate(beta, state.mem, syn, thr)
        spk, mem = self._fire_and_reset(mem, thr)
        return spk, SynState(syn, mem)


class TRLeaky(_Base):
    """U_t = β U_{t−1} + X_t + V·S_{t−1} − reset."""

    State = RLState
    fused_kind = "rleaky_elementwise"

    def step(self, x, state):
        beta = self._value("beta", x, clamp01=True)
        thr = self._value("threshold", x)
        mem = self._integrate(beta, state.mem, x + self._value("V", x) * state.spk, thr)
        spk, mem = self._fire_and_reset(mem, thr)
        return spk, RLState(spk, mem)


class TRSynaptic(_Base):
    """I_t = α I_{t−1} + X_t + V·S_{t−1}; U_t = β U_{t−1} + I_t − reset."""

    State = RSState
    fused_kind = "rsynaptic_elementwise"

    def step(self, x, state):
        alpha = self._value("alpha", x, clamp01=True)
        beta = self._value("beta", x, clamp01=True)
        thr = self._value("threshold", x)
        syn = alpha * state.syn + x + self._value("V", x) * state.spk
        mem = self._integrate(beta, state.mem, syn, thr)
        spk, mem = self._fire_and_reset(mem, thr)
        return spk, RSState(spk, syn, mem)


def _make(kind, reset, delay, per_neuron, learn=True, dtype=torch.float32, **kw):
    gen = torch.Generator().manual_seed(11)

    def val(lo, hi):
        if per_neuron:
            return (torch.rand(N, generator=gen, dtype=torch.float64) * (hi - lo) + lo).to(dtype)
        return float(torch.rand((), generator=gen, dtype=torch.float64) * (hi - lo) + lo)

    common = dict(threshold=val(0.6, 1.4), graded_spikes_factor=val(0.5, 2.0), reset=reset,
                  reset_delay=delay, **kw)
    if kind == "leaky":
        neuron = snn.Leaky(beta=val(0.5, 0.95), learn_beta=learn, learn_threshold=learn,
                           learn_graded_spikes_factor=learn, **common)
    elif kind == "synaptic":
        neuron = TSynaptic(val(0.5, 0.95), alpha=val(0.3, 0.9), learn=learn, **common)
    elif kind == "rleaky_elementwise":
        neuron = TRLeaky(val(0.5, 0.95), V=val(-0.6, 0.6), learn=learn, **common)
    else:
        neuron = TRSynaptic(val(0.5, 0.95), alpha=val(0.3, 0.9), V=val(-0.6, 0.6), learn=learn,
                            **common)
    return neuron.to(dtype)


def _inputs(neuron, dtype=torch.float32, seed=5):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.randn(T, B, N, generator=gen, dtype=torch.float64) * 0.7 + 0.35).to(dtype)
    state = neuron.State(*(
        (torch.randn(B, N, generator=gen, dtype=torch.float64) * 0.5).to(dtype)
        for _ in neuron.State._fields))
    w_spk = torch.randn(T, B, N, generator=gen, dtype=torch.float64).to(dtype)
    w_state = [torch.randn(B, N, generator=gen, dtype=torch.float64).to(dtype)
               for _ in neuron.State._fields]
    return x, state, w_spk, w_state


def _run(neuron, x, state, w_spk, w_state, how, loss_on="both"):
    """Forward + backward; returns spikes, final state and every gradient."""
    neuron.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    state = neuron.State(*(s.clone().requires_grad_(True) for s in state))
    if how == "eager":
        spk, fin = neuron.run(x, state, backend="eager")
    else:
        spk, fin = fused_run(neuron, x, state, native_loops=(how != "torch"),
                             recompute=None if how == "native" else False)
    loss = x.new_zeros(())
    if loss_on in ("both", "spikes"):
        loss = loss + (spk * w_spk).sum()
    if loss_on == "sum":
        loss = loss + spk.sum()
    if loss_on in ("both", "state"):
        loss = loss + sum((f * w).sum() for f, w in zip(fin, w_state, strict=True))
    if isinstance(loss_on, int):  # one state field alone
        loss = loss + (fin[loss_on] * w_state[loss_on]).sum()
    loss.backward()
    grads = {"x": x.grad}
    grads.update({f"state.{k}": s.grad for k, s in zip(neuron.State._fields, state, strict=True)})
    grads.update({k: p.grad for k, p in neuron.named_parameters()})
    return spk.detach(), [f.detach() for f in fin], grads


def _assert_same(ref, got):
    spk_r, fin_r, g_r = ref
    spk_f, fin_f, g_f = got
    assert torch.equal(spk_r, spk_f), "spikes differ"
    for a, b in zip(fin_r, fin_f, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
    assert g_r.keys() == g_f.keys()
    for k in g_r:
        if g_r[k] is None:
            if k == "x" or k.startswith("state."):  # the None contract is the parameters'
                assert g_f[k] is None or not g_f[k].any(), k
            else:
                assert g_f[k] is None, f"{k}: zeros where eager gives None"
            continue
        assert g_f[k] is not None, f"no gradient for {k}"
        scale = g_r[k].abs().max().item()
        torch.testing.assert_close(g_f[k], g_r[k], rtol=1e-5, atol=1e-6 * max(scale, 1.0),
                                   msg=lambda m, k=k: f"gradient of {k}: {m}")


#: native loops recomputing the membrane in the backward (the input here is a leaf), native loops
#: storing it, and the PyTorch loop
PATHS = ("native", "store", "torch")


@pytest.mark.parametrize("kind,reset,steps", list(itertools.product(
    KINDS, RESETS, (1, 5))))
def test_a_loss_on_one_state_field_gives_none_for_unused_parameters(kind, reset, steps):
    """Every learnable parameter that the used output does not depend on gets None, as on
    eager (e.g. a loss on Synaptic's current alone, or one step of a recurrent neuron)."""
    neuron = _make(kind, reset, True, False)
    x, state, w_spk, w_state = _inputs(neuron)
    x = x[:steps]
    for i in range(len(neuron.State._fields)):
        ref = _run(neuron, x, state, w_spk, w_state, "eager", loss_on=i)
        for how in PATHS:
            _assert_same(ref, _run(neuron, x, state, w_spk, w_state, how, loss_on=i))


@pytest.mark.parametrize("kind,reset,delay,per_neuron", list(itertools.product(
    KINDS, RESETS, (True, False), (False, True))))
def test_fused_equals_eager(kind, reset, delay, per_neuron):
    neuron = _make(kind, reset, delay, per_neuron)
    x, state, w_spk, w_state = _inputs(neuron)
    ref = _run(neuron, x, state, w_spk, w_state, "eager")
    assert ref[0].any() and not ref[0].all()  # the case exercises both firing and silence
    for how in PATHS:
        _assert_same(ref, _run(neuron, x, state, w_spk, w_state, how))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("loss_on", ("spikes", "state", "sum"))
def test_partial_losses_and_fixed_parameters(kind, loss_on):
    neuron = _make(kind, "subtract", True, True, learn=False)
    x, state, w_spk, w_state = _inputs(neuron, seed=8)
    ref = _run(neuron, x, state, w_spk, w_state, "eager", loss_on)
    for how in PATHS:
        _assert_same(ref, _run(neuron, x, state, w_spk, w_state, how, loss_on))


@pytest.mark.parametrize("surrogate", ["sigmoid", "triangular", "fast_sigmoid", "gaussian",
                                       "straight_through"])
def test_surrogates_and_time_chunks(surrogate, monkeypatch):
    # a tiny chunk forces several chunks of PyTorch-computed derivatives in the native backward
    monkeypatch.setattr(_fused, "_CHUNK_ELEMS", 2 * B * N)
    neuron = _make("rsynaptic_elementwise", "zero", False, True, surrogate=surrogate)
    x, state, w_spk, w_state = _inputs(neuron, seed=2)
    ref = _run(neuron, x, state, w_spk, w_state, "eager")
    for how in PATHS:
        _assert_same(ref, _run(neuron, x, state, w_spk, w_state, how, "both"))
        _assert_same(_run(neuron, x, state, w_spk, w_state, "eager", "sum"),
                     _run(neuron, x, state, w_spk, w_state, how, "sum"))


@pytest.mark.parametrize("kind", KINDS)
def test_float64(kind):
    neuron = _make(kind, "subtract", False, True, dtype=torch.float64)
    x, state, w_spk, w_state = _inputs(neuron, dtype=torch.float64)
    ref = _run(neuron, x, state, w_spk, w_state, "eager")
    for how in PATHS:
        _assert_same(ref, _run(neuron, x, state, w_spk, w_state, how))


def test_bfloat16_runs_on_torch_loop():
    lif = snn.Leaky(beta=0.9)
    x = torch.rand(T, B, N).to(torch.bfloat16)
    spk_e, st_e = lif.run(x, backend="eager")
    spk_f, st_f = lif.run(x, backend="fused")
    assert spk_f.dtype == torch.bfloat16
    assert torch.equal(spk_e, spk_f) and torch.equal(st_e.mem, st_f.mem)


def test_no_grad_forward_and_learnable_clamp():
    lif = snn.Leaky(beta=torch.tensor([0.5, 1.3, -0.2, 0.9, 0.99]).clamp(0, 1), learn_beta=True)
    with torch.no_grad():
        lif.beta.copy_(torch.tensor([0.5, 1.3, -0.2, 0.9, 0.99]))  # outside [0, 1]: clamped
    x, state, w_spk, w_state = _inputs(lif)
    with torch.no_grad():
        e = lif.run(x, state, backend="eager")
        f = lif.run(x, state, backend="fused")
    assert torch.equal(e[0], f[0]) and torch.equal(e[1].mem, f[1].mem)
    _assert_same(_run(lif, x, state, w_spk, w_state, "eager"),
                 _run(lif, x, state, w_spk, w_state, "native"))
    _assert_same(_run(lif, x, state, w_spk, w_state, "eager"),
                 _run(lif, x, state, w_spk, w_state, "store"))


def test_second_backward():
    lif = snn.Leaky(beta=0.9)
    leaf = torch.rand(T, B, N, requires_grad=True)
    # an intermediate input: the membrane is stored and its buffer becomes the input gradient
    spk, _ = lif.run(leaf * 1.5, backend="fused")
    loss = spk.sum() + leaf.sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
    # a leaf input: the membrane is recomputed, so a second backward works
    leaf.grad = None
    spk, _ = lif.run(leaf, backend="fused")
    (spk * torch.linspace(0, 1, N)).sum().backward(retain_graph=True)
    first = leaf.grad.clone()
    (spk * torch.linspace(0, 1, N)).sum().backward()
    torch.testing.assert_close(leaf.grad, 2 * first)


def test_recompute_needs_native_surrogate():
    lif = snn.Leaky(beta=0.9, surrogate="sigmoid")
    x = torch.rand(T, B, N)
    with pytest.raises(ValueError, match="recompute"):
        fused_run(lif, x, lif.init_state(x[0]), recompute=True)


def test_auto_selects_fused_and_stateful_mode():
    lif = snn.Leaky(beta=0.8, stateful=True)
    x = torch.rand(T, B, N)
    assert select_backend(lif, x).name == "fused"
    a = lif.run(x[:10])
    b = lif.run(x[10:])
    ref, _ = snn.Leaky(beta=0.8).run(x, backend="eager")
    assert torch.equal(torch.cat([a, b]), ref)


@pytest.mark.parametrize("option,why", [
    (dict(state_quant=lambda t: t), "state_quant"),
    (dict(inhibition=True), "inhibition"),
    (dict(detach_reset=False), "detach_reset"),
    (dict(surrogate="sso"), "deterministic"),
])
def test_unsupported_options_fall_back_to_eager(option, why, caplog):
    lif = snn.Leaky(beta=0.9, **option)
    x = torch.rand(T, B, N)
    ok, reason = get_backend("fused").supports(lif, x)
    assert not ok and why in reason
    with caplog.at_level(logging.DEBUG, logger="snncore.backends"):
        chosen = select_backend(lif, x, "fused")
    assert chosen.name == "eager"
    assert any(why in r.getMessage() for r in caplog.records)
    assert select_backend(lif, x).name == "eager"


def test_unknown_kind_not_supported():
    class NoKind(TSynaptic):
        fused_kind = None

    n = NoKind(0.9, alpha=0.5)
    ok, reason = get_backend("fused").supports(n, torch.rand(T, B, N))
    assert not ok and "fused_kind" in reason


def test_native_loops_status():
    status = _fused_native.native_status()
    assert isinstance(status, str) and status
    if shutil.which("c++") or shutil.which("g++"):
        # with a compiler the native loops must build: the equality tests above ran them
        assert status.startswith("native"), status
    for m, workers in ((10_000, 2), (100, 2), (4096, 4), (50_000, 1), (70_001, 3)):
        ranges = _fused_native.parallel_ranges(m, workers)
        assert ranges[0][0] == 0 and ranges[-1][1] == m
        assert all(a < b for a, b in ranges)
        assert all(r[1] == s[0] for r, s in zip(ranges, ranges[1:], strict=False))
        assert len(ranges) <= max(1, 4 * workers)
    assert _fused_native.parallel_ranges(100, 2) == [(0, 100)]
    assert len(_fused_native.parallel_ranges(10_000, 2)) > 1


@pytest.mark.parametrize("kind", ["leaky", "rsynaptic_elementwise"])
@pytest.mark.parametrize("nthreads,width", [(2, 1024), (2, 751), (3, 1024), (4, 1300)])
def test_parallel_neuron_ranges(kind, nthreads, width, monkeypatch):
    """Enough neurons to split the native loops over several threads: each thread's share of
    the 1024-neuron tiles (a last tile cut short when the width is odd), and more threads than
    cores, so that a delayed thread's tiles are taken by the others."""
    monkeypatch.setattr(_fused_native, "SERIAL_WORK", 0)  # no serial shortcut for small work
    threads = torch.get_num_threads()
    torch.set_num_threads(nthreads)
    try:
        gen = torch.Generator().manual_seed(9)
        neuron = _make(kind, "subtract", True, False)
        x = torch.randn(6, 4, width, generator=gen) + 0.4
        state = neuron.State(*(torch.zeros(4, width) for _ in neuron.State._fields))
        assert len(_fused_native.parallel_ranges(x[0].numel(), 2)) > 1
        w_spk = torch.randn(6, 4, width, generator=gen)
        w_state = [torch.randn(4, width, generator=gen) for _ in neuron.State._fields]
        ref = _run(neuron, x, state, w_spk, w_state, "eager")
        ref_sum = _run(neuron, x, state, w_spk, w_state, "eager", "sum")
        for how in ("native", "store"):
            _assert_same(ref, _run(neuron, x, state, w_spk, w_state, how))
            _assert_same(ref_sum, _run(neuron, x, state, w_spk, w_state, how, "sum"))
    finally:
        torch.set_num_threads(threads)


# -- the neurons-extra plugin's classes, when it is installed --------------------------------------
@pytest.mark.parametrize("name,extra", [
    ("Synaptic", dict(alpha=0.7, learn_alpha=True)),
    ("RLeaky", dict(V=0.4, all_to_all=False, learn_recurrent=True)),
    ("RSynaptic", dict(alpha=0.6, V=-0.3, all_to_all=False, learn_recurrent=True,
                       learn_alpha=True)),
])
@pytest.mark.parametrize("reset,delay", [("subtract", True), ("zero", False), ("none", True)])
def test_plugin_neurons(name, extra, reset, delay):
    ne = pytest.importorskip("snn_neurons_extra")
    cls = getattr(ne, name)
    neuron = cls(beta=torch.linspace(0.6, 0.95, N), threshold=0.9, learn_beta=True,
                 learn_threshold=True, reset=reset, reset_delay=delay, **extra)
    assert get_backend("fused").supports(neuron, torch.rand(T, B, N))[0]
    x, state, w_spk, w_state = _inputs(neuron, seed=4)
    ref = _run(neuron, x, state, w_spk, w_state, "eager")
    for how in PATHS:
        _assert_same(ref, _run(neuron, x, state, w_spk, w_state, how))


def test_empty_like_large_buffers():
    x = torch.rand(64, 64, 1024)  # 16 MiB: large enough to be advised to use huge pages
    y = _fused_native.empty_like(x)
    assert y.shape == x.shape and y.dtype == x.dtype and y.is_contiguous()
    y.fill_(2.0)
    assert bool((y == 2.0).all())
    small = _fused_native.empty_like(x[:1, :1])
    assert small.shape == (1, 1, 1024) and small.is_contiguous()


@pytest.mark.parametrize("how", ["no_compiler", "disabled"])
def test_without_native_loops_the_pytorch_loop_runs(how, monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(_fused_native, "_lib", None)
    monkeypatch.setattr(_fused_native, "_status", "not built yet")
    monkeypatch.setenv("SNNCORE_CACHE_DIR", str(tmp_path))
    if how == "no_compiler":
        monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    else:
        monkeypatch.setenv("SNNCORE_FUSED_NATIVE", "0")
    with caplog.at_level(logging.DEBUG, logger="snncore.backends.fused"):
        assert _fused_native.native_library() is None
    status = _fused_native.native_status()
    assert ("build failed" in status) if how == "no_compiler" else ("disabled" in status)
    assert any("PyTorch loop" in r.getMessage() for r in caplog.records)
    neuron = _make("leaky", "subtract", True, True)
    x, state, w_spk, w_state = _inputs(neuron)
    _assert_same(_run(neuron, x, state, w_spk, w_state, "eager"),
                 _run(neuron, x, state, w_spk, w_state, "native"))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_native_loops_work_in_a_forked_child(monkeypatch):
    monkeypatch.setattr(_fused_native, "SERIAL_WORK", 0)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        x = torch.rand(3, 4, 2048) * 2
        lif = snn.Leaky(beta=0.9)
        ref, _ = lif.run(x, backend="eager")
        assert len(_fused_native.parallel_ranges(x[0].numel(), 2)) > 1
        assert torch.equal(lif.run(x, backend="fused")[0], ref)  # the parent's pool is running
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 2
            try:
                code = 0 if torch.equal(lif.run(x, backend="fused")[0], ref) else 1
            finally:
                os._exit(code)
        deadline = time.monotonic() + 60
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                pytest.fail("the forked child hung")
            time.sleep(0.05)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        torch.set_num_threads(threads)


def test_call_parallel_covers_every_range_once(monkeypatch):
    monkeypatch.setattr(_fused_native, "SERIAL_WORK", 0)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen = []

        def fn(a, b):
            seen.append((a, b))
            return 0

        ranges = _fused_native.parallel_ranges(20_000, 2)
        _fused_native.call_parallel(fn, ranges, lambda a, b: (a, b), work=10**9)
        assert sorted(seen) == ranges
        seen.clear()
        monkeypatch.setattr(_fused_native, "SERIAL_WORK", 100)
        _fused_native.call_parallel(fn, ranges, lambda a, b: (a, b), work=10)  # small: serial
        assert seen == [(0, 20_000)]
        with pytest.raises(RuntimeError, match="failed"):
            _fused_native.call_parallel(lambda a, b: 1, ranges, lambda a, b: (a, b), work=10**9)
    finally:
        torch.set_num_threads(threads)


def test_stream_threshold_reaches_the_library(stores):
    import ctypes

    lif = snn.Leaky(beta=0.9)
    lif.run(torch.rand(4, 2, 3000), backend="fused")
    lib = _fused_native.native_library()
    if lib is None:
        pytest.skip("no native loops on this machine")
    cell = ctypes.c_int64.in_dll(lib, "snncore_fused_stream_bytes")
    assert cell.value == (1 if stores == "streaming" else 1 << 62)


@pytest.mark.parametrize("raw,expected", [(None, 32 << 20), ("64", 64 << 20), ("0.5", 1 << 19),
                                          ("0", 1 << 62)])
def test_stream_threshold_from_the_environment(raw, expected, monkeypatch):
    monkeypatch.setattr(_fused_native, "STREAM_BYTES", None)
    if raw is None:
        monkeypatch.delenv("SNNCORE_STREAM_STORES_MB", raising=False)
    else:
        monkeypatch.setenv("SNNCORE_STREAM_STORES_MB", raw)
    assert _fused_native.stream_bytes() == expected


def test_a_bad_stream_threshold_warns(monkeypatch):
    monkeypatch.setattr(_fused_native, "STREAM_BYTES", None)
    monkeypatch.setenv("SNNCORE_STREAM_STORES_MB", "fast")
    with pytest.warns(RuntimeWarning, match=r"SNNCORE_STREAM_STORES_MB='fast'.*number of MiB"):
        assert _fused_native.stream_bytes() == _fused_native.DEFAULT_STREAM_MB << 20
