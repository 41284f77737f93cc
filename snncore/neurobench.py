r"""NeuroBench integration: benchmark snncore networks with `NeuroBench`_'s metrics.

NeuroBench (``pip install neurobench``; this module is tested with 2.3.0) finds spiking neurons
by looking for snnTorch classes and hooks their single-step calls, so a plain ``TorchModel``
around an snncore network reports activation sparsity, membrane updates and neuron operations as
0. :class:`SnncoreModel` wraps the network so that those metrics see every snncore neuron while
the network runs as it normally does: whole sequences at once on the fused backends.

For every neuron, each ``run(x_seq)``, ``record(x_seq, ...)`` and ``trace(x_seq)`` call and
each single-step call is recorded: the spikes it emitted (what activation sparsity counts) and
its membrane before and after every step (what membrane updates and neuron operations count).
The spikes are the ones the backend produced. ``run`` returns only the final state, so the
per-step membranes of a ``run`` call are recorded by a second, gradient-free pass of the neuron
over the same input and initial state, ``neuron.record(x_seq, ("mem",))`` on the same backend
(inside the fused loops on ``fused``). A warning is raised if that pass's spikes differ from the
run's.

Data layout is explicit: NeuroBench's convention is batch-first ``[B, T, ...]`` (and its
metrics count samples along dimension 0 of the data the loader yields), snncore's is time-first
``[T, B, ...]``. ``layout="batch_first"`` transposes the model input for the network;
``layout="time_first"`` is for inputs that are already time-first (for example made by a
preprocessor that encodes static samples into spike trains). Outputs are returned batch-first.

NeuroBench 2.3.0 has two bugs that this module works around:

* its ``ActivationSparsityByLayer`` raises ``AttributeError`` as soon as a benchmark is built
  (its ``__init__`` skips the base class's); use :class:`ActivationSparsityByLayer` from here;
* ``Benchmark.run`` catches every exception of a metric, prints it and reports the metric as
  0 (``None`` for static metrics); :func:`run_benchmark` runs the same benchmark but raises
  :class:`MetricError` with the original exception instead.

NeuroBench's operation counts per neuron model are keyed by snnTorch class names (``Leaky``,
``Synaptic``, ``Lapicque``, ``Alpha``) and reset rules ``"subtract"`` and ``"zero"``; neuron
operations of other classes, or of ``reset="none"``, are not defined there (NeuroBench raises
``KeyError``, which :func:`run_benchmark` reports).

Example::

    >>> import snncore as snn
    >>> from snncore.neurobench import SnncoreModel, run_benchmark
    >>> from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
    >>> model = SnncoreModel(net, layout="batch_first")
    >>> results = run_benchmark(model, loader, static_metrics=[],
    ...                         workload_metrics=[ActivationSparsity, SynapticOperations])

Install: ``pip install --no-deps neurobench==2.3.0`` plus ``pip install snntorch tqdm`` (what
NeuroBench's metrics and models import); NeuroBench's other declared dependencies (numba,
torchaudio, llvmlite, ...) serve its datasets and are not needed here.

.. _NeuroBench: https://github.com/NeuroBench/neurobench
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ._errors import SnncoreError
from ._monitor import records_runs
from ._neuron import Neuron, reset
from ._sequential import Sequential

try:
    from neurobench.benchmarks import Benchmark
    from neurobench.hooks.layer import LayerHook
    from neurobench.hooks.neuron import NeuronHook
    from neurobench.metrics.abstract.workload_metric import WorkloadMetric
    from neurobench.metrics.workload import (
        ActivationSparsityByLayer as _NeuroBenchActivationSparsityByLayer,
    )
    from neurobench.models import NeuroBenchModel
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "snncore.neurobench needs NeuroBench: pip install --no-deps neurobench==2.3.0 "
        "&& pip install snntorch tqdm",
        name="neurobench",
    ) from exc

__all__ = [
    "SnncoreModel",
    "NeuronRecorder",
    "ActivationSparsityByLayer",
    "MetricError",
    "run_benchmark",
]

Layout = Literal["batch_first", "time_first"]
_LAYOUTS = ("batch_first", "time_first")


class MetricError(SnncoreError):
    """A NeuroBench metric raised while :func:`run_benchmark` ran it (the original exception is
    the ``__cause__``)."""


class _LayerView:
    """What NeuroBench's neuron metrics read from a hooked layer: its class name (the key into
    NeuroBench's table of operations per neuron model) and ``_reset_mechanism``; everything
    else is the neuron's own attribute."""

    def __init__(self, neuron: Neuron) -> None:
        self.module = neuron
        self._reset_mechanism = neuron.reset_mechanism

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["module"], name)


