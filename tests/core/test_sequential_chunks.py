"""snn.Sequential's execution plans: time chunks, channels-last convolutions, the max-pool that
keeps only its indices, a time-constant input's shared prefix, and stateless outputs lent to
fused neurons. Every plan must give the folded run's spikes and (up to summation order) its
states and gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import snncore as snn

T, B = 7, 3


def _conv_net(seed: int = 0, extra: tuple[nn.Module, ...] = (), **kw) -> snn.Sequential:
    torch.manual_seed(seed)
    return snn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), snn.Leaky(beta=0.6),
                          *extra, nn.Conv2d(4, 6, 3), nn.MaxPool2d(2), snn.Leaky(beta=0.7),
                          nn.Flatten(), nn.Linear(24, 5), snn.Leaky(beta=0.8), **kw)


def _x(*shape: int, seed: int = 1) -> torch.Tensor:
    return (torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) * 3
            ).requires_grad_(True)


def _train(net: nn.Module, x: torch.Tensor, **kw):
    for p in net.parameters():
        p.grad = None
    x.grad = None
    out, state = net(x, **kw)
    g = torch.rand(out.shape, generator=torch.Generator().manual_seed(9))
    out.backward(g)
    return out.detach(), state, [p.grad.clone() for p in net.parameters()], x.grad.clone()


def _same(a, b, tol: float = 1e-5) -> None:
    out_a, st_a, g_a, gx_a = a
    out_b, st_b, g_b, gx_b = b
    assert torch.equal(out_a, out_b)
    for sa, sb in zip(st_a, st_b, strict=True):
        if sa is not None:
            for fa, fb in zip(sa, sb, strict=True):
                torch.testing.assert_close(fa, fb, rtol=tol, atol=tol)
    for ga, gb in zip(g_a, g_b, strict=True):
        torch.testing.assert_close(ga, gb, rtol=tol, atol=tol * max(1.0, gb.abs().max().item()))
    torch.testing.assert_close(gx_a, gx_b, rtol=tol, atol=tol * max(1.0, gx_b.abs().max().item()))


def _folded(net: snn.Sequential) -> snn.Sequential:
    """The same layers, run folded over all of T in PyTorch's default memory order."""
    return snn.Sequential(*net, time_chunk=None, channels_last=False)


@pytest.mark.parametrize("chunk", [1, 2, 3, 6, "auto"])
def test_time_chunks_equal_the_folded_run(chunk):
    net = _conv_net(time_chunk=chunk)
    x = _x(T, B, 1, 14, 14)
    _same(_train(net, x), _train(_folded(net), x))
    # the automatic plan measures one step first, then runs chunks
    _same(_train(net, x), _train(_folded(net), x))


def test_auto_plan_chunks_conv_networks_only():
    conv = _conv_net()
    x = torch.rand(T, B, 1, 14, 14)
    assert conv._chunk_sizes(x, 0, "k") == [1, T - 1]          # first call: measure a step
    conv(x)
    per_step = conv._step_bytes[(tuple(x.shape[1:]), x.dtype)]
    assert per_step == B * 4 * 12 * 12 * 4                       # the first conv's output
    sizes = conv._chunk_sizes(x, 0, (tuple(x.shape[1:]), x.dtype))
    assert sizes is None or sum(sizes) == T
    mlp = snn.Sequential(nn.Linear(4, 4), snn.Leaky(beta=0.5))
    assert mlp._chunk_sizes(torch.rand(T, B, 4), 0, "k") is None
    explicit = snn.Sequential(nn.Linear(4, 4), snn.Leaky(beta=0.5), time_chunk=3)
    assert explicit._chunk_sizes(torch.rand(T, B, 4), 0, "k") == [3, 2, 2]


def test_auto_plan_first_call_runs_the_rest_in_measured_blocks(monkeypatch):
    from snncore import _sequential

    per_step = B * 4 * 12 * 12 * 4                             # the first conv's output
    monkeypatch.setattr(_sequential, "CHUNK_BYTES", 2 * per_step)  # blocks of 2 steps
    net = _conv_net()
    seen: list[int] = []
    run_layers = snn.Sequential._run_layers

    def spy(self, x, *args):
        seen.append(x.shape[0])
        return run_layers(self, x, *args)

    monkeypatch.setattr(snn.Sequential, "_run_layers", spy)
    x = _x(T, B, 1, 14, 14)
    first = _train(net, x)
    assert seen == [1, 2, 2, 2]        # step 0 measured, then the other 6 steps in blocks of 2
    seen.clear()
    second = _train(net, x)
    assert seen == [2, 2, 2, 1]        # measured: the whole sequence in blocks of 2
    monkeypatch.setattr(snn.Sequential, "_run_layers", run_layers)
    ref = _train(_folded(net), x)
    _same(first, ref)
    _same(second, ref)


