"""Spiking LSTM cells: SLSTM (fully connected) and SConv2dLSTM (convolutional)."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from snncore import Neuron
from snncore.extend import check_bool, check_int

from ._common import call_in_dtype, kernel_pair

__all__ = ["SLSTM", "SLSTMState", "SConv2dLSTM", "SConv2dLSTMState"]


class SLSTMState(NamedTuple):
    """State of :class:`SLSTM`: cell state ``syn`` (c) and hidden state / membrane ``mem`` (h)."""

    syn: Tensor
    mem: Tensor


class _LSTMNeuron(Neuron):
    """Shared pieces of the LSTM cells: delayed reset around the cell, checks against h's shape."""

    def _hidden_shape(self, x: Tensor) -> torch.Size:  # pragma: no cover - abstract
        raise NotImplementedError

    def state_shapes(self, x: Tensor) -> tuple[torch.Size, ...]:
        shape = self._hidden_shape(x)
        return (shape, shape)

    def _check_shape(self, x: Tensor) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def prepare(self, x: Tensor, state: Any) -> Any:
        self.check_input(x)
        self._check_shape(x)
        self.check_params_broadcast(x.new_empty(self._hidden_shape(x)))
        if state is None:
            return self.init_state(x)
        return self.check_state(state, x)

    def _cell_input(self, mem: Tensor, thr: Tensor) -> tuple[Tensor, Tensor | None]:
        """The hidden state fed to the cell and the delayed reset signal (None if unused).

        ``"zero"`` zeroes the carried hidden state :math:`h_{t-1}` where it crossed threshold;
        ``"subtract"`` subtracts :math:`\\theta` from the new :math:`h_t` there."""
        if not self.reset_delay or self.reset_mechanism == "none":
            return mem, None
        r = self.reset_signal(mem, thr)
        if self.reset_mechanism == "zero":
            return (1 - r) * mem, None
        return mem, r


class SLSTM(_LSTMNeuron):
    r"""Spiking LSTM cell: an ``nn.LSTMCell`` whose hidden state is the membrane (registry name
    ``"slstm"``).

    .. math::
        (h_t, c_t) = \mathrm{LSTMCell}(X_t, (h^{*}_{t-1}, c_{t-1})), \qquad
        S_t = H(h_t - \theta)\cdot g

    with the gates :math:`i, f, g, o` of ``nn.LSTMCell``
    (:math:`c_t = f\odot c_{t-1} + i\odot g`, :math:`h_t = o\odot\tanh c_t`). Reset (default
    ``"none"``), with :math:`R_t = H(h_{t-1} - \theta)`: ``"subtract"`` uses
    :math:`h_t - R_t\theta`; ``"zero"`` feeds :math:`h^{*}_{t-1} = (1 - R_t)h_{t-1}` to the cell.
    With ``reset_delay=False`` the reset is applied to :math:`h_t` in the step that fires.

    Args:
        input_size: features of the input.
        hidden_size: features of the hidden state (the spikes).
        bias: biases in the LSTM cell. Default: True.
        **options: the shared neuron options (keyword-only), see :class:`~snncore.Neuron`; defaults
            here: ``reset='none'``.

    Shape:
        - Input: ``(B, input_size)`` or ``(input_size,)``.
        - Output: spikes ``(B, hidden_size)``.

    State:
        :class:`SLSTMState` ``(syn, mem)`` = ``(c, h)``, each ``(B, hidden_size)``.

    Example::

        >>> n = snn.create("slstm", input_size=10, hidden_size=20)
        >>> spk, state = n.run(torch.rand(25, 8, 10))
    """

    State = SLSTMState

    option_defaults = {"reset": "none"}
    fusable = ("SLSTM runs eager: every step's gates are matrix products of the previous hidden "
               "state (nn.LSTMCell), which the element-wise fused loops cannot express; fusing "
               "only the element-wise rest of the step cannot reach their speed-up (the "
               "recurrent matrix products alone take about half of an eager training step)")

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 **options: Any) -> None:
        super().__init__(**options)
        self.input_size = check_int(input_size, "input_size", "SLSTM", low=1)
        self.hidden_size = check_int(hidden_size, "hidden_size", "SLSTM", low=1)
        self.lstm_cell = nn.LSTMCell(input_size, hidden_size,
                                     bias=check_bool(bias, "bias", "SLSTM"))

    def _hidden_shape(self, x: Tensor) -> torch.Size:
        return torch.Size((*x.shape[:-1], self.hidden_size))

    def _check_shape(self, x: Tensor) -> None:
        if x.dim() not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"SLSTM: input must be (B, input_size={self.input_size}) or (input_size,), got "
                f"{tuple(x.shape)}"
            )

    def step(self, x: Tensor, state: SLSTMState) -> tuple[Tensor, SLSTMState]:
        thr = self.param("threshold", x)
        h_in, r = self._cell_input(state.mem, thr)
        h, c = call_in_dtype(self.lstm_cell, x.dtype, x, (h_in, state.syn))
        if r is not None:
            h = h - r * thr
        c = self.quantize(c)
        spk, h = self.fire_and_reset(h, thr)
        return spk, SLSTMState(c, h)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, " + super().extra_repr()


class SConv2dLSTMState(NamedTuple):
    """State of :class:`SConv2dLSTM`: cell state ``syn`` (c) and hidden state ``mem`` (h)."""

    syn: Tensor
    mem: Tensor


