"""Torch modules for NIR nodes that torch.nn and snncore do not provide as such.

Stateful node modules follow one small protocol (``nir_stateful = True``): ``init_state(x)``,
``step(x, state) -> (y, state)`` for one time step ``[B, ...]``, ``run(x_seq, state) ->
(y_seq, state)`` over ``[T, B, ...]``, and ``nir_state(state)``: the state in NIR's variables
(``v`` membrane, ``I`` synaptic current) and units.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import snncore

__all__ = [
    "SumPool2d",
    "Scale",
    "Threshold",
    "Delay",
    "NeuronNode",
    "NIRNeuron",
    "NIRNeuronState",
]


class SumPool2d(nn.Module):
    r"""Sum pooling over 2-D windows: :math:`y = \sum_{window} x` (zero padding counts as 0).

    Args:
        kernel_size, stride, padding: pairs of ints (or ints) as in ``nn.AvgPool2d``.
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride")
        self.padding = _pair(padding, "padding")

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding,
                            count_include_pad=True, divisor_override=1)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class Scale(nn.Module):
    r"""Element-wise scaling :math:`y = s \odot x` (NIR ``Scale``)."""

    def __init__(self, scale: Tensor) -> None:
        super().__init__()
        self.register_buffer("scale", scale)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale.to(x.dtype)


class Threshold(nn.Module):
    r"""Stateless spike :math:`z = H(x - \theta)` (strict), with a surrogate in backward."""

    def __init__(self, threshold: Tensor, surrogate: str = "atan") -> None:
        super().__init__()
        self.register_buffer("threshold", threshold)
        self.surrogate = snncore.surrogate(surrogate)

    def forward(self, x: Tensor) -> Tensor:
        return snncore.spike(x - self.threshold.to(x.dtype), self.surrogate)


