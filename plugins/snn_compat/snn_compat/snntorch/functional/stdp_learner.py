"""``snntorch.functional.stdp_learner`` on :mod:`snncore.plasticity`.

snnTorch's single-step rules and ``STDPLearner`` with their signatures, flat returns
``(trace_pre, trace_post, delta)`` and snnTorch's trace decays (``1 - 1/tau`` for the STDP
rules, ``exp(-1/tau)`` for the MSTDP ones); the maths is :func:`snncore.plasticity.stdp_step`.
``f_pre``/``f_post`` default to the identity, so the update is proportional to the weight, as in
snnTorch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from snncore import plasticity as _p

from ..._warn import warn_difference
from . import probe

__all__ = [
    "stdp_linear_single_step", "mstdp_linear_single_step", "mstdpet_linear_single_step",
    "stdp_conv2d_single_step", "stdp_conv1d_single_step", "STDPLearner",
]


def _identity(x: Tensor) -> Tensor:
    return x


def _rule(synapse: nn.Module, in_spike: Tensor, out_spike: Tensor, trace_pre: Any,
          trace_post: Any, tau_pre: float, tau_post: float, f_pre: Callable, f_post: Callable,
          decay: str, per_sample: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`snncore.plasticity.stdp_step` with snnTorch's flat traces and return."""
    traces, dw = _p.stdp_step(synapse, in_spike, out_spike,
                              _p.STDPTraces(trace_pre, trace_post), tau_pre=tau_pre,
                              tau_post=tau_post, f_pre=f_pre, f_post=f_post, decay=decay,
                              per_sample=per_sample)
    return traces.pre, traces.post, dw


def _check_type(synapse: Any, kind: type, fn: str) -> None:
    if not isinstance(synapse, kind):
        raise TypeError(f"{fn}: expects a torch.nn.{kind.__name__}, got "
                        f"{type(synapse).__name__}")


def _conv_step(conv: nn.Module, kind: type, fn: str, in_spike: Tensor, out_spike: Tensor,
               trace_pre: Any, trace_post: Any, tau_pre: float, tau_post: float,
               f_pre: Callable, f_post: Callable) -> tuple[Tensor, Tensor, Tensor]:
    _check_type(conv, kind, fn)
    if any(d != 1 for d in conv.dilation) or isinstance(conv.padding, str):
        warn_difference(f"functional.stdp_learner.{fn}(dilation/padding string)",
                        "dilated kernels and padding='same'/'valid' are supported; snnTorch "
                        "raises NotImplementedError or fails", stacklevel=4)
    return _rule(conv, in_spike, out_spike, trace_pre, trace_post, tau_pre, tau_post, f_pre,
                 f_post, "euler")


def stdp_linear_single_step(fc: nn.Linear, in_spike: Tensor, out_spike: Tensor,
                            trace_pre: float | Tensor | None, trace_post: float | Tensor | None,
                            tau_pre: float, tau_post: float, f_pre: Callable = _identity,
                            f_post: Callable = _identity) -> tuple[Tensor, Tensor, Tensor]:
    """One STDP step of ``fc`` with Euler traces ``x - x/tau + s``; the weight change summed
    over the batch: ``(trace_pre [B, in], trace_post [B, out], dw [out, in])``."""
    _check_type(fc, nn.Linear, "stdp_linear_single_step")
    return _rule(fc, in_spike, out_spike, trace_pre, trace_post, tau_pre, tau_post, f_pre,
                 f_post, "euler")


def mstdp_linear_single_step(fc: nn.Linear, in_spike: Tensor, out_spike: Tensor,
                             trace_pre: float | Tensor | None, trace_post: float | Tensor | None,
                             tau_pre: float, tau_post: float, f_pre: Callable = _identity,
                             f_post: Callable = _identity) -> tuple[Tensor, Tensor, Tensor]:
    """One MSTDP step with traces ``x·exp(-1/tau) + s``; returns the eligibility of every
    sample (to be multiplied by the reward): ``(trace_pre, trace_post, eligibility
    [B, out, in])``."""
    _check_type(fc, nn.Linear, "mstdp_linear_single_step")
    return _rule(fc, in_spike, out_spike, trace_pre, trace_post, tau_pre, tau_post, f_pre,
                 f_post, "exp", per_sample=True)


def mstdpet_linear_single_step(fc: nn.Linear, in_spike: Tensor, out_spike: Tensor,
                               trace_pre: float | Tensor | None,
                               trace_post: float | Tensor | None, tau_pre: float,
                               tau_post: float, tau_trace: float, f_pre: Callable = _identity,
                               f_post: Callable = _identity) -> tuple[Tensor, Tensor, Tensor]:
    """As :func:`mstdp_linear_single_step` for one sample (``in_spike [in]``,
    ``out_spike [out]``): ``(trace_pre, trace_post, eligibility [out, in])``. As in snnTorch,
    ``tau_trace`` is not used here (the eligibility *trace* and its reward-modulated update are
    :func:`snncore.plasticity.mstdpet_step`); a batch ``[B, in]`` gives ``[B, out, in]``."""
    fn = "mstdpet_linear_single_step"
    _check_type(fc, nn.Linear, fn)
    _p.trace_decay(tau_trace, "exp", name="tau_trace", fn=fn)
    single = isinstance(in_spike, Tensor) and in_spike.dim() == 1
    if not single:
        warn_difference(f"functional.stdp_learner.{fn}(batched spikes)",
                        "batched spikes [B, N] give one eligibility per sample [B, out, in]; "
                        "snnTorch's accepts one sample [N] only", stacklevel=3)
    if single:
        in_spike = in_spike.unsqueeze(0)
        out_spike = out_spike.unsqueeze(0) if isinstance(out_spike, Tensor) else out_spike
        trace_pre = trace_pre.unsqueeze(0) if isinstance(trace_pre, Tensor) else trace_pre
        trace_post = trace_post.unsqueeze(0) if isinstance(trace_post, Tensor) else trace_post
    tp, tq, elig = mstdp_linear_single_step(fc, in_spike, out_spike, trace_pre, trace_post,
                                            tau_pre, tau_post, f_pre, f_post)
    if single:
        return tp[0], tq[0], elig[0]
    return tp, tq, elig


