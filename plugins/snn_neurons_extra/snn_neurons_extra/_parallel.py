"""Leaky layers without reset that run a whole sequence at once: LeakyParallel, StateLeaky,
LinearLeaky; and the change-detecting DeltaLeaky."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from snncore import Neuron
from snncore.extend import (
    EagerBackend,
    check_bool,
    check_int,
    check_number,
    not_taken,
    select_backend,
)

from ._common import call_in_dtype

__all__ = [
    "LeakyParallel",
    "LeakyParallelState",
    "StateLeaky",
    "StateLeakyState",
    "LinearLeaky",
    "DeltaLeaky",
    "DeltaLeakyState",
]

#: snncore's reference loop of ``step`` calls (its ``record`` keeps the asked fields)
_STEPPER = EagerBackend()


class _SequenceNeuron(Neuron):
    """A neuron whose :meth:`run` computes the whole sequence at once.

    ``run(x_seq)`` with ``backend=None``/``"auto"`` uses :meth:`_run_sequence`; naming a backend
    (e.g. ``"eager"``) runs the step-by-step definition through that backend instead.
    """

    def _run_sequence(self, x_seq: Tensor, state: Any) -> tuple[Tensor, Any]:
        """Spikes ``[T, ...]`` and the state stacked over time."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _sequence_checks(self, x_seq: Tensor, where: str) -> None:
        self.check_input(x_seq, "x_seq")
        if x_seq.dim() < 1 or x_seq.shape[0] < 1:
            raise ValueError(
                f"{type(self).__name__}.{where}: x_seq must be time-first [T, ...] with T >= 1, "
                f"got shape {tuple(x_seq.shape)}"
            )

    def _steps_are_faster(self, x_seq: Tensor) -> bool:
        """True when the step-by-step definition on the automatically selected backend beats
        the whole-sequence algorithm (a fused loop over T instead of a convolution over T)."""
        return False

    def run(self, x_seq: Tensor, state: Any = None, *, backend: str | None = None) -> Any:
        name = backend or self.backend
        self._sequence_checks(x_seq, "run")  # before a backend looks at it
        if name not in (None, "auto") or self._steps_are_faster(x_seq):
            return super().run(x_seq, state, backend=backend)
        if self.stateful and state is None:
            state = self.state
        state = self.prepare(x_seq[0], state)
        spk, states = self._run_sequence(x_seq, state)
        final = self.State(*(s[-1] for s in states))
        if self.stateful:
            self.state = final
            return spk
        return spk, final

    def trace(self, x_seq: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        self._sequence_checks(x_seq, "trace")
        spk, states = self._run_sequence(x_seq, self.prepare(x_seq[0], state))
        return spk, self.State(*states)


class LeakyParallelState(NamedTuple):
    """State of :class:`LeakyParallel`: the membrane ``mem`` ``(B, hidden_size)``."""

    mem: Tensor


#: why LeakyParallel does not take some shared options
_WHOLE_SEQUENCE = ("the whole sequence is computed at once, as a membrane without reset that "
                   "is then thresholded")


class LeakyParallel(_SequenceNeuron):
    r"""Dense leaky layer without reset, run over the whole sequence by one RNN kernel
    (registry name ``"leaky_parallel"``).

    .. math::
        U_t = \mathrm{ReLU}(\beta\odot U_{t-1} + W X_t + b), \qquad S_t = H(U_t - \theta)\cdot g

    :math:`W, b` are the weights of an input projection ``nn.Linear(input_size, hidden_size)``
    (attribute ``linear``); :math:`\beta` is a float or a per-neuron tensor of ``hidden_size``
    (each neuron keeps its own decay). :meth:`run` evaluates the sequence with PyTorch's fused
    ReLU-RNN kernel and a diagonal recurrent matrix :math:`\mathrm{diag}(\beta)`; a single call
    ``n(x, state)`` computes one step of the same equation. There is no reset.

    With ``weight_hh_enable=True`` the recurrence is a dense matrix :math:`W_{hh}` instead,
    :math:`U_t = \mathrm{ReLU}(W_{hh} U_{t-1} + W X_t + b)` (attribute ``weight_hh``, every entry
    of row ``i`` initialised to :math:`\beta_i`; learnable with ``learn_beta=True``). ``dropout``
    zeroes input features with probability ``p`` in training (a new draw every step).

    Args:
        input_size: input features.
        hidden_size: neurons.
        beta: decay in [0, 1], float or tensor of ``hidden_size``.
        bias: bias of the projection. Default: True.
        learn_beta: learnable :math:`\beta` (clamped to [0, 1]). Default: False.
        dropout: input dropout probability in [0, 1) (training only). Default: 0.0.
        weight_hh_enable: a dense recurrent matrix instead of :math:`\mathrm{diag}(\beta)`.
            Default: False.
        **options: the shared neuron options (keyword-only), see :class:`~snncore.Neuron`; not
            taken: ``reset``, ``reset_delay``, ``state_quant``, ``inhibition``, ``detach_reset``
            (see ``fixed_options``).

    Shape:
        - Input: ``(T, B, input_size)`` for :meth:`run`, ``(B, input_size)`` for one step.
        - Output: spikes ``(T, B, hidden_size)``.

    State:
        :class:`LeakyParallelState` ``(mem,)`` ``(B, hidden_size)``.

    Example::

        >>> n = snn.create("leaky_parallel", input_size=10, hidden_size=20, beta=0.9)
        >>> spk, state = n.run(torch.rand(25, 8, 10))
    """

    State = LeakyParallelState
    fusable = ("LeakyParallel has no step-loop fused path: its step contains the input "
               "projection (nn.Linear) and, with weight_hh_enable, a dense recurrent matrix; "
               "run() evaluates the whole sequence with one ReLU-RNN kernel instead")

    fixed_options = not_taken(_WHOLE_SEQUENCE, "reset_delay", "state_quant", "inhibition",
                              "detach_reset", reset="none")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        beta: float | Tensor,
        bias: bool = True,
        *,
        learn_beta: bool = False,
        dropout: float = 0.0,
        weight_hh_enable: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        owner = "LeakyParallel"
        self.input_size = check_int(input_size, "input_size", owner, low=1)
        self.hidden_size = check_int(hidden_size, "hidden_size", owner, low=1)
        if isinstance(beta, Tensor) and beta.dim() > 0 and beta.shape != (hidden_size,) \
                and beta.numel() != 1:
            raise ValueError(f"{owner}: beta must be a float or a tensor of shape "
                             f"({hidden_size},), got shape {tuple(beta.shape)}")
        self.add_param("beta", beta, learn_beta, low=0.0, high=1.0)
        self.linear = nn.Linear(input_size, hidden_size, bias=check_bool(bias, "bias", owner))
        self.dropout = check_number(dropout, "dropout", owner)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"{owner}: dropout must be in [0, 1), got {dropout!r}")
        #: the dense recurrence ``nn.Linear(hidden_size, hidden_size, bias=False)`` with
        #: ``weight_hh_enable=True``, else None
        self.recurrent: nn.Linear | None = None
        if check_bool(weight_hh_enable, "weight_hh_enable", owner):
            rows = torch.as_tensor(beta, dtype=torch.get_default_dtype()).reshape(-1)
            self.recurrent = nn.Linear(hidden_size, hidden_size, bias=False)
            with torch.no_grad():
                self.recurrent.weight.copy_(rows.expand(hidden_size).unsqueeze(1)
                                            .expand(hidden_size, hidden_size))
            self.recurrent.weight.requires_grad_(bool(learn_beta))

    @property
    def weight_hh(self) -> Tensor | None:
        """The dense recurrent matrix ``(hidden_size, hidden_size)``, or None (``diag(β)``)."""
        return None if self.recurrent is None else self.recurrent.weight

    def state_shapes(self, x: Tensor) -> tuple[torch.Size, ...]:
        return (torch.Size((*x.shape[:-1], self.hidden_size)),)

    def prepare(self, x: Tensor, state: Any) -> Any:
        self.check_input(x)
        if x.dim() not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"LeakyParallel: one step of input must be (B, input_size={self.input_size}), "
                f"got {tuple(x.shape)} (sequences are (T, B, input_size))"
            )
        self.check_params_broadcast(x.new_empty(self.state_shapes(x)[0]))
        return self.init_state(x) if state is None else self.check_state(state, x)

    def _drop(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.dropout, self.training) if self.dropout else x

    def step(self, x: Tensor, state: LeakyParallelState) -> tuple[Tensor, LeakyParallelState]:
        drive = call_in_dtype(self.linear, x.dtype, self._drop(x))
        if self.weight_hh is not None:
            mem = torch.relu(state.mem @ self.weight_hh.to(x.dtype).T + drive)
        else:
            mem = torch.relu(self.param("beta", x, clamp01=True) * state.mem + drive)
        return self.fire(mem, self.param("threshold", x)), LeakyParallelState(mem)

    def _run_sequence(self, x_seq: Tensor, state: Any) -> tuple[Tensor, Any]:
        unbatched = x_seq.dim() == 2
        xs = x_seq.unsqueeze(1) if unbatched else x_seq
        h0 = (state.mem.unsqueeze(0) if unbatched else state.mem).unsqueeze(0)
        xs = self._drop(xs)
        beta = self.param("beta", xs, clamp01=True).expand(self.hidden_size)
        w = self.linear.weight.to(xs.dtype)
        w_hh = self.weight_hh.to(xs.dtype) if self.weight_hh is not None else torch.diag(beta)
        params = [w, w_hh]
        if self.linear.bias is not None:
            params += [self.linear.bias.to(xs.dtype), torch.zeros_like(beta)]
        mem, _ = torch.rnn_relu(xs, h0, params, self.linear.bias is not None, 1, 0.0,
                                self.training, False, False)
        if unbatched:
            mem = mem.squeeze(1)
        return self.fire(mem, self.param("threshold", xs)), (mem,)


