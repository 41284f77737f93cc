"""Compat neurons against snnTorch 1.0.0: spikes, states and gradients (1e-6) in snnTorch's own
calling conventions (flat states, init_hidden, output), or the documented difference."""

from __future__ import annotations

import pytest
import snntorch as st
import snntorch.functional.quant as st_quant
import snntorch.utils as st_utils
import torch
from compat_helpers import GRAD_RTOL, close, drive, grads, quiet
from torch import nn

import snn_compat
import snn_compat.snntorch as sc
import snncore

T, B, N = 30, 3, 5


def _x(shape=(T, B, N), scale=0.8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g) * scale


def _pair(name, **kw):
    """The same neuron built by snnTorch and by compat, with identical initial weights (the
    snnTorch state dict loads strictly: tests/compat/test_checkpoints.py)."""
    torch.manual_seed(1)
    a = getattr(st, name)(**kw)
    torch.manual_seed(1)
    b = quiet(lambda: getattr(sc, name)(**kw))
    b.load_state_dict(a.state_dict(), strict=True)
    return a, b


def _learnables(m):
    return [p for _, p in sorted(m.named_parameters()) if p.requires_grad]


def _compare(name, kw, init, xs, spk_in_state=False):
    a, b = _pair(name, **kw)
    ra = grads(lambda x: drive(a, x, init, spk_in_state), xs, _learnables(a))
    rb = grads(lambda x: drive(b, x, init, spk_in_state), xs, _learnables(b))
    close(ra[0], rb[0])       # spikes
    close(ra[1], rb[1])       # every state at every step
    close(ra[2], rb[2], rtol=GRAD_RTOL)       # d/d input
    assert [n for n, p in sorted(a.named_parameters()) if p.requires_grad] == \
        [n for n, p in sorted(b.named_parameters()) if p.requires_grad]
    for ga, gb in zip(ra[3], rb[3], strict=True):
        assert (ga is None) == (gb is None)
        if ga is not None:
            close(ga, gb.reshape(ga.shape), rtol=GRAD_RTOL)
    return a, b


LEAKY_CASES = [
    dict(beta=0.9),
    dict(beta=0.8, reset_mechanism="zero"),
    dict(beta=0.8, reset_mechanism="none"),
    dict(beta=0.7, threshold=0.5, learn_beta=True, learn_threshold=True),
    dict(beta=torch.linspace(0.5, 0.95, N), learn_beta=True),
    dict(beta=0.9, graded_spikes_factor=2.0, learn_graded_spikes_factor=True),
    dict(beta=0.9, spike_grad=None, surrogate_disable=True),
    dict(beta=0.9, inhibition=True),
]


@pytest.mark.parametrize("kw", LEAKY_CASES)
def test_leaky_matches_snntorch(kw):
    _compare("Leaky", kw, "init_leaky", _x(scale=1.2))


@pytest.mark.parametrize("make", [
    lambda m: m.atan(alpha=3.0), lambda m: m.fast_sigmoid(slope=10), lambda m: m.heaviside(),
    lambda m: m.straight_through_estimator(), lambda m: m.SFS(slope=5, B=0.1),
    lambda m: m.custom_surrogate(lambda x, g, out: g * 2 * torch.exp(-x.abs())),
])
def test_leaky_with_surrogates(make):
    torch.manual_seed(1)
    a = st.Leaky(beta=0.9, spike_grad=make(st.surrogate), learn_beta=True)
    b = sc.Leaky(beta=0.9, spike_grad=make(sc.surrogate), learn_beta=True)
    xs = _x(scale=1.2)
    ra = grads(lambda x: drive(a, x, "init_leaky"), xs, [a.beta])
    rb = grads(lambda x: drive(b, x, "init_leaky"), xs, [b.beta])
    for u, v in zip(ra[:3], rb[:3], strict=True):
        close(u, v)
    close(ra[3][0], rb[3][0])


