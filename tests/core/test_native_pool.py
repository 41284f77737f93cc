"""The native max pooling that the CPU backends run for a runner's MaxPool2d layers
(:mod:`snncore.backends._pool`): values, positions and gradients against torch's own, the
cases it leaves to torch, and the runner's use of it."""

from __future__ import annotations

import ctypes
import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import snncore as snn
from snncore.backends import _native, _pool

pytestmark = pytest.mark.skipif(_native.native_library() is None,
                                reason="no native loops on this machine")


def _cl(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous(memory_format=torch.channels_last)


def _data(shape: tuple[int, ...], seed: int, kind: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if kind == "ties":  # few distinct values: many windows with several maxima
        z = torch.randint(-2, 3, shape, generator=g).float()
    else:
        z = torch.randn(shape, generator=g)
    if kind == "special":
        flat = z.view(-1)
        pick = torch.randperm(flat.numel(), generator=g)
        n = max(flat.numel() // 20, 1)
        flat[pick[:n]] = float("nan")
        flat[pick[n:2 * n]] = float("-inf")
        flat[pick[2 * n:3 * n]] = float("inf")
        z[:1] = float("-inf")  # whole windows of -inf: the first element is the maximum
    return z


SHAPES = [(3, c, h, w) for c, (h, w) in itertools.product(
    (1, 2, 3, 4, 5, 8, 12, 16, 17, 64), ((8, 8), (9, 7), (5, 12)))]


@pytest.mark.parametrize("kernel", [(2, 2), (3, 3), (2, 3), (1, 1), (4, 1)])
@pytest.mark.parametrize("kind", ["normal", "ties", "special"])
def test_values_positions_and_gradient_equal_torch(kernel, kind):
    for i, shape in enumerate(SHAPES):
        z = _cl(_data(shape, 100 * i + len(kind), kind))
        kh, kw = kernel
        y, pos = _native.max_pool2d(z, kh, kw)
        ref, ref_idx = F.max_pool2d(z, kernel, kernel, return_indices=True)
        assert y.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(y, ref, rtol=0, atol=0, equal_nan=True)
        # the position in the window, as a flat index of the input plane
        oh, ow = y.shape[-2:]
        rows = torch.arange(oh).view(-1, 1) * kh + pos.long() // kw
        cols = torch.arange(ow).view(1, -1) * kw + pos.long() % kw
        assert torch.equal(rows * shape[3] + cols, ref_idx), (shape, kernel)
        g = _cl(torch.randn(y.shape, generator=torch.Generator().manual_seed(i)))
        gx = _native.max_pool2d_backward(g, pos, kh, kw, tuple(shape[-2:]))
        ref_gx = F.max_unpool2d(g, ref_idx, kernel, kernel, output_size=shape[-2:])
        assert gx.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(gx, ref_gx), (shape, kernel)


def _grads(pool, z: torch.Tensor, w: torch.Tensor, v: torch.Tensor):
    """First and second-order gradients through ``pool``."""
    z = z.detach().requires_grad_()
    w = w.detach().requires_grad_()
    y = pool(z)
    (gz,) = torch.autograd.grad((y * w).sum(), z, create_graph=True)
    (gw,) = torch.autograd.grad((gz * v).sum(), w)
    y2 = pool(z)
    y2.backward(w.detach())
    return y.detach(), z.grad, gz.detach(), gw


def test_autograd_function_first_and_second_order():
    layer = nn.MaxPool2d(2)
    z = _cl(_data((4, 12, 10, 9), 1, "ties"))
    w = torch.randn(4, 12, 5, 4)
    v = _cl(torch.randn(z.shape))
    ours = _grads(lambda t: _pool.run_stateless(layer, t), z, w, v)
    ref = _grads(layer, z, w, v)
    for a, b in zip(ours, ref, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("case", ["float64", "nchw", "overlap", "padding", "ceil", "dilation",
                                  "no_grad", "indices", "big_window", "subclass", "avg"])
def test_cases_left_to_torch(case):
    z = _cl(torch.randn(2, 4, 8, 8)).requires_grad_()
    layer: nn.Module = nn.MaxPool2d(2)
    if case == "float64":
        z = z.detach().double().requires_grad_()
    elif case == "nchw":
        z = z.detach().contiguous().requires_grad_()
    elif case == "overlap":
        layer = nn.MaxPool2d(2, stride=1)
    elif case == "padding":
        layer = nn.MaxPool2d(2, padding=1)
    elif case == "ceil":
        layer = nn.MaxPool2d(3, ceil_mode=True)
    elif case == "dilation":
        layer = nn.MaxPool2d(2, dilation=2)
    elif case == "indices":
        layer = nn.MaxPool2d(2, return_indices=True)
    elif case == "big_window":
        z = _cl(torch.randn(1, 2, 17, 17)).requires_grad_()
        layer = nn.MaxPool2d(17)  # 289 positions do not fit a byte
    elif case == "subclass":
        layer = type("MyPool", (nn.MaxPool2d,), {})(2)
    elif case == "avg":
        layer = nn.AvgPool2d(2)
    if case == "no_grad":
        with torch.no_grad():
            assert _pool.run_stateless(layer, z) is None
    else:
        assert _pool.run_stateless(layer, z) is None


def test_left_to_torch_without_the_native_library(monkeypatch):
    monkeypatch.setattr(_native, "native_library", lambda: None)
    z = _cl(torch.randn(2, 4, 8, 8)).requires_grad_()
    assert _pool.run_stateless(nn.MaxPool2d(2), z) is None


def test_kernel_rejects_arguments_out_of_range():
    lib = _native.native_library()
    z = torch.zeros(2, 4, 4, 3)
    y = torch.zeros(2, 2, 2, 3)
    idx = torch.zeros(2, 2, 2, 3, dtype=torch.uint8)
    args = (z.data_ptr(), y.data_ptr(), idx.data_ptr())
    fwd = lib.snncore_max_pool2d_fwd_f32
    assert fwd(2, 4, 4, 3, 2, 2, 0, 4, *args) == 0
    assert fwd(2, 4, 4, 3, 2, 2, 0, 5, *args) == 1      # rows beyond N * H/kh
    assert fwd(2, 4, 4, 3, 5, 2, 0, 0, *args) == 1      # a window taller than the input
    assert fwd(2, 4, 4, 3, 0, 2, 0, 0, *args) == 1
    assert fwd(2, 40, 40, 3, 17, 17, 0, 0, *args) == 1  # 289 positions
    bwd = lib.snncore_max_pool2d_bwd_f32
    assert bwd(2, 4, 4, 3, 2, 2, 0, 8, y.data_ptr(), idx.data_ptr(), z.data_ptr()) == 0
    assert bwd(2, 4, 4, 3, 2, 2, 0, 9, y.data_ptr(), idx.data_ptr(), z.data_ptr()) == 1
    assert isinstance(fwd, ctypes._CFuncPtr)


@pytest.mark.parametrize("openmp", [True, False])
def test_split_over_threads_gives_the_same_result(openmp, monkeypatch):
    monkeypatch.setattr(_native, "SERIAL_WORK", 0)
    monkeypatch.setattr(_native, "_use_openmp", openmp)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        z = _cl(_data((64, 12, 24, 24), 5, "ties"))
        assert len(_native.parallel_ranges(64 * 12, 2, 1, 64)) > 1
        y, pos = _native.max_pool2d(z, 2, 2)
        ref, ref_idx = F.max_pool2d(z, 2, 2, return_indices=True)
        assert torch.equal(y, ref)
        g = _cl(torch.randn(y.shape))
        gx = _native.max_pool2d_backward(g, pos, 2, 2, (24, 24))
        assert torch.equal(gx, F.max_unpool2d(g, ref_idx, 2, 2, output_size=(24, 24)))
    finally:
        torch.set_num_threads(threads)


def _conv_net(**kw) -> snn.Sequential:
    torch.manual_seed(0)
    return snn.Sequential(nn.Conv2d(1, 12, 3), nn.MaxPool2d(2), snn.Leaky(beta=0.6),
                          nn.Conv2d(12, 8, 3), nn.MaxPool2d(2), snn.Leaky(beta=0.7),
                          nn.Flatten(), nn.Linear(8 * 2 * 2, 3), snn.Leaky(beta=0.8), **kw)


def _train(net: snn.Sequential, x: torch.Tensor, **kw):
    for p in net.parameters():
        p.grad = None
    out, _ = net(x, **kw)
    out.backward(torch.rand(out.shape, generator=torch.Generator().manual_seed(3)))
    return out.detach(), [p.grad.clone() for p in net.parameters()]


@pytest.mark.parametrize("backend", [None, "fused", "generic"])
def test_runner_uses_it_for_pools_that_feed_cpu_neurons(backend, monkeypatch):
    calls = []
    apply = _pool._MaxPool2dNative.apply
    monkeypatch.setattr(_pool._MaxPool2dNative, "apply",
                        lambda *a: (calls.append(tuple(a[0].shape)), apply(*a))[1])
    net = _conv_net(time_chunk=None)
    x = (torch.rand(6, 3, 1, 14, 14, generator=torch.Generator().manual_seed(1)) > 0.6).float()
    out, grads = _train(net, x, backend=backend)
    assert calls == [(18, 12, 12, 12), (18, 8, 4, 4)]
    calls.clear()
    ref, ref_grads = _train(net, x, backend="eager")
    assert calls == []  # eager: torch's own pooling
    assert torch.equal(out, ref)
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_runner_leaves_hooked_pools_and_inference_to_torch(monkeypatch):
    calls = []
    monkeypatch.setattr(_pool, "run_stateless", lambda *a: calls.append(1))
    net = _conv_net(time_chunk=None)
    x = torch.rand(4, 2, 1, 14, 14)
    with torch.no_grad():
        net(x)
    assert calls == []
    net[1].register_forward_hook(lambda m, i, o: None)
    net(x)[0].sum().backward()
    assert len(calls) == 1  # the second pool only
    # a pool that is not followed by a neuron is not offered to a backend
    plain = snn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), nn.Flatten(),
                           nn.Linear(36, 2), snn.Leaky(beta=0.9), time_chunk=None)
    calls.clear()
    plain(torch.rand(4, 2, 1, 8, 8))[0].sum().backward()
    assert calls == []


def test_backend_base_class_applies_nothing():
    from snncore.extend import Backend

    assert Backend().run_stateless(nn.MaxPool2d(2), torch.rand(1, 1, 2, 2)) is None

