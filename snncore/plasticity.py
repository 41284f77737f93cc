r"""Spike-timing-dependent plasticity (STDP): local, trace-based weight updates of a synapse
(``nn.Linear``, ``nn.Conv1d``, ``nn.Conv2d``) from its pre- and post-synaptic spikes.

Each step :math:`t` takes the synapse's input spikes :math:`s^{pre}_t` and the spikes
:math:`s^{post}_t` of the neurons it drives, and updates two exponentially decaying traces
(:math:`\lambda = e^{-1/\tau}` with ``decay="exp"``, :math:`1 - 1/\tau` with ``decay="euler"``)

.. math::
    x^{pre}_t = \lambda_{pre} x^{pre}_{t-1} + s^{pre}_t, \qquad
    x^{post}_t = \lambda_{post} x^{post}_{t-1} + s^{post}_t

and the pair-based eligibility of every sample :math:`b` (for ``nn.Linear``, with
:math:`\otimes` the outer product over ``(out, in)``; for convolutions the same sum runs over
every output position and the input patch under the kernel)

.. math::
    \zeta_{b,t} = f_{post}(W) \odot (s^{post}_{b,t} \otimes x^{pre}_{b,t})
                 - f_{pre}(W) \odot (x^{post}_{b,t} \otimes s^{pre}_{b,t}):

a post-synaptic spike potentiates by the pre-synaptic trace (pre before post) and a
pre-synaptic spike depresses by the post-synaptic trace (post before pre). ``f_pre``/``f_post``
are the amplitudes: numbers (additive STDP) or functions of the weight (weight-dependent STDP,
e.g. ``lambda w: 1 - w`` for soft bounds). The rules:

- **STDP**: :math:`\Delta W_t = \sum_b \zeta_{b,t}` (:func:`stdp_step`, :func:`stdp`,
  :class:`STDPLearner`);
- **MSTDP** (reward-modulated, Florian 2007): :math:`\Delta W_t = \sum_b r_{b,t}\,\zeta_{b,t}`
  (``reward=`` of :func:`stdp_step`);
- **MSTDP-ET** (with an eligibility trace): :math:`e_{b,t} = e^{-1/\tau_e} e_{b,t-1} +
  \zeta_{b,t} / \tau_e`, :math:`\Delta W_t = \sum_b r_{b,t}\, e_{b,t}` (:func:`mstdpet_step`).

:math:`\Delta W` is the change to *add* to the weight (``W += lr * dW``);
:meth:`STDPLearner.step` writes :math:`-\Delta W` into ``weight.grad`` so that any optimizer
(``torch.optim.SGD(lr=...)``) applies it, alone or added to a surrogate gradient.

Conventions: spikes of one step are ``[B, features]`` (``nn.Linear``) or ``[B, C, L]`` /
``[B, C, H, W]`` (convolutions); whole sequences are time-first ``[T, B, ...]`` (:func:`stdp`).
A convolution's pre-synaptic trace lives on the padded input (``[B, C, L + 2p]``), so a
trace is local to the input positions the kernel sees. Grouped convolutions are not supported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._errors import SnncoreError
from ._validate import check_bool, check_choice, check_number

__all__ = [
    "STDPTraces",
    "MSTDPETState",
    "trace_decay",
    "stdp_step",
    "mstdpet_step",
    "stdp",
    "STDPLearner",
]

Amplitude = float | Callable[[Tensor], Tensor]
_SYNAPSES = (nn.Linear, nn.Conv1d, nn.Conv2d)


class STDPTraces(NamedTuple):
    """Pre- and post-synaptic traces of one synapse: ``pre`` is shaped like the (padded)
    input spikes, ``post`` like the output spikes. ``None`` (or a number) in a field means a
    constant trace of that value (``None``: zeros)."""

    pre: Any
    post: Any


class MSTDPETState(NamedTuple):
    """State of :func:`mstdpet_step`: the two traces and the eligibility trace of every
    sample, ``[B, *weight.shape]`` (``None``: zeros)."""

    pre: Any
    post: Any
    eligibility: Any


def trace_decay(tau: float, decay: str = "exp", *, name: str = "tau",
                fn: str = "trace_decay") -> float:
    r"""The per-step factor :math:`\lambda` of a trace with time constant ``tau`` (in steps):
    :math:`e^{-1/\tau}` (``decay="exp"``, ``tau > 0``) or :math:`1 - 1/\tau`
    (``decay="euler"``, the forward-Euler step of :math:`\dot x = -x/\tau`, ``tau >= 1``)."""
    tau = check_number(tau, name, fn, positive=True)
    check_choice(decay, "decay", fn, ("exp", "euler"))
    if decay == "euler":
        if tau < 1:
            raise ValueError(f"{fn}: {name} must be >= 1 with decay='euler' (the factor "
                             f"1 - 1/{name} would be negative), got {tau!r}; use decay='exp'")
        return 1.0 - 1.0 / tau
    return math.exp(-1.0 / tau)


# -- checks ---------------------------------------------------------------------------------
def _check_synapse(synapse: Any, fn: str) -> nn.Module:
    if not isinstance(synapse, _SYNAPSES):
        raise TypeError(f"{fn}: synapse must be a torch.nn.Linear, Conv1d or Conv2d, got "
                        f"{type(synapse).__name__}")
    if isinstance(synapse, (nn.Conv1d, nn.Conv2d)) and synapse.groups != 1:
        raise ValueError(f"{fn}: synapse has groups={synapse.groups}; STDP supports groups=1 "
                         "only (split a grouped convolution into one Conv per group)")
    return synapse


def _check_spikes(x: Any, name: str, fn: str, dims: int, features: int, what: str) -> Tensor:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"{fn}: {name} must be a floating-point tensor, got "
                        f"{type(x).__name__ if not isinstance(x, Tensor) else x.dtype}")
    if x.dim() != dims or x.shape[1] != features:
        raise ValueError(f"{fn}: {name} must have shape {what} with {features} features/"
                         f"channels in dim 1 (one time step; a batch dim first), got "
                         f"{tuple(x.shape)}")
    return x


def _amplitude(f: Any, weight: Tensor, name: str, fn: str) -> Any:
    if callable(f):
        out = f(weight)
        if not isinstance(out, Tensor) and not isinstance(out, (int, float)):
            raise TypeError(f"{fn}: {name}(weight) must return a tensor or a number, got "
                            f"{type(out).__name__}")
        return out
    return check_number(f, name, fn)


def _trace(value: Any, like: Tensor, name: str, fn: str) -> Tensor:
    if value is None:
        return torch.zeros_like(like)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return torch.full_like(like, float(value))
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}: {name} must be a tensor, a number or None, got "
                        f"{type(value).__name__}")
    if value.shape != like.shape:
        raise ValueError(f"{fn}: {name} has shape {tuple(value.shape)} but the spikes it "
                         f"follows have shape {tuple(like.shape)}; pass None after a change of "
                         "batch size (a fresh trace)")
    return value


# -- geometry of a synapse ------------------------------------------------------------------
def _pad_input(conv: nn.Module, x: Tensor) -> Tensor:
    """``x`` padded as ``conv`` pads its input (any ``padding_mode``, ``"same"``/``"valid"``)."""
    k, d = conv.kernel_size, conv.dilation
    if isinstance(conv.padding, str):
        pads = [(0, 0)] * len(k) if conv.padding == "valid" else [
            (d[i] * (k[i] - 1) // 2, d[i] * (k[i] - 1) - d[i] * (k[i] - 1) // 2)
            for i in range(len(k))]
    else:
        pads = [(p, p) for p in conv.padding]
    flat = [v for pair in reversed(pads) for v in pair]
    if not any(flat):
        return x
    mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
    return F.pad(x, flat, mode=mode)


def _correlate(synapse: nn.Module, post: Tensor, pre: Tensor, per_sample: bool) -> Tensor:
    r""":math:`\sum_{positions} post \otimes pre` per weight entry, summed over the batch
    (or per sample): ``[out, in(, k...)]`` (``[B, out, in(, k...)]``)."""
    if isinstance(synapse, nn.Linear):
        return torch.einsum("bo,bi->boi" if per_sample else "bo,bi->oi", post, pre)
    two_d = isinstance(synapse, nn.Conv2d)
    k = synapse.kernel_size if two_d else (1, synapse.kernel_size[0])
    s = synapse.stride if two_d else (1, synapse.stride[0])
    d = synapse.dilation if two_d else (1, synapse.dilation[0])
    pre4 = pre if two_d else pre.unsqueeze(2)
    patches = F.unfold(pre4, kernel_size=k, dilation=d, stride=s)  # [B, C_in*k, L]
    post_flat = post.reshape(post.shape[0], post.shape[1], -1)  # [B, C_out, L]
    if patches.shape[-1] != post_flat.shape[-1]:
        raise ValueError(f"post-synaptic spikes have {tuple(post.shape[2:])} positions, but the "
                         f"convolution maps the input to {patches.shape[-1]} positions")
    out = torch.einsum("bol,bkl->bok" if per_sample else "bol,bkl->ok", post_flat, patches)
    lead = (post.shape[0],) if per_sample else ()
    return out.reshape(*lead, *synapse.weight.shape)


def _eligibility(synapse: nn.Module, pre_spk: Tensor, post_spk: Tensor, traces: STDPTraces,
                 f_pre: Any, f_post: Any, post_scale: Tensor | None,
                 per_sample: bool) -> Tensor:
    post_a, trace_post = post_spk, traces.post
    if post_scale is not None:
        post_a, trace_post = post_spk * post_scale, traces.post * post_scale
    ltp = _correlate(synapse, post_a, traces.pre, per_sample)
    ltd = _correlate(synapse, trace_post, pre_spk, per_sample)
    return f_post * ltp - f_pre * ltd


def _step(synapse: Any, pre_spk: Any, post_spk: Any, traces: Any, tau_pre: float,
          tau_post: float, f_pre: Any, f_post: Any, decay: str,
          fn: str) -> tuple[nn.Module, Tensor, Tensor, STDPTraces, Any, Any]:
    """Checks and the trace update shared by the rules."""
    synapse = _check_synapse(synapse, fn)
    lam_pre = trace_decay(tau_pre, decay, name="tau_pre", fn=fn)
    lam_post = trace_decay(tau_post, decay, name="tau_post", fn=fn)
    weight = synapse.weight.detach()
    dims = weight.dim()
    if isinstance(synapse, nn.Linear):
        what_in, what_out = "[B, in_features]", "[B, out_features]"
    else:
        what_in = what_out = "[B, C, L]" if dims == 3 else "[B, C, H, W]"
    pre_spk = _check_spikes(pre_spk, "pre_spk", fn, dims, weight.shape[1], what_in)
    post_spk = _check_spikes(post_spk, "post_spk", fn, dims, weight.shape[0], what_out)
    if pre_spk.shape[0] != post_spk.shape[0]:
        raise ValueError(f"{fn}: pre_spk and post_spk must have the same batch size, got "
                         f"{pre_spk.shape[0]} and {post_spk.shape[0]}")
    pre_spk, post_spk = pre_spk.detach(), post_spk.detach()
    if not isinstance(synapse, nn.Linear):
        pre_spk = _pad_input(synapse, pre_spk)
    if traces is None:
        traces = STDPTraces(None, None)
    if not isinstance(traces, tuple) or len(traces) < 2:
        raise TypeError(f"{fn}: traces must be an STDPTraces(pre, post) or None, got "
                        f"{type(traces).__name__}")
    tr_pre = _trace(traces[0], pre_spk, "traces.pre", fn)
    tr_post = _trace(traces[1], post_spk, "traces.post", fn)
    if decay == "euler":  # written as the Euler step x + (-x / tau) + s
        tr_pre = tr_pre - tr_pre / tau_pre + pre_spk
        tr_post = tr_post - tr_post / tau_post + post_spk
    else:
        tr_pre = tr_pre * lam_pre + pre_spk
        tr_post = tr_post * lam_post + post_spk
    amp_pre = _amplitude(f_pre, weight, "f_pre", fn)
    amp_post = _amplitude(f_post, weight, "f_post", fn)
    return synapse, pre_spk, post_spk, STDPTraces(tr_pre, tr_post), amp_pre, amp_post


def _reward_scale(reward: Any, post_spk: Tensor, fn: str) -> Tensor | None:
    if reward is None:
        return None
    if isinstance(reward, (int, float)) and not isinstance(reward, bool):
        return torch.tensor(check_number(reward, "reward", fn), dtype=post_spk.dtype,
                            device=post_spk.device)
    if not isinstance(reward, Tensor):
        raise TypeError(f"{fn}: reward must be a number, a tensor [B] or None, got "
                        f"{type(reward).__name__}")
    batch = post_spk.shape[0]
    if reward.dim() == 0:
        return reward.to(post_spk.dtype)
    if reward.dim() != 1 or reward.shape[0] != batch:
        raise ValueError(f"{fn}: reward must be a number or a tensor [B] = [{batch}] (one "
                         f"reward per sample), got shape {tuple(reward.shape)}")
    return reward.to(post_spk.dtype).reshape(batch, *([1] * (post_spk.dim() - 1)))


# -- public rules ---------------------------------------------------------------------------
def stdp_step(synapse: nn.Module, pre_spk: Tensor, post_spk: Tensor,
              traces: STDPTraces | None = None, *, tau_pre: float, tau_post: float,
              f_pre: Amplitude = 1.0, f_post: Amplitude = 1.0, decay: str = "exp",
              reward: float | Tensor | None = None,
              per_sample: bool = False) -> tuple[STDPTraces, Tensor]:
    r"""One step of pair-based STDP (or reward-modulated MSTDP with ``reward``):
    :math:`\Delta W = \sum_b r_b \zeta_b`, :math:`\zeta_b = f_{post}(W) \odot (s^{post}_b
    \otimes x^{pre}_b) - f_{pre}(W) \odot (x^{post}_b \otimes s^{pre}_b)`, after the trace
    update :math:`x_t = \lambda x_{t-1} + s_t` (see the module docstring).

    Args:
        synapse: the ``nn.Linear``, ``nn.Conv1d`` or ``nn.Conv2d`` (``groups=1``) whose input
            spikes are ``pre_spk``; its weight is read, not changed.
        pre_spk: the synapse's input spikes of this step.
        post_spk: the spikes of the neurons the synapse drives, this step.
        traces: the traces returned by the previous step (``None``: zeros).
        tau_pre, tau_post: trace time constants in steps (``> 0``; ``>= 1`` with
            ``decay="euler"``).
        f_pre, f_post: depression / potentiation amplitudes: numbers or functions of the
            weight returning a tensor broadcastable to it. Default: 1.0.
        decay: ``"exp"`` (:math:`\lambda = e^{-1/\tau}`) or ``"euler"`` (:math:`1 - 1/\tau`).
            Default: "exp".
        reward: ``None`` (plain STDP), a number, or one reward per sample ``[B]`` (MSTDP).
        per_sample: return :math:`r_b \zeta_b` of every sample ``[B, *weight.shape]`` instead
            of their sum. Default: False.

    Shape:
        ``nn.Linear``: ``pre_spk (B, in)``, ``post_spk (B, out)``; ``nn.Conv1d``: ``(B, C, L)``;
        ``nn.Conv2d``: ``(B, C, H, W)``; ``post_spk`` has the convolution's output size.
        Returns ``(traces, dw)`` with ``dw`` shaped like the weight (``(B, *weight.shape)`` with
        ``per_sample``); ``traces.pre`` is shaped like the padded input.

    Example:
        >>> fc = torch.nn.Linear(3, 2)
        >>> traces, dw = stdp_step(fc, torch.ones(4, 3), torch.ones(4, 2), tau_pre=2.0,
        ...                        tau_post=2.0)
        >>> dw.shape
        torch.Size([2, 3])
    """
    fn = "stdp_step"
    check_bool(per_sample, "per_sample", fn)
    synapse, pre_spk, post_spk, traces, a_pre, a_post = _step(
        synapse, pre_spk, post_spk, traces, tau_pre, tau_post, f_pre, f_post, decay, fn)
    scale = _reward_scale(reward, post_spk, fn)
    dw = _eligibility(synapse, pre_spk, post_spk, traces, a_pre, a_post, scale, per_sample)
    return traces, dw


def mstdpet_step(synapse: nn.Module, pre_spk: Tensor, post_spk: Tensor,
                 reward: float | Tensor, state: MSTDPETState | None = None, *,
                 tau_pre: float, tau_post: float, tau_trace: float,
                 f_pre: Amplitude = 1.0, f_post: Amplitude = 1.0,
                 decay: str = "exp") -> tuple[MSTDPETState, Tensor]:
    r"""One step of reward-modulated STDP with an eligibility trace (MSTDP-ET):
    :math:`e_{b,t} = e^{-1/\tau_e} e_{b,t-1} + \zeta_{b,t}/\tau_e`, :math:`\Delta W_t =
    \sum_b r_{b,t}\, e_{b,t}`, with :math:`\zeta` as in :func:`stdp_step`.

    Args:
        synapse, pre_spk, post_spk, tau_pre, tau_post, f_pre, f_post, decay: as
            :func:`stdp_step`.
        reward: this step's reward: a number or ``[B]``.
        state: the state returned by the previous step (``None``: zeros).
        tau_trace: time constant :math:`\tau_e` of the eligibility trace in steps (``> 0``).

    Shape:
        As :func:`stdp_step`; ``state.eligibility`` is ``(B, *weight.shape)``.

    Example:
        >>> fc = torch.nn.Linear(3, 2)
        >>> state, dw = mstdpet_step(fc, torch.ones(1, 3), torch.ones(1, 2), reward=1.0,
        ...                          tau_pre=2.0, tau_post=2.0, tau_trace=5.0)
        >>> state.eligibility.shape
        torch.Size([1, 2, 3])
    """
    fn = "mstdpet_step"
    lam_e = trace_decay(tau_trace, "exp", name="tau_trace", fn=fn)
    if reward is None:
        raise TypeError(f"{fn}: reward must be a number or a tensor [B], got None (use "
                        "stdp_step for unmodulated STDP)")
    if state is None:
        state = MSTDPETState(None, None, None)
    if not isinstance(state, tuple) or len(state) != 3:
        raise TypeError(f"{fn}: state must be an MSTDPETState(pre, post, eligibility) or None, "
                        f"got {type(state).__name__}")
    synapse, pre_spk, post_spk, traces, a_pre, a_post = _step(
        synapse, pre_spk, post_spk, STDPTraces(state[0], state[1]), tau_pre, tau_post, f_pre,
        f_post, decay, fn)
    scale = _reward_scale(reward, post_spk, fn)
    zeta = _eligibility(synapse, pre_spk, post_spk, traces, a_pre, a_post, None, True)
    elig = _trace(state[2], zeta, "state.eligibility", fn) * lam_e + zeta / float(tau_trace)
    r = scale.reshape(-1, *([1] * (elig.dim() - 1))) if scale.dim() else scale
    dw = (r * elig).sum(0)
    return MSTDPETState(traces.pre, traces.post, elig), dw


def stdp(synapse: nn.Module, pre_seq: Tensor, post_seq: Tensor,
         traces: STDPTraces | None = None, *, tau_pre: float, tau_post: float,
         f_pre: Amplitude = 1.0, f_post: Amplitude = 1.0, decay: str = "exp",
         reward: float | Tensor | None = None) -> tuple[Tensor, STDPTraces]:
    r"""STDP (MSTDP with ``reward``) over a whole time-first record: :math:`\sum_t \Delta W_t`
    of :func:`stdp_step`.

    Args:
        synapse, traces, tau_pre, tau_post, f_pre, f_post, decay: as :func:`stdp_step`.
        pre_seq: the synapse's input spikes ``[T, B, ...]``.
        post_seq: the driven neurons' spikes ``[T, B, ...]``.
        reward: ``None``, a number, or a tensor ``[T]`` or ``[T, B]`` (one reward per step, or
            per step and sample).

    Shape:
        ``pre_seq (T, B, ...)``, ``post_seq (T, B, ...)`` -> ``(dw, traces)``, ``dw`` shaped
        like the weight; ``traces`` are those after the last step.

    Example:
        >>> fc = torch.nn.Linear(3, 2)
        >>> pre = (torch.rand(10, 4, 3) < 0.3).float()
        >>> post = (torch.rand(10, 4, 2) < 0.3).float()
        >>> dw, traces = stdp(fc, pre, post, tau_pre=5.0, tau_post=5.0)
        >>> with torch.no_grad():
        ...     _ = fc.weight.add_(0.01 * dw)
    """
    fn = "stdp"
    for name, seq in (("pre_seq", pre_seq), ("post_seq", post_seq)):
        if not isinstance(seq, Tensor) or seq.dim() < 3:
            raise ValueError(f"{fn}: {name} must be a time-first tensor [T, B, ...], got "
                             f"{tuple(seq.shape) if isinstance(seq, Tensor) else type(seq)}")
    if pre_seq.shape[0] != post_seq.shape[0]:
        raise ValueError(f"{fn}: pre_seq and post_seq must have the same number of steps, got "
                         f"{pre_seq.shape[0]} and {post_seq.shape[0]}")
    steps = pre_seq.shape[0]
    if isinstance(reward, Tensor) and (reward.dim() not in (1, 2) or reward.shape[0] != steps):
        raise ValueError(f"{fn}: a reward tensor must be [T] or [T, B] with T = {steps}, got "
                         f"{tuple(reward.shape)}")
    total: Tensor | None = None
    for t in range(steps):
        r = reward[t] if isinstance(reward, Tensor) else reward
        traces, dw = stdp_step(synapse, pre_seq[t], post_seq[t], traces, tau_pre=tau_pre,
                               tau_post=tau_post, f_pre=f_pre, f_post=f_post, decay=decay,
                               reward=r)
        total = dw if total is None else total + dw
    assert total is not None and traces is not None
    return total, traces


def _spikes_of(value: Any) -> Any:
    """A recorded neuron output: the spikes (first element of a tuple output)."""
    if isinstance(value, (tuple, list)) and value:
        return value[0]
    return value


class STDPLearner(nn.Module):
    r"""STDP for one synapse and the neurons it drives, fed by forward hooks: every forward
    call of ``synapse`` records its input (pre-synaptic spikes) and every call of ``neuron``
    its output spikes; :meth:`step` turns the recorded steps into :math:`\sum_t \Delta W_t`
    (:func:`stdp_step`) and writes :math:`-\Delta W` into ``synapse.weight.grad``.

    One forward call is one time step (single-step networks); for whole-sequence runs use
    :func:`stdp` on the recorded ``[T, B, ...]`` tensors.

    Args:
        synapse: ``nn.Linear``, ``nn.Conv1d`` or ``nn.Conv2d`` (``groups=1``).
        neuron: the module whose output spikes follow the synapse (a neuron; a tuple output
            records its first element).
        tau_pre, tau_post, f_pre, f_post, decay: as :func:`stdp_step`.
        record: register the recording hooks. With False, append the spikes of each step to
            :attr:`pre_records` / :attr:`post_records` yourself. Default: True.

    Attributes:
        pre_records, post_records: the recorded spikes not yet consumed by :meth:`step`.
        traces: the traces after the last consumed step (``None`` after :meth:`reset`).

    Example:
        >>> import snncore
        >>> fc, lif = torch.nn.Linear(8, 4), snncore.Leaky(beta=0.9, stateful=True)
        >>> learner = STDPLearner(fc, lif, tau_pre=2.0, tau_post=2.0)
        >>> for x in (torch.rand(5, 3, 8) < 0.5).float():
        ...     _ = lif(fc(x))
        >>> learner.step()               # fc.weight.grad now holds -dW
        >>> learner.remove()
    """

    def __init__(self, synapse: nn.Module, neuron: nn.Module, tau_pre: float, tau_post: float,
                 f_pre: Amplitude = 1.0, f_post: Amplitude = 1.0, decay: str = "exp",
                 record: bool = True) -> None:
        super().__init__()
        fn = type(self).__name__
        _check_synapse(synapse, fn)
        if not isinstance(neuron, nn.Module):
            raise TypeError(f"{fn}: neuron must be a torch.nn.Module, got "
                            f"{type(neuron).__name__}")
        trace_decay(tau_pre, decay, name="tau_pre", fn=fn)
        trace_decay(tau_post, decay, name="tau_post", fn=fn)
        for name, f in (("f_pre", f_pre), ("f_post", f_post)):
            if not callable(f):
                check_number(f, name, fn)
        check_bool(record, "record", fn)
        self.tau_pre, self.tau_post = float(tau_pre), float(tau_post)
        self.f_pre, self.f_post, self.decay = f_pre, f_post, decay
        # plain attributes, not submodules: the learner does not own the network's layers
        object.__setattr__(self, "synapse", synapse)
        object.__setattr__(self, "neuron", neuron)
        self.pre_records: list[Tensor] = []
        self.post_records: list[Any] = []
        self.traces: STDPTraces | None = None
        self.enabled = True
        self._handles: list[Any] = []
        if record:
            self._handles = [synapse.register_forward_hook(self._record_pre),
                             neuron.register_forward_hook(self._record_post)]

    def _record_pre(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if self.enabled:
            self.pre_records.append(args[0].detach())

    def _record_post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if self.enabled:
            self.post_records.append(_spikes_of(output).detach())

    def step(self, on_grad: bool = True, scale: float = 1.0) -> Tensor | None:
        r"""Consume the recorded steps: :math:`\Delta W = \text{scale} \sum_t \Delta W_t`.

        Args:
            on_grad: write :math:`-\Delta W` into ``synapse.weight.grad`` (added to a gradient
                already there) and return None; with False return :math:`\Delta W`.
                Default: True.
            scale: factor on every step's update. Default: 1.0.

        With nothing recorded :math:`\Delta W` is zero.
        """
        fn = f"{type(self).__name__}.step"
        check_bool(on_grad, "on_grad", fn)
        scale = check_number(scale, "scale", fn)
        pre, post = self.pre_records, self.post_records
        if len(pre) != len(post):
            raise SnncoreError(
                f"{fn}: {len(pre)} synapse inputs but {len(post)} neuron outputs were recorded; "
                "each time step must call the synapse and the neuron once (clear with reset())")
        weight = self.synapse.weight
        delta = torch.zeros_like(weight.detach())
        while pre:
            self.traces, dw = stdp_step(
                self.synapse, pre.pop(0), _spikes_of(post.pop(0)), self.traces,
                tau_pre=self.tau_pre, tau_post=self.tau_post, f_pre=self.f_pre,
                f_post=self.f_post, decay=self.decay)
            delta = delta + (dw * scale if scale != 1.0 else dw)
        if not on_grad:
            return delta
        weight.grad = -delta if weight.grad is None else weight.grad - delta
        return None

    def reset(self) -> None:
        """Forget the traces and every record not yet consumed (before a new sequence)."""
        self.traces = None
        self.pre_records.clear()
        self.post_records.clear()

    def enable(self) -> None:
        """Record again after :meth:`disable`."""
        self.enabled = True

    def disable(self) -> None:
        """Stop recording (the hooks stay; e.g. during evaluation)."""
        self.enabled = False

    def remove(self) -> None:
        """Detach the recording hooks from the network."""
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def extra_repr(self) -> str:
        return (f"synapse={type(self.synapse).__name__}, tau_pre={self.tau_pre}, "
                f"tau_post={self.tau_post}, decay={self.decay!r}")