def test_leaky_with_own_spike_function():
    """A user-defined autograd function passed as spike_grad is the spike op itself."""

    class MySpike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return (x > 0).float()

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad / (1 + x.abs()) ** 2

    a = st.Leaky(beta=0.9, spike_grad=MySpike.apply)
    b = sc.Leaky(beta=0.9, spike_grad=MySpike.apply)
    ra = grads(lambda x: drive(a, x, "init_leaky"), _x(scale=1.2), [])
    rb = grads(lambda x: drive(b, x, "init_leaky"), _x(scale=1.2), [])
    for u, v in zip(ra[:3], rb[:3], strict=True):
        close(u, v)
    # the wrapper's derivative is what autograd computes through the function
    x = torch.linspace(-2, 2, 9)
    close(b.spike_grad.derivative(x), 1 / (1 + x.abs()) ** 2)


def test_leaky_state_quant():
    a = st.Leaky(beta=0.9, state_quant=st_quant.state_quant(num_bits=4))
    b = sc.Leaky(beta=0.9, state_quant=sc.functional.quant.state_quant(num_bits=4))
    close(drive(a, _x(), "init_leaky"), drive(b, _x(), "init_leaky"))


@pytest.mark.parametrize("name,init,extra", [
    ("Synaptic", "init_synaptic", {}),
    ("RSynaptic", "init_rsynaptic", dict(all_to_all=False, V=0.5)),
])
def test_synaptic_state_quant_matches_snntorch(name, init, extra):
    """state_quant acts on syn and mem after the update: the membrane integrates the current
    before it is quantized, as in snnTorch."""
    kw = dict(alpha=0.8, beta=0.9, **extra)
    a = getattr(st, name)(state_quant=st_quant.state_quant(num_bits=4), **kw)
    b = getattr(sc, name)(state_quant=sc.functional.quant.state_quant(num_bits=4), **kw)
    xs = _x(scale=0.6)
    spk_in_state = name == "RSynaptic"
    ra, rb = drive(a, xs, init, spk_in_state), drive(b, xs, init, spk_in_state)
    close(ra[0], rb[0])
    close(ra[1], rb[1])
    assert ra[0].sum() > 0


@pytest.mark.parametrize("kw", [dict(alpha=0.8, beta=0.9),
                                dict(alpha=0.7, beta=0.85, reset_mechanism="none"),
                                dict(alpha=0.6, beta=0.9, learn_alpha=True, learn_beta=True,
                                     learn_threshold=True)])
def test_synaptic_matches_snntorch(kw):
    _compare("Synaptic", kw, "init_synaptic", _x(scale=0.8))


@pytest.mark.parametrize("reset", ["subtract", "none"])
def test_alpha_matches_snntorch(reset):
    _compare("Alpha", dict(alpha=0.9, beta=0.8, reset_mechanism=reset), "init_alpha",
             _x(scale=1.5))


@pytest.mark.parametrize("kw", [dict(beta=0.9), dict(R=2.0, C=3.0), dict(beta=0.9, R=1.5),
                                dict(beta=0.85, C=2.0, reset_mechanism="none")])
def test_lapicque_matches_snntorch(kw):
    a = st.Lapicque(**kw)
    b = sc.Lapicque(**kw)
    ra = grads(lambda x: drive(a, x, "init_lapicque"), _x(scale=2.0), [])
    rb = grads(lambda x: drive(b, x, "init_lapicque"), _x(scale=2.0), [])
    for u, v in zip(ra[:3], rb[:3], strict=True):
        close(u, v)


RECURRENT = [
    dict(linear_features=N),
    dict(all_to_all=False, V=0.5),
    dict(linear_features=N, reset_mechanism="none", learn_recurrent=False),
]


@pytest.mark.parametrize("kw", RECURRENT)
def test_rleaky_matches_snntorch(kw):
    _compare("RLeaky", dict(beta=0.9, **kw), "init_rleaky", _x(scale=0.7), spk_in_state=True)


