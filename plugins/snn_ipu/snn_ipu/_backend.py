"""The ``ipu`` backend: a neuron's whole sequence as one traced, unrolled IPU program."""

from __future__ import annotations

import sys
import weakref
from typing import Any

import torch
from torch import Tensor, nn

from snncore import extend

from ._path import batch_first, ipu_safe, time_first
from ._poptorch import availability, load_poptorch

__all__ = ["IPUBackend"]

_IPU_DTYPES = (torch.float32, torch.float16)


#: snncore's reference loop of ``neuron.step`` calls (its ``record`` keeps the asked fields)
_STEPPER = extend.EagerBackend()


def unrolled(neuron: extend.Neuron, x_seq: Tensor, state: Any) -> tuple[Tensor, Any]:
    """Spikes ``[T, ...]`` and the final state from a Python loop of ``neuron.step`` calls with the
    traceable spike (tracing unrolls the loop into ``T`` copies of the step)."""
    spk, state, _ = unrolled_record(neuron, x_seq, state, ())
    return spk, state


def unrolled_record(neuron: extend.Neuron, x_seq: Tensor, state: Any, fields: tuple[str, ...]
                    ) -> tuple[Tensor, Any, dict[str, Tensor]]:
    """:func:`unrolled`, also returning the state ``fields`` after every step ``[T, ...]``
    (snncore's step-by-step record loop, with the traceable spike)."""
    with ipu_safe(neuron):
        return _STEPPER.record(neuron, x_seq, state, fields)


class _NeuronProgram(nn.Module):
    """What the backend hands to ``poptorch.inferenceModel``: batch-first in and out, because
    poptorch treats dim 0 of every input and output as the batch."""

    def __init__(self, neuron: extend.Neuron, record: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.neuron = neuron
        self.record = record

    def forward(self, x_bf: Tensor, *fields: Tensor) -> tuple[Tensor, ...]:
        spk, state, rec = unrolled_record(self.neuron, time_first(x_bf),
                                          self.neuron.State(*fields), self.record)
        return (batch_first(spk), *state, *(batch_first(rec[f]) for f in self.record))


class IPUBackend(extend.Backend):
    """Runs a neuron on a Graphcore IPU through poptorch (registry name ``"ipu"``).

    Inside a poptorch trace (a model wrapped by :func:`snn_ipu.training_model`,
    :func:`snn_ipu.inference_model` or ``poptorch.trainingModel``) the sequence is a Python loop of
    single steps with :class:`~snn_ipu.TraceableSurrogate` spikes, which the trace unrolls; the
    gradient PopART derives from it is the surrogate gradient. Called on host tensors,
    ``neuron.run(x, backend="ipu")`` compiles that loop with ``poptorch.inferenceModel`` (once
    per neuron and input signature) and runs it on the IPU; this returns no gradients, so it is
    refused while autograd would need them (train with :func:`snn_ipu.training_model`).

    ``available()`` is true only when poptorch imports and an IPU, or the IPU Model
    (``POPTORCH_IPU_MODEL=1``), is usable. The backend is never chosen automatically (its
    priority is below ``eager``): name it.
    """

    name = "ipu"
    priority = -10

    def __init__(self) -> None:
        self._programs: weakref.WeakKeyDictionary[nn.Module, tuple[Any, Any]] = \
            weakref.WeakKeyDictionary()

    @classmethod
    def available(cls) -> tuple[bool, str]:
        return availability()

    @classmethod
    def graph_tracing(cls) -> bool:
        """Inside a poptorch trace (poptorch already imported: nothing is imported here)."""
        poptorch = sys.modules.get("poptorch")
        return poptorch is not None and bool(poptorch.isRunningOnIpu())

    def supports(self, neuron: extend.Neuron, x_seq: Tensor) -> tuple[bool, str]:
        if x_seq.dtype not in _IPU_DTYPES:
            return False, f"IPUs compute in float32 or float16, got {x_seq.dtype}"
        return True, ""

    def run(self, neuron: extend.Neuron, x_seq: Tensor, state: Any) -> tuple[Tensor, Any]:
        poptorch = load_poptorch()
        if poptorch.isRunningOnIpu():
            return unrolled(neuron, x_seq, state)
        spk, fin, _ = self._run_on_device(poptorch, neuron, x_seq, state, ())
        return spk, fin

    def record(self, neuron: extend.Neuron, x_seq: Tensor, state: Any, fields: tuple[str, ...]
               ) -> tuple[Tensor, Any, dict[str, Tensor]]:
        """As :meth:`run`: unrolled with the traceable spike inside a poptorch trace, else one
        IPU inference program that also returns the recorded fields."""
        poptorch = load_poptorch()
        if poptorch.isRunningOnIpu():
            return unrolled_record(neuron, x_seq, state, fields)
        return self._run_on_device(poptorch, neuron, x_seq, state, fields)

    def _run_on_device(self, poptorch: Any, neuron: extend.Neuron, x_seq: Tensor,
                       state: Any, fields: tuple[str, ...]
                       ) -> tuple[Tensor, Any, dict[str, Tensor]]:
        needs_grad = torch.is_grad_enabled() and (
            x_seq.requires_grad or any(t.requires_grad for t in state)
            or any(p.requires_grad for p in neuron.parameters()))
        if needs_grad:
            raise extend.BackendUnavailableError(
                f"backend 'ipu' runs {type(neuron).__name__}.{'record' if fields else 'run'}() "
                "as IPU inference and returns "
                "no gradients to the host, but autograd needs them here (the input, the state or "
                "a parameter requires grad); call it under torch.no_grad(), or train on the IPU "
                "with snn_ipu.training_model(model, loss_fn, optimizer)"
            )
        signature = (tuple(x_seq.shape), x_seq.dtype, tuple(tuple(t.shape) for t in state),
                     neuron.training, fields)
        cached = self._programs.get(neuron)
        if cached is not None and cached[0] == signature:
            executor = cached[1]
        else:
            if cached is not None:
                cached[1].destroy()
            executor = poptorch.inferenceModel(_NeuronProgram(neuron, fields), poptorch.Options())
            self._programs[neuron] = (signature, executor)
        spk_bf, *outs = executor(batch_first(x_seq), *state)
        n = len(neuron.State._fields)
        rec = {f: time_first(r) for f, r in zip(fields, outs[n:], strict=True)}
        return time_first(spk_bf), neuron.State(*outs[:n]), rec