def _layer_view(neuron: Neuron) -> _LayerView:
    cls = type(type(neuron).__name__, (_LayerView,), {"__module__": __name__})
    return cls(neuron)


def _mem(state: Any) -> Tensor | None:
    mem = getattr(state, "mem", None)
    return mem.detach() if isinstance(mem, Tensor) else None


class NeuronRecorder:
    """NeuroBench's view of one snncore neuron: the hook object its metrics read.

    It has the attributes of NeuroBench's ``NeuronHook`` (``activation_outputs``,
    ``activation_inputs``, ``pre_fire_mem_potential``, ``post_fire_mem_potential``, ``layer``,
    ``name``, ``spiking``, ``reset()``, ``close()``) and fills them from the neuron's
    whole-sequence calls (``run``, ``trace``) as well as its single-step calls: one entry per
    time step in the membrane lists, one entry per call in the activation lists.

    Args:
        neuron: the snncore neuron to watch.
        name: its name in the network (``ActivationSparsityByLayer`` reports per name).

    The recorder shadows ``run`` and ``trace`` on this one instance while it is attached;
    :meth:`close` restores them.
    """

    spiking = True

    def __init__(self, neuron: Neuron, name: str | None = None) -> None:
        if not isinstance(neuron, Neuron):
            raise TypeError(f"NeuronRecorder: neuron must be an snncore Neuron, got "
                            f"{type(neuron).__name__}")
        self.neuron = neuron
        self.name = name
        self.layer = _layer_view(neuron)
        self.activation_outputs: list[Tensor] = []
        self.activation_inputs: list[Any] = []
        self.pre_fire_mem_potential: list[Tensor] = []
        self.post_fire_mem_potential: list[Tensor] = []
        self._pending: list[Tensor | None] = []
        # whole runs are recorded through the shadowed run/trace/record below
        pre = records_runs(functools.partial(NeuronRecorder._pre_step, self))
        post = records_runs(functools.partial(NeuronRecorder._post_step, self))
        self._handles = [neuron.register_forward_pre_hook(pre, with_kwargs=True),
                         neuron.register_forward_hook(post, with_kwargs=True)]
        self._shadowed: dict[str, Any] = {}
        for method in ("run", "trace", "record"):
            if hasattr(type(neuron), method):
                self._shadow(method)

    # -- single steps ---------------------------------------------------------------------------
    def _pre_step(self, module: Neuron, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        x = args[0] if args else kwargs.get("x")
        state = args[1] if len(args) > 1 else kwargs.get("state")
        if state is None and module.stateful:
            state = module.state
        mem = _mem(state)
        if mem is None and isinstance(x, Tensor):
            mem = torch.zeros_like(x).detach()  # a fresh state starts at zero
        self._pending.append(mem)
        self.activation_inputs.append((x,))

    def _post_step(self, module: Neuron, args: tuple[Any, ...], kwargs: dict[str, Any],
                   output: Any) -> None:
        if isinstance(output, tuple):
            spk, state = output[0], output[1]
        else:
            spk, state = output, module.state
        pre = self._pending.pop() if self._pending else None
        post = _mem(state)
        self.activation_outputs.append(spk.detach())
        if post is not None:
            self.pre_fire_mem_potential.append(pre if pre is not None else torch.zeros_like(post))
            self.post_fire_mem_potential.append(post)

    # -- whole sequences ------------------------------------------------------------------------
    def _shadow(self, method: str) -> None:
        neuron = self.neuron
        previous = neuron.__dict__.get(method)
        bound = getattr(neuron, method)

        if method == "record":
            def wrapper(x_seq: Tensor, fields: Any, state: Any = None, **kwargs: Any) -> Any:
                if state is None and neuron.stateful:
                    state = neuron.state
                out = bound(x_seq, fields, state, **kwargs)
                mems = out[2].get("mem")
                self._record_sequence(x_seq, state, out[0], mems, kwargs.get("backend"))
                return out
        else:
            def wrapper(x_seq: Tensor, state: Any = None, *args: Any, **kwargs: Any) -> Any:
                if state is None and neuron.stateful:
                    state = neuron.state
                out = bound(x_seq, state, *args, **kwargs)
                spk = out[0] if isinstance(out, tuple) else out
                mems = out[1].mem if method == "trace" else None
                self._record_sequence(x_seq, state, spk, mems, kwargs.get("backend"))
                return out

        self._shadowed[method] = (previous, wrapper)
        neuron.__dict__[method] = wrapper

    def _replay(self, x_seq: Tensor, state: Any, backend: str | None) -> tuple[Tensor, Tensor]:
        """``(spikes, membranes [T, ...])`` of a run whose per-step states were not returned:
        recorded on the same backend where the neuron has ``record``, else by ``trace``."""
        cls = type(self.neuron)
        with torch.no_grad():
            if hasattr(cls, "record"):
                spk, _final, rec = cls.record(self.neuron, x_seq, ("mem",), state,
                                              backend=backend)
                return spk, rec["mem"]
            spk, states = cls.trace(self.neuron, x_seq, state)
            return spk, states.mem

    def _record_sequence(self, x_seq: Tensor, state: Any, spk: Tensor, mems: Tensor | None,
                         backend: str | None) -> None:
        neuron = self.neuron
        spk = spk.detach()
        x_seq = x_seq.detach()
        self.activation_inputs.append((x_seq,))
        self.activation_outputs.append(spk)
        if "mem" not in neuron.State._fields:
            return
        if mems is None:
            replay_spk, mems = self._replay(x_seq, state, backend)
            mismatched = int((replay_spk != spk).sum())
            if mismatched:
                warnings.warn(
                    f"NeuronRecorder: {type(neuron).__name__} {self.name!r}: the replay that "
                    f"recovers the membranes differs from the run's spikes in {mismatched} of "
                    f"{spk.numel()} places; membrane updates and neuron operations are counted "
                    "from the replay", RuntimeWarning, stacklevel=4)
        start = _mem(neuron.prepare(x_seq[0], state))
        post = list(mems.detach().unbind(0))
        self.pre_fire_mem_potential += [start, *post[:-1]]
        self.post_fire_mem_potential += post

    # -- NeuroBench's hook interface ------------------------------------------------------------
    def reset(self) -> None:
        """Forget what was recorded (NeuroBench calls this after every batch)."""
        self.activation_outputs.clear()
        self.activation_inputs.clear()
        self.pre_fire_mem_potential.clear()
        self.post_fire_mem_potential.clear()
        self._pending.clear()

    def close(self) -> None:
        """Detach from the neuron (restores its ``run`` and ``trace``)."""
        for h in self._handles:
            h.remove()
        self._handles.clear()
        for method, (previous, wrapper) in self._shadowed.items():
            if self.neuron.__dict__.get(method) is wrapper:
                if previous is None:
                    del self.neuron.__dict__[method]
                else:
                    self.neuron.__dict__[method] = previous
        self._shadowed.clear()


class SnncoreModel(NeuroBenchModel):
    """A NeuroBench model around an snncore network (any ``nn.Module`` holding snncore neurons).

    The network runs as written: ``snn.Sequential`` and ``neuron.run`` calls go over the
    whole sequence on the selected backend (``fused`` where it supports the neuron). NeuroBench's
    workload metrics see every snncore neuron through a :class:`NeuronRecorder`, and the
    standard activations and connection layers (``nn.Linear``, ``nn.Conv*``, ...) through
    NeuroBench's own hooks.

    Args:
        net: the network. It is switched to ``eval()``; each call resets the state of its
            stateful neurons first and runs without autograd.
        layout: how the model input is laid out: ``"batch_first"`` (``[B, T, ...]``,
            NeuroBench's convention; transposed to ``[T, B, ...]`` for the network) or
            ``"time_first"`` (``[T, B, ...]``, passed as it is). Required: the two cannot be
            told apart from a tensor's shape.
        output: a function applied to the network's output before it is returned, e.g.
            ``lambda out: out[1]`` to keep one element of a tuple. Default: None (for an
            ``snn.Sequential``, whose output is ``(spikes, final states)``, the spikes are kept;
            other outputs as they are).

    Returns (when called): the output with every tensor transposed from time-first
    ``[T, B, ...]`` to batch-first ``[B, T, ...]``, NeuroBench's convention; a tensor whose
    first dimension is not ``T`` raises ``ValueError`` (reduce over time in a postprocessor
    instead).

    Example::

        >>> net = snn.Sequential(nn.Linear(64, 128), snn.Leaky(beta=0.9),
        ...                      nn.Linear(128, 10), snn.Leaky(beta=0.9))
        >>> model = SnncoreModel(net, layout="batch_first")
        >>> spikes = model(torch.rand(32, 25, 64))      # [B, T, 10]
    """

    def __init__(self, net: nn.Module, *, layout: Layout,
                 output: Callable[[Any], Any] | None = None) -> None:
        if not isinstance(net, nn.Module):
            raise TypeError(f"SnncoreModel: net must be a torch.nn.Module, got "
                            f"{type(net).__name__}")
        if layout not in _LAYOUTS:
            raise ValueError(f"SnncoreModel: layout must be one of {_LAYOUTS}, got {layout!r} "
                             "(NeuroBench's loaders yield batch-first [B, T, ...] data)")
        if output is not None and not callable(output):
            raise TypeError(f"SnncoreModel: output must be a callable or None, got {output!r}")
        super().__init__()
        self.net = net
        self.net.eval()
        self.layout: Layout = layout
        self.output = output

    def __net__(self) -> nn.Module:
        """The wrapped network."""
        return self.net

    def __call__(self, batch: Tensor) -> Any:
        """Run the network on one batch laid out as ``layout`` says; returns batch-first."""
        if not isinstance(batch, Tensor):
            raise TypeError(f"SnncoreModel: the input must be a tensor, got "
                            f"{type(batch).__name__}")
        if batch.dim() < 2:
            raise ValueError(f"SnncoreModel: the input must have a batch and a time dimension "
                             f"({self.layout}), got shape {tuple(batch.shape)}")
        x = batch.transpose(0, 1) if self.layout == "batch_first" else batch
        reset(self.net)
        with torch.no_grad():
            out = self.net(x)
        if self.output is not None:
            out = self.output(out)
        elif isinstance(self.net, Sequential) and isinstance(out, tuple):
            out = out[0]
        return _batch_first(out, x.shape[0])

    def snncore_neurons(self) -> list[tuple[str, Neuron]]:
        """``(name, neuron)`` for every snncore neuron in the network."""
        return [(name, m) for name, m in self.net.named_modules() if isinstance(m, Neuron)]

    def activation_layers(self) -> list[dict[str, Any]]:
        """NeuroBench's activation layers plus every snncore neuron."""
        found = super().activation_layers()
        known = {id(d["layer"]) for d in found}
        found += [{"layer_name": n, "layer": m} for n, m in self.snncore_neurons()
                  if id(m) not in known]
        return found

    def register_hooks(self) -> None:
        """Attach a :class:`NeuronRecorder` to every snncore neuron and NeuroBench's hooks to
        the other activation and connection layers (NeuroBench calls this)."""
        neurons = {id(m) for _n, m in self.snncore_neurons()}
        for layer in self.activation_layers():
            module = layer["layer"]
            if id(module) in neurons:
                self.activation_hooks.append(NeuronRecorder(module, layer["layer_name"]))
            else:
                self.activation_hooks.append(NeuronHook(module, layer["layer_name"]))
        for module in self.connection_layers():
            self.connection_hooks.append(LayerHook(module))


def _batch_first(out: Any, steps: int) -> Any:
    if isinstance(out, Tensor):
        if out.dim() < 2 or out.shape[0] != steps:
            raise ValueError(
                f"SnncoreModel: the network's output of shape {tuple(out.shape)} is not "
                f"time-first [T={steps}, B, ...]; pass output= to pick or reshape it")
        return out.transpose(0, 1)
    if isinstance(out, (tuple, list)):
        return type(out)(_batch_first(o, steps) for o in out)
    raise TypeError(f"SnncoreModel: the network's output must be tensors, got "
                    f"{type(out).__name__}; pass output= to pick the tensors")


class ActivationSparsityByLayer(_NeuroBenchActivationSparsityByLayer):
    """NeuroBench's per-layer activation sparsity, fixed: NeuroBench 2.3.0's class skips the
    base class's ``__init__`` and so raises ``AttributeError`` when a benchmark is built.
    Results are ``{layer name: sparsity}``."""

    def __init__(self) -> None:
        WorkloadMetric.__init__(self, requires_hooks=True)
        super().__init__()


def _strict(metric: type, errors: list[tuple[str, BaseException]]) -> type:
    """A subclass of ``metric`` (same name) that records the exception it raises."""
    name = metric.__name__

    def __call__(self: Any, *args: Any) -> Any:
        try:
            return metric.__call__(self, *args)
        except Exception as exc:
            errors.append((name, exc))
            raise

    return type(name, (metric,), {"__call__": __call__, "__module__": metric.__module__})


def run_benchmark(
    model: NeuroBenchModel,
    dataloader: Iterable[Any],
    static_metrics: Sequence[type],
    workload_metrics: Sequence[type],
    *,
    preprocessors: Sequence[Any] = (),
    postprocessors: Sequence[Any] = (),
    quiet: bool = True,
) -> dict[str, Any]:
    """Run a NeuroBench ``Benchmark`` and raise if any metric fails, instead of NeuroBench's
    silent 0 (workload) or ``None`` (static).

    Args:
        model: a NeuroBench model (e.g. :class:`SnncoreModel`).
        dataloader: a ``torch.utils.data.DataLoader`` yielding ``(data, targets)``; its data
            are batch-first (NeuroBench divides its counts by ``data.size(0)``).
        static_metrics: NeuroBench static metric classes (``Footprint``, ...).
        workload_metrics: NeuroBench workload metric classes (``ActivationSparsity``, ...).
        preprocessors: NeuroBench preprocessors or callables ``(data, targets) -> (data,
            targets)``, applied before the model. Default: none.
        postprocessors: callables applied to the model's output. Default: none.
        quiet: suppress NeuroBench's progress bar and prints. Default: True.

    Returns:
        NeuroBench's results: ``{metric class name: value}``.

    Raises:
        MetricError: naming the metric, with the metric's exception as the cause.
    """
    for kind, metrics in (("static_metrics", static_metrics),
                          ("workload_metrics", workload_metrics)):
        for m in metrics:
            if not isinstance(m, type):
                raise TypeError(f"run_benchmark: {kind} must be metric classes, got {m!r}")
    # NeuroBench's own per-layer sparsity cannot be built; the fixed one has the same name
    workload_metrics = [ActivationSparsityByLayer if m is _NeuroBenchActivationSparsityByLayer
                        else m for m in workload_metrics]
    errors: list[tuple[str, BaseException]] = []
    static = [_strict(m, errors) for m in static_metrics]
    workload = [_strict(m, errors) for m in workload_metrics]
    bench = Benchmark(model, dataloader, list(preprocessors), list(postprocessors),
                      [static, workload])
    try:
        results = bench.run(quiet=quiet)
    finally:
        bench.workload_metric_manager.cleanup_hooks(model)
    if errors:
        name, exc = errors[0]
        raise MetricError(f"NeuroBench metric {name} failed: {type(exc).__name__}: {exc}"
                          ) from exc
    return results