def test_rleaky_conv_matches_snntorch():
    _compare("RLeaky", dict(beta=0.9, conv2d_channels=2, kernel_size=3), "init_rleaky",
             _x((8, 2, 2, 4, 4), scale=0.7), spk_in_state=True)


@pytest.mark.parametrize("kw", RECURRENT)
def test_rsynaptic_matches_snntorch(kw):
    _compare("RSynaptic", dict(alpha=0.8, beta=0.9, **kw), "init_rsynaptic", _x(scale=0.5),
             spk_in_state=True)


@pytest.mark.parametrize("reset", ["none", "subtract"])
def test_slstm_matches_snntorch(reset):
    _compare("SLSTM", dict(input_size=N, hidden_size=N, threshold=0.1, reset_mechanism=reset),
             "init_slstm", _x(scale=1.0))


@pytest.mark.parametrize("kw", [dict(), dict(max_pool=2), dict(avg_pool=2),
                                dict(reset_mechanism="subtract")])
def test_sconv2dlstm_matches_snntorch(kw):
    _compare("SConv2dLSTM", dict(in_channels=2, out_channels=3, kernel_size=3, threshold=0.05,
                                 **kw), "init_sconv2dlstm", _x((6, 2, 2, 4, 4)))


def test_leaky_parallel_matches_snntorch():
    torch.manual_seed(1)
    a = st.LeakyParallel(N, 4, beta=0.9, threshold=0.3)
    b = sc.LeakyParallel(N, 4, beta=0.9, threshold=0.3)
    with torch.no_grad():
        b.linear.weight.copy_(a.rnn.weight_ih_l0)
        b.linear.bias.copy_(a.rnn.bias_ih_l0 + a.rnn.bias_hh_l0)
    xs = _x(scale=1.0)
    ra = grads(lambda x: (a(x), []), xs, [a.rnn.weight_ih_l0])
    rb = grads(lambda x: (b(x), []), xs, [b.linear.weight])
    close(ra[0], rb[0])
    close(ra[2], rb[2])
    close(ra[3][0], rb[3][0])


def _same_delta_runs(a, b):
    ma = mb = (None, None)
    for x in _x(scale=1.0):
        sa, ma = a(x, ma)
        sb, mb = b(x, mb)
        close(sa, sb)
        close(list(ma), list(mb))


def test_delta_leaky_matches_snntorch():
    a = st.DeltaLeaky(0.3, 0.9)
    b = sc.DeltaLeaky(0.3, 0.9)
    assert a.reset_mem() == b.reset_mem() == (None, None)
    _same_delta_runs(a, b)


@pytest.mark.parametrize("kw", [dict(graded_spikes_factor=2.0), dict(inhibition=True),
                                dict(state_quant="quant")])
def test_delta_leaky_ignores_what_snntorch_ignores(kw):
    if kw.get("state_quant") == "quant":
        kw = {"state_quant": st_quant.state_quant(num_bits=2)}
        kw_c = {"state_quant": sc.functional.quant.state_quant(num_bits=2)}
    else:
        kw_c = kw
    a = st.DeltaLeaky(0.3, 0.9, **kw)
    with pytest.warns(UserWarning, match="ignores .*as snnTorch 1.0.0's DeltaLeaky does"):
        b = sc.DeltaLeaky(0.3, 0.9, **kw_c)
    _same_delta_runs(a, b)


def test_leaky_reset_hidden_reaches_delta_leaky_as_in_snntorch():
    results = []
    for M in (st, sc):
        d = M.DeltaLeaky(0.3, 0.9, init_hidden=True)
        d(torch.rand(2, 3))
        M.Leaky.reset_hidden()
        spk, (mem, prev) = d(torch.ones(2, 3))
        results.append(mem)
    close(results[0], results[1])
    assert torch.equal(results[1], torch.ones(2, 3))


