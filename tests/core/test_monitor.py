"""Monitor: records per layer, selection by type and name, nested containers, hook removal."""

from __future__ import annotations

import numpy as np
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


def _mem_reference(lif: snn.Leaky, x: torch.Tensor) -> torch.Tensor:
    """The membrane after every step, from a step-by-step NumPy integration of
    U[t] = beta * U[t-1] + X[t] - H(U[t-1] - threshold) * threshold (delayed subtract reset)."""
    beta, thr = float(lif.beta), float(lif.threshold)
    xs = x.detach().double().numpy()
    u = np.zeros(xs.shape[1:])
    out = []
    for xt in xs:
        u = beta * u + xt - (u > thr) * thr
        out.append(u)
    return torch.from_numpy(np.stack(out)).float()


@pytest.mark.parametrize("backend", ["auto", "eager", "fused"])
def test_state_fields_of_a_run_are_recorded_at_every_step(backend: str) -> None:
    torch.manual_seed(3)
    with snn.use_backend(backend):
        net = snn.Sequential(nn.Linear(4, 6), snn.Leaky(beta=0.85, threshold=0.4))
        x = torch.rand(12, 3, 4) * 2
        plain, _ = net(x)
        with snn.Monitor(net, record=("output", "mem")) as mon:
            spk, (_, final) = net(x)
        mem = mon.stacked("mem")["1"]
    # monitoring changes nothing: the same spikes and final state as the unmonitored run
    assert torch.equal(spk, plain)
    assert mem.shape == (12, 3, 6)
    assert torch.equal(mem[-1], final.mem)
    torch.testing.assert_close(mem, _mem_reference(net[1], net[0](x)), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(mon.stacked()["1"], spk)


def test_a_monitored_stateful_run_updates_the_state_like_run() -> None:
    torch.manual_seed(4)
    x = torch.rand(6, 2, 3) * 2
    a, b = snn.Leaky(beta=0.9, stateful=True), snn.Leaky(beta=0.9, stateful=True)
    with snn.Monitor(a, record=("output", "mem")) as mon:
        outs = [a.run(x), a.run(x, backend="eager")]
    ref = [b.run(x), b.run(x)]
    for o, r in zip(outs, ref, strict=True):
        assert torch.equal(o, r)
    torch.testing.assert_close(a.state.mem, b.state.mem)
    mem = mon.stacked("mem")["Leaky"]
    assert mem.shape == (12, 2, 3)
    torch.testing.assert_close(mem[-1], b.state.mem)


def test_recorded_states_keep_their_graph_with_detach_false() -> None:
    torch.manual_seed(5)
    x = torch.rand(10, 2, 4)
    net = snn.Sequential(nn.Linear(4, 3), snn.Leaky(beta=0.9, threshold=0.5))
    with snn.Monitor(net, record="mem", detach=False) as mon:
        net(x)
    mem = mon.stacked("mem")["1"]
    (mem ** 2).mean().backward()
    got = net[0].weight.grad.clone()
    net[0].weight.grad = None
    _, st = net[1].trace(net[0](x))
    (st.mem ** 2).mean().backward()
    torch.testing.assert_close(got, net[0].weight.grad, rtol=1e-5, atol=1e-6)


class _OwnRun(snn.Leaky):
    """A neuron whose class overrides run(): its steps cannot be recorded from outside."""

    def run(self, x_seq, state=None, *, backend=None):  # type: ignore[override]
        return super().run(x_seq, state, backend=backend)


def test_a_neuron_with_its_own_run_records_the_final_state_and_says_so() -> None:
    lif = _OwnRun(beta=0.9)
    x = torch.rand(5, 2, 3) * 2
    with snn.Monitor(lif, record=("output", "mem")) as mon:
        _, final = lif.run(x)
    assert mon.stacked()["_OwnRun"].shape == (5, 2, 3)
    with pytest.warns(UserWarning, match="final state of a run"):
        mem = mon.stacked("mem")["_OwnRun"]
    assert mem.shape == (1, 2, 3)
    torch.testing.assert_close(mem[0], final.mem)
    mon.clear()
    lif.run(x)  # hooks removed: nothing more is recorded


def test_register_run_hook_fields() -> None:
    from snncore.extend import register_run_hook

    lif = snn.Leaky(beta=0.9)
    seen: list = []
    h1 = register_run_hook(lif, lambda m, a, k, out, rec: seen.append(rec), fields=("mem",))
    h2 = register_run_hook(lif, lambda m, a, k, out: seen.append(out[1]))
    x = torch.rand(4, 2, 3)
    lif.run(x)
    assert set(seen[0]) == {"mem"} and seen[0]["mem"].shape == (4, 2, 3)
    torch.testing.assert_close(seen[0]["mem"][-1], seen[1].mem)
    h1.remove()
    h2.remove()
    assert "run" not in lif.__dict__
    with pytest.raises(ValueError, match="'spk'.*state fields are \\('mem',\\)"):
        register_run_hook(lif, lambda *a: None, fields=("spk",))
    with pytest.raises(TypeError, match="hook must be callable"):
        register_run_hook(lif, 3)  # type: ignore[arg-type]


def test_the_training_page_membrane_loss_through_a_monitor_runs():
    """docs/training.md: a membrane loss on a layer inside snn.Sequential through a Monitor
    (detach=False) gives the gradients of the same loss on trace()'s membranes."""
    import re
    import textwrap
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "training.md").read_text()
    section = text[text.index("## Monitor"):]
    block = next(b for b in re.findall(r"```python\n(.*?)```", section, flags=re.S)
                 if "detach=False" in b)
    torch.manual_seed(6)
    net = snn.Sequential(nn.Linear(4, 8), snn.Leaky(beta=0.9), nn.Linear(8, 3),
                         snn.Leaky(beta=0.8, reset="none"))
    x_seq, target = torch.rand(12, 5, 4) * 2, torch.rand(12, 5, 3)
    scope = {"snn": snn, "net": net, "x_seq": x_seq, "target": target}
    exec(compile(textwrap.dedent(block), "training.md", "exec"), scope)
    scope["loss"].backward()
    got = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    spk, _ = net[1].run(net[0](x_seq))
    _, st = net[3].trace(net[2](spk))
    ((st.mem - target) ** 2).mean().backward()
    for a, b in zip(got, (p.grad for p in net.parameters()), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_a_copy_of_a_monitored_neuron_records_nothing_and_runs_plainly(monkeypatch):
    import copy

    lif = snn.Leaky(beta=0.9)
    mon = snn.Monitor(lif, record=("output", "mem"))
    twin = copy.deepcopy(lif)
    recorded = []
    real = snn.Leaky.record
    monkeypatch.setattr(snn.Leaky, "record",
                        lambda self, *a, **k: recorded.append(self) or real(self, *a, **k))
    x = torch.rand(4, 2, 3) * 2
    spk, _ = twin.run(x)
    assert not recorded and mon.stacked() == {}  # the copy's inert hook asks for nothing
    torch.testing.assert_close(spk, lif.run(x)[0])
    assert recorded == [lif] and mon.stacked("mem")["Leaky"].shape == (4, 2, 3)
    mon.remove()
