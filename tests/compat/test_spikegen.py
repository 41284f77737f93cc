"""compat ``spikegen`` against ``snntorch.spikegen`` (1e-6), or the documented difference."""

from __future__ import annotations

import inspect

import pytest
import snntorch.spikegen as sg
import torch
from compat_helpers import close, quiet

import snn_compat
import snn_compat.snntorch.spikegen as cg


def _data(shape=(4, 6), seed=0):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def _both(name, *args, seed=None, **kw):
    out = []
    for mod in (sg, cg):
        if seed is not None:
            torch.manual_seed(seed)
        out.append(quiet(lambda mod=mod: getattr(mod, name)(*args, **kw)))
    return out


@pytest.mark.parametrize("kw", [dict(num_steps=10), dict(num_steps=8, gain=0.5, offset=0.1),
                                dict(num_steps=6, first_spike_time=2)])
def test_rate_same_draws(kw):
    a, b = _both("rate", _data(), seed=3, **kw)
    close(a, b)


def test_rate_time_varying_and_conv():
    x = _data((5, 3, 4))
    close(*_both("rate", x, time_var_input=True, seed=4))
    close(*_both("rate_conv", _data(), seed=5))


LATENCY = [dict(num_steps=10), dict(num_steps=12, normalize=True, linear=True),
           dict(num_steps=12, normalize=True),
           dict(num_steps=10, tau=5, threshold=0.05, bypass=True),
           dict(num_steps=10, clip=True), dict(num_steps=10, first_spike_time=2, tau=3),
           dict(num_steps=10, interpolate=True, linear=True, normalize=True),
           dict(num_steps=10, on_target=2, off_target=0.5), dict(num_steps=10, bypass=True)]


@pytest.mark.parametrize("kw", LATENCY)
def test_latency_matches(kw):
    close(*_both("latency", _data(), **kw))


@pytest.mark.parametrize("kw", [dict(num_steps=10), dict(num_steps=10, linear=True),
                                dict(num_steps=10, normalize=True, linear=True),
                                dict(num_steps=10, tau=3, first_spike_time=1)])
def test_latency_codes_match(kw):
    close(*_both("latency_code", _data(), **kw))
    linear = kw.pop("linear", False)
    name = "latency_code_linear" if linear else "latency_code_log"
    close(*_both(name, _data(), **kw))


def test_interpolations_and_delta():
    times = torch.tensor([[2.0, 5.0, 9.0], [0.0, 3.0, 7.0]])
    close(*_both("latency_interpolate", times, 10))
    close(*_both("latency_interpolate", times, 10, on_target=2, off_target=0.5))
    close(*_both("rate_interpolate", torch.tensor([1.0, 4.0, 8.0]), 10))
    seq = _data((8, 3, 4))
    seq[3:5] = seq[2]  # unchanged steps: what threshold=0 spikes on
    for kw in (dict(), dict(threshold=0.3), dict(padding=True), dict(off_spike=True),
               dict(threshold=0), dict(threshold=0, off_spike=True, padding=True)):
        close(*_both("delta", seq, **kw))


def test_one_hot_helpers():
    y = torch.tensor([2, 0, 1, 2])
    close(*_both("to_one_hot", y, 3))
    hot = sg.to_one_hot(y, 3)
    close(*_both("to_one_hot_inverse", hot))
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="class index"):
        got = cg.from_one_hot(hot)
    close(got, y)


def test_targets_match():
    y = torch.tensor([2, 0, 1])
    close(*_both("target_rate_code", 10, rate=0.5))
    close(*_both("target_rate_code", 10, first_spike_time=2, rate=0.3))
    close(*_both("targets_rate", y, 3, num_steps=10))
    close(*_both("targets_latency", y, 3, num_steps=10, bypass=True))
    close(*_both("targets_convert", y, 3, code="rate", num_steps=8))
    close(*_both("targets_convert", y, 3, code="latency", num_steps=8, normalize=True))


@pytest.mark.parametrize("kw", [dict(on_target=0.7), dict(off_target=0.2),
                                dict(interpolate=True), dict(epsilon=1e-3)])
def test_targets_convert_latency_ignores_what_snntorch_drops(kw):
    y = torch.tensor([0, 2])
    want = sg.targets_convert(y, 3, code="latency", num_steps=20, **kw)
    with pytest.warns(UserWarning, match=f"ignores {next(iter(kw))}"):
        got = cg.targets_convert(y, 3, code="latency", num_steps=20, **kw)
    close(want, got)


def test_targets_rate_fractional_rates_work_and_warn():
    y = torch.tensor([1, 0])
    with pytest.raises(Exception):  # noqa: B017 - snnTorch fails with a shape error here
        sg.targets_rate(y, 3, num_steps=10, correct_rate=0.5, incorrect_rate=0.2)
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="correct_rate"):
        out = cg.targets_rate(y, 3, num_steps=10, correct_rate=0.5, incorrect_rate=0.2)
    assert out.shape == (10, 2, 3)
    close(out.sum(0)[0], torch.tensor([2.0, 5.0, 2.0]))


def test_negative_off_target_warns():
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="floor"):
        out = cg.latency(_data(), num_steps=5, off_target=-1.0)
    assert (out == -1.0).any()


def test_signatures_match():
    for name in cg.__all__:
        a = inspect.signature(getattr(sg, name)).parameters
        b = inspect.signature(getattr(cg, name)).parameters
        assert list(a) == list(b), name
        assert [p.default for p in a.values()] == [p.default for p in b.values()], name
