"""The generic fused loops (any describable neuron) and recording states on the fused path."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
from torch import Tensor

import snncore as snn
from snncore._backends import get_backend, select_backend
from snncore._kernel import NotFusable, describe

T, B, N = 29, 3, 11
pytestmark = pytest.mark.usefixtures("stores")  # streaming and plain stores
README = Path(__file__).resolve().parents[2] / "README.md"


class TwoState(NamedTuple):
    mem: Tensor
    trace: Tensor


class TracedLIF(snn.Neuron):
    """A third-party neuron: LIF with a decaying spike trace that lowers the drive."""

    State = TwoState

    def __init__(self, beta: float, gamma: float = 0.2, tau: float = 0.8, **kw) -> None:
        super().__init__(**kw)
        self.add_param("beta", beta, True, low=0.0, high=1.0)
        self.add_param("gamma", gamma, True)
        self.tau = tau

    def step(self, x, state):
        thr = self.param("threshold", x)
        beta = self.param("beta", x, clamp01=True)
        drive = x - self.param("gamma", x) * state.trace
        mem = self.integrate(beta, state.mem, drive, thr)
        spk, mem = self.fire_and_reset(mem, thr)
        return spk, TwoState(mem, self.tau * state.trace + spk)


def _grads(neuron, x, backend, record=()):
    x = x.clone().requires_grad_()
    for p in neuron.parameters():
        p.grad = None
    if record:
        spk, fin, rec = neuron.record(x, record, backend=backend)
        loss = (spk * torch.linspace(0, 1, T)[:, None, None]).sum() + \
            sum((r ** 2).sum() for r in rec.values())
    else:
        spk, fin = neuron.run(x, backend=backend)
        rec = {}
        loss = (spk * torch.linspace(0, 1, T)[:, None, None]).sum() + fin.mem.sum()
    loss.backward()
    return spk.detach(), {k: v.detach() for k, v in rec.items()}, x.grad, \
        {n: p.grad for n, p in neuron.named_parameters()}


def _close(a, b):
    a, b = a.detach(), b.detach()
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * float(b.abs().max().clamp(min=1e-6)))


def test_third_party_neuron_runs_fused_and_equals_eager():
    neuron = TracedLIF(0.9)
    x = torch.rand(T, B, N) * 1.5
    assert select_backend(neuron, x).name == "generic"
    se, _, ge, pe = _grads(neuron, x, "eager")
    sf, _, gf, pf = _grads(neuron, x, None)
    assert se.sum() > 0 and torch.equal(sf, se)
    _close(gf, ge)
    assert pe.keys() == pf.keys() == {"beta", "gamma"}
    for k in pe:
        _close(pf[k], pe[k])


def test_description_lists_fields_parameters_and_programs():
    desc = describe(TracedLIF(0.9))
    assert desc.fields == ("mem", "trace")
    assert set(desc.params) == {"threshold", "graded_spikes_factor", "beta", "gamma"}
    assert len(desc.forward) > 0 and desc.forward.exact
    assert len(desc.backward(True, (False, False, True, True))) > 0


def test_plain_attribute_change_is_seen():
    neuron = TracedLIF(0.9, tau=0.8)
    x = torch.rand(T, B, N) * 1.5
    a = neuron.run(x, backend="generic")[1].trace
    neuron.tau = 0.3
    b = neuron.run(x, backend="generic")[1].trace
    e = neuron.run(x, backend="eager")[1].trace
    assert not torch.equal(a, b)
    _close(b, e)


@contextlib.contextmanager
def readme_custom_neuron() -> Iterator[str]:
    """Run the README's custom-neuron block; yields the name it registers (removed after)."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    block = next(b for b in blocks if "register_neuron" in b and "class " in b)
    ns: dict = {"__name__": "readme"}
    try:
        exec(compile(block, "README custom neuron", "exec"), ns)
        yield re.search(r"register_neuron\(\"(\w+)\"", block).group(1)
    finally:
        for reg in snn.registries().values():
            reg.remove_plugin("user")


def test_readme_custom_neuron_runs_fused():
    with readme_custom_neuron() as name:
        neuron = snn.create(name, threshold=0.5)
        x = torch.rand(T, B, N)
        chosen = select_backend(neuron, x)
        assert chosen.name in ("generic", "fused")
        spk_f, st_f = neuron.run(x)
        spk_e, st_e = neuron.run(x, backend="eager")
        assert torch.equal(spk_f, spk_e)
        for a, b in zip(st_f, st_e, strict=True):
            _close(a, b)