@pytest.mark.parametrize("name,kw,init,scale", [
    ("Synaptic", dict(alpha=0.8, beta=0.9, reset_mechanism="zero"), "init_synaptic", 1.5),
    ("Alpha", dict(alpha=0.9, beta=0.8), "init_alpha", 1.5),
    ("Leaky", dict(beta=0.9, reset_delay=False), "init_leaky", 3.0),
    ("Lapicque", dict(beta=0.9, reset_mechanism="zero"), "init_lapicque", 20.0),
    ("Leaky", dict(beta=0.9, inhibition=True, graded_spikes_factor=2.0), "init_leaky", 3.0),
])
def test_documented_differences_warn_and_keep_snncore(name, kw, init, scale):
    """The compat name warns once, naming the difference, and computes snncore's numbers."""
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="differs from snnTorch"):
        b = getattr(sc, name)(**kw)
    xs = _x(scale=scale)
    spk_b, states_b = drive(b, xs, init)
    # snncore's own neuron with the same arguments, run over the whole sequence (eager)
    native = type(b).__mro__[[c.__module__.startswith(("snncore", "snn_neurons_extra"))
                              for c in type(b).__mro__].index(True)]
    ref_kw = {k: v for k, v in kw.items() if k not in ("reset_mechanism",)}
    if "reset_mechanism" in kw:
        ref_kw["reset"] = kw["reset_mechanism"]
    ref = native(**ref_kw)
    spk_r, st_r = ref.trace(xs)
    close(spk_b, spk_r)
    close(states_b[-1], st_r.mem)
    a = getattr(st, name)(**kw)
    spk_a, _ = drive(a, xs, init)
    assert not torch.equal(spk_a, spk_b), "the documented difference should show on this input"


def test_state_leaky_difference_is_documented():
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="decays by beta"):
        b = sc.StateLeaky(beta=0.9, channels=N)
    xs = _x(scale=0.5)
    spk, mem = b(xs)
    expect = torch.zeros(B, N)
    for t in range(T):
        expect = 0.9 * expect + xs[t]
        close(mem[t], expect, 1e-5)
    close(spk, (mem > 1).float())
    lin = quiet(lambda: sc.LinearLeaky(0.9, N, 2))
    spk2, mem2 = lin(xs)
    assert spk2.shape == mem2.shape == (T, B, 2)
    assert quiet(lambda: sc.StateLeaky(beta=0.9, channels=N, output=False))(xs).shape == xs.shape
    assert float(b.beta) == pytest.approx(0.9) and float(lin.beta) == pytest.approx(0.9)


# -- init_hidden / output / reset_hidden ---------------------------------------------------------
def _nets(mod, **lif):
    torch.manual_seed(2)
    return nn.Sequential(nn.Linear(N, 6), mod.Leaky(beta=0.9, init_hidden=True, **lif),
                         nn.Linear(6, 3), mod.Leaky(beta=0.8, init_hidden=True, output=True))


def test_init_hidden_net_matches_snntorch():
    a, b = _nets(st), _nets(sc)
    b.load_state_dict(a.state_dict())
    xs = _x(scale=1.0)
    for _ in range(2):  # two "batches": utils.reset between them
        st_utils.reset(a)
        sc.utils.reset(b)
        for x in xs:
            sa, ma = a(x)
            sb, mb = b(x)
            close(sa, sb)
            close(ma, mb)
        close(a[1].mem, b[1].mem)  # stored hidden state is readable as in snnTorch
    sa.sum().backward()
    sb.sum().backward()
    close(a[0].weight.grad, b[0].weight.grad)


def test_batch_of_two_is_not_unpacked():
    """``spk, mem = net(x)`` on a stateful net with batch 2 gives [2, N] spikes and membrane."""
    net = _nets(sc)
    spk, mem = net(torch.rand(2, N))
    assert spk.shape == mem.shape == (2, 3)
    hidden_only = sc.Leaky(beta=0.9, init_hidden=True)
    out = hidden_only(torch.rand(2, N))
    assert isinstance(out, torch.Tensor) and out.shape == (2, N)


