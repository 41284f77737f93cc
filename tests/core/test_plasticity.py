"""snncore.plasticity: STDP / MSTDP / MSTDP-ET against a NumPy reference written from the
equations, input checks, the sequence form and the hook-based learner."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import snncore
from snncore import plasticity as P


def _np_linear_rule(w, pre_seq, post_seq, tau_pre, tau_post, a_pre, a_post, decay,
                    reward=None, tau_e=None):
    """Loop-per-entry reference: traces, pair eligibility, optional reward and trace."""
    lam = (lambda tau: math.exp(-1 / tau)) if decay == "exp" else (lambda tau: 1 - 1 / tau)
    steps, batch, n_in = pre_seq.shape
    n_out = post_seq.shape[2]
    xp, xq = np.zeros((batch, n_in)), np.zeros((batch, n_out))
    elig = np.zeros((batch, n_out, n_in))
    total = np.zeros_like(w)
    for t in range(steps):
        xp = lam(tau_pre) * xp + pre_seq[t]
        xq = lam(tau_post) * xq + post_seq[t]
        dw = np.zeros_like(w)
        for b in range(batch):
            zeta = np.zeros_like(w)
            for o in range(n_out):
                for i in range(n_in):
                    zeta[o, i] = (a_post(w[o, i]) * post_seq[t, b, o] * xp[b, i]
                                  - a_pre(w[o, i]) * xq[b, o] * pre_seq[t, b, i])
            if tau_e is not None:
                elig[b] = math.exp(-1 / tau_e) * elig[b] + zeta / tau_e
                zeta = elig[b]
            r = 1.0 if reward is None else reward[t, b]
            dw += r * zeta
        total += dw
    return total, xp, xq


def _spikes(*shape, p=0.4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g) < p).double()


@pytest.mark.parametrize("decay", ["exp", "euler"])
def test_stdp_matches_numpy_reference(decay):
    torch.manual_seed(0)
    fc = nn.Linear(4, 3).double()
    pre, post = _spikes(6, 2, 4, seed=1), _spikes(6, 2, 3, seed=2)
    w = fc.weight.detach().numpy()
    dw, traces = P.stdp(fc, pre, post, tau_pre=2.0, tau_post=3.0, f_pre=0.5,
                        f_post=lambda x: 1 - x, decay=decay)
    ref, xp, xq = _np_linear_rule(w, pre.numpy(), post.numpy(), 2.0, 3.0, lambda x: 0.5,
                                  lambda x: 1 - x, decay)
    np.testing.assert_allclose(dw.numpy(), ref, atol=1e-12)
    np.testing.assert_allclose(traces.pre.numpy(), xp, atol=1e-12)
    np.testing.assert_allclose(traces.post.numpy(), xq, atol=1e-12)


def test_mstdp_and_mstdpet_match_numpy_reference():
    fc = nn.Linear(3, 2).double()
    pre, post = _spikes(5, 3, 3, seed=3), _spikes(5, 3, 2, seed=4)
    reward = torch.randn(5, 3, generator=torch.Generator().manual_seed(5)).double()
    w = fc.weight.detach().numpy()
    dw, _ = P.stdp(fc, pre, post, tau_pre=2.0, tau_post=2.5, reward=reward)
    ref, _, _ = _np_linear_rule(w, pre.numpy(), post.numpy(), 2.0, 2.5, lambda x: 1.0,
                                lambda x: 1.0, "exp", reward=reward.numpy())
    np.testing.assert_allclose(dw.numpy(), ref, atol=1e-12)
    state, total = None, torch.zeros_like(fc.weight)
    for t in range(5):
        state, d = P.mstdpet_step(fc, pre[t], post[t], reward[t], state, tau_pre=2.0,
                                  tau_post=2.5, tau_trace=4.0)
        total = total + d
    ref, _, _ = _np_linear_rule(w, pre.numpy(), post.numpy(), 2.0, 2.5, lambda x: 1.0,
                                lambda x: 1.0, "exp", reward=reward.numpy(), tau_e=4.0)
    np.testing.assert_allclose(total.detach().numpy(), ref, atol=1e-12)
    assert state.eligibility.shape == (3, 2, 3)


def test_pair_rule_signs():
    """Pre then post potentiates; post then pre depresses (additive amplitudes)."""
    fc = nn.Linear(1, 1)
    one, zero = torch.ones(1, 1), torch.zeros(1, 1)
    ltp, _ = P.stdp(fc, torch.stack([one, zero]), torch.stack([zero, one]), tau_pre=2.0,
                    tau_post=2.0)
    ltd, _ = P.stdp(fc, torch.stack([zero, one]), torch.stack([one, zero]), tau_pre=2.0,
                    tau_post=2.0)
    assert ltp.item() == pytest.approx(math.exp(-0.5))
    assert ltd.item() == pytest.approx(-math.exp(-0.5))


@pytest.mark.parametrize("conv,shape", [
    (nn.Conv2d(2, 3, 3, stride=2, padding=1, dilation=1), (2, 2, 7, 6)),
    (nn.Conv2d(2, 3, 3, padding="same", dilation=2), (2, 2, 6, 6)),
    (nn.Conv1d(2, 3, 3, padding=1, padding_mode="replicate"), (2, 2, 8)),
])
def test_conv_rule_equals_the_explicit_sum(conv, shape):
    """dw[o, i, k] = Σ_{b, positions} post·pre_trace(patch) − post_trace·pre(patch)."""
    conv = conv.double()
    pre = _spikes(*shape, seed=6)
    post = (conv(pre) > 0).double()
    traces, dw = P.stdp_step(conv, pre, post, tau_pre=2.0, tau_post=2.0, f_pre=0.3)
    # reference: the rule on the unfolded patches is the Linear rule per output position
    padded = traces.pre - 0  # the trace after one step equals the padded input spikes
    two_d = pre.dim() == 4
    k = conv.kernel_size if two_d else (1, conv.kernel_size[0])
    s = conv.stride if two_d else (1, conv.stride[0])
    d = conv.dilation if two_d else (1, conv.dilation[0])
    p4 = padded if two_d else padded.unsqueeze(2)
    cols = torch.nn.functional.unfold(p4, k, dilation=d, stride=s)  # [B, Cin*k, L]
    ref = torch.zeros(conv.weight.shape[0], cols.shape[1], dtype=torch.float64)
    post_f = post.reshape(post.shape[0], post.shape[1], -1)
    for b in range(pre.shape[0]):
        for pos in range(cols.shape[2]):
            ref += torch.outer(post_f[b, :, pos], cols[b, :, pos])          # LTP
            ref -= 0.3 * torch.outer(post_f[b, :, pos], cols[b, :, pos])    # LTD, same step
    torch.testing.assert_close(dw, ref.reshape(conv.weight.shape), atol=1e-10, rtol=0)


def test_bad_inputs_raise_naming_the_argument():
    fc = nn.Linear(3, 2)
    x, y = torch.ones(4, 3), torch.ones(4, 2)
    with pytest.raises(TypeError, match="synapse"):
        P.stdp_step(nn.ReLU(), x, y, tau_pre=2, tau_post=2)
    with pytest.raises(ValueError, match="tau_pre"):
        P.stdp_step(fc, x, y, tau_pre=0, tau_post=2)
    with pytest.raises(ValueError, match="tau_post.*euler"):
        P.stdp_step(fc, x, y, tau_pre=2, tau_post=0.5, decay="euler")
    with pytest.raises(ValueError, match="decay"):
        P.stdp_step(fc, x, y, tau_pre=2, tau_post=2, decay="linear")
    with pytest.raises(ValueError, match="pre_spk"):
        P.stdp_step(fc, torch.ones(4, 5), y, tau_pre=2, tau_post=2)
    with pytest.raises(ValueError, match="batch"):
        P.stdp_step(fc, x, torch.ones(3, 2), tau_pre=2, tau_post=2)
    with pytest.raises(TypeError, match="floating"):
        P.stdp_step(fc, x.long(), y, tau_pre=2, tau_post=2)
    with pytest.raises(ValueError, match="traces.pre"):
        P.stdp_step(fc, x, y, P.STDPTraces(torch.ones(2, 3), None), tau_pre=2, tau_post=2)
    with pytest.raises(ValueError, match="reward"):
        P.stdp_step(fc, x, y, tau_pre=2, tau_post=2, reward=torch.ones(3))
    with pytest.raises(ValueError, match="groups"):
        P.stdp_step(nn.Conv2d(2, 2, 3, groups=2), torch.ones(1, 2, 5, 5),
                    torch.ones(1, 2, 3, 3), tau_pre=2, tau_post=2)
    with pytest.raises(ValueError, match="positions"):
        P.stdp_step(nn.Conv2d(2, 2, 3), torch.ones(1, 2, 5, 5), torch.ones(1, 2, 4, 4),
                    tau_pre=2, tau_post=2)
    with pytest.raises(ValueError, match="time-first"):
        P.stdp(fc, x, y, tau_pre=2, tau_post=2)
    with pytest.raises(TypeError, match="reward"):
        P.mstdpet_step(fc, x, y, None, tau_pre=2, tau_post=2, tau_trace=2)


def test_learner_records_single_steps_and_writes_minus_dw_into_grad():
    torch.manual_seed(1)
    fc, lif = nn.Linear(6, 4), snncore.Leaky(beta=0.8, threshold=0.3, stateful=True)
    learner = P.STDPLearner(fc, lif, tau_pre=2.0, tau_post=3.0, f_pre=0.5)
    xs = (torch.rand(8, 5, 6) < 0.5).float()
    outs = []
    with torch.no_grad():
        for x in xs:
            outs.append(lif(fc(x)))
    want, _ = P.stdp(fc, xs, torch.stack(outs), tau_pre=2.0, tau_post=3.0, f_pre=0.5)
    assert want.abs().sum() > 0
    learner.step()
    torch.testing.assert_close(fc.weight.grad, -want)
    assert not learner.pre_records and not learner.post_records
    # an optimizer step adds lr * dW
    w0 = fc.weight.detach().clone()
    torch.optim.SGD([fc.weight], lr=0.1).step()
    torch.testing.assert_close(fc.weight.detach(), w0 + 0.1 * want)
    # disabled: nothing recorded; step gives zeros
    learner.disable()
    lif(fc(xs[0]))
    assert torch.count_nonzero(learner.step(on_grad=False)) == 0
    learner.enable()
    lif(fc(xs[0]))
    fc(xs[0])
    with pytest.raises(snncore.SnncoreError, match="synapse inputs"):
        learner.step()
    learner.reset()
    assert learner.traces is None and not learner.pre_records
    learner.remove()
    lif(fc(xs[0]))
    assert not learner.pre_records
    assert "synapse" not in dict(learner.named_children())


def test_float32_matches_float64():
    fc = nn.Linear(20, 10)
    pre, post = _spikes(30, 8, 20, seed=9).float(), _spikes(30, 8, 10, seed=10).float()
    dw32, _ = P.stdp(fc, pre, post, tau_pre=5.0, tau_post=5.0)
    dw64, _ = P.stdp(fc.double(), pre.double(), post.double(), tau_pre=5.0, tau_post=5.0)
    torch.testing.assert_close(dw32.double(), dw64, atol=1e-4, rtol=1e-5)