def test_record_on_the_fused_path_matches_trace_and_gradients():
    lif = snn.Leaky(beta=0.9, learn_beta=True)
    x = torch.rand(T, B, N) * 0.8
    assert select_backend(lif, x).name == "fused"
    sf, rf, gf, pf = _grads(lif, x, None, record=("mem",))
    se, re_, ge, pe = _grads(lif, x, "eager", record=("mem",))
    assert torch.equal(sf, se)
    assert torch.equal(rf["mem"], re_["mem"])
    _, states = lif.trace(x)
    assert torch.equal(rf["mem"], states.mem.detach())
    _close(gf, ge)
    _close(pf["beta"], pe["beta"])


def test_record_only_what_is_asked():
    n = TracedLIF(0.9)
    spk, fin, rec = n.record(torch.rand(T, B, N), "trace")
    assert set(rec) == {"trace"} and rec["trace"].shape == (T, B, N)
    assert torch.equal(rec["trace"][-1], fin.trace)


@pytest.mark.parametrize("fields, err", [(("volt",), ValueError), ((3,), TypeError),
                                         (None, TypeError)])
def test_record_rejects_bad_fields(fields, err):
    with pytest.raises(err, match="record"):
        snn.Leaky(beta=0.9).record(torch.rand(T, B, N), fields)


def test_data_dependent_step_is_not_fusable():
    class Branchy(TracedLIF):
        def step(self, x, state):
            if bool((state.mem > 0.5).any()):
                x = x * 2
            return super().step(x, state)

    with pytest.raises(NotFusable, match="could not be recorded"):
        describe(Branchy(0.9))
    ok, why = get_backend("generic").supports(Branchy(0.9), torch.rand(T, B, N))
    assert not ok and "could not be recorded" in why


def test_explicit_opt_out():
    class Opaque(TracedLIF):
        fusable = "it calls an external simulator"

    ok, why = get_backend("generic").supports(Opaque(0.9), torch.rand(T, B, N))
    assert not ok and why == "it calls an external simulator"
    assert select_backend(Opaque(0.9), torch.rand(T, B, N)).name == "eager"


def test_no_native_code_means_unavailable(monkeypatch):
    from snncore.backends import _generic

    monkeypatch.setattr(_generic, "_lib", None)
    monkeypatch.setattr(_generic, "_status", "not built yet")
    monkeypatch.setenv("SNNCORE_FUSED_NATIVE", "0")
    ok, why = _generic.GenericBackend.available()
    assert not ok and "SNNCORE_FUSED_NATIVE" in why
    assert select_backend(TracedLIF(0.9), torch.rand(T, B, N)).name == "eager"


def test_compiled_and_interpreted_kernels_agree(monkeypatch):
    from snncore.backends import _generic

    neuron = TracedLIF(0.9)
    x = torch.rand(T, B, N) * 1.5
    monkeypatch.setenv("SNNCORE_FUSED_CODEGEN", "1")
    sc, _, gc, pc = _grads(neuron, x, "generic")
    assert any(fn is not None for fn in _generic._kernels.values())
    monkeypatch.setenv("SNNCORE_FUSED_CODEGEN", "0")
    si, _, gi, pi = _grads(neuron, x, "generic")
    assert torch.equal(sc, si) and torch.equal(gc, gi)
    for k in pc:
        assert torch.equal(pc[k], pi[k])


def test_a_kernel_that_does_not_compile_falls_back_to_the_interpreter(monkeypatch, caplog):
    from snncore.backends import _generic

    class Fresh(TracedLIF):  # a configuration never compiled before in this process
        pass

    monkeypatch.setattr(_generic, "_kernels", {})
    monkeypatch.setattr(_generic, "_compile", lambda *a, **k: "error: no compiler today")
    monkeypatch.setattr(_generic.native, "_cache_dir", lambda: Path("/nonexistent-snncore"))
    monkeypatch.setenv("SNNCORE_FUSED_CODEGEN", "1")
    neuron = Fresh(0.9)
    x = torch.rand(T, B, N) * 1.5
    with caplog.at_level("WARNING", logger="snncore.backends.fused"):
        sf, _, gf, _ = _grads(neuron, x, "generic")
    assert "using the interpreter" in caplog.text
    se, _, ge, _ = _grads(neuron, x, "eager")
    assert torch.equal(sf, se)
    _close(gf, ge)