def test_reset_hidden_and_detach_hidden_classmethods():
    lif = sc.Leaky(beta=0.9, init_hidden=True)
    other = sc.Synaptic(alpha=0.8, beta=0.9, init_hidden=True)
    x = torch.rand(2, N, requires_grad=True)
    lif(x)
    other(x)
    assert lif.mem.requires_grad
    sc.Leaky.detach_hidden()
    assert not lif.mem.requires_grad and other.mem.requires_grad
    sc.Leaky.reset_hidden()
    assert lif.mem.numel() == 0 and other.mem.numel() > 0
    lif(torch.rand(5, N))  # a new batch size after a reset starts from zeros
    with pytest.raises(TypeError, match="init_hidden=True"):
        lif(x, torch.zeros(2, N))


def test_mismatched_state_is_an_error_not_zeros():
    lif = sc.Leaky(beta=0.9)
    with pytest.raises(ValueError, match="state.mem has shape"):
        lif(torch.rand(2, N), torch.rand(3, N))
    spk, mem = lif(torch.rand(2, N), lif.init_leaky())  # empty = fresh zeros
    assert mem.shape == (2, N)


def test_call_without_state_continues_from_stored_state():
    a, b = st.Leaky(beta=0.9), sc.Leaky(beta=0.9)
    for x in _x(scale=1.2)[:5]:
        close(a(x), b(x))


def test_compat_neurons_are_snncore_neurons_and_run_fused():
    """Inside snncore.Sequential the compat neurons run whole sequences on the fused backend,
    with the same spikes as snnTorch's step-by-step loop."""
    a = _nets(st)
    torch.manual_seed(2)
    layers = [nn.Linear(N, 6), sc.Leaky(beta=0.9, init_hidden=True), nn.Linear(6, 3),
              sc.Synaptic(alpha=0.5, beta=0.8, init_hidden=True)]
    b = snncore.Sequential(*layers)
    assert all(isinstance(m, snncore.Neuron) for m in (layers[1], layers[3]))
    ok, why = snncore.backend("fused").supports(layers[1], torch.zeros(T, B, 6))
    assert ok, why
    a2 = nn.Sequential(a[0], a[1], a[2], st.Synaptic(alpha=0.5, beta=0.8, init_hidden=True))
    b.load_state_dict(a2.state_dict(), strict=True)
    xs = _x(scale=1.0)
    st_utils.reset(a2)
    ref = torch.stack([a2(x) for x in xs])
    snncore.reset(b)
    with snncore.use_backend("fused"):
        out, _ = b(xs)
    close(out, ref, 1e-5)


def test_signatures_match_snntorch():
    import inspect

    for name in ["Leaky", "Synaptic", "Alpha", "Lapicque", "RLeaky", "RSynaptic", "SLSTM",
                 "SConv2dLSTM", "LeakyParallel", "StateLeaky", "LinearLeaky", "LIF",
                 "SpikingNeuron"]:
        pa = inspect.signature(getattr(st, name).__init__).parameters
        pb = inspect.signature(getattr(sc, name).__init__).parameters
        assert list(pa) == list(pb), name
        for p in pa:
            assert pa[p].default == pb[p].default or (
                pa[p].default is None and pb[p].default is None), (name, p)
        if hasattr(getattr(st, name), "forward") and name not in ("LIF", "SpikingNeuron"):
            fa = inspect.signature(getattr(st, name).forward).parameters
            fb = inspect.signature(getattr(sc, name).forward).parameters
            assert list(fa) == list(fb), name