class StateLeakyState(NamedTuple):
    """State of :class:`StateLeaky` and :class:`LinearLeaky`: the membrane ``mem``."""

    mem: Tensor


class StateLeaky(_SequenceNeuron):
    r"""Leaky integration without reset computed as a causal convolution over time (registry
    name ``"state_leaky"``).

    .. math::
        U_t = \sum_{k=0}^{K-1} \beta^k X_{t-k} \;(+\,\beta^{t+1}U_{-1}), \qquad
        S_t = H(U_t - \theta)\cdot g

    which for an untruncated kernel (``kernel_truncation_steps=None``) is exactly
    :math:`U_t = \beta U_{t-1} + X_t`. :meth:`run` evaluates all steps at once with a depth-wise
    ``conv1d``; a single call ``n(x, state)`` computes one step of the recurrence (only without
    truncation, which needs the whole sequence). The graded factor :math:`g` is applied once.

    Args:
        beta: decay in [0, 1], float or per-neuron tensor broadcasting against one step.
        learn_beta: learnable :math:`\beta` (clamped to [0, 1]). Default: False.
        kernel_truncation_steps: keep only the last K inputs (K >= 1); None: all. Default: None.
        **options: the shared neuron options (keyword-only), see :class:`~snncore.Neuron`; not
            taken: ``reset``, ``reset_delay``, ``inhibition``, ``detach_reset`` (see
            ``fixed_options``).

    Shape:
        - Input: ``(T, *)`` for :meth:`run`, ``(*)`` for one step.
        - Output: spikes of the input's shape.

    State:
        :class:`StateLeakyState` ``(mem,)``; :meth:`trace` returns the membrane of every step.

    Example::

        >>> n = snn.create("state_leaky", beta=0.9)
        >>> spk, mems = n.trace(torch.rand(25, 8, 100))
    """

    State = StateLeakyState

    fixed_options = not_taken(_WHOLE_SEQUENCE, "reset_delay", "inhibition", "detach_reset",
                              reset="none")

    def __init__(self, beta: float | Tensor, *, learn_beta: bool = False,
                 kernel_truncation_steps: int | None = None, **options: Any) -> None:
        super().__init__(**options)
        owner = type(self).__name__
        self.add_param("beta", beta, learn_beta, low=0.0, high=1.0)
        if kernel_truncation_steps is not None:
            check_int(kernel_truncation_steps, "kernel_truncation_steps", owner, low=1)
            if self.state_quant is not None:
                raise ValueError(
                    f"{owner}: state_quant quantizes the state after every step's update, which "
                    "a truncated kernel does not have; drop kernel_truncation_steps or "
                    "state_quant")
        self.kernel_truncation_steps = kernel_truncation_steps

    def _drive(self, x: Tensor) -> Tensor:
        """Input current of one step or a sequence (identity here, a projection in subclasses)."""
        return x

    def _steps_are_faster(self, x_seq: Tensor) -> bool:
        # without truncation the step is the exact recurrence: on a fused loop it is O(T) per
        # neuron where the causal convolution is O(T^2) (T=500, 32768 neurons, training: about
        # 20x faster); the projection of LinearLeaky is a sub-module, so it keeps the convolution
        if self.kernel_truncation_steps is not None or type(self)._drive is not StateLeaky._drive:
            return False
        return select_backend(self, x_seq).name != "eager"

    def step(self, x: Tensor, state: StateLeakyState) -> tuple[Tensor, StateLeakyState]:
        if self.kernel_truncation_steps is not None:
            raise ValueError(
                f"{type(self).__name__}: kernel_truncation_steps needs the whole sequence; use "
                "run() or trace() (a single step is defined only without truncation)"
            )
        drive = self._drive(x)
        mem = self.integrate(self.param("beta", drive, clamp01=True), state.mem, drive,
                              self.param("threshold", drive))
        spk, mem = self.fire_and_reset(mem, self.param("threshold", drive))
        return spk, StateLeakyState(mem)

    def record(self, x_seq: Tensor, fields: Any, state: Any = None, *,
               backend: str | None = None) -> tuple[Tensor, Any, dict[str, Tensor]]:
        """As :meth:`Neuron.record`; with a truncated kernel (defined only on whole
        sequences) it records from the whole-sequence computation."""
        names = (fields,) if isinstance(fields, str) else fields
        if self.kernel_truncation_steps is None or backend is not None \
                or not isinstance(names, (tuple, list)) \
                or not all(isinstance(f, str) and f in self.State._fields for f in names):
            return super().record(x_seq, fields, state, backend=backend)  # it names problems
        spk, states = self.trace(x_seq, state)
        return spk, self.State(*(s[-1] for s in states)), {
            f: getattr(states, f) for f in dict.fromkeys(names)}

    def _run_sequence(self, x_seq: Tensor, state: Any) -> tuple[Tensor, Any]:
        if self.state_quant is not None:  # quantized after every update: the recurrence
            spk, _, rec = _STEPPER.record(self, x_seq, state, ("mem",))
            return spk, (rec["mem"],)
        drive = self._drive(x_seq)
        T = drive.shape[0]
        feat = drive.shape[1:]
        K = T if self.kernel_truncation_steps is None else min(self.kernel_truncation_steps, T)
        beta = self.param("beta", drive, clamp01=True)
        b = beta.expand(feat).reshape(-1)  # [M]
        M = b.numel()
        # powers beta^0 .. beta^T (cumprod keeps the gradient finite at beta = 0)
        powers = torch.cat([torch.ones_like(b)[:, None],
                            torch.cumprod(b[:, None].expand(M, T), dim=1)], dim=1)  # [M, T+1]
        kernel = powers[:, :K].flip(-1).unsqueeze(1)  # [M, 1, K]
        xs = drive.reshape(T, M).t().unsqueeze(0)  # [1, M, T]
        mem = F.conv1d(F.pad(xs, (K - 1, 0)), kernel, groups=M)[0].t()  # [T, M]
        carry = powers[:, 1:].t()  # beta^(t+1), [T, M]
        if self.kernel_truncation_steps is not None:
            # the initial state is inside the kernel's window while t + 1 < K (not min(K, T):
            # a step's value must not depend on how long the sequence is)
            keep = torch.arange(1, T + 1, device=drive.device) < self.kernel_truncation_steps
            carry = carry * keep[:, None].to(carry.dtype)
        mem = (mem + carry * state.mem.reshape(1, M)).reshape(drive.shape)
        return self.fire(mem, self.param("threshold", drive)), (mem,)


