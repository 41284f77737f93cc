"""Spike encoders and target helpers: statistics, reproducibility, snnTorch parity, bad input."""

from __future__ import annotations

import math

import pytest
import torch

import snncore as snn
from snncore import encoders as E

TOL = dict(rtol=0, atol=1e-6)


def _sg():
    pytest.importorskip("snntorch")
    import snntorch.spikegen as sg

    return sg


# -- rate ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.0, 0.03, 0.37, 0.5, 0.9, 1.0])
def test_rate_empirical_probability_within_three_standard_errors(p: float) -> None:
    n = 100_000
    gen = torch.Generator().manual_seed(1234)
    spk = E.rate(torch.tensor([p]), num_steps=n, generator=gen)
    assert spk.shape == (n, 1)
    assert set(spk.unique().tolist()) <= {0.0, 1.0}
    est = spk.mean().item()
    se = math.sqrt(p * (1 - p) / n)
    assert abs(est - p) <= 3 * se + 1e-12


def test_rate_gain_offset_and_shape() -> None:
    gen = torch.Generator().manual_seed(0)
    data = torch.full((4, 3), 0.2)
    spk = E.rate(data, num_steps=50_000, gain=2.0, offset=0.1, generator=gen)  # p = 0.5
    assert spk.shape == (50_000, 4, 3) and spk.dtype == data.dtype
    se = math.sqrt(0.25 / spk.numel())
    assert abs(spk.mean().item() - 0.5) <= 3 * se
    # probability clamped at 1 when gain pushes it over
    assert E.rate(torch.full((5,), 0.8), num_steps=10, gain=2.0).eq(1).all()


def test_rate_seeded_generator_is_reproducible() -> None:
    data = torch.rand(8, 16, generator=torch.Generator().manual_seed(3))
    a = E.rate(data, 25, generator=torch.Generator().manual_seed(7))
    b = E.rate(data, 25, generator=torch.Generator().manual_seed(7))
    c = E.rate(data, 25, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_rate_first_spike_time_and_time_varying() -> None:
    gen = torch.Generator().manual_seed(0)
    spk = E.rate(torch.ones(3), num_steps=6, first_spike_time=2, generator=gen)
    assert spk[:2].eq(0).all() and spk[2:].eq(1).all()
    tv = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    out = E.rate(tv, time_var_input=True, first_spike_time=1, generator=gen)
    assert out.shape == (4, 2)
    assert torch.equal(out, torch.cat([torch.zeros(1, 2), tv]))
    # dtype follows the data
    assert E.rate(torch.rand(3, dtype=torch.float64), 4).dtype == torch.float64


def test_rate_conv_and_module() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.tensor([0.0, 1.0, 1.0, 0.0])
    assert torch.equal(E.rate_conv(x, generator=gen), x)
    enc = snn.encoder("rate", num_steps=10, generator=torch.Generator().manual_seed(5))
    ref = E.rate(torch.full((2, 3), 0.4), 10, generator=torch.Generator().manual_seed(5))
    assert torch.equal(enc(torch.full((2, 3), 0.4)), ref)
    assert isinstance(snn.encoder("delta"), torch.nn.Module)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: E.rate(torch.tensor([1.2]), 5), "data must lie in \\[0, 1\\]"),
        (lambda: E.rate(torch.tensor([-0.1]), 5), "data"),
        (lambda: E.rate(torch.rand(3), -1), "num_steps must be an int >= 1"),
        (lambda: E.rate(torch.rand(3)), "num_steps"),
        (lambda: E.rate(torch.rand(3), 5, first_spike_time=5), "first_spike_time must be < "),
        (lambda: E.rate(torch.rand(3), 5, first_spike_time=-1), "first_spike_time"),
        (lambda: E.rate(torch.rand(3, 2), 5, time_var_input=True), "num_steps must be None"),
        (lambda: E.rate_conv(torch.tensor([2.0])), "data must lie"),
    ],
)
def test_rate_bad_input(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_rate_bad_types() -> None:
    with pytest.raises(TypeError, match="num_steps"):
        E.rate(torch.rand(3), 2.5)
    with pytest.raises(TypeError, match="data"):
        E.rate([0.1, 0.2], 3)


# -- latency ------------------------------------------------------------------------------------
def test_latency_documented_example() -> None:
    out = E.latency(torch.tensor([0.02, 0.5, 1.0]), num_steps=5, normalize=True, linear=True)
    assert out.argmax(0).tolist() == [4, 2, 0]
    assert out.sum().item() == 3


LATENCY_CASES = [
    dict(num_steps=20),
    dict(num_steps=60, tau=5),
    dict(num_steps=10, tau=5, bypass=True),
    dict(num_steps=20, normalize=True),
    dict(num_steps=20, normalize=True, linear=True),
    dict(num_steps=20, linear=True, tau=10),
    dict(num_steps=20, linear=True, tau=10, threshold=0.2, clip=True),
    dict(num_steps=50, tau=3, threshold=0.3, clip=True),
    dict(num_steps=40, tau=3, first_spike_time=4),
    dict(num_steps=25, first_spike_time=4, normalize=True),
    dict(num_steps=25, first_spike_time=3, normalize=True, linear=True),
    dict(num_steps=40, tau=3, on_target=0.8, off_target=0.1),
    dict(num_steps=20, normalize=True, interpolate=True),
    dict(num_steps=20, normalize=True, linear=True, interpolate=True, on_target=2.0,
         off_target=0.5),
    dict(tau=5, bypass=True),
]


@pytest.mark.parametrize("kwargs", LATENCY_CASES)
def test_latency_matches_snntorch(kwargs: dict) -> None:
    sg = _sg()
    gen = torch.Generator().manual_seed(11)
    data = torch.rand(6, 7, generator=gen)
    data[0, :3] = torch.tensor([0.0, 1.0, 0.005])
    ref_kwargs = dict(kwargs)
    if "num_steps" not in ref_kwargs:
        ref_kwargs["num_steps"] = False
    ref = sg.latency(data.clone(), **ref_kwargs)
    out = E.latency(data, **kwargs)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, **TOL)


