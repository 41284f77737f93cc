"""``snn.Sequential`` lets go of a ``Linear`` layer's input (e.g. the previous layer's spikes)
in the backward before it allocates that input's gradient: the same values and gradients as
``nn.Linear``, with one activation-sized buffer fewer at the training peak."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import Tensor, nn

import snncore as snn
from snncore import _sequential

T, B, H = 16, 32, 512  # one [T, B, H] float32 activation = 1 MiB, as large as the cache takes
MIB = float(1 << 20)


def _bench_run():
    """benchmarks/run.py, for its memory tracker: the peaks here are measured as the benchmark
    measures them."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"
    spec = importlib.util.spec_from_file_location("snncore_benchmarks_run", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MemoryTracker = _bench_run().MemoryTracker


def _training_peak(net: nn.Module, x: Tensor) -> float:
    """MiB at the peak of one forward + backward (loss: sum of the output)."""
    for _ in range(2):  # warm-up: the native loops built, the buffer cache seen once
        out = net(x)
        (out[0] if isinstance(out, tuple) else out).sum().backward()
    net.zero_grad(set_to_none=True)
    snn.backends.empty_cache()
    with MemoryTracker() as tracker:
        out = net(x)
        (out[0] if isinstance(out, tuple) else out).sum().backward()
        del out
    return tracker.peak / MIB


def _mlp(seed: int = 0) -> snn.Sequential:
    torch.manual_seed(seed)
    return snn.Sequential(nn.Linear(64, H), snn.Leaky(beta=0.9), nn.Linear(H, H),
                          snn.Leaky(beta=0.9), nn.Linear(H, 10), snn.Leaky(beta=0.9))


def test_mlp_peak_holds_no_spikes_next_to_their_gradient():
    # at the peak (the middle pair's backward): both pairs' linear outputs kept for their
    # backward, the spikes' gradient from the last pair and the middle pair's input gradient
    # (1 MiB each), plus the 512x512 weight gradient (1 MiB): 5.55 MiB. The middle pair's input
    # spikes are let go of once its weight gradient is computed, and their memory holds the
    # input gradient; kept to the end of that backward (as save_for_backward keeps them) they
    # made it 6.55 MiB
    peak = _training_peak(_mlp(), torch.rand(T, B, 64))
    assert peak < 6.0, peak


def test_linear_after_a_neuron_releases_the_spikes():
    # snnTorch tutorial 5's hidden block: a Leaky layer on an input that is the same at every
    # step, then nn.Linear on its spikes
    torch.manual_seed(0)
    fc1, net = nn.Linear(64, H), snn.Sequential(snn.Leaky(beta=0.9), nn.Linear(H, 10))

    class Block(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            cur = fc1(x)
            return net(cur.expand(T, *cur.shape))[0]

    peak = _training_peak(Block(), torch.rand(B, 64))
    # the hidden layer's input, copied out of the expand, holds its stored membrane (instead of
    # a third buffer), then its spikes; in the backward the spikes' gradient takes the spikes'
    # memory: 2 activations and small tensors, 2.21 MiB (3.19 MiB with a membrane buffer of
    # its own and the spikes kept next to their gradient)
    assert peak < 2.7, peak


def _pair(seed: int = 1) -> tuple[nn.Sequential, snn.Sequential, Tensor]:
    torch.manual_seed(seed)
    layers = [nn.Linear(24, 40), nn.Tanh(), nn.Linear(40, 30), nn.Linear(30, 5)]
    ref = nn.Sequential(*layers)
    ours = snn.Sequential(*[copy.deepcopy(m) for m in layers])
    return ref, ours, torch.randn(6, 4, 24, dtype=torch.float64)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("x_grad", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_values_and_gradients_are_nn_linear_s(dtype, x_grad, bias):
    torch.manual_seed(2)
    fc = nn.Linear(33, 21, bias=bias).to(dtype)
    x = torch.randn(7, 5, 33, dtype=dtype, requires_grad=x_grad)
    g = torch.randn(7, 5, 21, dtype=dtype)
    z = x.reshape(35, 33)
    assert _sequential._lean_linear(fc, z)
    y_ref = fc(z).reshape(7, 5, 21)
    y_ref.backward(g)
    ref = [x.grad, *(p.grad for p in fc.parameters())]
    x.grad = None
    fc.zero_grad(set_to_none=True)
    y = snn.Sequential(fc)(x)[0]
    assert torch.equal(y, y_ref)
    y.backward(g)
    got = [x.grad, *(p.grad for p in fc.parameters())]
    for a, b in zip(got, ref, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.equal(a, b)


def test_retain_graph_and_double_backward_work_as_with_nn_linear():
    ref, ours, x = _pair()
    ref, ours = ref.double(), ours.double()
    x = x.requires_grad_()
    for net in (ref, ours):
        out = net(x) if net is ref else net(x)[0]
        loss = (out ** 2).sum()
        loss.backward(retain_graph=True)
        loss.backward()  # the graph kept: a second backward adds the same gradients
    for p, q in zip(ref.parameters(), ours.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-12, atol=1e-12)
    # a gradient of a gradient, as nn.Linear allows
    gg = []
    for net in (ref, ours):
        out = net(x) if net is ref else net(x)[0]
        (gx,) = torch.autograd.grad((out ** 2).sum(), x, create_graph=True)
        gg.append(torch.autograd.grad(gx.square().sum(), list(net.parameters())))
    for a, b in zip(*gg, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_in_place_relu_after_the_linear_and_in_place_input_changes():
    torch.manual_seed(3)
    fc = nn.Linear(8, 6)
    net = snn.Sequential(fc, nn.ReLU(inplace=True), snn.Leaky(beta=0.8))
    ref_net = snn.Sequential(copy.deepcopy(fc), nn.ReLU(), snn.Leaky(beta=0.8), backend="eager")
    x = torch.randn(5, 3, 8)
    spk, _ = net(x)
    spk_ref, _ = ref_net(x)
    assert torch.equal(spk, spk_ref)
    (spk * torch.arange(6.0)).sum().backward()
    (spk_ref * torch.arange(6.0)).sum().backward()
    for p, q in zip(net.parameters(), ref_net.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad)
    # the input, still needed for the weight gradient, modified before the backward
    xi = torch.randn(5, 3, 8)
    out, _ = snn.Sequential(nn.Linear(8, 4))(xi)
    xi.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_plain_path_where_someone_can_see_the_layer():
    fc = nn.Linear(4, 3)
    z = torch.randn(6, 4)
    assert _sequential._lean_linear(fc, z)
    handle = fc.register_forward_hook(lambda *a: None)
    assert not _sequential._lean_linear(fc, z)
    handle.remove()
    fc.weight.requires_grad_(False)  # no weight gradient: nothing to release early
    assert not _sequential._lean_linear(fc, z)
    fc.weight.requires_grad_(True)
    with torch.no_grad():
        assert not _sequential._lean_linear(fc, z)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not _sequential._lean_linear(fc, z)


def test_pair_input_modified_in_place_or_under_saved_tensor_hooks():
    torch.manual_seed(4)
    fc, lif = nn.Linear(8, 16), snn.Leaky(beta=0.9)
    net = snn.Sequential(fc, lif)
    x = torch.rand(10, 4, 8)
    spk, _ = net(x)
    assert type(spk.grad_fn).__name__ == "_FusedLinearFunctionBackward"
    x.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        spk.sum().backward()
    # with saved-tensor hooks in effect (offloading, checkpointing) the pair saves its input
    # for them, with the same gradients
    x = torch.rand(10, 4, 8)
    net.zero_grad(set_to_none=True)
    spk, _ = net(x)
    spk.sum().backward()
    ref = [p.grad.clone() for p in net.parameters()]
    net.zero_grad(set_to_none=True)
    packed: list[tuple[int, ...]] = []

    def pack(t: Tensor) -> Tensor:
        packed.append(tuple(t.shape))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        spk, _ = net(x)
    spk.sum().backward()
    assert (40, 8) in packed
    for p, r in zip(net.parameters(), ref, strict=True):
        assert torch.equal(p.grad, r)


@pytest.mark.parametrize("layout", ["expanded", "transposed"])
def test_fused_neuron_on_a_non_contiguous_input_equals_eager(layout):
    # the contiguous copy the fused backend makes of such an input then holds its stored
    # membrane and, in the backward, the input gradient
    torch.manual_seed(5)
    base = torch.randn(4, 6, 9) * 1.5

    def inputs() -> tuple[Tensor, Tensor]:
        leaf = base.clone().requires_grad_()
        w = leaf * 1.0  # a non-leaf: the membrane is stored, not recomputed
        if layout == "expanded":
            return leaf, w[0].expand(12, 6, 9)
        return leaf, w.transpose(0, 1)  # [6, 4, 9], time-first view of a permuted tensor

    out = {}
    for backend in ("fused", "eager"):
        lif = snn.Leaky(beta=0.85, threshold=0.7)
        leaf, x = inputs()
        assert not x.is_contiguous()
        spk, st = lif.run(x, backend=backend)
        gw = torch.linspace(-1, 1, spk[0].numel()).view_as(spk[0])
        ((spk * gw).sum() + (st.mem * 0.3).sum()).backward()
        out[backend] = (spk.detach(), st.mem.detach(), leaf.grad)
    for a, b in zip(out["fused"], out["eager"], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert torch.equal(out["fused"][0], out["eager"][0])


class _Tracer(snn.Backend):
    """A backend whose graph compiler is tracing (as poptorch is for the IPU backend)."""

    name = "tracer-test"
    priority = -100
    active = False

    @classmethod
    def graph_tracing(cls) -> bool:
        if cls.active == "broken":
            raise RuntimeError("cannot tell")
        return bool(cls.active)

    def run(self, neuron, x_seq, state):  # pragma: no cover - never selected
        raise NotImplementedError


@pytest.mark.parametrize("state", [True, "broken"])
def test_plain_torch_ops_while_a_backend_traces(state):
    from snncore._backends import graph_tracing

    snn.register_backend(_Tracer.name, _Tracer, plugin="tracer-test")
    try:
        net = snn.Sequential(nn.Linear(8, 6), snn.Leaky(beta=0.9), nn.Linear(6, 3))
        x = torch.rand(4, 2, 8)
        z = torch.rand(5, 6)
        assert not graph_tracing()
        assert _sequential._lean_linear(net[2], z)
        _Tracer.active = state
        assert graph_tracing()  # a check that fails counts as tracing
        assert not _sequential._lean_linear(net[2], z)
        out, _ = net(x)
        names = set()
        todo = [out.grad_fn]
        while todo:  # no autograd.Function of the runner's in the graph
            node = todo.pop()
            if node is not None:
                names.add(type(node).__name__)
                todo.extend(n for n, _ in node.next_functions)
        assert not {"_LinearInputGradBackward", "_LinearWeightGradBackward"} & names
    finally:
        _Tracer.active = False
        snn.registries()["backend"].remove_plugin("tracer-test")
