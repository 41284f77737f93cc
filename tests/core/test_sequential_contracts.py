"""snn.Sequential keeps the step loop's results where user code can see inside it: layer
subclasses, module hooks, Monitor, batch statistics in containers, carried dropout masks,
extra feature dimensions, a first call under torch.compile."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

import snncore as snn

T, B = 6, 3


def _x(*shape, scale=2.0, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) * scale


def _step_loop(net, x):
    """Reference: every layer called on one step at a time."""
    states = [None] * len(net)
    out = []
    for xt in x:
        h = xt
        for i, layer in enumerate(net):
            if isinstance(layer, snn.Neuron):
                h, states[i] = layer(h, states[i])
            else:
                h = layer(h)
        out.append(h)
    return torch.stack(out)


def _grads(net, run, x):
    net.zero_grad()
    out = run(x)
    out.sum().backward()
    return out.detach(), [p.grad.clone() for p in net.parameters()]


class _TanhLinear(nn.Linear):
    """autograd keeps this layer's output (tanh saves its result)."""

    def forward(self, x):
        return torch.tanh(super().forward(x))


class _SigmoidConv(nn.Conv2d):
    def forward(self, x):
        return torch.sigmoid(super().forward(x))


@pytest.mark.parametrize("make,shape", [
    (lambda: snn.Sequential(nn.Linear(5, 8), snn.Leaky(beta=0.9), _TanhLinear(8, 8),
                            snn.Leaky(beta=0.9, threshold=0.5)), (T, B, 5)),
    (lambda: snn.Sequential(_SigmoidConv(1, 2, 3, padding=1),
                            snn.Leaky(beta=0.9, threshold=0.5), time_chunk=None),
     (T, B, 1, 6, 6)),
])
def test_a_layer_subclass_output_is_not_lent_to_the_neuron(make, shape):
    torch.manual_seed(0)
    net = make()
    x = _x(*shape)
    ref, g_ref = _grads(net, lambda z: _step_loop(net, z), x)
    out, g = _grads(net, lambda z: net(z)[0], x)
    assert torch.equal(out, ref)
    for a, b in zip(g, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_max_pool_hooks_run_in_a_training_forward():
    torch.manual_seed(0)
    net = snn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.MaxPool2d(2),
                         snn.Leaky(beta=0.9, threshold=0.2), time_chunk=None)
    x = _x(T, B, 1, 8, 8, scale=20.0)
    calls = {"pre": 0, "bwd": 0}

    def pre(m, inp):
        calls["pre"] += 1
        return (inp[0] * 0 - 5,)  # no spikes can follow

    def bwd(m, gi, go):
        calls["bwd"] += 1

    net[1].register_forward_pre_hook(pre)
    net[1].register_full_backward_hook(bwd)
    spk, _ = net(x.requires_grad_())
    spk.sum().backward()
    assert calls == {"pre": 1, "bwd": 1}
    assert spk.sum() == 0


def test_neuron_module_hooks_see_every_step():
    torch.manual_seed(0)
    net = snn.Sequential(nn.Linear(4, 3), snn.Leaky(beta=0.9, threshold=0.3))
    seen = []
    net[1].register_forward_pre_hook(lambda m, i: seen.append(("pre", tuple(i[0].shape))))
    net[1].register_forward_hook(lambda m, i, o: seen.append(("fwd", tuple(o[0].shape))))
    x = _x(T, B, 4)
    for backend in (None, "eager"):
        seen.clear()
        out, (_, st) = net(x, backend=backend)
        assert seen == [("pre", (B, 3)), ("fwd", (B, 3))] * T
        assert torch.equal(out, _step_loop(net, x)[:, :, :])
    # a hook that changes the neuron's output takes effect at every step
    net2 = snn.Sequential(nn.Linear(4, 3), snn.Leaky(beta=0.9, threshold=0.3))
    net2.load_state_dict(net.state_dict())
    net2[1].register_forward_hook(lambda m, i, o: (o[0] * 0, o[1]))
    assert net2(x)[0].sum() == 0
    # a stateful neuron: the stored state carries on
    lif = snn.Leaky(beta=0.9, threshold=0.3, stateful=True)
    net3 = snn.Sequential(nn.Linear(4, 3), lif)
    net3.load_state_dict(net.state_dict(), strict=False)
    lif.register_forward_hook(lambda m, i, o: None)
    a = net3(x)[0]
    b = net3(x)[0]
    lif.reset_state()
    assert torch.equal(a, net3(x)[0]) and not torch.equal(a, b)