class Delay(nn.Module):
    r"""Per-element delay by a whole number of steps: :math:`y_t = x_{t-d}` (0 before ``d``).

    State: the last ``max(d)`` inputs, most recent first, ``[D, B, ...]``.
    """

    nir_stateful = True

    def __init__(self, steps: Tensor) -> None:
        super().__init__()
        self.register_buffer("steps", steps.to(torch.long))
        self.depth = int(steps.max().item()) if steps.numel() else 0

    def init_state(self, x: Tensor) -> Tensor:
        return x.new_zeros((self.depth, *x.shape))

    def step(self, x: Tensor, state: Tensor | None) -> tuple[Tensor, Tensor]:
        if state is None:
            state = self.init_state(x)
        hist = torch.cat([x.unsqueeze(0), state], 0)
        idx = self.steps.expand(x.shape).unsqueeze(0)
        y = hist.gather(0, idx).squeeze(0)
        return y, hist[: self.depth]

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One step, as a neuron's ``forward``: ``(y, state)``. It mixes time steps, so it
        cannot be a stateless layer of ``snn.Sequential`` (which folds time into the batch);
        an imported :class:`NIRModule` runs it step by step, and :meth:`run` over a sequence."""
        return self.step(x, state)

    def run(self, x_seq: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        ys = []
        for x in x_seq.unbind(0):
            y, state = self.step(x, state)
            ys.append(y)
        return torch.stack(ys), state

    def nir_state(self, state: Tensor) -> dict[str, Tensor]:
        return {"buffer": state}


class NeuronNode(nn.Module):
    r"""A NIR neuron run by a snncore neuron, with NIR's input scaling in front of it.

    The neuron receives :math:`X_t = g \odot I_t + c` (``gain`` :math:`g`, ``bias`` :math:`c`;
    either may be None, meaning 1 and 0), so that its own update equals the discretised NIR
    equation. ``syn_scale`` :math:`k`: the neuron's synaptic state is :math:`k\,I` (NIR's
    current times the membrane's input gain); :meth:`nir_state` divides it out.

    Args:
        neuron: a :class:`snncore.Neuron` (runs on the fused backends where they apply).
        gain, bias: input scaling (tensors of the layer shape) or None.
        init_mem: initial membrane for ``state=None`` (None: zeros).
        syn_scale: see above, or None.
    """

    nir_stateful = True

    def __init__(self, neuron: nn.Module, gain: Tensor | None = None, bias: Tensor | None = None,
                 init_mem: Tensor | None = None, syn_scale: Tensor | None = None) -> None:
        super().__init__()
        self.neuron = neuron
        for name, t in (("gain", gain), ("bias", bias), ("init_mem", init_mem),
                        ("syn_scale", syn_scale)):
            self.register_buffer(name, t)

    def _drive(self, x: Tensor) -> Tensor:
        if self.gain is not None:
            x = x * self.gain.to(x.dtype)
        if self.bias is not None:
            x = x + self.bias.to(x.dtype)
        return x

    def init_state(self, x: Tensor) -> Any:
        state = self.neuron.init_state(x)
        if self.init_mem is not None:
            mem = state.mem + self.init_mem.to(x.dtype)
            state = state._replace(mem=mem)
        return state

    def step(self, x: Tensor, state: Any) -> tuple[Tensor, Any]:
        if state is None:
            state = self.init_state(x)
        return self.neuron(self._drive(x), state)

    def run(self, x_seq: Tensor, state: Any) -> tuple[Tensor, Any]:
        if state is None:
            state = self.init_state(x_seq[0])
        return self.neuron.run(self._drive(x_seq), state)

    def nir_state(self, state: Any) -> dict[str, Tensor]:
        out = {"v": state.mem}
        if "syn" in state._fields:
            syn = state.syn
            out["I"] = syn / self.syn_scale.to(syn.dtype) if self.syn_scale is not None else syn
        return out


class NIRNeuronState(NamedTuple):
    """State of :class:`NIRNeuron`: synaptic current ``syn`` (NIR's I) and membrane ``mem``."""

    syn: Tensor
    mem: Tensor


class NIRNeuron(nn.Module):
    r"""Any NIR neuron node, discretised with an explicit time step (eager).

    .. math::
        I_t = a_I I_{t-1} + b_I S_t, \qquad
        v_t = a_v v_{t-1} + b_v I_t + c_v, \qquad
        z_t = H(v_t - v_{th}), \qquad v_t \leftarrow v_{reset} \text{ where } z_t = 1

    Without a synapse :math:`I_t = S_t`; without a threshold (LI, CubaLI, I) the output is
    :math:`v_t` and there is no reset. Used for what the snncore neurons cannot express
    (``v_reset != 0``, ``v_leak`` behind a synapse, thresholds <= 0, integrators).
    """

    nir_stateful = True

    def __init__(self, *, a_v: Tensor, b_v: Tensor, c_v: Tensor, a_i: Tensor | None = None,
                 b_i: Tensor | None = None, v_threshold: Tensor | None = None,
                 v_reset: Tensor | None = None, init_v: Tensor | None = None,
                 surrogate: str = "atan") -> None:
        super().__init__()
        for name, t in (("a_v", a_v), ("b_v", b_v), ("c_v", c_v), ("a_i", a_i), ("b_i", b_i),
                        ("v_threshold", v_threshold), ("v_reset", v_reset), ("init_v", init_v)):
            self.register_buffer(name, t)
        self.surrogate = snncore.surrogate(surrogate)

    def init_state(self, x: Tensor) -> NIRNeuronState:
        mem = x.new_zeros(x.shape)
        if self.init_v is not None:
            mem = mem + self.init_v.to(x.dtype)
        return NIRNeuronState(x.new_zeros(x.shape), mem)

    def step(self, x: Tensor, state: NIRNeuronState | None) -> tuple[Tensor, NIRNeuronState]:
        if state is None:
            state = self.init_state(x)
        d = x.dtype
        if self.a_i is not None:
            syn = self.a_i.to(d) * state.syn + self.b_i.to(d) * x
        else:
            syn = x
        mem = self.a_v.to(d) * state.mem + self.b_v.to(d) * syn + self.c_v.to(d)
        if self.v_threshold is None:
            return mem, NIRNeuronState(syn, mem)
        z = snncore.spike(mem - self.v_threshold.to(d), self.surrogate)
        hold = z.detach()
        mem = mem * (1 - hold) + hold * self.v_reset.to(d)
        return z, NIRNeuronState(syn, mem)

    def run(self, x_seq: Tensor, state: NIRNeuronState | None) -> tuple[Tensor, NIRNeuronState]:
        ys = []
        for x in x_seq.unbind(0):
            y, state = self.step(x, state)
            ys.append(y)
        return torch.stack(ys), state  # type: ignore[return-value]

    def nir_state(self, state: NIRNeuronState) -> dict[str, Tensor]:
        out = {"v": state.mem}
        if self.a_i is not None:
            out["I"] = state.syn
        return out


def _pair(value: Any, what: str) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    vals = tuple(int(v) for v in value)
    if len(vals) == 1:
        return (vals[0], vals[0])
    if len(vals) != 2:
        raise ValueError(f"SumPool2d: {what} must be an int or a pair, got {value!r}")
    return vals  # type: ignore[return-value]
