"""The fused backends run what the neuron computes: subclass overrides, a surrogate's own spike
function and a Monitor's view of a neuron's input are honoured; None-vs-zero for parameters
that a used output does not depend on."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import snncore as snn
from snncore import extend
from snncore.extend import select_backend


class _BiasedLeaky(snn.Leaky):
    """A variant with a constant bias current: its step is not the built-in Leaky loop's."""

    def step(self, x, state):
        return super().step(x + 0.5, state)


class _HalfFire(snn.Leaky):
    def fire(self, mem, thr):
        return super().fire(mem, thr) * 0.5


class _SameLeaky(snn.Leaky):
    """A subclass that only adds a helper keeps the hand-written loop."""

    def rate(self, spk):
        return spk.mean(0)


class _SoftSpike(snn.Surrogate):
    name = "test_soft_spike"

    def derivative(self, x):
        s = torch.sigmoid(4 * x)
        return 4 * s * (1 - s)

    def __call__(self, x):
        return torch.sigmoid(4 * x)  # graded spikes


@pytest.mark.parametrize("make", [lambda: _BiasedLeaky(beta=0.9),
                                  lambda: _HalfFire(beta=0.9),
                                  lambda: snn.Leaky(beta=0.9, surrogate=_SoftSpike(),
                                                    reset="none")])
def test_overridden_dynamics_do_not_run_on_the_hand_written_loop(make):
    torch.manual_seed(0)
    neuron = make()
    x = torch.rand(8, 2, 3) * 0.8
    assert select_backend(neuron, x).name != "fused"
    ok, why = extend.get_backend("fused").supports(neuron, x)
    assert not ok and "overrides" in why
    ref, st_ref = neuron.run(x, backend="eager")
    for backend in (None, "generic"):
        out, st = neuron.run(x, backend=backend)
        torch.testing.assert_close(out, ref)
        torch.testing.assert_close(st.mem, st_ref.mem)
    # inside snn.Sequential (the Linear + neuron operation) as well
    torch.manual_seed(1)
    net = snn.Sequential(nn.Linear(3, 3), make())
    torch.testing.assert_close(net(x)[0], net(x, backend="eager")[0])


def test_a_subclass_without_overrides_stays_fused():
    assert select_backend(_SameLeaky(beta=0.9), torch.rand(4, 2, 3)).name == "fused"


def test_monitor_records_the_neuron_input_the_linear_gave():
    torch.manual_seed(0)
    x = torch.rand(5, 2, 3) * 2
    net = snn.Sequential(nn.Linear(3, 4), snn.Leaky(beta=0.9))
    with torch.no_grad():
        expected = net[0](x)
    with snn.Monitor(net, layers=snn.Leaky, record="input") as mon:
        spk, _ = net(x)
        torch.testing.assert_close(mon.stacked("input")["1"], expected)
        spk.sum().backward()
        torch.testing.assert_close(mon.stacked("input")["1"], expected)