@pytest.mark.parametrize("use_q", [True, False])
def test_associative_leaky_matches_snntorch(use_q):
    torch.manual_seed(4)
    a = st.AssociativeLeaky(in_dim=6, d_value=3, d_key=2, num_spiking_neurons=6,
                            use_q_projection=use_q)
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="step-by-step"):
        b = sc.AssociativeLeaky(in_dim=6, d_value=3, d_key=2, num_spiking_neurons=6,
                                use_q_projection=use_q)
    b.load_state_dict(a.state_dict(), strict=True)
    # short sequences: snnTorch's prefix-product form is exact only while the product of the
    # decays stays far above its 1e-8 guard
    xs = _x((6, 3, 6), scale=2.0) - 0.5
    params_a = [p for _, p in sorted(a.named_parameters())]
    params_b = [p for _, p in sorted(b.named_parameters())]
    ra = grads(lambda x: (a(x), []), xs, params_a)
    rb = grads(lambda x: (b(x), []), xs, params_b)
    close(ra[0], rb[0], 1e-5)
    close(ra[2], rb[2], rtol=GRAD_RTOL)
    for u, v in zip(ra[3], rb[3], strict=True):
        close(u, v, rtol=GRAD_RTOL)
    sq = sc.AssociativeLeaky.from_num_spiking_neurons(6, 9)
    assert (sq.d_value, sq.d_key) == (3, 3)
    with pytest.raises(ValueError, match="perfect square"):
        sc.AssociativeLeaky.from_num_spiking_neurons(6, 8)
    with pytest.raises(ValueError, match="d_value \\* d_key"):
        sc.AssociativeLeaky(6, 3, 2, 7)


def test_associative_leaky_stable_where_snntorch_loses_precision():
    """Small decays for many steps: snnTorch's prefix product underflows; the scan does not."""
    b = quiet(lambda: sc.AssociativeLeaky(4, 2, 2, 4, use_q_projection=False))
    with torch.no_grad():
        b.to_alpha.weight.zero_()
        b.to_alpha.bias.fill_(-6.0)   # alpha ~ 0.0025 per step
    xs = torch.rand(40, 2, 4)
    y, state = b.run(xs)
    assert torch.isfinite(state.mem).all() and torch.isfinite(y).all()
    v = b.to_v(xs[-1])
    k = b.to_k(xs[-1])
    alpha = torch.sigmoid(b.to_alpha(xs[-1]))
    _, prev = b.run(xs[:-1])
    close(state.mem, prev.mem * alpha.unsqueeze(-2) + v.unsqueeze(-1) * k.unsqueeze(-2))


@pytest.mark.parametrize("dims", [1, 2])
def test_batchnorm_tt_matches(dims):
    shape = (4, 6, 3) if dims == 1 else (4, 6, 3, 2, 2)
    a = getattr(st, f"BatchNormTT{dims}d")(3, 4)
    b = getattr(sc, f"BatchNormTT{dims}d")(3, 4)
    xs = _x(shape, scale=2.0)
    assert len(a) == len(b) == 4
    for t in range(4):
        close(a[t](xs[t]), b[t](xs[t]))
        assert a[t].bias is None and b[t].bias is None


def test_graded_spikes_documented():
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="per feature"):
        g = sc.GradedSpikes(5, constant_factor=2.0)
    close(g(torch.ones(3, 5)), torch.full((3, 5), 2.0))


def test_leaky_parallel_methods():
    lp = sc.LeakyParallel(4, 3, beta=0.9)
    x = torch.linspace(-1, 1, 5, requires_grad=True)
    close(lp.ATan.apply(x, 2.0), st.LeakyParallel.ATan.apply(x, 2.0))
    close(lp.grad_hook(torch.ones(3, 3)), torch.eye(3))