def stdp_conv2d_single_step(conv: nn.Conv2d, in_spike: Tensor, out_spike: Tensor,
                            trace_pre: Tensor | None, trace_post: Tensor | None,
                            tau_pre: float, tau_post: float, f_pre: Callable = _identity,
                            f_post: Callable = _identity) -> tuple[Tensor, Tensor, Tensor]:
    """One STDP step of ``conv`` (``[B, C, H, W]`` spikes; the pre-synaptic trace is on the
    padded input): ``(trace_pre, trace_post, dw)`` with ``dw`` shaped like ``conv.weight``."""
    return _conv_step(conv, nn.Conv2d, "stdp_conv2d_single_step", in_spike, out_spike,
                      trace_pre, trace_post, tau_pre, tau_post, f_pre, f_post)


def stdp_conv1d_single_step(conv: nn.Conv1d, in_spike: Tensor, out_spike: Tensor,
                            trace_pre: Tensor | None, trace_post: Tensor | None,
                            tau_pre: float, tau_post: float, f_pre: Callable = _identity,
                            f_post: Callable = _identity) -> tuple[Tensor, Tensor, Tensor]:
    """As :func:`stdp_conv2d_single_step` for ``nn.Conv1d`` (``[B, C, L]`` spikes)."""
    return _conv_step(conv, nn.Conv1d, "stdp_conv1d_single_step", in_spike, out_spike,
                      trace_pre, trace_post, tau_pre, tau_post, f_pre, f_post)


class STDPLearner(_p.STDPLearner):
    """STDP of ``synapse`` (``nn.Linear``, ``nn.Conv1d``, ``nn.Conv2d``) driving ``sn``:
    ``in_spike_monitor`` (an :class:`~snn_compat.snntorch.functional.probe.InputMonitor`)
    records the synapse's inputs and ``out_spike_monitor`` the neuron's spikes at every forward
    call; :meth:`step` applies the Euler-trace rule of :func:`stdp_linear_single_step` /
    ``stdp_conv*_single_step`` to the records and writes ``-dw`` into ``synapse.weight.grad``
    (``on_grad=False``: returns ``dw``). :class:`snncore.plasticity.STDPLearner` with snnTorch's
    monitors."""

    def __init__(self, synapse: nn.Conv2d | nn.Linear, sn: nn.Module, tau_pre: float,
                 tau_post: float, f_pre: Callable = _identity,
                 f_post: Callable = _identity) -> None:
        super().__init__(synapse, sn, tau_pre, tau_post, f_pre, f_post, decay="euler",
                         record=False)
        self.in_spike_monitor = probe.InputMonitor(synapse)
        self.out_spike_monitor = probe.OutputMonitor(sn)
        # the rule consumes the monitors' records
        self.pre_records = self.in_spike_monitor.records
        self.post_records = self.out_spike_monitor.records

    @property
    def trace_pre(self) -> Tensor | None:
        """The pre-synaptic trace after the last consumed step (``None`` before the first)."""
        return None if self.traces is None else self.traces.pre

    @property
    def trace_post(self) -> Tensor | None:
        """The post-synaptic trace after the last consumed step (``None`` before the first)."""
        return None if self.traces is None else self.traces.post

    def reset(self) -> None:
        """Forget the traces and the recorded spikes (snnTorch's raises ``AttributeError``)."""
        super().reset()
        self.in_spike_monitor.clear_recorded_data()
        self.out_spike_monitor.clear_recorded_data()

    def disable(self) -> None:
        """Stop both monitors."""
        super().disable()
        self.in_spike_monitor.disable()
        self.out_spike_monitor.disable()

    def enable(self) -> None:
        """Restart both monitors."""
        super().enable()
        self.in_spike_monitor.enable()
        self.out_spike_monitor.enable()

    def step(self, on_grad: bool = True, scale: float = 1.0) -> Tensor | None:
        """Consume the records: ``dw = scale · Σ_t dw_t``; ``weight.grad -= dw`` (or return
        ``dw`` with ``on_grad=False``). With nothing recorded ``dw`` is zero (snnTorch's raises
        ``TypeError``)."""
        if not self.pre_records:
            warn_difference("functional.stdp_learner.STDPLearner.step(no records)",
                            "with nothing recorded the update is zero; snnTorch's raises "
                            "TypeError", stacklevel=3)
        return super().step(on_grad, scale)
