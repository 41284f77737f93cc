"""snnTorch 1.0.0 state dicts load into the compat layers with ``strict=True``: the layers
whose keys differ (BatchNormTT, element-wise RLeaky/RSynaptic, Lapicque, LeakyParallel,
DeltaLeaky, StateLeaky/LinearLeaky, GradedSpikes) translate them, and the loaded layer computes
what the snnTorch layer computes; values they cannot represent are errors."""

from __future__ import annotations

import pytest
import snntorch as st
import torch
from compat_helpers import close, quiet
from torch import nn

import snn_compat.snntorch as sc

T, B, N = 8, 3, 4


@pytest.fixture(autouse=True)
def _own_snntorch_instances():
    """snnTorch lists every neuron it builds in ``SpikingNeuron.instances`` (its
    ``reset_hidden`` walks them): the neurons built here leave that list as they found it."""
    before = list(st.SpikingNeuron.instances)
    yield
    st.SpikingNeuron.instances[:] = before


def _x(scale: float = 1.0, seed: int = 0, shape: tuple[int, ...] = (T, B, N)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g) * scale


def _trained(m: nn.Module, seed: int = 5) -> nn.Module:
    """``m`` with its learnable parameters moved, as training would move them (snnTorch keeps
    LeakyParallel's recurrent matrix diagonal: only its diagonal moves)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if not p.requires_grad:
                continue
            d = torch.rand(p.shape, generator=g) * 0.05
            p.add_(torch.diag_embed(torch.diagonal(d)) if name.endswith("weight_hh_l0") else d)
    return m


def _load(a: nn.Module, b: nn.Module) -> nn.Module:
    result = b.load_state_dict(a.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return b


def _steps(m: nn.Module, xs: torch.Tensor, names: tuple[str, ...]) -> list[torch.Tensor]:
    """snnTorch's calling convention: ``m(x, *state) -> (spk, *state)`` per step."""
    state = [torch.zeros(B, N) for _ in names]
    out = []
    for x in xs:
        spk, *state = m(x, *state)
        out += [spk, *state]
    return out


def test_batchnorm_tt_keys():
    for st_cls, sc_cls, shape in ((st.BatchNormTT1d, sc.BatchNormTT1d, (T, B, N)),
                                  (st.BatchNormTT2d, sc.BatchNormTT2d, (T, B, N, 3, 3))):
        a, b = st_cls(N, T), sc_cls(N, T)
        xs = _x(shape=shape)
        for t in range(T):  # running statistics from a few training steps
            a[t](xs[t])
        _load(_trained(a), b)
        a.eval()
        b.eval()
        for t in range(T):
            close(b[t](xs[t]), a[t](xs[t]))
        # the compat layer's own keys load too
        c = sc_cls(N, T)
        _load(b, c)
        assert all(k.startswith("norms.") for k in c.state_dict())


@pytest.mark.parametrize("name, kw, state", [
    ("RLeaky", {"beta": 0.9, "V": 0.5}, ("spk", "mem")),
    ("RLeaky", {"beta": 0.9, "V": torch.rand(N), "learn_recurrent": True}, ("spk", "mem")),
    ("RSynaptic", {"alpha": 0.8, "beta": 0.9, "V": torch.rand(N)}, ("spk", "syn", "mem")),
])
def test_elementwise_recurrence_keys(name, kw, state):
    a = _trained(getattr(st, name)(all_to_all=False, **kw))
    b = _load(a, quiet(lambda: getattr(sc, name)(all_to_all=False, **kw)))
    xs = _x(scale=1.5)
    for u, v in zip(_steps(b, xs, state), _steps(a, xs, state), strict=True):
        close(u, v)


def test_elementwise_recurrence_rejects_two_different_weights():
    a = st.RLeaky(beta=0.9, all_to_all=False, V=0.5)
    sd = a.state_dict()
    sd["recurrent.V"] = torch.tensor(0.7)
    b = quiet(lambda: sc.RLeaky(beta=0.9, all_to_all=False, V=0.5))
    with pytest.raises(ValueError, match="V and recurrent.V differ"):
        b.load_state_dict(sd)


@pytest.mark.parametrize("kw", [{"beta": 0.8}, {"R": 2.0, "C": 0.5, "time_step": 0.1},
                                {"R": 3.0, "beta": 0.7, "time_step": 0.5}])