class LinearLeaky(StateLeaky):
    r"""A linear layer followed by :class:`StateLeaky` (registry name ``"linear_leaky"``).

    .. math::
        U_t = \sum_{k=0}^{K-1} \beta^k (W X_{t-k} + b), \qquad S_t = H(U_t - \theta)\cdot g

    The projection ``nn.Linear(in_features, out_features)`` (attribute ``linear``) is applied to
    the whole sequence in one matrix product. ``beta`` may be a float or a tensor of
    ``out_features``.

    Args:
        beta: decay in [0, 1], float or tensor of ``out_features``.
        in_features: input features.
        out_features: neurons.
        bias: bias of the projection. Default: True.
        learn_beta, kernel_truncation_steps: as in :class:`StateLeaky`.
        **options: the shared neuron options (keyword-only) that :class:`StateLeaky` takes.

    Shape:
        - Input: ``(T, B, in_features)`` for :meth:`run`, ``(B, in_features)`` for one step.
        - Output: spikes ``(T, B, out_features)``.

    State:
        :class:`StateLeakyState` ``(mem,)`` ``(B, out_features)``.

    Example::

        >>> n = snn.create("linear_leaky", beta=0.9, in_features=10, out_features=20)
        >>> spk, state = n.run(torch.rand(25, 8, 10))
    """

    fusable = ("LinearLeaky has no step-loop fused path: its step contains the input projection "
               "(nn.Linear), which mixes features; run() applies it to the whole sequence in "
               "one matrix product and the leak as a causal convolution (use nn.Linear followed "
               "by StateLeaky or Leaky(reset='none') in snn.Sequential for the fused loop)")

    def __init__(self, beta: float | Tensor, in_features: int, out_features: int, bias: bool = True,
                 *, learn_beta: bool = False, kernel_truncation_steps: int | None = None,
                 **options: Any) -> None:
        super().__init__(beta, learn_beta=learn_beta,
                         kernel_truncation_steps=kernel_truncation_steps, **options)
        owner = "LinearLeaky"
        self.in_features = check_int(in_features, "in_features", owner, low=1)
        self.out_features = check_int(out_features, "out_features", owner, low=1)
        self.linear = nn.Linear(in_features, out_features, bias=check_bool(bias, "bias", owner))

    def _drive(self, x: Tensor) -> Tensor:
        return F.linear(x, self.linear.weight.to(x.dtype),
                        None if self.linear.bias is None else self.linear.bias.to(x.dtype))

    def state_shapes(self, x: Tensor) -> tuple[torch.Size, ...]:
        return (torch.Size((*x.shape[:-1], self.out_features)),)

    def prepare(self, x: Tensor, state: Any) -> Any:
        self.check_input(x)
        if x.dim() < 1 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"LinearLeaky: the input's last dimension must be in_features="
                f"{self.in_features}, got {tuple(x.shape)}"
            )
        self.check_params_broadcast(x.new_empty(self.state_shapes(x)[0]))
        return self.init_state(x) if state is None else self.check_state(state, x)


