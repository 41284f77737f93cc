"""The fused loops' buffer cache (``snncore._buffers``): large CPU buffers are reused only once
nothing uses them, bounded, switchable, and results do not depend on reuse."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import torch
from torch import nn

import snncore as snn
from snncore import _buffers, backends
from snncore.backends import _native

MB = 1 << 20


def _like(nbytes: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.empty((), dtype=dtype).expand(nbytes // dtype.itemsize)


def test_a_freed_buffer_is_reused_and_counted():
    cache = _buffers.BufferCache(64 * MB)
    a = cache.empty_like(_like(2 * MB))
    ptr = a.data_ptr()
    assert cache.info()["in_use_bytes"] == 2 * MB and cache.info()["misses"] == 1
    del a
    assert cache.info() == {"cached_bytes": 2 * MB, "in_use_bytes": 0, "limit_bytes": 64 * MB,
                            "hits": 0, "misses": 1}
    b = cache.empty_like(_like(2 * MB))
    assert b.data_ptr() == ptr and cache.info()["hits"] == 1
    assert b.shape == (2 * MB // 4,) and b.dtype == torch.float32 and b.is_contiguous()
    c = cache.empty_like(_like(2 * MB))  # b still alive: a new block
    assert c.data_ptr() != ptr


@pytest.mark.parametrize("keep", ["view", "numpy", "storage"])
def test_a_buffer_is_not_reused_while_anything_still_reads_it(keep):
    cache = _buffers.BufferCache(64 * MB)
    a = cache.empty_like(_like(2 * MB))
    a.fill_(3.0)
    ptr = a.data_ptr()
    held = {"view": lambda t: t[10:20], "numpy": lambda t: t.numpy(),
            "storage": lambda t: t.untyped_storage()}[keep](a)
    del a
    assert cache.info()["cached_bytes"] == 0
    b = cache.empty_like(_like(2 * MB))
    assert b.data_ptr() != ptr
    b.fill_(-1.0)
    if keep != "storage":
        assert (torch.as_tensor(held) == 3.0).all()
    del held
    assert cache.info()["cached_bytes"] == 2 * MB


def test_saved_for_backward_keeps_the_buffer():
    x = (torch.rand(64, 8192) * 0.6).requires_grad_(True)  # 2 MiB: cached outputs
    neuron = snn.Leaky(beta=0.9)
    w = torch.rand(8192, requires_grad=True)
    out, _ = neuron.run(x)
    y = out * w  # the product saves `out` for w's gradient
    ptr, expect = out.data_ptr(), out.detach().sum(0)
    del out
    fresh = _native.empty_like(x)
    assert fresh.data_ptr() != ptr
    fresh.fill_(7.0)
    y.sum().backward()
    torch.testing.assert_close(w.grad, expect)


def test_limit_evicts_least_recently_returned_and_drops_oversized_blocks():
    cache = _buffers.BufferCache(5 * MB)
    a, b, c = (cache.empty_like(_like(2 * MB)) for _ in range(3))
    pa, pb, pc = a.data_ptr(), b.data_ptr(), c.data_ptr()
    del a, b
    assert cache.info()["cached_bytes"] == 4 * MB
    del c  # 6 MiB > 5: the least recently returned (a's block) goes
    assert cache.info()["cached_bytes"] == 4 * MB
    got = {cache.empty_like(_like(2 * MB)).data_ptr() for _ in range(1)}
    assert got <= {pb, pc} and pa not in got
    big = cache.empty_like(_like(6 * MB))
    del big
    assert cache.info()["cached_bytes"] <= 5 * MB


def test_sizes_are_kept_apart_and_dtypes_share_blocks():
    cache = _buffers.BufferCache(64 * MB)
    a = cache.empty_like(_like(2 * MB))
    pa = a.data_ptr()
    del a
    b = cache.empty_like(_like(3 * MB))
    assert b.data_ptr() != pa
    d = cache.empty_like(_like(2 * MB, torch.float64))
    assert d.data_ptr() == pa and d.dtype == torch.float64 and d.numel() == 2 * MB // 8


def test_a_request_takes_the_smallest_block_that_fits_within_the_slack():
    cache = _buffers.BufferCache(64 * MB)
    big, mid = cache.empty_like(_like(4 * MB)), cache.empty_like(_like(2 * MB))
    p_big, p_mid = big.data_ptr(), mid.data_ptr()
    del big, mid
    a = cache.empty_like(_like(int(1.8 * MB) // 4 * 4))  # the 2 MiB block, the smallest fit
    assert a.data_ptr() == p_mid and a.numel() == int(1.8 * MB) // 4
    assert cache.info()["in_use_bytes"] == 2 * MB  # the whole block is in use
    b = cache.empty_like(_like(3 * MB))  # takes at most 3.75 MiB: not the 4 MiB block
    assert b.data_ptr() != p_big
    c = cache.empty_like(_like(int(3.5 * MB) // 4 * 4))
    assert c.data_ptr() == p_big
    del a, b, c
    assert cache.info()["in_use_bytes"] == 0


def test_odd_sizes_round_to_pages_and_keep_their_shape():
    cache = _buffers.BufferCache(64 * MB)
    x = torch.empty(3, 1001, 357)
    a = cache.empty_like(x)
    assert a.shape == x.shape and a.stride() == x.stride()
    assert cache.info()["in_use_bytes"] % 4096 == 0
    a.copy_(torch.arange(a.numel(), dtype=torch.float32).view(a.shape))
    assert a[2, 1000, 356].item() == a.numel() - 1


def test_plain_allocation_below_the_size_off_cpu_for_subclasses_and_when_off():
    cache = _buffers.BufferCache(64 * MB)
    small = cache.empty_like(torch.empty(1000))
    assert small.untyped_storage().resizable()
    off = _buffers.BufferCache(0).empty_like(_like(2 * MB))
    assert off.untyped_storage().resizable()
    meta = cache.empty_like(torch.empty(MB, device="meta"))
    assert meta.device.type == "meta"

    class Sub(torch.Tensor):
        pass

    sub = cache.empty_like(torch.empty(MB).as_subclass(Sub))
    assert sub.untyped_storage().resizable()
    assert cache.info()["misses"] == 0


def test_cached_buffers_are_not_resizable():
    a = _buffers.BufferCache(64 * MB).empty_like(_like(2 * MB))
    with pytest.raises(RuntimeError, match="not resizable"):
        a.resize_(4 * MB)


def test_empty_cache_and_info_are_public():
    x = torch.rand(64, 8192)
    out, _ = snn.Leaky(beta=0.9).run(x)
    del out
    assert backends.buffer_cache_info()["cached_bytes"] >= 2 * MB
    backends.empty_cache()
    info = backends.buffer_cache_info()
    assert info["cached_bytes"] == 0 and info["limit_bytes"] == _buffers.DEFAULT_LIMIT_MB * MB


@pytest.mark.parametrize("raw,limit", [("0", 0), ("16", 16 * MB), ("0.5", MB // 2)])
def test_limit_from_the_environment(monkeypatch, raw, limit):
    monkeypatch.setenv("SNNCORE_BUFFER_CACHE_MB", raw)
    assert _buffers._limit_from_env() == limit


@pytest.mark.parametrize("raw", ["lots", "-1", "nan"])
def test_a_bad_limit_warns_and_uses_the_default(monkeypatch, raw):
    monkeypatch.setenv("SNNCORE_BUFFER_CACHE_MB", raw)
    with pytest.warns(RuntimeWarning, match=r"SNNCORE_BUFFER_CACHE_MB=.*number of MiB"):
        assert _buffers._limit_from_env() == _buffers.DEFAULT_LIMIT_MB * MB


def test_negative_limit_is_refused():
    with pytest.raises(ValueError, match="limit_bytes=-1"):
        _buffers.BufferCache(-1)


def test_threads_taking_and_returning_blocks_keep_the_books():
    cache = _buffers.BufferCache(16 * MB)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for i in range(50):
                t = cache.empty_like(_like((1 + (seed + i) % 3) * MB))
                t.fill_(float(seed))
                assert (t == float(seed)).all()
                del t
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    info = cache.info()
    assert info["in_use_bytes"] == 0 and info["cached_bytes"] <= 16 * MB
    assert info["hits"] + info["misses"] == 200 and info["hits"] > 0


def _step(net: nn.Module, x: torch.Tensor, backend: str) -> tuple[torch.Tensor, ...]:
    net.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    spk, _ = net(x, backend=backend)
    (spk * torch.linspace(0.5, 1.5, spk.shape[-1])).sum().backward()
    return spk.detach(), x.grad, *(p.grad for p in net.parameters())


def test_results_do_not_depend_on_reused_buffers():
    """Large enough for every buffer of Linear+Leaky to come from the cache; the second and
    third steps run on reused (stale) memory and must equal eager exactly as the first does."""
    torch.manual_seed(0)
    fc = nn.Linear(300, 1024)
    net = snn.Sequential(fc, snn.Leaky(beta=0.9, learn_beta=True))
    backends.empty_cache()
    hits = backends.buffer_cache_info()["hits"]
    for scale in (1.0, 2.0, 0.5):
        x = torch.rand(40, 16, 300) * scale
        fused = _step(net, x, "fused")
        ref = _step(net, x, "eager")
        assert torch.equal(fused[0], ref[0])
        for f, r in zip(fused[1:], ref[1:], strict=True):
            torch.testing.assert_close(f, r, rtol=1e-5, atol=1e-6)
    assert backends.buffer_cache_info()["hits"] > hits


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_another_thread_holds_the_lock_can_allocate():
    cache = _buffers.buffer_cache()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with cache._lock:
            held.set()
            release.wait(10)

    th = threading.Thread(target=hold)
    th.start()
    held.wait(10)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:  # no parallel PyTorch op here: GNU OpenMP cannot run in a forked child
            t = _native.empty_like(_like(2 * MB))
            t[7] = 1.0
            del t
            code = 0 if cache.info()["cached_bytes"] >= 2 * MB else 2
        finally:
            os._exit(code)
    release.set()
    th.join()
    deadline = time.monotonic() + 30
    while True:  # a deadlocked child is killed and reported, not waited for forever
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung on the buffer cache's lock")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(status) == 0
