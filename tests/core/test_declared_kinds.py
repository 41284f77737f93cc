"""A third-party neuron's ``fused_kind`` declaration is checked, not trusted: its State must have
the kind's fields, and its step must match the kind's loop on a probe; otherwise it runs from its
own step (generic or eager) with one warning, never with the loop's numbers."""

from __future__ import annotations

import warnings
from typing import NamedTuple

import pytest
import torch
from torch import Tensor, nn

import snncore as snn
from snncore import BackendFallbackWarning, extend
from snncore.backends import _fused
from snncore.extend import Neuron, select_backend


class _MemState(NamedTuple):
    mem: Tensor


class _TwoState(NamedTuple):
    mem: Tensor
    a: Tensor


class _PluginLIF(Neuron):
    """A plugin's own LIF, written from the leaky equations: it may use the leaky loop."""

    State = _MemState
    fused_kind = "leaky"

    def __init__(self, beta, **options):
        super().__init__(**options)
        self.add_param("beta", beta, False, low=0.0, high=1.0)

    def step(self, x, state):
        beta = self.param("beta", x, clamp01=True)
        thr = self.param("threshold", x)
        mem = self.integrate(beta, state.mem, x, thr)
        spk, mem = self.fire_and_reset(mem, thr)
        return spk, _MemState(mem)


class _Squared(_PluginLIF):
    """Declares the leaky kind but decays with beta squared."""

    fused_kind = "leaky"

    def step(self, x, state):
        beta = self.param("beta", x, clamp01=True)
        thr = self.param("threshold", x)
        mem = self.integrate(beta * beta, state.mem, x, thr)
        spk, mem = self.fire_and_reset(mem, thr)
        return spk, _MemState(mem)


class _Adaptive(_PluginLIF):
    """Declares the leaky kind but has a second state field (an adaptation trace)."""

    State = _TwoState
    fused_kind = "leaky"

    def step(self, x, state):
        beta = self.param("beta", x, clamp01=True)
        thr = self.param("threshold", x) + 0.5 * state.a
        mem = self.integrate(beta, state.mem, x, thr)
        spk, mem = self.fire_and_reset(mem, thr)
        return spk, _TwoState(mem, 0.9 * state.a + spk)


@pytest.fixture(autouse=True)
def _fresh_probes():
    _fused._PROBED.clear()
    yield
    _fused._PROBED.clear()


def _x(seed=0, shape=(20, 3, 5)):
    torch.manual_seed(seed)
    return torch.rand(*shape) * 0.9


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_a_faithful_declaration_runs_on_the_hand_written_loop(reset):
    neuron = _PluginLIF(0.85, reset=reset)
    x = _x()
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendFallbackWarning)
        assert select_backend(neuron, x).name == "fused"
        out, st = neuron.run(x)
    ref, st_ref = neuron.run(x, backend="eager")
    assert torch.equal(out, ref)
    torch.testing.assert_close(st.mem, st_ref.mem, rtol=1e-5, atol=1e-6)


def test_a_wrong_declaration_warns_once_and_runs_from_its_step():
    neuron = _Squared(0.85)
    x = _x()
    with pytest.warns(BackendFallbackWarning, match="its step differs from the 'leaky' loop"):
        backend = select_backend(neuron, x)
    assert backend.name == "generic"
    with warnings.catch_warnings():  # checked once per class and reset rule
        warnings.simplefilter("error", BackendFallbackWarning)
        out, st = neuron.run(x)
    ref, st_ref = neuron.run(x, backend="eager")
    assert torch.equal(out, ref)
    torch.testing.assert_close(st.mem, st_ref.mem)
    ok, why = extend.get_backend("fused").supports(neuron, x)
    assert not ok and "remove fused_kind" in why
    # inside snn.Sequential, where Linear + neuron is otherwise one fused operation
    torch.manual_seed(1)
    net = snn.Sequential(nn.Linear(5, 4), _Squared(0.85))
    assert torch.equal(net(x)[0], net(x, backend="eager")[0])


def test_a_declaration_with_other_state_fields_is_declined_not_a_crash():
    neuron = _Adaptive(0.9)
    x = _x()
    ok, why = extend.get_backend("fused").supports(neuron, x)
    assert not ok and "State has the fields ('mem', 'a')" in why
    assert select_backend(neuron, x).name != "fused"
    out, st = neuron.run(x)
    ref, st_ref = neuron.run(x, backend="eager")
    assert torch.equal(out, ref)
    torch.testing.assert_close(st.a, st_ref.a)
    with pytest.warns(BackendFallbackWarning, match="State has the fields"):
        out, _ = neuron.run(x, backend="fused")
    assert torch.equal(out, ref)
    net = snn.Sequential(nn.Linear(5, 4), _Adaptive(0.9))
    assert torch.equal(net(x)[0], net(x, backend="eager")[0])


def test_shipped_kinds_are_not_probed():
    x = _x()
    assert select_backend(snn.Leaky(0.9), x).name == "fused"
    assert not _fused._PROBED


def test_the_fused_backend_names_generic_for_a_neuron_without_a_kind():
    class Plain(_PluginLIF):
        fused_kind = None

    ok, why = extend.get_backend("fused").supports(Plain(0.9), _x())
    assert not ok and "'generic' backend runs a neuron from its step" in why
    assert "rleaky_feedback" in why