def test_chunked_dropout_keeps_one_mask_per_sequence():
    net = _conv_net(extra=(nn.Dropout(0.5),), time_chunk=2).train()
    x = _x(T, B, 1, 14, 14)
    torch.manual_seed(3)
    a = _train(net, x)
    torch.manual_seed(3)
    b = _train(_folded(net), x)
    _same(a, b)
    mask = a[1][3]
    assert mask.shape == (B, 4, 6, 6) and set(mask.unique().tolist()) <= {0.0, 2.0}


def test_batch_norm_in_training_keeps_the_sequence_folded():
    bn = nn.BatchNorm2d(4)
    net = _conv_net(extra=(bn,), time_chunk=2).train()
    x = torch.rand(T, B, 1, 14, 14)
    assert net._chunk_sizes(x, 0, "k") is None
    ref = _folded(net)
    bn_ref = ref[3]
    before = bn.running_mean.clone()
    out, _ = net(x)
    mean_after_one = bn.running_mean.clone()
    bn.running_mean.copy_(before)
    bn.running_var.fill_(1.0)
    bn.num_batches_tracked.zero_()
    out_ref, _ = ref(x)
    assert bn_ref is bn
    assert torch.equal(out, out_ref)
    torch.testing.assert_close(bn.running_mean, mean_after_one)
    net.eval()                                               # running statistics: chunks allowed
    assert net._chunk_sizes(x, 0, "k") == [2, 2, 2, 1]
    out_eval, _ = net(x)
    out_eval_ref, _ = ref.eval()(x)
    assert torch.equal(out_eval, out_eval_ref)


def test_stateful_streaming_and_step_match_chunks():
    net = _conv_net(stateful=True, time_chunk=2)
    ref = snn.Sequential(*net, stateful=True, time_chunk=None, channels_last=False)
    x = torch.rand(2 * T, B, 1, 14, 14)
    with torch.no_grad():
        a = torch.cat([net(x[:T]), net(x[T:])])
        b = ref(x)
        snn.reset(net)
        c = torch.stack([net.step(xt) for xt in x])
    assert torch.equal(a, b) and torch.equal(a, c)


def test_nested_runner_inside_chunks():
    torch.manual_seed(0)
    inner = snn.Sequential(nn.Conv2d(4, 6, 3), nn.MaxPool2d(2), snn.Leaky(beta=0.7))
    net = snn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), snn.Leaky(beta=0.6), inner,
                         nn.Flatten(), nn.Linear(24, 5), snn.Leaky(beta=0.8), time_chunk=3)
    ref = snn.Sequential(*net, time_chunk=None, channels_last=False)
    x = _x(T, B, 1, 14, 14)
    _same(_train(net, x), _train(ref, x))


