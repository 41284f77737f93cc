"""AssociativeLeaky: a spiking associative memory with per-key leaky decay."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from snncore import Neuron
from snncore.extend import check_bool, check_int, not_taken

from ._common import call_in_dtype

__all__ = ["AssociativeLeaky", "AssociativeLeakyState"]


class AssociativeLeakyState(NamedTuple):
    """State of :class:`AssociativeLeaky`: the memory ``mem`` ``(B, d_value, d_key)``."""

    mem: Tensor


class AssociativeLeaky(Neuron):
    r"""Spiking associative memory (registry name ``"associative_leaky"``): a leaky matrix
    memory written with value-key outer products, whose entries spike.

    .. math::
        v_t = W_v X_t + b_v,\quad k_t = W_k X_t + b_k,\quad
        \alpha_t = \sigma(W_\alpha X_t + b_\alpha)

        M_t = M_{t-1}\,\mathrm{diag}(\alpha_t) + v_t k_t^\top, \qquad
        Z_t = H(M_t - \theta)\cdot g

    and the output is :math:`Y_t = Z_t Q_t` with :math:`Q_t` the ``(d_key, d_value)`` reshape of
    :math:`W_q X_t + b_q` (``use_q_projection=True``, output ``d_value²`` features), else the
    flattened spikes :math:`Z_t` (``d_value·d_key`` features). Each key column of the memory
    decays by its own input-dependent :math:`\alpha_t`; the memory is never reset. (snnTorch's
    version computes the same recurrence from prefix products, which loses precision once
    :math:`\prod\alpha` nears 1e-8; here it is a step-by-step scan.)

    Args:
        in_dim: input features.
        d_value: value dimension ``d``.
        d_key: key dimension ``n``.
        num_spiking_neurons: must equal ``d_value · d_key`` (None infers it). Default: None.
        use_q_projection: read the spiking memory out with a query projection. Default: True.
        **options: the shared neuron options (keyword-only), see :class:`~snncore.Neuron`
            (``threshold`` and ``graded_spikes_factor`` are scalars; ``state_quant`` acts on
            the memory; ``inhibition`` picks one winner per sample over the whole memory); not
            taken: ``reset``, ``reset_delay``, ``detach_reset`` (see ``fixed_options``).

    Shape:
        - Input: ``(B, in_dim)`` for one step, ``(T, B, in_dim)`` for :meth:`run`.
        - Output: ``(B, d_value²)`` with the query projection, else ``(B, d_value·d_key)``.

    State:
        :class:`AssociativeLeakyState` ``(mem,)`` of shape ``(B, d_value, d_key)``.

    Example::

        >>> n = snn.create("associative_leaky", in_dim=16, d_value=4, d_key=4)
        >>> y, state = n.run(torch.rand(25, 8, 16))      # y: [25, 8, 16]
    """

    State = AssociativeLeakyState
    fusable = ("AssociativeLeaky runs eager: its state is a (d_value, d_key) matrix per sample "
               "written by outer products of input projections and read out by a matrix "
               "product, not one element-wise state per input feature")

    fixed_options = not_taken("the memory is never reset", "reset_delay", "detach_reset",
                              reset="none")

    def __init__(self, in_dim: int, d_value: int, d_key: int,
                 num_spiking_neurons: int | None = None, use_q_projection: bool = True,
                 **options: Any) -> None:
        super().__init__(**options)
        owner = "AssociativeLeaky"
        self.in_dim = check_int(in_dim, "in_dim", owner, low=1)
        self.d_value = check_int(d_value, "d_value", owner, low=1)
        self.d_key = check_int(d_key, "d_key", owner, low=1)
        inferred = d_value * d_key
        if num_spiking_neurons is None:
            num_spiking_neurons = inferred
        elif check_int(num_spiking_neurons, "num_spiking_neurons", owner, low=1) != inferred:
            raise ValueError(f"{owner}: num_spiking_neurons={num_spiking_neurons} must equal "
                             f"d_value * d_key = {inferred}")
        self.num_spiking_neurons = num_spiking_neurons
        for name in ("threshold", "graded_spikes_factor"):
            if getattr(self, name).dim() != 0:
                raise ValueError(f"{owner}: {name} must be a scalar (one value for the whole "
                                 "memory)")
        self.use_q_projection = check_bool(use_q_projection, "use_q_projection", owner)
        self.to_v = nn.Linear(in_dim, d_value)
        self.to_k = nn.Linear(in_dim, d_key)
        self.to_alpha = nn.Linear(in_dim, d_key)
        self.to_q = nn.Linear(in_dim, num_spiking_neurons) if use_q_projection else None

    @classmethod
    def from_num_spiking_neurons(cls, in_dim: int, num_spiking_neurons: int,
                                 use_q_projection: bool = True, **kwargs: Any
                                 ) -> AssociativeLeaky:
        """A square memory: ``d_value = d_key = sqrt(num_spiking_neurons)`` (a perfect square)."""
        m = math.isqrt(num_spiking_neurons) if isinstance(num_spiking_neurons, int) \
            and num_spiking_neurons > 0 else 0
        if m * m != num_spiking_neurons or m == 0:
            raise ValueError(f"AssociativeLeaky: num_spiking_neurons={num_spiking_neurons!r} "
                             "must be a positive perfect square to set d_value = d_key")
        return cls(in_dim, m, m, num_spiking_neurons, use_q_projection, **kwargs)

    @property
    def out_features(self) -> int:
        """Output features: ``d_value²`` with the query projection, else ``d_value·d_key``."""
        return self.d_value ** 2 if self.use_q_projection else self.num_spiking_neurons

    def state_shapes(self, x: Tensor) -> tuple[torch.Size, ...]:
        return (torch.Size((*x.shape[:-1], self.d_value, self.d_key)),)

    def prepare(self, x: Tensor, state: Any) -> Any:
        if isinstance(x, Tensor) and (x.dim() < 1 or x.shape[-1] != self.in_dim):
            raise ValueError(f"AssociativeLeaky: one step of input must be (B, in_dim="
                             f"{self.in_dim}), got {tuple(x.shape)} (sequences are "
                             "(T, B, in_dim))")
        return super().prepare(x, state)

    def step(self, x: Tensor, state: AssociativeLeakyState
             ) -> tuple[Tensor, AssociativeLeakyState]:
        v = call_in_dtype(self.to_v, x.dtype, x)
        k = call_in_dtype(self.to_k, x.dtype, x)
        alpha = torch.sigmoid(call_in_dtype(self.to_alpha, x.dtype, x))
        mem = self.quantize(state.mem * alpha.unsqueeze(-2) + v.unsqueeze(-1) * k.unsqueeze(-2))
        if x.dim() == 1:  # one unbatched sample: its memory fires as a batch of one (one
            # winner over the whole memory with inhibition)
            spk = self.fire(mem.unsqueeze(0), self.param("threshold", mem)).squeeze(0)
        else:
            spk = self.fire(mem, self.param("threshold", mem))
        if self.to_q is None:
            return spk.flatten(-2), AssociativeLeakyState(mem)
        q = call_in_dtype(self.to_q, x.dtype, x).reshape(*x.shape[:-1], self.d_key, self.d_value)
        return (spk @ q).flatten(-2), AssociativeLeakyState(mem)

    def extra_repr(self) -> str:
        return (f"in_dim={self.in_dim}, d_value={self.d_value}, d_key={self.d_key}, "
                f"use_q_projection={self.use_q_projection}, " + super().extra_repr())