@pytest.mark.parametrize("linear", [False, True])
@pytest.mark.parametrize("normalize", [False, True])
def test_latency_code_matches_snntorch(linear: bool, normalize: bool) -> None:
    sg = _sg()
    data = torch.rand(50, generator=torch.Generator().manual_seed(2))
    kw = dict(num_steps=30, threshold=0.05, tau=4, first_spike_time=2, normalize=normalize,
              linear=linear)
    t_ref, idx_ref = sg.latency_code(data.clone(), **kw)
    t, idx = E.latency_code(data, **kw)
    torch.testing.assert_close(t, t_ref, **TOL)
    assert torch.equal(idx, idx_ref)


def test_latency_off_target_is_a_value_not_a_floor() -> None:
    out = E.latency(torch.tensor([1.0, 0.5]), num_steps=5, linear=True, tau=4,
                    on_target=1.0, off_target=-1.0)
    # snnTorch clamps with off_target as a floor, so silence would read 0; here it is -1
    assert out[0, 0] == 1.0 and out[2, 1] == 1.0
    assert (out == -1.0).sum() == 10 - 2


def test_latency_clip_applies_to_interpolated_targets() -> None:
    out = E.latency(torch.tensor([0.9, 0.001]), num_steps=10, tau=2, threshold=0.05,
                    clip=True, interpolate=True, bypass=True)
    assert out[:, 1].eq(0).all() and out[:, 0].max() == 1.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: E.latency(torch.tensor([1.5]), 5), "data must lie in \\[0, 1\\]"),
        (lambda: E.latency(torch.tensor([0.5]), -3), "num_steps must be an int >= 1"),
        (lambda: E.latency(torch.tensor([0.5])), "num_steps"),
        (lambda: E.latency(torch.tensor([0.5]), 5, first_spike_time=5), "first_spike_time"),
        (lambda: E.latency(torch.tensor([0.5]), 5, threshold=1.0), "threshold"),
        (lambda: E.latency(torch.tensor([0.5]), 5, tau=0), "tau"),
        (lambda: E.latency(torch.tensor([0.001]), 3, tau=5), "outside num_steps"),
        (lambda: E.latency(torch.tensor([0.5]), normalize=True, bypass=True), "normalize"),
    ],
)
def test_latency_bad_input(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_latency_interpolate_matches_snntorch() -> None:
    sg = _sg()
    st = torch.tensor([[0.0, 3.4, 7.0], [9.6, 12.0, 1.0]])
    ref = sg.latency_interpolate(st.clone(), 10, on_target=1.5, off_target=0.25)
    torch.testing.assert_close(E.latency_interpolate(st, 10, 1.5, 0.25), ref, **TOL)
    st2 = torch.tensor([2.0, 5.0])
    torch.testing.assert_close(E.latency_interpolate(st2, 6),
                               sg.latency_interpolate(st2.clone(), 6), **TOL)


# -- delta --------------------------------------------------------------------------------------
def test_delta_documented_example() -> None:
    out = E.delta(torch.tensor([0, 0.5, 0.45, 1, 0.2]), threshold=0.1, off_spike=True)
    assert out.tolist() == [0, 1, 0, 1, -1]


@pytest.mark.parametrize("padding", [False, True])
@pytest.mark.parametrize("off_spike", [False, True])
@pytest.mark.parametrize("threshold", [0.2, 0.0])
def test_delta_matches_snntorch(padding: bool, off_spike: bool, threshold: float) -> None:
    sg = _sg()
    data = torch.rand(30, 4, 5, generator=torch.Generator().manual_seed(4)) + 0.3
    data[5:9] = data[4]  # unchanged steps: a spike at threshold 0 (cancelled with off_spike)
    ref = sg.delta(data, threshold=threshold, padding=padding, off_spike=off_spike)
    out = E.delta(data, threshold=threshold, padding=padding, off_spike=off_spike)
    torch.testing.assert_close(out, ref, **TOL)
    if padding:
        assert out[0].eq(0 if threshold > 0 or off_spike else 1).all()
    if threshold == 0:
        assert out[5:9].eq(0 if off_spike else 1).all()


def test_delta_bad_input() -> None:
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        E.delta(torch.rand(4), threshold=-0.1)
    with pytest.raises(ValueError, match="time-first"):
        E.delta(torch.tensor(1.0))


# -- target helpers -----------------------------------------------------------------------------
def test_one_hot_round_trip_and_snntorch() -> None:
    sg = _sg()
    y = torch.tensor([3, 0, 2, 2, 1])
    oh = E.to_one_hot(y, 4)
    torch.testing.assert_close(oh, sg.to_one_hot(y, 4), **TOL)
    torch.testing.assert_close(E.to_one_hot_inverse(oh), sg.to_one_hot_inverse(oh), **TOL)
    # documented fix: class indices per row (snnTorch returns row positions of the ones)
    assert E.from_one_hot(oh).tolist() == y.tolist()
    assert sg.from_one_hot(oh).tolist() != y.tolist()
    # one row: snnTorch is right there
    assert E.from_one_hot(oh[0]).item() == sg.from_one_hot(oh[0]).item() == 3
    assert E.from_one_hot(oh[0]).dim() == 0


def test_target_helpers_bad_input() -> None:
    with pytest.raises(ValueError, match="targets must be class indices in \\[0, 2\\]"):
        E.to_one_hot(torch.tensor([0, 3]), 3)
    with pytest.raises(ValueError, match="targets"):
        E.to_one_hot(torch.tensor([-1]), 3)
    with pytest.raises(TypeError, match="targets must be an integer tensor"):
        E.to_one_hot(torch.tensor([0.0]), 3)
    with pytest.raises(ValueError, match="exactly one"):
        E.from_one_hot(torch.tensor([[1.0, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="firing_pattern must be one of"):
        E.target_rate_code(10, rate=0.5, firing_pattern="bursty")
    with pytest.raises(ValueError, match="firing_pattern"):
        E.targets_rate(torch.tensor([0]), 2, num_steps=5, correct_rate=0.5,
                       firing_pattern="gamma")
    with pytest.raises(ValueError, match="first_spike_time must be < num_steps"):
        E.target_rate_code(10, first_spike_time=10, rate=0.5)
    with pytest.raises(ValueError, match="rate must be in \\[0, 1\\]"):
        E.target_rate_code(10, rate=1.5)
    with pytest.raises(ValueError, match="incorrect_rate"):
        E.targets_rate(torch.tensor([0]), 2, num_steps=5, correct_rate=0.2, incorrect_rate=0.5)
    with pytest.raises(ValueError, match="num_steps"):
        E.targets_rate(torch.tensor([0]), 2, correct_rate=0.5)
    with pytest.raises(ValueError, match="code must be"):
        E.targets_convert(torch.tensor([0]), 2, code="phase")


@pytest.mark.parametrize("rate", [1.0, 0.5, 0.3, 0.25, 0.1])
@pytest.mark.parametrize("fst", [0, 3])
def test_target_rate_code_regular_matches_snntorch(rate: float, fst: int) -> None:
    sg = _sg()
    ref_spk, ref_t = sg.target_rate_code(20, first_spike_time=fst, rate=rate)
    spk, t = E.target_rate_code(20, first_spike_time=fst, rate=rate)
    torch.testing.assert_close(spk, ref_spk, **TOL)
    assert t.tolist() == ref_t.tolist()


def test_target_rate_code_random_patterns() -> None:
    gen = torch.Generator().manual_seed(0)
    spk, t = E.target_rate_code(20, first_spike_time=4, rate=0.25, firing_pattern="uniform",
                                generator=gen)
    assert spk.sum() == 4 and t.min() >= 4 and torch.equal(spk.nonzero().flatten(), t)
    n = 100_000
    spk, _ = E.target_rate_code(n, rate=0.2, firing_pattern="poisson", generator=gen)
    assert abs(spk.mean().item() - 0.2) <= 3 * math.sqrt(0.16 / n)
    a, _ = E.target_rate_code(50, rate=0.3, firing_pattern="poisson",
                              generator=torch.Generator().manual_seed(9))
    b, _ = E.target_rate_code(50, rate=0.3, firing_pattern="poisson",
                              generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    "times, on, off",
    [([2, 5], 1.0, 0.0), ([0, 1, 5], 2.0, 0.5), ([0, 9], 1.0, 0.0), ([3], 1.0, -1.0),
     ([], 1.0, 0.25), ([1, 2, 3, 4, 5, 6, 7, 8, 9], 1.0, 0.0)],
)
def test_rate_interpolate_matches_snntorch(times: list[int], on: float, off: float) -> None:
    sg = _sg()
    st = torch.tensor(times, dtype=torch.long)
    ref = sg.rate_interpolate(st, 10, on_target=on, off_target=off)
    out = E.rate_interpolate(st, 10, on_target=on, off_target=off)
    torch.testing.assert_close(out, ref, **TOL)


def test_targets_rate_static_matches_snntorch_and_off_target_value() -> None:
    sg = _sg()
    y = torch.tensor([1, 0, 2])
    for on, off in ((1.0, 0.0), (5.0, 2.0), (0.9, 0.1)):
        torch.testing.assert_close(E.targets_rate(y, 3, on_target=on, off_target=off),
                                   sg.targets_rate(y, 3, on_target=on, off_target=off), **TOL)
        torch.testing.assert_close(
            E.targets_convert(y, 3, on_target=on, off_target=off, num_steps=6,
                              first_spike_time=2),
            sg.targets_convert(y, 3, on_target=on, off_target=off, num_steps=6,
                               first_spike_time=2), **TOL)
    # documented fix: off_target is a value (snnTorch floors it at 0)
    out = E.targets_rate(y, 3, on_target=1.0, off_target=-1.0)
    assert out.tolist() == [[-1, 1, -1], [1, -1, -1], [-1, -1, 1]]


def test_targets_rate_time_varying() -> None:
    y = torch.tensor([1, 0])
    out = E.targets_rate(y, 3, num_steps=12, correct_rate=0.5, incorrect_rate=0.25)
    assert out.shape == (12, 2, 3)
    counts = out.sum(0)
    assert counts.tolist() == [[3, 6, 3], [6, 3, 3]]
    ramp = E.targets_rate(y, 3, num_steps=8, correct_rate=0.5, incorrect_rate=0.25,
                          interpolate=True)
    ref = E.rate_interpolate(torch.tensor([0, 2, 4, 6]), 8)
    torch.testing.assert_close(ramp[:, 0, 1], ref)
    torch.testing.assert_close(ramp[:, 1, 0], ref)


def test_targets_latency_matches_snntorch() -> None:
    sg = _sg()
    y = torch.tensor([2, 0, 1, 1])
    kw = dict(num_steps=8, tau=2, threshold=0.05, normalize=True)
    torch.testing.assert_close(E.targets_latency(y, 3, **kw), sg.targets_latency(y, 3, **kw),
                               **TOL)
    torch.testing.assert_close(E.targets_convert(y, 3, code="latency", **kw),
                               sg.targets_convert(y, 3, code="latency", **kw), **TOL)


# -- population and poisson ---------------------------------------------------------------------
def test_population_receptive_fields() -> None:
    x = torch.tensor([0.0, 0.5, 1.0])
    act = E.population(x, num_neurons=5)
    assert act.shape == (3, 5)
    assert act.argmax(-1).tolist() == [0, 2, 4]
    sigma = 0.25
    torch.testing.assert_close(act[1, 1], torch.tensor(math.exp(-0.5 * (0.25 / sigma) ** 2)))
    spk = E.population(x, 5, num_steps=40_000, generator=torch.Generator().manual_seed(0))
    assert spk.shape == (40_000, 3, 5)
    se = (act * (1 - act) / 40_000).sqrt()
    assert ((spk.mean(0) - act).abs() <= 3 * se + 1e-9).all()
    lat = E.population(x, 5, num_steps=10, mode="latency")
    assert lat.sum(0).eq(1).all() and lat[0, 1, 2] == 1
    with pytest.raises(ValueError, match="num_neurons"):
        E.population(x, 1)
    with pytest.raises(ValueError, match="mode"):
        E.population(x, 3, num_steps=4, mode="phase")


def test_poisson_rates_in_hz() -> None:
    rates = torch.tensor([0.0, 20.0, 200.0])
    n, dt = 100_000, 1e-3
    spk = E.poisson(rates, n, dt, generator=torch.Generator().manual_seed(0))
    p = 1 - torch.exp(-rates * dt)
    se = (p * (1 - p) / n).sqrt()
    assert ((spk.mean(0) - p).abs() <= 3 * se + 1e-12).all()
    with pytest.raises(ValueError, match="dt must be > 0"):
        E.poisson(rates, 10, 0.0)
    with pytest.raises(ValueError, match="rates must be finite and >= 0"):
        E.poisson(torch.tensor([-1.0]), 10, 1e-3)
    with pytest.raises(ValueError, match="num_steps"):
        E.poisson(rates, -2, 1e-3)


def test_registry_lists_every_encoder() -> None:
    names = set(snn.registries()["encoder"].names())
    assert {"rate", "rate_conv", "latency", "delta", "population", "poisson"} <= names
    enc = snn.encoder("population", num_neurons=4)
    assert enc(torch.rand(2)).shape == (2, 4)
