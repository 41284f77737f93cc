"""``snn.Sequential``: run a whole network over a time-first sequence, layer by layer."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ._backends import select_backend
from ._neuron import Neuron, detach_tree

__all__ = ["Sequential"]

_DROPOUTS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)
#: layers that mix time steps or samples themselves: folding time into batch would be wrong
_SEQUENCE_LAYERS = (nn.RNNBase, nn.RNNCellBase, nn.MultiheadAttention, nn.Transformer,
                    nn.TransformerEncoder, nn.TransformerDecoder, nn.TransformerEncoderLayer,
                    nn.TransformerDecoderLayer)


class Sequential(nn.Sequential):
    r"""A network run over a whole sequence ``[T, B, ...]`` one layer at a time.

    Stateless layers (``Linear``, convolutions, pooling, ``Flatten``, batch norm, ...) see time
    folded into the batch: one call over ``T·B`` rows instead of ``T`` small ones. Neurons run the
    whole sequence at once through :meth:`Neuron.run` on the selected backend (``fused`` by
    default where it applies). Dropout layers draw **one mask per sequence** (the same units are
    dropped at every step), and the mask is part of the state so that a sequence fed in chunks or
    step by step keeps it.

    Args:
        *layers: modules in order: :class:`~snncore.Neuron` instances, nested
            :class:`Sequential` runners, and stateless ``torch.nn`` modules.
        stateful: keep the state between calls and return the output only (streaming a long
            sequence in chunks, or step by step with :meth:`step`); clear it with
            :func:`snncore.reset` or :meth:`reset_state`. Default: False.
        backend: backend name for every neuron in this runner (overrides the neurons' own
            ``backend`` attribute; a ``backend=`` argument of :meth:`forward` overrides it).
            None selects as :meth:`Neuron.run` does. Default: None.

    Shape:
        - Input: ``(T, B, *)`` for :meth:`forward`, ``(B, *)`` for :meth:`step`.
        - Output: ``(T, B, *)`` / ``(B, *)``: the last layer's output.

    State:
        A tuple with one entry per layer: the neuron's state for neurons, the dropout mask for
        dropout layers (training only), the nested tuple for nested runners, else None.
        ``state=None`` starts from zero states and fresh masks.

    Example::

        >>> net = snn.Sequential(nn.Flatten(), nn.Linear(784, 256), snn.Leaky(beta=0.9),
        ...                      nn.Linear(256, 10), snn.Leaky(beta=0.9))
        >>> x = torch.rand(25, 32, 1, 28, 28)            # [T, B, C, H, W]
        >>> spk, state = net(x)                          # spk: [25, 32, 10]
        >>> spk_t, state = net.step(x[0])                # or one step at a time
    """

    #: :func:`snncore.reset` / :func:`snncore.detach` also clear / detach this module's state
    _snncore_state_holder = True

    def __init__(self, *layers: nn.Module, stateful: bool = False,
                 backend: str | None = None) -> None:
        super().__init__(*layers)
        for i, layer in enumerate(self):
            if not isinstance(layer, nn.Module):
                raise TypeError(f"Sequential: layer {i} must be a torch.nn.Module, got "
                                f"{type(layer).__name__}")
            if isinstance(layer, _SEQUENCE_LAYERS):
                raise TypeError(
                    f"Sequential: layer {i} ({type(layer).__name__}) processes sequences or "
                    "batches itself, so time cannot be folded into its batch; use it outside "
                    "snn.Sequential (or wrap it in a module that takes [T, B, ...])"
                )
            if not isinstance(layer, (Neuron, Sequential)) and any(
                    isinstance(m, Neuron) for m in layer.modules()):
                raise TypeError(
                    f"Sequential: layer {i} ({type(layer).__name__}) contains neurons inside "
                    "another container; put its layers directly in snn.Sequential or nest an "
                    "snn.Sequential"
                )
        if not isinstance(stateful, bool):
            raise TypeError(f"Sequential: stateful must be a bool, got {stateful!r}")
        if backend is not None and not isinstance(backend, str):
            raise TypeError(f"Sequential: backend must be a backend name or None, got {backend!r}")
        self.stateful = stateful
        self.backend = backend
        self.state: Any = None

    # -- helpers ------------------------------------------------------------------------------
    def _check_state(self, state: Any, where: str) -> tuple[Any, ...]:
        if state is None:
            return (None,) * len(self)
        if not isinstance(state, tuple) or len(state) != len(self):
            raise TypeError(
                f"Sequential.{where}: state must be a tuple with one entry per layer "
                f"({len(self)}), or None for a fresh state; got {type(state).__name__}"
                + (f" of length {len(state)}" if isinstance(state, tuple) else "")
            )
        return state

    @staticmethod
    def _dropout_mask(layer: nn.Module, x: Tensor, lead: int) -> Tensor:
        """A mask for one sequence: shape of one step's input (channels only for DropoutNd)."""
        p = float(layer.p)
        shape = list(x.shape[lead:])
        if not isinstance(layer, nn.Dropout):
            shape = shape[:2] + [1] * (len(shape) - 2)
        if p >= 1.0:
            return x.new_zeros(shape)
        return torch.bernoulli(x.new_full(shape, 1.0 - p)) / (1.0 - p)

    # -- whole sequence -------------------------------------------------------------------------
    def forward(self, x: Tensor, state: Any = None, *, backend: str | None = None) -> Any:
        """Run over ``x`` ``[T, B, ...]``. Returns ``(output, state)``, or only the output when
        ``stateful``."""
        if not isinstance(x, Tensor):
            raise TypeError(f"Sequential: input must be a tensor, got {type(x).__name__}")
        if x.dim() < 2:
            raise ValueError(
                f"Sequential: input must be time-first [T, B, ...], got shape {tuple(x.shape)}; "
                "use step() for a single time step"
            )
        if self.stateful and state is None:
            state = self.state
        states = self._check_state(state, "forward")
        backend = backend or self.backend
        new_states: list[Any] = []
        layers = list(self)
        i = 0
        while i < len(layers):
            if i + 1 < len(layers):
                pair = self._run_pair(layers[i], layers[i + 1], x, states[i + 1], backend)
                if pair is not None:
                    x, st = pair
                    new_states += [None, st]
                    i += 2
                    continue
            x, st = self._run_layer(layers[i], x, states[i], backend)
            new_states.append(st)
            i += 1
        out_state = tuple(new_states)
        if self.stateful:
            self.state = out_state
            return x
        return x, out_state

    @staticmethod
    def _run_pair(layer: nn.Module, neuron: nn.Module, x: Tensor, st: Any, backend: str | None
                  ) -> tuple[Tensor, Any] | None:
        """An ``nn.Linear`` followed by a neuron as one operation where the neuron's backend
        has a combined path for the pair (:meth:`Backend.run_linear`, the same results with
        one buffer and one pass fewer); None to run them one after the other."""
        if not isinstance(layer, nn.Linear) or not isinstance(neuron, Neuron) or x.dim() != 3 \
                or x.shape[0] < 1 or not x.is_floating_point():
            return None
        _check_layer_input(layer, x)
        # the neuron's input as the checks and the backend selection see it, without its data
        probe = x.new_empty(()).expand(x.shape[0], x.shape[1], layer.out_features)
        if neuron.stateful and st is None:
            st = neuron.state
        state = neuron.prepare(probe[0], st)
        res = select_backend(neuron, probe, backend).run_linear(layer, neuron, x, state)
        if res is None:
            return None
        spk, new_state = res
        if neuron.stateful:
            neuron.state = new_state
            return spk, None
        return spk, new_state

    def _run_layer(self, layer: nn.Module, x: Tensor, st: Any, backend: str | None
                   ) -> tuple[Tensor, Any]:
        if isinstance(layer, Neuron):
            if layer.stateful:
                return layer.run(x, st, backend=backend), None
            return layer.run(x, st, backend=backend)
        if isinstance(layer, Sequential):
            if layer.stateful:
                return layer(x, st, backend=backend), None
            return layer(x, st, backend=backend)
        if isinstance(layer, _DROPOUTS):
            if not layer.training or layer.p == 0:
                return x, None
            mask = st if st is not None else self._dropout_mask(layer, x, 1)
            return x * mask, mask
        _check_layer_input(layer, x)
        t, b = x.shape[0], x.shape[1]
        y = layer(x.reshape(t * b, *x.shape[2:]))
        if not isinstance(y, Tensor) or y.dim() < 1 or y.shape[0] != t * b:
            raise ValueError(
                f"Sequential: stateless layer {type(layer).__name__} must map [T*B, ...] to "
                f"[T*B, ...]; got {tuple(y.shape) if isinstance(y, Tensor) else type(y)}"
            )
        return y.reshape(t, b, *y.shape[1:]), None

    # -- one step -------------------------------------------------------------------------------
    def step(self, x: Tensor, state: Any = None) -> Any:
        """One time step ``x`` ``[B, ...]``. Returns ``(output, state)``, or only the output when
        ``stateful``. Batch norm in training mode normalises over this step's batch only."""
        if not isinstance(x, Tensor):
            raise TypeError(f"Sequential.step: input must be a tensor, got {type(x).__name__}")
        if self.stateful and state is None:
            state = self.state
        states = self._check_state(state, "step")
        new_states: list[Any] = []
        for layer, st in zip(self, states, strict=True):
            if isinstance(layer, Neuron):
                if layer.stateful:
                    x, st = layer(x), None
                else:
                    x, st = layer(x, st)
            elif isinstance(layer, Sequential):
                if layer.stateful:
                    x, st = layer.step(x), None
                else:
                    x, st = layer.step(x, st)
            elif isinstance(layer, _DROPOUTS):
                if layer.training and layer.p != 0:
                    st = st if st is not None else self._dropout_mask(layer, x, 0)
                    x = x * st
                else:
                    st = None
            else:
                x = layer(x)
            new_states.append(st)
        out_state = tuple(new_states)
        if self.stateful:
            self.state = out_state
            return x
        return x, out_state

    # -- state management (called by snncore.reset / snncore.detach through the neurons) ------
    def reset_state(self) -> None:
        """Forget the stored state (stateful mode)."""
        self.state = None

    def detach_state(self) -> None:
        """Cut the autograd history of the stored state (stateful mode)."""
        if self.state is not None:
            self.state = detach_tree(self.state)

    def __getstate__(self) -> dict[str, Any]:
        """For ``copy.deepcopy`` and pickle: the stored state without its autograd history."""
        state = dict(self.__dict__)
        if state.get("state") is not None:
            state["state"] = detach_tree(state["state"])
        return state

    def extra_repr(self) -> str:
        parts = []
        if self.stateful:
            parts.append("stateful=True")
        if self.backend:
            parts.append(f"backend={self.backend!r}")
        return ", ".join(parts)