@pytest.mark.parametrize("learn_beta", [False, True])
def test_leaky_parallel_dense_recurrence_matches_snntorch(learn_beta):
    torch.manual_seed(1)
    a = st.LeakyParallel(N, 4, beta=0.3, threshold=0.3, weight_hh_enable=True,
                         learn_beta=learn_beta)
    b = sc.LeakyParallel(N, 4, beta=0.3, threshold=0.3, weight_hh_enable=True,
                         learn_beta=learn_beta)
    close(a.rnn.weight_hh_l0, b.weight_hh)  # every entry starts at beta, as in snnTorch
    assert b.weight_hh.requires_grad == a.rnn.weight_hh_l0.requires_grad == learn_beta
    with torch.no_grad():
        b.linear.weight.copy_(a.rnn.weight_ih_l0)
        b.linear.bias.copy_(a.rnn.bias_ih_l0 + a.rnn.bias_hh_l0)
    params_a = [a.rnn.weight_ih_l0] + ([a.rnn.weight_hh_l0] if learn_beta else [])
    params_b = [b.linear.weight] + ([b.weight_hh] if learn_beta else [])
    ra = grads(lambda x: (a(x), []), _x(scale=1.0), params_a)
    rb = grads(lambda x: (b(x), []), _x(scale=1.0), params_b)
    close(ra[0], rb[0])
    close(ra[2], rb[2], rtol=GRAD_RTOL)
    for u, v in zip(ra[3], rb[3], strict=True):
        close(u, v, rtol=GRAD_RTOL)
    b.weight_hh_enable()
    close(b.weight_hh, torch.eye(4) * 0.3)


def test_leaky_parallel_dropout_is_applied_and_documented():
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="no effect"):
        b = sc.LeakyParallel(N, 4, beta=0.9, dropout=0.5)
    xs = _x(scale=1.0)
    b.eval()
    eval_out = b(xs)
    close(b(xs), eval_out)                       # no dropout in eval mode
    b.train()
    torch.manual_seed(0)
    assert not torch.equal(b.run(xs)[1].mem, b.eval().run(xs)[1].mem)


def test_setting_reset_mechanism_is_checked_and_takes_effect():
    # (snnTorch updates the attribute but keeps the update rule chosen at construction)
    a, b = st.Leaky(beta=0.9, reset_mechanism="zero"), sc.Leaky(beta=0.9)
    b.reset_mechanism = "zero"
    assert int(b.reset_mechanism_val) == 1
    close(drive(a, _x(scale=1.5), "init_leaky"), drive(b, _x(scale=1.5), "init_leaky"))
    with pytest.raises(ValueError, match="reset_mechanism must be one of"):
        b.reset_mechanism = "zeros"


def test_spiking_neuron_helpers_match_snntorch():
    a = st.SpikingNeuron(threshold=0.5, graded_spikes_factor=2.0)
    b = sc.SpikingNeuron(threshold=0.5, graded_spikes_factor=2.0)
    mem = torch.randn(4, 6, generator=torch.Generator().manual_seed(3))
    close(a.fire(mem), b.fire(mem))
    close(a.mem_reset(mem), b.mem_reset(mem))
    close(a.fire_inhibition(4, mem), b.fire_inhibition(4, mem))
    t = torch.ones(3, requires_grad=True) * 2
    sc.SpikingNeuron.detach(t)
    assert not t.requires_grad
    z = torch.ones(3)
    sc.SpikingNeuron.zeros(z)   # zeroes in place (snnTorch's leaves the tensor unchanged)
    assert torch.equal(z, torch.zeros(3))
    assert b in sc.SpikingNeuron.instances
    sc.SpikingNeuron.init()
    assert len(sc.SpikingNeuron.instances) == 0
    lif = sc.LIF(beta=0.8, learn_beta=True)
    assert isinstance(lif.beta, torch.nn.Parameter) and float(lif.beta) == pytest.approx(0.8)
    assert isinstance(sc.Leaky(beta=0.9), (sc.LIF, sc.SpikingNeuron, snncore.Leaky))


def test_uncalled_surrogate_factory_is_a_clear_error():
    with pytest.raises(TypeError, match=r"call it: spike_grad=surrogate.fast_sigmoid\(\)"):
        sc.Leaky(beta=0.9, spike_grad=sc.surrogate.fast_sigmoid)
    with pytest.raises(TypeError, match="spike_grad must be None"):
        sc.Leaky(beta=0.9, spike_grad=3)


def test_apply_of_a_surrogate_class_runs_fused():
    lif = sc.Leaky(beta=0.9, spike_grad=sc.surrogate.FastSigmoid.apply)
    assert isinstance(lif.surrogate, snncore.surrogates.FastSigmoid)
    assert lif.surrogate.slope == 25


