"""``snn.Sequential``: run a whole network over a time-first sequence, layer by layer."""

from __future__ import annotations

import contextvars
from typing import Any

import torch
from torch import Tensor, nn

from ._backends import (
    donate_input,
    func_transforms_active,
    graph_tracing,
    input_donated,
    module_hooked,
    module_hooks,
    select_backend,
    wrapped_tensor,
)
from ._buffers import buffer_cache
from ._kernel import NotFusable, describe
from ._neuron import Neuron, detach_tree
from ._registry import ensure_loaded

__all__ = ["Sequential"]

_DROPOUTS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)
#: layers that mix time steps or samples themselves: folding time into batch would be wrong
_SEQUENCE_LAYERS = (nn.RNNBase, nn.RNNCellBase, nn.MultiheadAttention, nn.Transformer,
                    nn.TransformerEncoder, nn.TransformerDecoder, nn.TransformerEncoderLayer,
                    nn.TransformerDecoderLayer)
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
          nn.ConvTranspose3d)
#: torch.nn modules (by defining module) that treat every row of their input on its own, so
#: that running them over time chunks gives the folded result
_PER_SAMPLE_MODULES = frozenset({
    "torch.nn.modules.activation", "torch.nn.modules.conv", "torch.nn.modules.linear",
    "torch.nn.modules.pooling", "torch.nn.modules.flatten", "torch.nn.modules.padding",
    "torch.nn.modules.pixelshuffle", "torch.nn.modules.upsampling",
    "torch.nn.modules.channelshuffle", "torch.nn.modules.fold",
})
_PER_SAMPLE_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm, nn.RMSNorm)
#: stateless layers whose output autograd does not keep for their backward: a runner may lend
#: that output to the next neuron as its buffer (see :func:`snncore._backends.donate_input`)
_OUTPUT_NOT_SAVED = (nn.Linear, *_CONVS, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d,
                     nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
#: bytes of the largest stateless-layer activation in one time chunk of the automatic plan,
#: chosen from sweeps on the tutorial-6 conv network on a Xeon and an AMD EPYC Zen 4 VM (the
#: numbers: docs/backends.md, "Time chunks")
CHUNK_BYTES = 24 << 20
_in_chunk: contextvars.ContextVar[bool] = contextvars.ContextVar("snncore_in_chunk",
                                                                 default=False)


class Sequential(nn.Sequential):
    r"""A network run over a whole sequence ``[T, B, ...]`` one layer at a time.

    Stateless layers (``Linear``, convolutions, pooling, ``Flatten``, batch norm, ...) see time
    folded into the batch: one call over ``T·B`` rows instead of ``T`` small ones. Neurons run
    the whole sequence at once through :meth:`Neuron.run` on the selected backend (``fused`` by
    default where it applies). Dropout layers draw **one mask per sequence** (the same units
    are dropped at every step), and the mask is part of the state so that a sequence fed in
    chunks or step by step keeps it.

    How the runner gets the folded result is chosen per call (docs/backends.md, "How a
    sequence is executed"): convolutional networks run depth-first over blocks of time steps
    (``time_chunk``) with channels-last convolutions (``channels_last``); in a training forward
    a non-overlapping ``MaxPool2d`` keeps only the indices of its maxima for the backward; a
    time-constant input (stride 0 over time, e.g. ``img.expand(T, ...)``) runs the leading
    stateless layers once; the output of a ``Linear``, convolution or pooling layer that feeds
    a fused neuron holds that neuron's saved membrane.

    Args:
        *layers: modules in order: :class:`~snncore.Neuron` instances, nested
            :class:`Sequential` runners, and stateless ``torch.nn`` modules.
        stateful: keep the state between calls and return the output only (streaming a long
            sequence in chunks, or step by step with :meth:`step`); clear it with
            :func:`snncore.reset` or :meth:`reset_state`. Default: False.
        backend: backend name for every neuron in this runner (overrides the neurons' own
            ``backend`` attribute; a ``backend=`` argument of :meth:`forward` overrides it).
            None selects as :meth:`Neuron.run` does. Default: None.
        time_chunk: how :meth:`forward` walks through time. ``"auto"``: on CPU, a network with
            a convolution and only per-sample ``torch.nn`` stateless layers runs depth-first
            over blocks of time steps, each block's largest stateless-layer output about
            :data:`CHUNK_BYTES` (24 MiB; measured on the first call for an input shape), every
            other network folded; an ``int`` >= 1: blocks of that many steps for any network;
            None: always fold all of ``T``. Neuron states and dropout masks carry over between
            blocks, so the result equals the folded run (gradients up to summation order).
            Batch norm that uses batch statistics always runs folded. Default: ``"auto"``.
        channels_last: put every ``Conv2d`` input in channels-last memory order (faster
            oneDNN convolutions and max-pooling); elementwise neurons with scalar parameters
            keep that order. Its sums run in another order, so values can differ from the
            default layout in the last bits; False keeps the default layout. None: on CPU.
            Default: None.

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
                 backend: str | None = None, time_chunk: int | str | None = "auto",
                 channels_last: bool | None = None) -> None:
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
        if not (time_chunk is None or time_chunk == "auto" or (
                isinstance(time_chunk, int) and not isinstance(time_chunk, bool)
                and time_chunk >= 1)):
            raise ValueError(f"Sequential: time_chunk must be 'auto', a number of steps >= 1 or "
                             f"None (run the whole sequence folded), got {time_chunk!r}")
        if channels_last is not None and not isinstance(channels_last, bool):
            raise TypeError("Sequential: channels_last must be True, False or None (automatic: "
                            f"on CPU), got {channels_last!r}")
        self.stateful = stateful
        self.backend = backend
        self.time_chunk = time_chunk
        self.channels_last = channels_last
        self.state: Any = None
        #: largest stateless-layer activation of one time step, per input shape (auto chunks)
        self._step_bytes: dict[Any, int] = {}
        self._last_bytes = 0
        # the backends are looked up in forward, which torch.compile may trace first: the
        # plugin loader cannot run inside a trace
        ensure_loaded()

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
    def _mask_shape(layer: nn.Module, x: Tensor, lead: int) -> list[int]:
        """One step's input shape (channels only for DropoutNd): the mask of one sequence."""
        shape = list(x.shape[lead:])
        if not isinstance(layer, nn.Dropout):
            shape = shape[:2] + [1] * (len(shape) - 2)
        return shape

    @classmethod
    def _dropout_mask(cls, layer: nn.Module, x: Tensor, lead: int) -> Tensor:
        """A fresh mask for one sequence."""
        p = float(layer.p)
        shape = cls._mask_shape(layer, x, lead)
        if p >= 1.0:
            return x.new_zeros(shape)
        return torch.bernoulli(x.new_full(shape, 1.0 - p)) / (1.0 - p)

    def _check_mask(self, i: int, layer: nn.Module, mask: Any, x: Tensor, lead: int,
                    where: str) -> Tensor:
        """A dropout mask from a state: a tensor of the shape this input's mask has (a mask of
        another batch size would silently broadcast)."""
        need = self._mask_shape(layer, x, lead)
        if not isinstance(mask, Tensor):
            raise TypeError(f"Sequential.{where}: state[{i}] ({type(layer).__name__}) must be a "
                            f"dropout mask tensor or None, got {type(mask).__name__}")
        if list(mask.shape) != need or mask.dtype != x.dtype or mask.device != x.device:
            raise ValueError(
                f"Sequential.{where}: state[{i}] ({type(layer).__name__}, p={layer.p}) is a "
                f"mask of shape {tuple(mask.shape)} ({mask.dtype}, {mask.device}) but this "
                f"input needs {tuple(need)} ({x.dtype}, {x.device}); pass state=None for a "
                "fresh state"
                + (" or call snncore.reset(model)" if self.stateful else ""))
        return mask

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
        if x.shape[0] < 1:
            raise ValueError(
                f"Sequential: input must be time-first [T, B, ...] with T >= 1, got shape "
                f"{tuple(x.shape)} (no time step)"
            )
        if self.stateful and state is None:
            state = self.state
        states = list(self._check_state(state, "forward"))
        backend = backend or self.backend
        x_in, start = x, 0
        if x.shape[0] > 1 and x.stride(0) == 0 and not _compiling():
            x, start = self._shared_prefix(x)
        key = (tuple(x_in.shape[1:]), x_in.dtype)
        measure = self.time_chunk == "auto" and key not in self._step_bytes
        sizes = self._chunk_sizes(x, start, key)
        if not _compiling():
            self._last_bytes = 0
        if sizes is None:
            x = self._run_layers(x, states, start, backend)
        else:
            # a first call of the automatic plan (sizes [1, T - 1]) runs step 0 alone to measure
            # it, then the other steps in blocks of the measured size (not as one folded block:
            # that would make the first training step the slowest and the highest in memory)
            outs = []
            token = _in_chunk.set(True)
            try:
                t0, todo = 0, list(sizes)
                while todo:
                    k = todo.pop(0)
                    outs.append(self._run_layers(x[t0:t0 + k], states, start, backend))
                    t0 += k
                    if measure and self._last_bytes:
                        todo = _even_blocks(x.shape[0] - t0, _auto_steps(self._last_bytes))
                    measure = False
            finally:
                _in_chunk.reset(token)
            x = torch.cat(outs) if len(outs) > 1 else outs[0]
        if self.time_chunk == "auto" and self._last_bytes and not _compiling():
            self._step_bytes[key] = self._last_bytes
        out_state = tuple(states)
        if self.stateful:
            self.state = out_state
            return x
        return x, out_state

    def _run_pair(self, layer: nn.Module, neuron: nn.Module, x: Tensor, st: Any,
                  backend: str | None) -> tuple[Tensor, Any] | None:
        """An ``nn.Linear`` followed by a neuron as one operation where the neuron's backend
        has a combined path for the pair (:meth:`Backend.run_linear`, the same results with
        one buffer and one pass fewer); None to run them one after the other."""
        if not isinstance(layer, nn.Linear) or not isinstance(neuron, Neuron) or x.dim() != 3 \
                or x.shape[0] < 1 or not x.is_floating_point() or _step_hooked(neuron):
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
        self._last_bytes = max(self._last_bytes, spk[0].numel() * spk.element_size())
        if neuron.stateful:
            neuron.state = new_state
            return spk, None
        return spk, new_state

    def _run_layers(self, x: Tensor, states: list[Any], start: int, backend: str | None
                    ) -> Tensor:
        """Layers ``start:`` over ``x`` (the whole sequence or one time chunk); ``states`` is
        updated in place."""
        lend = False
        i = start
        while i < len(self):
            layer = self[i]
            if i + 1 < len(self) and not _compiling():
                pair = self._run_pair(layer, self[i + 1], x, states[i + 1], backend)
                if pair is not None:
                    x, states[i + 1] = pair
                    states[i] = None
                    i += 2
                    lend = False
                    continue
            # not to a neuron with run hooks (a Monitor may keep its input) or its own run()
            # (it may read its input after the run)
            if isinstance(layer, Neuron) and lend and _plain_run(layer):
                with donate_input(x):
                    x, states[i] = self._run_layer(i, layer, x, states[i], backend)
            else:
                x, states[i] = self._run_layer(i, layer, x, states[i], backend)
            # exact types: a subclass may keep its output (e.g. a tanh after the product)
            lend = (not _compiling() and type(layer) in _OUTPUT_NOT_SAVED
                    and not module_hooked(layer))
            i += 1
        return x

    def _shared_prefix(self, x: Tensor) -> tuple[Tensor, int]:
        """``x`` is the same at every step (stride 0 over time, e.g. ``img.expand(T, ...)``):
        the leading stateless per-sample layers run once on one step and their output is
        expanded over time. Returns the (expanded) output and the index of the first layer
        still to run."""
        T = x.shape[0]
        z, i = x[0], 0
        while i < len(self) and _per_sample(self[i]) and not _batch_stats(self[i]) \
                and not any(module_hooked(m) for m in self[i].modules()):
            _check_layer_input(self[i], x if i == 0 else z.unsqueeze(0))
            z = self[i](z)
            i += 1
        if i == 0:
            return x, 0
        return z.expand(T, *z.shape), i

    def _chunk_sizes(self, x: Tensor, start: int, key: Any) -> list[int] | None:
        """Steps of each time chunk, or None to run the whole sequence folded."""
        T = x.shape[0]
        chunk = self.time_chunk
        if _compiling() or chunk is None or T < 2 or _in_chunk.get():
            return None
        layers = list(self)[start:]
        if any(_batch_stats(m) for layer in layers for leaf in _stateless_leaves(layer)
               for m in leaf.modules()):
            return None  # batch statistics over the whole sequence: keep it folded
        if chunk == "auto":
            if x.device.type != "cpu" or not self._auto_chunkable(layers):
                return None
            per_step = self._step_bytes.get(key)
            if per_step is None:  # measure one step's activations first (see forward)
                return [1, T - 1]
            steps = _auto_steps(per_step)
        else:
            steps = chunk
        if steps >= T:
            return None
        return _even_blocks(T, steps)

    @staticmethod
    def _auto_chunkable(layers: list[nn.Module]) -> bool:
        leaves = [m for layer in layers for m in _stateless_leaves(layer)]
        return (any(isinstance(m, _CONVS) for m in leaves)
                and all(_per_sample(m) or isinstance(m, _DROPOUTS) for m in leaves))

    def _run_layer(self, i: int, layer: nn.Module, x: Tensor, st: Any, backend: str | None
                   ) -> tuple[Tensor, Any]:
        if isinstance(layer, Neuron):
            return _run_neuron(layer, x, st, backend)
        if isinstance(layer, Sequential):
            out = layer(x, st, backend=backend)
            if not _compiling():
                self._last_bytes = max(self._last_bytes, layer._last_bytes)
            return (out, None) if layer.stateful else out
        if isinstance(layer, _DROPOUTS):
            if not layer.training or layer.p == 0:
                return x, None
            mask = (self._dropout_mask(layer, x, 1) if st is None else
                    self._check_mask(i, layer, st, x, 1, "forward"))
            return x * mask, mask
        _check_layer_input(layer, x)
        t, b = x.shape[0], x.shape[1]
        z = x.reshape(t * b, *x.shape[2:])
        if isinstance(layer, nn.Conv2d) and z.dim() == 4 and self._channels_last(z):
            z = _to_channels_last(z)
        if _lean_pool(layer, z):
            y = self._consumer_run(i, layer, z, t, backend)
            if y is None:
                y = _MaxPool2dIndices.apply(z, layer.kernel_size,
                                            layer.stride or layer.kernel_size)
        elif _lean_linear(layer, z):
            y = _linear_releasing_input(layer, z)
        else:
            y = layer(z)
        if not isinstance(y, Tensor) or y.dim() < 1 or y.shape[0] != t * b:
            raise ValueError(
                f"Sequential: stateless layer {type(layer).__name__} must map [T*B, ...] to "
                f"[T*B, ...]; got {tuple(y.shape) if isinstance(y, Tensor) else type(y)}"
            )
        if not _compiling():
            self._last_bytes = max(self._last_bytes, y.numel() * y.element_size() // t)
        return y.reshape(t, b, *y.shape[1:]), None

    def _consumer_run(self, i: int, layer: nn.Module, z: Tensor, t: int, backend: str | None
                      ) -> Tensor | None:
        """Layer ``i`` (a lean max pool: :func:`_lean_pool`) applied by the backend of the
        neuron it feeds, layer ``i + 1`` (:meth:`Backend.run_stateless`), or None."""
        if i + 1 >= len(self):
            return None
        neuron = self[i + 1]
        if not isinstance(neuron, Neuron) or _step_hooked(neuron):
            return None
        n, c, h, w = z.shape
        kh, kw = _pair(layer.kernel_size)
        # the neuron's input as the backend selection sees it, without its data
        probe = z.new_empty(()).expand(t, n // t, c, h // kh, w // kw)
        return select_backend(neuron, probe, backend).run_stateless(layer, z)

    def _channels_last(self, z: Tensor) -> bool:
        if self.channels_last is None:
            return z.device.type == "cpu" and z.is_floating_point() and not _compiling()
        return self.channels_last

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
        for i, (layer, st) in enumerate(zip(self, states, strict=True)):
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
                    st = (self._dropout_mask(layer, x, 0) if st is None else
                          self._check_mask(i, layer, st, x, 0, "step"))
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
        if self.time_chunk != "auto":
            parts.append(f"time_chunk={self.time_chunk!r}")
        if self.channels_last is not None:
            parts.append(f"channels_last={self.channels_last!r}")
        return ", ".join(parts)


#: layer type -> (rank of one sample's input, what that sample is); a Linear takes any
#: leading sample dimensions ([..., F], like nn.Linear)
_SAMPLE_RANK: tuple[tuple[type[nn.Module], int, str], ...] = (
    (nn.Linear, 1, "..., F"), (nn.Bilinear, 1, "F"),
    (nn.Conv1d, 2, "C, L"), (nn.ConvTranspose1d, 2, "C, L"),
    (nn.Conv2d, 3, "C, H, W"), (nn.ConvTranspose2d, 3, "C, H, W"),
    (nn.Conv3d, 4, "C, D, H, W"), (nn.ConvTranspose3d, 4, "C, D, H, W"),
)


def _auto_steps(per_step: int) -> int:
    """Steps per block of the automatic plan for ``per_step`` bytes of the largest stateless
    activation of one step."""
    return max(1, CHUNK_BYTES // max(per_step, 1))


def _even_blocks(T: int, steps: int) -> list[int]:
    """``T`` steps in as few blocks of at most ``steps`` as possible, of sizes that differ by at
    most one."""
    n = -(-T // steps)
    return [T // n + (j < T % n) for j in range(n)]


def _check_layer_input(layer: nn.Module, x: Tensor) -> None:
    """A stateless layer with a known input rank must get ``[T, B, *sample]``: a batch whose
    time axis was forgotten (``[B, F]`` for a Linear) is named as such instead of ending in a
    matmul error."""
    for kind, rank, sample in _SAMPLE_RANK:
        if isinstance(layer, kind):
            if x.dim() != rank + 2 and not (kind is nn.Linear and x.dim() > rank + 2):
                hint = (" (a batch without its time axis? add one with x.unsqueeze(0) for a "
                        "single step, or encode it over T steps, e.g. "
                        "snncore.encoders.rate(x, T))") if x.dim() == rank + 1 else ""
                dims = f"at least {rank + 2}" if kind is nn.Linear else f"{rank + 2}"
                raise ValueError(
                    f"Sequential: {type(layer).__name__} expects time-first input "
                    f"[T, B, {sample}] ({dims} dims), got shape {tuple(x.shape)}{hint}"
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


# -- execution helpers -------------------------------------------------------------------------
def _compiling() -> bool:
    """Whether a tracer (torch.compile, torch.jit, a torch.func transform) runs the network:
    no lent buffers, channels-last copies or fused pairs then (they need real storage)."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing() or func_transforms_active()


def _plain_run(neuron: Neuron) -> bool:
    """Whether ``neuron.run`` is the base class's, without run hooks on the instance."""
    return type(neuron).run is Neuron.run and "run" not in vars(neuron)


def _stateless_leaves(layer: nn.Module) -> list[nn.Module]:
    """The stateless modules a runner layer applies (inside nested runners too)."""
    if isinstance(layer, Neuron):
        return []
    if isinstance(layer, Sequential):
        return [m for sub in layer for m in _stateless_leaves(sub)]
    return [layer]


def _per_sample(layer: nn.Module) -> bool:
    """A torch.nn layer known to treat every row of its input on its own (no batch
    statistics, no randomness): running it once per time chunk, or once for a shared input,
    gives the folded result."""
    if isinstance(layer, (Neuron, Sequential, *_DROPOUTS)):
        return False
    if isinstance(layer, nn.RReLU):
        return False
    if isinstance(layer, nn.modules.batchnorm._BatchNorm):
        return not _batch_stats(layer)
    if isinstance(layer, nn.modules.instancenorm._InstanceNorm):
        return not _batch_stats(layer)
    if isinstance(layer, _PER_SAMPLE_NORMS):
        return True
    if isinstance(layer, nn.Sequential) and type(layer) is nn.Sequential:
        return all(_per_sample(m) for m in layer)
    return type(layer).__module__ in _PER_SAMPLE_MODULES


def _batch_stats(layer: nn.Module) -> bool:
    """Batch norm that normalises with the statistics of the batch it is given (training
    mode, or no running statistics), or instance norm that updates running statistics (once
    per call): either must see all of a sequence's T·B rows in one call."""
    if isinstance(layer, nn.modules.instancenorm._InstanceNorm):
        return layer.training and layer.track_running_stats
    return isinstance(layer, nn.modules.batchnorm._BatchNorm) and (
        layer.training or not layer.track_running_stats or layer.running_mean is None)


def _to_channels_last(z: Tensor) -> Tensor:
    """``z`` ``[N, C, H, W]`` in channels-last memory order (a view when ``C == 1``)."""
    if z.is_contiguous(memory_format=torch.channels_last) and (z.shape[1] > 1 or z.stride(1) == 1):
        return z
    n, c, h, w = z.shape
    if c == 1 and z.is_contiguous():
        return z.view(n, h, w, 1).permute(0, 3, 1, 2)
    return z.contiguous(memory_format=torch.channels_last)


def _recording() -> bool:
    """Whether autograd records operations now: grad mode on and not in inference mode (where
    ``enable_grad`` records nothing and inference tensors cannot be saved for a backward)."""
    return torch.is_grad_enabled() and (torch.compiler.is_compiling()  # (untraceable query)
                                        or not torch.is_inference_mode_enabled())


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _lean_pool(layer: nn.Module, z: Tensor) -> bool:
    """A ``MaxPool2d`` with non-overlapping windows in a training forward (no tracer, see
    :func:`_lean_linear`): its backward needs only the indices of the maxima, not its input
    (which autograd would otherwise keep)."""
    if type(layer) is not nn.MaxPool2d or z.dim() != 4:
        return False
    k, s = _pair(layer.kernel_size), _pair(layer.stride or layer.kernel_size)
    d, p = _pair(layer.dilation), _pair(layer.padding)
    return (k == s and d == (1, 1) and p == (0, 0) and not layer.ceil_mode
            and not layer.return_indices and _recording() and z.requires_grad
            and not module_hooked(layer) and not graph_tracing())


class _MaxPool2dIndices(torch.autograd.Function):
    """``max_pool2d`` over non-overlapping windows that keeps only the argmax indices for the
    backward (the gradient lands on each window's maximum, as in ``nn.MaxPool2d``)."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, kernel: Any, stride: Any) -> Tensor:  # type: ignore[override]
        y, idx = torch.nn.functional.max_pool2d(z, kernel, stride, return_indices=True)
        ctx.save_for_backward(idx)
        ctx.args = (kernel, stride, z.shape[-2:])
        return y

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        (idx,) = ctx.saved_tensors
        kernel, stride, size = ctx.args
        return torch.nn.functional.max_unpool2d(g, idx, kernel, stride, output_size=size), \
            None, None


def _lean_linear(layer: nn.Module, z: Tensor) -> bool:
    """A plain ``nn.Linear`` on CPU (no module hooks or autocast, nothing tracing the code:
    :func:`~snncore._backends.graph_tracing`, e.g. poptorch for the IPU) in a training
    forward whose weight needs a gradient: run as :func:`_linear_releasing_input` (its input
    gradient comes from the buffer cache, where the released input's memory waits: CPU
    only)."""
    if type(layer) is not nn.Linear or z.dim() != 2 or not _recording() \
            or type(z) is not Tensor or z.device.type != "cpu":
        return False
    w = layer.weight
    if not w.requires_grad or type(w) is not nn.Parameter or z.dtype != w.dtype \
            or z.layout != torch.strided or w.layout != torch.strided:
        return False
    return not (module_hooked(layer) or torch.is_autocast_enabled(z.device.type)
                or graph_tracing())


class _LinearInputGrad(torch.autograd.Function):
    """``nn.Linear``'s product; its backward computes the input and bias gradients only (the
    weight gradient comes from :class:`_LinearWeightGrad`, which runs first)."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, weight: Tensor, bias: Tensor | None  # type: ignore[override]
                ) -> Tensor:
        # the weight only where the input gradient needs it (as nn.Linear's backward)
        ctx.save_for_backward(weight if ctx.needs_input_grad[0] else None)
        ctx.has_bias = bias is not None
        return torch.nn.functional.linear(z, weight, bias)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        (weight,) = ctx.saved_tensors
        gz = None
        if ctx.needs_input_grad[0]:
            # create_graph, or a batched gradient (is_grads_batched, vmap): an out-of-place
            # product (out= has no batching rule)
            if torch.is_grad_enabled() or wrapped_tensor(g):
                gz = g.mm(weight)
            else:  # into cached memory, e.g. the input's block that was just released
                gz = torch.mm(g, weight, out=buffer_cache().empty_like(
                    g.new_empty(()).expand(g.shape[0], weight.shape[1])))
        gb = g.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return gz, None, gb


class _LinearWeightGrad(torch.autograd.Function):
    """Identity on the product ``y`` of :class:`_LinearInputGrad` whose backward computes the
    weight gradient from the saved input ``z``. Being the later node in the forward, it runs
    first in the backward, and autograd releases ``z`` when it is done (without
    ``retain_graph``): the input gradient is allocated after that."""

    @staticmethod
    def forward(ctx: Any, y: Tensor, z: Tensor, weight: Tensor  # type: ignore[override]
                ) -> Tensor:
        ctx.save_for_backward(z)
        return y.detach()  # the same memory, a new autograd history (not a view of y)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        (z,) = ctx.saved_tensors
        return g, None, g.t().mm(z)


def _linear_releasing_input(layer: nn.Linear, z: Tensor) -> Tensor:
    """``layer(z)`` with the same values and gradients, as two autograd nodes so that the
    backward frees the input (when nothing else keeps it, e.g. a previous layer's spikes)
    before it allocates the input gradient of the same size: the two never exist at once."""
    y = _LinearInputGrad.apply(z, layer.weight, layer.bias)
    return _LinearWeightGrad.apply(y, z, layer.weight)


def _elementwise(neuron: Neuron, x: Tensor) -> bool:
    """Whether ``neuron`` treats every element on its own with scalar parameters, so that it
    may run on a permuted view of its input (not when run hooks, e.g. a Monitor, would see
    that view)."""
    if neuron.stateful or not _plain_run(neuron):
        return False
    for t in (*neuron.parameters(recurse=False), *neuron.buffers(recurse=False)):
        if t.numel() != 1:
            return False
    try:
        describe(neuron)
    except NotFusable:
        return False
    except Exception:  # a description that fails for another reason: run as given
        return False
    return all(tuple(s) == tuple(x.shape[1:]) for s in neuron.state_shapes(x[0]))


def _run_neuron(layer: Neuron, x: Tensor, st: Any, backend: str | None) -> tuple[Tensor, Any]:
    """``layer.run``; an input in channels-last order ``[T, B, C, H, W]`` runs as its
    contiguous permutation ``[T, B, H, W, C]`` (elementwise neurons), so that the spikes keep
    the order the next convolution wants without a copy. A neuron with module hooks (see
    :func:`_step_hooked`) is called once per step instead, as :meth:`Sequential.step` calls
    it, so that the hooks see every step."""
    if _step_hooked(layer):
        return _step_neuron(layer, x, st)
    if (x.dim() == 5 and not x.is_contiguous() and x.permute(0, 1, 3, 4, 2).is_contiguous()
            and not _compiling() and _elementwise(layer, x)):
        xp = x.permute(0, 1, 3, 4, 2)
        stp = None if st is None else type(st)(*(f.permute(0, 2, 3, 1) for f in st))
        lent = input_donated(x)
        if lent:
            with donate_input(xp):
                spk, new = layer.run(xp, stp, backend=backend)
        else:
            spk, new = layer.run(xp, stp, backend=backend)
        return (spk.permute(0, 1, 4, 2, 3),
                type(new)(*(f.permute(0, 3, 1, 2) for f in new)))
    if layer.stateful:
        return layer.run(x, st, backend=backend), None
    return layer.run(x, st, backend=backend)


def _step_hooked(neuron: Neuron) -> bool:
    """Whether module hooks (forward, pre-forward or backward; the neuron's own or global ones)
    expect the neuron to be called once per step; a :class:`~snncore.Monitor`'s hooks do not
    (its run hook records the whole run)."""
    return any(not getattr(h, "snncore_records_runs", False)
               for d in module_hooks(neuron) for h in d.values())


def _step_neuron(layer: Neuron, x: Tensor, st: Any) -> tuple[Tensor, Any]:
    """``layer`` called on every step of ``x`` (its module hooks run each time)."""
    if layer.stateful:  # a given state starts the sequence, then the neuron keeps its own
        return torch.stack([layer(x[t], st if t == 0 else None)
                            for t in range(x.shape[0])]), None
    out = []
    for t in range(x.shape[0]):
        spk, st = layer(x[t], st)
        out.append(spk)
    return torch.stack(out), st