def test_lapicque_keys(kw):
    # (a learnable beta is left out: snnTorch's Lapicque steps with the R and C it derived
    # from beta at construction, so training its beta changes nothing there)
    a = _trained(st.Lapicque(learn_threshold=True, **kw))
    b = _load(a, quiet(lambda: sc.Lapicque(learn_threshold=True, **kw)))
    xs = _x(scale=3.0)
    for u, v in zip(_steps(b, xs, ("mem",)), _steps(a, xs, ("mem",)), strict=True):
        close(u, v)


def test_lapicque_time_step_must_match():
    a = st.Lapicque(R=2.0, C=0.5, time_step=0.1)
    b = quiet(lambda: sc.Lapicque(R=2.0, C=0.5, time_step=0.2))
    with pytest.raises(ValueError, match="time_step=0.1 differs.*time_step=0.2"):
        b.load_state_dict(a.state_dict())


@pytest.mark.parametrize("kw", [{}, {"learn_beta": True}, {"bias": False},
                                {"weight_hh_enable": True, "learn_beta": True}])
def test_leaky_parallel_keys(kw):
    torch.manual_seed(2)
    a = _trained(st.LeakyParallel(N, 3, beta=0.9, **kw))
    b = _load(a, quiet(lambda: sc.LeakyParallel(N, 3, beta=0.9, **kw)))
    xs = _x(scale=1.5)
    close(b(xs), a(xs))


def test_leaky_parallel_values_it_cannot_hold_are_errors():
    torch.manual_seed(3)
    a = _trained(st.LeakyParallel(N, 3, beta=0.9, learn_beta=True))  # per-neuron decays
    with pytest.raises(ValueError, match="differ per neuron.*per-neuron beta"):
        quiet(lambda: sc.LeakyParallel(N, 3, beta=0.9)).load_state_dict(a.state_dict())
    dense = a.state_dict()
    dense["rnn.weight_hh_l0"] = torch.rand(3, 3)
    with pytest.raises(ValueError, match="not diagonal.*weight_hh_enable=True"):
        quiet(lambda: sc.LeakyParallel(N, 3, beta=0.9, learn_beta=True)).load_state_dict(dense)
    with pytest.raises(ValueError, match="bias=False"):
        quiet(lambda: sc.LeakyParallel(N, 3, beta=0.9, bias=False)).load_state_dict(
            st.LeakyParallel(N, 3, beta=0.9).state_dict())


def test_delta_leaky_keys():
    a = st.DeltaLeaky(beta=0.9)
    b = _load(a, quiet(lambda: sc.DeltaLeaky(beta=0.9)))
    assert float(b.beta) == pytest.approx(0.9)


@pytest.mark.parametrize("cls, args", [(st.StateLeaky, {"channels": N}),
                                       (st.LinearLeaky, {"in_features": N, "out_features": 3})])
def test_time_parallel_leaky_keys_take_snntorch_beta(cls, args):
    sc_cls = getattr(sc, cls.__name__)
    # untrained: the beta buffer's exact value
    a = cls(beta=0.9, **args)
    b = _load(a, quiet(lambda: sc_cls(beta=0.9, **args)))
    assert torch.equal(b.beta, torch.tensor(0.9))
    # trained: snnTorch learns tau; its beta is (tau - 1) / tau
    a = cls(beta=0.9, learn_beta=True, **args)
    with torch.no_grad():
        a.tau.add_(2.0)
    b = _load(a, quiet(lambda: sc_cls(beta=0.9, learn_beta=True, **args)))
    close(b.beta, a.beta)
    assert float(b.beta.detach()) > 0.91


def test_graded_spikes_column_weight():
    a = _trained(st.GradedSpikes(N, 1.0))
    b = _load(a, quiet(lambda: sc.GradedSpikes(N, 1.0)))
    close(b.weights, a.weights.reshape(-1))


def test_a_network_of_them_loads_strictly():
    def net(mod):
        torch.manual_seed(0)
        return nn.ModuleDict({
            "fc": nn.Linear(N, N), "bn": mod.BatchNormTT1d(N, T),
            "rec": mod.RLeaky(beta=0.9, all_to_all=False, V=0.4),
            "lap": mod.Lapicque(beta=0.8), "par": mod.LeakyParallel(N, N, beta=0.9)})

    a = _trained(net(st))
    b = quiet(lambda: net(sc))
    _load(a, b)
    close(b["fc"].weight, a["fc"].weight)
    close(b["par"].linear.weight, a["par"].rnn.weight_ih_l0)