def test_time_constant_input_runs_the_leading_layers_once():
    net = _conv_net()
    img = torch.rand(B, 1, 14, 14, requires_grad=True)
    calls = []
    conv = net[0].forward  # seen through the layer's forward (a hook turns the shortcut off)
    net[0].forward = lambda z: (calls.append(z.shape), conv(z))[1]
    out, _ = net(img.expand(T, *img.shape))
    assert calls == [torch.Size([B, 1, 14, 14])]            # one step, not T*B images
    out.sum().backward()
    g_shared = [p.grad.clone() for p in net.parameters()] + [img.grad.clone()]
    for p in net.parameters():
        p.grad = None
    img.grad = None
    ref, _ = _folded(net)(img.expand(T, *img.shape).contiguous())
    ref.sum().backward()
    assert torch.equal(out, ref)
    for a, b in zip(g_shared, [*(p.grad for p in net.parameters()), img.grad], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_hooks_of_the_leading_layers_see_every_step():
    """A hooked layer (e.g. snncore.metrics.OpCounter's counting hooks) is not run once for a
    time-constant input: its hooks see all T*B rows, as for the same values stored densely."""
    from snncore import metrics

    net = _conv_net()
    img = torch.rand(B, 1, 14, 14)
    counts = []
    for x in (img.expand(T, *img.shape), img.expand(T, *img.shape).contiguous()):
        calls = []
        handle = net[0].register_forward_hook(lambda m, i, o, calls=calls: calls.append(
            i[0].shape))
        with metrics.OpCounter(net) as ops:
            net(x)
        handle.remove()
        assert sum(shape[0] for shape in calls) == T * B  # every step (in time chunks)
        counts.append(ops.layers["0"].macs)
    assert counts[0] == counts[1] > 0


@pytest.mark.parametrize("channels_last", [True, False])
def test_channels_last_gives_the_same_spikes(channels_last):
    net = _conv_net(time_chunk=None, channels_last=channels_last)
    x = _x(T, B, 1, 14, 14)
    _same(_train(net, x), _train(_folded(net), x))
    # per-neuron parameters: the neuron runs on the channels-last input as it is
    torch.manual_seed(0)
    net2 = snn.Sequential(nn.Conv2d(1, 4, 3), snn.Leaky(beta=torch.rand(4, 12, 12) * 0.9),
                          nn.Flatten(), nn.Linear(576, 3), snn.Leaky(beta=0.5),
                          channels_last=channels_last)
    _same(_train(net2, x), _train(_folded(net2), x))


def _saved_shapes(fn):
    shapes = []

    def pack(t):
        shapes.append(tuple(t.shape))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, shapes


def test_max_pool_keeps_only_indices_and_matches_nn_max_pool():
    net = _conv_net(time_chunk=None)
    x = _x(T, B, 1, 14, 14)
    (out, _), shapes = _saved_shapes(lambda: net(x))
    assert (T * B, 4, 12, 12) not in shapes                  # the first conv's output
    assert (T * B, 4, 6, 6) in shapes                         # the pool's indices
    # gradients equal those of nn.MaxPool2d's own backward (a step loop through the layers)
    a = _train(net, x)
    for p in net.parameters():
        p.grad = None
    x.grad = None
    outs, st = [], None
    for xt in x:
        o, st = net.step(xt, st)
        outs.append(o)
    ref = torch.stack(outs)
    ref.backward(torch.rand(ref.shape, generator=torch.Generator().manual_seed(9)))
    assert torch.equal(a[0], ref.detach())
    for ga, p in zip(a[2], net.parameters(), strict=True):
        torch.testing.assert_close(ga, p.grad, rtol=1e-5, atol=1e-5)


def test_lent_linear_output_does_not_change_results_or_hooked_outputs():
    torch.manual_seed(0)
    fc = nn.Linear(8, 16)
    net = snn.Sequential(fc, snn.Leaky(beta=0.9))
    x = torch.rand(20, 4, 8) * 2
    ref = snn.Sequential(fc, snn.Leaky(beta=0.9), backend="eager")
    a = _train(net, x.clone().requires_grad_(True))
    b = _train(ref, x.clone().requires_grad_(True))
    _same(a, b)
    seen = []
    handle = fc.register_forward_hook(lambda m, i, o: seen.append(o))
    try:
        out, _ = net(x)
    finally:
        handle.remove()
    torch.testing.assert_close(seen[0], fc(x.reshape(-1, 8)))   # not overwritten


def test_bad_plan_arguments():
    with pytest.raises(ValueError, match="time_chunk"):
        snn.Sequential(nn.Linear(2, 2), time_chunk=0)
    with pytest.raises(ValueError, match="time_chunk"):
        snn.Sequential(nn.Linear(2, 2), time_chunk="fast")
    with pytest.raises(ValueError, match="time_chunk"):
        snn.Sequential(nn.Linear(2, 2), time_chunk=True)
    with pytest.raises(TypeError, match="channels_last"):
        snn.Sequential(nn.Linear(2, 2), channels_last="yes")
    assert "time_chunk=4" in repr(snn.Sequential(nn.Linear(2, 2), time_chunk=4))


@pytest.mark.compile
def test_conv_network_compiles_fullgraph():
    net = _conv_net()
    x = torch.rand(4, 2, 1, 14, 14)

    def f(inp):
        return net(inp)[0]

    explained = torch._dynamo.explain(f)(x)
    assert explained.graph_break_count == 0, explained.break_reasons
    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    assert torch.equal(compiled(x), _folded(net)(x)[0])