class DeltaLeakyState(NamedTuple):
    """State of :class:`DeltaLeaky`: the membrane ``mem``."""

    mem: Tensor


#: why DeltaLeaky has no reset options
_NO_RESET = "the membrane keeps integrating; a spike marks a large change, nothing is reset"


@contextlib.contextmanager
def _as_delta_threshold() -> Iterator[None]:
    """A ValueError about the threshold, named as the caller names it: ``delta_threshold``."""
    try:
        yield
    except ValueError as exc:
        raise ValueError(str(exc).replace("threshold", "delta_threshold", 1)) from None


class DeltaLeaky(Neuron):
    r"""Leaky integrator that spikes on large changes of its membrane (registry name
    ``"delta_leaky"``).

    .. math::
        U_t = \beta U_{t-1} + X_t, \qquad S_t = H(|U_t - U_{t-1}| - \delta)\cdot g

    There is no reset: the membrane keeps integrating; a spike marks a step whose change exceeds
    the delta threshold :math:`\delta` (in either direction).

    Args:
        beta: decay in [0, 1], float or per-neuron tensor.
        delta_threshold: :math:`\delta` (> 0), float or per-neuron tensor. Default: 1.0.
        learn_beta: learnable :math:`\beta`. Default: False.
        **options: the shared neuron options (keyword-only), see :class:`~snncore.Neuron`;
            ``learn_threshold`` makes :math:`\delta` learnable (stored as ``threshold``), the
            surrogate's derivative is taken at :math:`|U_t - U_{t-1}| - \delta`; not taken:
            ``threshold``, ``reset``, ``reset_delay``, ``detach_reset`` (see ``fixed_options``).

    Shape:
        - Input: ``(*)`` for one step, ``(T, *)`` for :meth:`run`.
        - Output: spikes of the input's shape.

    State:
        :class:`DeltaLeakyState` ``(mem,)`` shaped like the input.

    Example::

        >>> n = snn.create("delta_leaky", beta=0.9, delta_threshold=0.2)
        >>> spk, state = n.run(torch.rand(25, 8, 100))
    """

    State = DeltaLeakyState

    fixed_options = {
        **not_taken("the firing threshold is delta_threshold", "threshold"),
        **not_taken(_NO_RESET, "reset_delay", "detach_reset", reset="none"),
    }

    def __init__(self, beta: float | Tensor, delta_threshold: float | Tensor = 1.0, *,
                 learn_beta: bool = False, **options: Any) -> None:
        super().__init__(**options)
        with _as_delta_threshold():
            self.add_param("threshold", delta_threshold, self.is_learnable("threshold"),
                           low=0.0, low_open=True)
        self.add_param("beta", beta, learn_beta, low=0.0, high=1.0)

    @property
    def delta_threshold(self) -> Tensor:
        """:math:`\\delta` (the ``threshold`` parameter); assigning it assigns the threshold,
        with the same checks."""
        return self.threshold

    @delta_threshold.setter
    def delta_threshold(self, value: float | Tensor) -> None:
        with _as_delta_threshold():
            self.threshold = value

    def step(self, x: Tensor, state: DeltaLeakyState) -> tuple[Tensor, DeltaLeakyState]:
        thr = self.param("threshold", x)
        mem = self.quantize(self.integrate(self.param("beta", x, clamp01=True), state.mem, x, thr))
        spk = self.fire((mem - state.mem).abs(), thr)
        return spk, DeltaLeakyState(mem)