class SConv2dLSTM(_LSTMNeuron):
    r"""Spiking convolutional LSTM cell (registry name ``"sconv2dlstm"``).

    One ``Conv2d(in + out -> 4·out, k, padding=k//2)`` on :math:`[X_t, h^{*}_{t-1}]` gives the
    gates in the order (i, f, o, g):

    .. math::
        c_t = \sigma(f)\odot c_{t-1} + \sigma(i)\odot\tanh(g), \qquad
        h_t = \sigma(o)\odot\tanh(c_t), \qquad S_t = H(P(h_t) - \theta)\cdot g_s

    where :math:`P` is an optional max or average pooling (``max_pool``/``avg_pool``) applied
    before firing and :math:`g_s` the graded-spike factor. Resets act on :math:`h` as in
    :class:`SLSTM` (default ``"none"``).

    Args:
        in_channels: channels of the input.
        out_channels: channels of the hidden state.
        kernel_size: odd int or pair (even sizes are an error).
        bias: bias in the convolution. Default: True.
        max_pool: kernel of a max pooling of h before firing (0: none). Default: 0.
        avg_pool: kernel of an average pooling of h before firing (0: none). Default: 0.
        **options: the shared neuron options (keyword-only), see :class:`~snncore.Neuron`; defaults
            here: ``reset='none'``.

    Shape:
        - Input: ``(B, in_channels, H, W)``.
        - Output: spikes ``(B, out_channels, H, W)``, or pooled.

    State:
        :class:`SConv2dLSTMState` ``(syn, mem)`` = ``(c, h)``, each ``(B, out_channels, H, W)``.

    Example::

        >>> n = snn.create("sconv2dlstm", in_channels=1, out_channels=8, kernel_size=3)
        >>> spk, state = n.run(torch.rand(25, 4, 1, 16, 16))
    """

    State = SConv2dLSTMState

    option_defaults = {"reset": "none"}
    fusable = ("SConv2dLSTM runs eager: every step's gates are one convolution over the input "
               "and the previous hidden state, which the element-wise fused loops cannot "
               "express; the convolution dominates the step, so fusing the element-wise rest "
               "alone cannot reach their speed-up")

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 bias: bool = True, max_pool: int = 0, avg_pool: int = 0, **options: Any) -> None:
        super().__init__(**options)
        owner = "SConv2dLSTM"
        self.in_channels = check_int(in_channels, "in_channels", owner, low=1)
        self.out_channels = check_int(out_channels, "out_channels", owner, low=1)
        k = kernel_pair(owner, kernel_size)
        for name, val in (("max_pool", max_pool), ("avg_pool", avg_pool)):
            if isinstance(val, bool) or not isinstance(val, int) or val < 0:
                raise ValueError(f"{owner}: {name} must be an int >= 0 (0: no pooling), "
                                 f"got {val!r}")
        if max_pool and avg_pool:
            raise ValueError(f"{owner}: give max_pool or avg_pool, not both")
        self.max_pool = max_pool
        self.avg_pool = avg_pool
        self.kernel_size = k
        self.conv = nn.Conv2d(in_channels + out_channels, 4 * out_channels, k,
                              padding=(k[0] // 2, k[1] // 2), bias=check_bool(bias, "bias", owner))

    def _hidden_shape(self, x: Tensor) -> torch.Size:
        return torch.Size((*x.shape[:-3], self.out_channels, *x.shape[-2:]))

    def _check_shape(self, x: Tensor) -> None:
        if x.dim() not in (3, 4) or x.shape[-3] != self.in_channels:
            raise ValueError(
                f"SConv2dLSTM: input must be (B, in_channels={self.in_channels}, H, W), got "
                f"{tuple(x.shape)}"
            )
        thr = self.threshold
        if (self.max_pool or self.avg_pool) and thr.dim() >= 2 \
                and (thr.shape[-1] != 1 or thr.shape[-2] != 1):
            raise ValueError(
                f"{type(self).__name__}: with max_pool/avg_pool the spikes have the pooled "
                f"shape, so a per-neuron threshold can only vary per channel (shape "
                f"(C, 1, 1)); got a threshold of shape {tuple(thr.shape)}")

    def _pool(self, h: Tensor) -> Tensor:
        if self.max_pool:
            return F.max_pool2d(h, self.max_pool)
        if self.avg_pool:
            return F.avg_pool2d(h, self.avg_pool)
        return h

    def step(self, x: Tensor, state: SConv2dLSTMState) -> tuple[Tensor, SConv2dLSTMState]:
        thr = self.param("threshold", x)
        h_in, r = self._cell_input(state.mem, thr)
        gates = call_in_dtype(self.conv, x.dtype, torch.cat([x, h_in], dim=-3))
        i, f, o, g = torch.split(gates, self.out_channels, dim=-3)
        c = torch.sigmoid(f) * state.syn + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        if r is not None:
            h = h - r * thr
        c = self.quantize(c)
        if self.max_pool or self.avg_pool:  # a per-channel threshold: checked in _check_shape
            spk = self.fire(self._pool(self.quantize(h)), thr)
            _, h = self.fire_and_reset(h, thr)
        else:
            spk, h = self.fire_and_reset(h, thr)
        return spk, SConv2dLSTMState(c, h)