def test_monitor_records_a_neuron_after_a_conv_in_its_own_layout():
    x = _x(3, 2, 1, 4, 4, scale=3.0)
    for cl in (None, False):
        torch.manual_seed(0)
        net = snn.Sequential(nn.Conv2d(1, 4, 3, padding=1), snn.Leaky(beta=0.9, threshold=0.3),
                             time_chunk=None, channels_last=cl)
        with snn.Monitor(net, layers="1", record=("output", "mem")) as mon:
            spk, (_, st) = net(x)
            rec = mon["1"]
        assert torch.equal(rec["output"][0], spk)
        # the membrane at every step of the run, the last one the final state
        assert rec["mem"][0].shape == spk.shape
        assert torch.equal(rec["mem"][0][-1], st.mem)


@pytest.mark.parametrize("norm", [
    lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4)),
    lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.InstanceNorm2d(4, track_running_stats=True)),
])
def test_batch_statistics_inside_a_container_keep_the_sequence_folded(norm):
    x = _x(6, 2, 1, 8, 8, scale=1.0)
    res = []
    for chunk in (None, 2):
        torch.manual_seed(0)
        net = snn.Sequential(norm(), snn.Leaky(beta=0.9), time_chunk=chunk)
        spk, (_, st) = net(x)
        bn = net[0][1]
        res.append((spk, st.mem, bn.running_mean.clone(), int(bn.num_batches_tracked)))
    assert torch.equal(res[0][0], res[1][0])
    assert torch.equal(res[0][1], res[1][1])
    assert torch.equal(res[0][2], res[1][2])
    assert res[0][3] == res[1][3]  # batch norm: 1 (one update per call)


def test_a_carried_dropout_mask_must_fit_the_input():
    torch.manual_seed(0)
    net = snn.Sequential(nn.Dropout(0.5), nn.Linear(4, 3), snn.Leaky(beta=0.9),
                         stateful=True).train()
    assert net(_x(5, 8, 4)).shape == (5, 8, 3)
    with pytest.raises(ValueError, match=r"state\[0\] \(Dropout, p=0.5\).*\(8, 4\).*\(1, 4\)"
                                         r".*snncore.reset"):
        net(_x(5, 1, 4))
    snn.reset(net)
    assert net(_x(5, 1, 4)).shape == (5, 1, 3)
    free = snn.Sequential(nn.Dropout(0.5), nn.Linear(4, 3), snn.Leaky(beta=0.9)).train()
    _, st = free.step(_x(8, 4))
    with pytest.raises(ValueError, match=r"Sequential.step: state\[0\].*needs \(1, 4\)"):
        free.step(_x(1, 4), st)
    with pytest.raises(TypeError, match=r"state\[0\].*dropout mask tensor or None, got str"):
        free(_x(5, 8, 4), ("mask", None, None))
    # the mask a call returns fits its next call
    out, st = free(_x(5, 8, 4))
    out2, _ = free(_x(5, 8, 4), st)
    assert out2.shape == (5, 8, 3)


def test_linear_takes_extra_sample_dimensions():
    torch.manual_seed(0)
    net = snn.Sequential(nn.Linear(4, 3), snn.Leaky(beta=0.9, threshold=0.5))
    x = _x(5, 2, 7, 4)  # [T, B, tokens, F]
    out, _ = net(x)
    assert out.shape == (5, 2, 7, 3)
    assert torch.equal(out, _step_loop(net, x))
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\., F\] \(at least 3 dims\).*time axis"):
        net(_x(5, 4))


def test_torch_compile_fullgraph_on_the_first_call_of_the_process():
    code = (
        "import torch, snncore as snn\n"
        "from torch import nn\n"
        "net = snn.Sequential(nn.Linear(6, 8), snn.Leaky(beta=0.9), nn.Linear(8, 2),"
        " snn.Leaky(beta=0.8))\n"
        "x = torch.rand(4, 2, 6)\n"
        "f = torch.compile(lambda inp: net(inp)[0], fullgraph=True, backend='eager')\n"
        "print(torch.equal(f(x), net(x)[0]))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().endswith("True")


def test_recorders_with_run_hooks_keep_the_neuron_whole():
    """OpCounter and Monitor also hook single steps, but record whole runs through their run
    hooks: the neuron is not stepped for them (one call per forward)."""
    from snncore import extend, metrics

    torch.manual_seed(0)
    net = snn.Sequential(nn.Linear(4, 8), snn.Leaky(beta=0.9, threshold=0.3))
    x = _x(T, B, 4)
    with metrics.OpCounter(net) as ops:
        out, _ = net(x)
    assert ops.layers["1"].calls == 1
    assert ops.layers["1"].spikes == int((out != 0).sum())
    seen = []
    handle = net[1].register_forward_hook(extend.records_runs(lambda m, i, o: seen.append(1)))
    net(x)
    handle.remove()
    assert seen == []  # a marked hook: the run went whole, the step hook did not fire