#: layer type -> (rank of one sample's input, what that sample is)
_SAMPLE_RANK: tuple[tuple[type[nn.Module], int, str], ...] = (
    (nn.Linear, 1, "F"), (nn.Bilinear, 1, "F"),
    (nn.Conv1d, 2, "C, L"), (nn.ConvTranspose1d, 2, "C, L"),
    (nn.Conv2d, 3, "C, H, W"), (nn.ConvTranspose2d, 3, "C, H, W"),
    (nn.Conv3d, 4, "C, D, H, W"), (nn.ConvTranspose3d, 4, "C, D, H, W"),
)


def _check_layer_input(layer: nn.Module, x: Tensor) -> None:
    """A stateless layer with a known input rank must get ``[T, B, *sample]``: a batch whose
    time axis was forgotten (``[B, F]`` for a Linear) is named as such instead of ending in a
    matmul error."""
    for kind, rank, sample in _SAMPLE_RANK:
        if isinstance(layer, kind):
            if x.dim() != rank + 2:
                hint = (" (a batch without its time axis? add one with x.unsqueeze(0) for a "
                        "single step, or encode it over T steps, e.g. "
                        "snncore.encoders.rate(x, T))") if x.dim() == rank + 1 else ""
                raise ValueError(
                    f"Sequential: {type(layer).__name__} expects time-first input "
                    f"[T, B, {sample}] ({rank + 2} dims), got shape {tuple(x.shape)}{hint}"
                )
            features = getattr(layer, "in_features", None) or getattr(layer, "in_channels", None)
            axis = -1 if hasattr(layer, "in_features") else 2
            if isinstance(features, int) and x.shape[axis] != features:
                raise ValueError(
                    f"Sequential: {type(layer).__name__} expects {features} "
                    f"{'features' if axis == -1 else 'channels'} in input [T, B, {sample}], got "
                    f"shape {tuple(x.shape)}"
                )
            return
