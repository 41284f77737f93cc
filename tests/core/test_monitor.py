"""Monitor: records per layer, selection by type and name, nested containers, hook removal."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import snncore as snn


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.lif = snn.Leaky(beta=0.9, stateful=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lif(self.fc(x))


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 4), snn.Leaky(beta=0.8, stateful=True),
                         nn.Sequential(Block()))


def test_records_nested_neurons_by_default_and_stacks_time_first() -> None:
    net = _net()
    x = torch.rand(6, 2, 5) * 2
    with snn.Monitor(net, record=("output", "mem", "input")) as mon:
        outs = [net(x[t]) for t in range(6)]
    assert set(mon.layers) == {"1", "2.0.lif"}
    spk = mon.stacked()
    assert spk["2.0.lif"].shape == (6, 2, 3)
    torch.testing.assert_close(spk["2.0.lif"], torch.stack(outs))
    mem = mon.stacked("mem")
    assert mem["1"].shape == (6, 2, 4)
    # the last recorded membrane is the neuron's stored state
    torch.testing.assert_close(mem["1"][-1], net[1].state.mem)
    assert mon.stacked("input")["1"].shape == (6, 2, 4)
    # hooks are gone after the with block
    n = len(mon["1"]["output"])
    snn.reset(net)
    net(x[0])
    assert len(mon["1"]["output"]) == n
    for m in net.modules():
        assert not m._forward_hooks
        assert "run" not in m.__dict__


def test_select_by_type_and_name_with_wildcards() -> None:
    net = _net()
    mon = snn.Monitor(net, layers=nn.Linear)
    assert set(mon.layers) == {"0", "2.0.fc"}
    mon.remove()
    mon = snn.Monitor(net, layers=["2.*.fc", snn.Leaky])
    assert set(mon.layers) == {"2.0.fc", "1", "2.0.lif"}
    mon.remove()
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        snn.Monitor(net, layers="nope")
    with pytest.raises(ValueError, match="cannot record 'volts'"):
        snn.Monitor(net, record=("volts",))
    with pytest.raises(TypeError, match="layers entries"):
        snn.Monitor(net, layers=[3])


def test_records_run_sequences_as_is_and_explicit_state_steps() -> None:
    lif = snn.Leaky(beta=0.9)
    x = torch.rand(8, 2, 3) * 2
    with snn.Monitor(lif, record=("output", "state")) as mon:
        spk, final = lif.run(x)
        spk2, _ = lif.run(x)
    out = mon.stacked()["Leaky"]
    assert out.shape == (16, 2, 3)
    torch.testing.assert_close(out[:8], spk)
    states = mon["Leaky"]["state"]
    torch.testing.assert_close(states[0].mem, final.mem)
    # single steps with explicit state
    with snn.Monitor(lif, record="mem") as mon:
        state = None
        mems = []
        for t in range(8):
            _, state = lif(x[t], state)
            mems.append(state.mem)
    (name,) = mon.layers
    torch.testing.assert_close(mon.stacked("mem")[name], torch.stack(mems))


def test_two_monitors_do_not_interfere() -> None:
    lif = snn.Leaky(beta=0.5)
    x = torch.rand(4, 1, 2)
    a = snn.Monitor(lif)
    b = snn.Monitor(lif)
    lif.run(x)
    a.remove()
    lif.run(x)
    (name,) = a.layers
    assert a.stacked()[name].shape[0] == 4
    assert b.stacked()[name].shape[0] == 8
    b.remove()
    assert "run" not in lif.__dict__


def test_detach_false_keeps_graph_and_clear() -> None:
    lin = nn.Linear(3, 2)
    mon = snn.Monitor(lin, layers=nn.Linear, detach=False)
    lin(torch.rand(4, 3))
    (name,) = mon.layers
    out = mon.stacked()[name]
    assert out.requires_grad
    out.sum().backward()
    assert lin.weight.grad is not None
    mon.clear()
    assert mon.stacked() == {}
    mon.remove()


def test_stacked_rejects_mixed_shapes() -> None:
    lif = snn.Leaky(beta=0.5)
    with snn.Monitor(lif) as mon:
        lif(torch.rand(2, 3))
        lif(torch.rand(4, 3))
    with pytest.raises(ValueError, match="clear\\(\\)"):
        mon.stacked()
    with pytest.raises(ValueError, match="was not recorded"):
        mon.stacked("mem")