@pytest.mark.parametrize("name,kw,init,shape", [
    ("SLSTM", dict(input_size=N, hidden_size=N), "init_slstm", (T, B, N)),
    ("SConv2dLSTM", dict(in_channels=2, out_channels=3, kernel_size=3), "init_sconv2dlstm",
     (6, 2, 2, 4, 4)),
])
def test_lstm_inhibition_is_a_documented_difference(name, kw, init, shape):
    """snnTorch's LSTM cells accept inhibition=True and ignore it; compat warns and applies
    winner-take-all, as snn_neurons_extra's cells do."""
    import snn_neurons_extra as extra

    kw = dict(kw, threshold=0.05, reset_mechanism="subtract", inhibition=True)
    snn_compat.reset_warnings()
    torch.manual_seed(1)
    a = getattr(st, name)(**kw)
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="ignore it"):
        b = getattr(sc, name)(**kw)
    b.load_state_dict(a.state_dict(), strict=True)
    ref_kw = {k: v for k, v in kw.items() if k != "reset_mechanism"}
    ref = getattr(extra, name)(reset="subtract", **ref_kw)
    ref.load_state_dict(b.state_dict(), strict=False)  # the plain cell has no reset_mechanism_val
    xs = _x(shape, scale=4.0)
    spk_a, _ = drive(a, xs, init)
    spk_b, _ = drive(b, xs, init)
    spk_r, _ = ref.trace(xs)
    close(spk_b, spk_r)
    assert not torch.equal(spk_a, spk_b), "the documented difference should show on this input"


@pytest.mark.parametrize("call", [
    lambda: sc.LeakyParallel(3, 4, beta=torch.tensor([0.5, 0.6, 0.7, 0.8]))(torch.rand(5, 2, 3)),
    lambda: sc.utils.reset(nn.Sequential(sc.Leaky(0.9, init_hidden=True))),
    lambda: sc.SpikingNeuron.zeros(torch.ones(3)),
], ids=["leaky_parallel_per_neuron_beta", "utils_reset", "zeros"])
def test_documented_differences_warn(call):
    snn_compat.reset_warnings()
    with pytest.warns(snn_compat.CompatDifferenceWarning, match="differs from snnTorch"):
        call()


@pytest.mark.parametrize("make, shape", [
    (lambda **kw: sc.DeltaLeaky(beta=0.9, **kw), (T, B, N)),
    (lambda **kw: sc.LeakyParallel(N, 3, beta=0.9, **kw), (T, B, N)),
    (lambda **kw: sc.StateLeaky(beta=0.9, channels=N, **kw), (T, B, N)),
    (lambda **kw: sc.LinearLeaky(0.9, N, 3, **kw), (T, B, N)),
])
def test_spike_grad_set_after_construction_is_used(make, shape):
    """snnTorch reads ``spike_grad`` on every step: assigning it later takes effect (it is
    the neuron's surrogate), on the time-parallel and delta neurons as on Leaky."""
    def input_grad(neuron):
        x = _x(shape, scale=2.0).requires_grad_()
        if isinstance(neuron, sc.DeltaLeaky):  # step by step, the state pair as in snnTorch
            mem, rec = neuron.reset_mem(), []
            for xt in x:
                s, mem = neuron(xt, mem)
                rec.append(s)
            spk = torch.stack(rec)
        else:
            out = neuron(x)
            spk = out[0] if isinstance(out, tuple) else out
        spk.sum().backward()
        return x.grad

    torch.manual_seed(4)
    later = quiet(make)
    later.spike_grad = sc.surrogate.fast_sigmoid(slope=10)
    torch.manual_seed(4)
    built = quiet(lambda: make(spike_grad=sc.surrogate.fast_sigmoid(slope=10)))
    torch.manual_seed(4)
    default = quiet(make)
    assert later.spike_grad is later.surrogate
    close(input_grad(later), input_grad(built))
    assert not torch.allclose(input_grad(later), input_grad(default))
