r"""Monitors: record inputs, outputs and neuron states of chosen layers of any module tree.

Only removable hooks on the chosen modules are used: no global state, nothing left behind after
:meth:`Monitor.remove` (or leaving the ``with`` block).
"""

from __future__ import annotations

import fnmatch
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ._neuron import Neuron

__all__ = ["Monitor", "register_run_hook", "records_runs"]

_HOOKS_ATTR = "_snncore_run_hooks"


class _RunHookHandle:
    """Handle returned by :func:`register_run_hook`; :meth:`remove` detaches the hook."""

    def __init__(self, module: nn.Module, key: int) -> None:
        self.module = module
        self.key = key

    def remove(self) -> None:
        hooks: dict[int, tuple[Any, tuple[str, ...]]] | None = \
            self.module.__dict__.get(_HOOKS_ATTR)
        if not hooks:
            return
        hooks.pop(self.key, None)
        if not hooks:
            del self.module.__dict__[_HOOKS_ATTR]
            self.module.__dict__.pop("run", None)


def _inert_hook(*args: Any, **kwargs: Any) -> None:
    """What a monitor's hook becomes in a copy of the module: nothing is recorded."""


def _make_inert() -> Callable[..., None]:
    return _inert_hook


class _MonitorHook:
    """A monitor's hook. Copies of the module (``copy.deepcopy``, pickle) get an inert hook: a
    monitor watches the modules it was attached to, never their copies."""

    __slots__ = ("fn",)
    #: on a neuron it comes with the monitor's run hook, which records whole-sequence runs:
    #: ``snn.Sequential`` need not call the neuron step by step for it
    snncore_records_runs = True

    def __init__(self, fn: Callable[..., None]) -> None:
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.fn(*args, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_make_inert, ())


class _RunShim:
    """The per-instance ``run`` of a neuron with run hooks: the class's ``run``, then the hooks.

    It refers to its neuron, so a copy of the neuron gets a shim of its own that runs the copy
    (its parameters, its state), never the original."""

    __slots__ = ("neuron",)

    def __init__(self, neuron: nn.Module) -> None:
        self.neuron = neuron

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        neuron = self.neuron
        # a monitor's hook in a copy of the neuron is inert: it asks for no recording
        hooks = [(h, () if h is _inert_hook else fs)
                 for h, fs in neuron.__dict__.get(_HOOKS_ATTR, {}).values()]
        fields = tuple(dict.fromkeys(f for _, fs in hooks for f in fs))
        recorded: dict[str, Tensor] | None = None
        if fields and type(neuron).run is Neuron.run:
            out, recorded = _run_recording(neuron, fields, *args, **kwargs)
        else:
            out = type(neuron).run(neuron, *args, **kwargs)
        for h, fs in hooks:
            if fs:
                h(neuron, args, kwargs, out,
                  None if recorded is None else {f: recorded[f] for f in fs})
            else:
                h(neuron, args, kwargs, out)
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        return (_RunShim, (self.neuron,))


def records_runs(hook: Any) -> Any:
    """Mark a neuron's module hook as one that also sees whole-sequence runs (through a run
    hook of the same recorder): ``snn.Sequential`` then need not call the neuron step by step
    for it (it does so for any unmarked module hook). Returns ``hook``."""
    hook.snncore_records_runs = True
    return hook


def _run_recording(neuron: Neuron, fields: tuple[str, ...], x_seq: Tensor, state: Any = None,
                   *, backend: str | None = None) -> tuple[Any, dict[str, Tensor]]:
    """``neuron.run(x_seq, state, backend=backend)`` (same return value, same update of a
    stateful neuron's state) through :meth:`Neuron.record`, plus the recorded fields."""
    if neuron.stateful and state is None:
        state = neuron.state
    spk, new_state, recorded = neuron.record(x_seq, fields, state, backend=backend)
    if neuron.stateful:
        neuron.state = new_state
        return spk, recorded
    return (spk, new_state), recorded


def register_run_hook(neuron: nn.Module, hook: Callable[..., None], *,
                      fields: Sequence[str] = ()) -> _RunHookHandle:
    """Call ``hook(neuron, args, kwargs, output)`` after every ``neuron.run(...)``.

    Args:
        neuron: the module whose ``run`` is observed.
        hook: the callable.
        fields: state fields the hook wants at every step of a run (e.g. ``("mem",)``). When
            given, ``run`` records them (through :meth:`Neuron.record`: on the fused backend in
            the fused loops; the spikes and the final state are those of ``run``) and the hook
            is called with a fifth argument, ``{field: [T, ...]}``, or ``None`` when the
            neuron's class overrides ``run`` (its steps cannot be recorded from outside).
            Default: none.

    The neuron's ``run`` is shadowed by a per-instance dispatcher only while at least one hook
    is registered; removing the last hook restores the class method. Returns a handle with
    ``remove()``. A copy of the neuron (``copy.deepcopy``, pickle) runs its own ``run``; hooks
    wrapped by :class:`Monitor` are not carried into copies.
    """
    if not callable(getattr(neuron, "run", None)):
        raise TypeError(f"register_run_hook: {type(neuron).__name__} has no run method")
    if not callable(hook):
        raise TypeError(f"register_run_hook: hook must be callable, got {hook!r}")
    if isinstance(fields, str):
        fields = (fields,)
    fields = tuple(fields)
    state_fields = getattr(getattr(neuron, "State", None), "_fields", ())
    unknown = [f for f in fields if not isinstance(f, str) or f not in state_fields]
    if unknown:
        raise ValueError(f"register_run_hook: fields={fields!r} names {unknown!r}, which "
                         f"{type(neuron).__name__} does not have; its state fields are "
                         f"{tuple(state_fields)}")
    hooks: dict[int, tuple[Any, tuple[str, ...]]] | None = neuron.__dict__.get(_HOOKS_ATTR)
    if hooks is None:
        hooks = {}
        neuron.__dict__[_HOOKS_ATTR] = hooks
        neuron.__dict__["run"] = _RunShim(neuron)
    key = max(hooks, default=-1) + 1
    hooks[key] = (hook, fields)
    return _RunHookHandle(neuron, key)


def _select(model: nn.Module, layers: Any) -> list[tuple[str, nn.Module]]:
    named = [(name or type(m).__name__, m) for name, m in model.named_modules()]
    if layers is None:
        chosen = [(n, m) for n, m in named if isinstance(m, Neuron)]
        if not chosen:
            chosen = [(n, m) for n, m in named if not any(True for _ in m.children())]
        return chosen
    if isinstance(layers, (str, type)):
        layers = [layers]
    if not isinstance(layers, Iterable):
        raise TypeError(
            f"Monitor: layers must be None, a module type, a layer name, or a list of those, "
            f"got {layers!r}"
        )
    types, patterns = [], []
    for item in layers:
        if isinstance(item, type) and issubclass(item, nn.Module):
            types.append(item)
        elif isinstance(item, str):
            patterns.append(item)
        else:
            raise TypeError(
                f"Monitor: layers entries must be nn.Module subclasses or layer names, got "
                f"{item!r}"
            )
    names = [n for n, _ in named]
    for p in patterns:
        if not any(fnmatch.fnmatchcase(n, p) for n in names):
            shown = ", ".join(repr(n) for n in names if n) or "(none)"
            raise ValueError(f"Monitor: no layer named {p!r} in the model; layers: {shown}")
    return [
        (n, m) for n, m in named
        if (types and isinstance(m, tuple(types)))
        or any(fnmatch.fnmatchcase(n, p) for p in patterns)
    ]


class Monitor:
    r"""Record what chosen layers see and produce during forward calls.

    Args:
        model: any module tree (nested containers included).
        layers: which modules to watch: None (every snncore neuron; every leaf module if the
            tree has no neuron), a module type, a layer name as in ``model.named_modules()``
            (shell-style wildcards allowed, ``"encoder.*"``), or a list mixing those.
            Default: None.
        record: what to keep per call: ``"output"`` (a neuron's spikes, any other module's
            output), ``"input"`` (the first positional argument), ``"state"`` (a neuron's
            whole state NamedTuple) or state field names such as ``"mem"``.
            Default: ``("output",)``.
        detach: store detached tensors (no autograd graph kept alive). Set False to put a
            regularizer on recorded activity. Default: True.

    Single-step calls (``neuron(x, state)`` or stateful ``neuron(x)``) append one entry each;
    :meth:`stacked` stacks them into ``[T, ...]``. A whole-sequence call
    ``neuron.run(x_seq)`` (also inside ``snn.Sequential``) stores its time-first spikes as they
    are, and the state fields named in ``record`` at every step: the run goes through
    :meth:`~snncore.Neuron.record` (on the fused backend in the fused loops; same spikes and
    final state as ``run``). ``"state"`` from a run is its final state, and so is every field
    of a neuron whose class overrides ``run`` (:meth:`stacked` warns about those).

    Example::

        >>> with snn.Monitor(net, layers=snn.Leaky, record=("output", "mem")) as mon:
        ...     for x in x_seq:
        ...         net(x)
        >>> spikes = mon.stacked()            # {"lif1": [T, B, N], ...}
        >>> mem = mon.stacked("mem")
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Any = None,
        record: str | Sequence[str] = ("output",),
        detach: bool = True,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"Monitor: model must be a torch.nn.Module, got {type(model).__name__}")
        if isinstance(record, str):
            record = (record,)
        record = tuple(record)
        if not record:
            raise ValueError("Monitor: record must name at least one of 'input', 'output', "
                             "'state' or a state field")
        if not isinstance(detach, bool):
            raise TypeError(f"Monitor: detach must be a bool, got {detach!r}")
        self.detach = detach
        self.record = record
        chosen = _select(model, layers)
        if not chosen:
            raise ValueError(f"Monitor: layers={layers!r} matched no module in the model")
        fields = {f for _, m in chosen if isinstance(m, Neuron) for f in m.State._fields}
        for kind in record:
            if kind not in ("input", "output", "state") and kind not in fields:
                accepted = ["input", "output", "state", *sorted(fields)]
                raise ValueError(f"Monitor: cannot record {kind!r}; accepted: {accepted}")
        self.layers: dict[str, nn.Module] = {name: m for name, m in chosen}
        self.records: dict[str, dict[str, list[tuple[Tensor | Any, bool]]]] = {
            name: {kind: [] for kind in record} for name in self.layers
        }
        self._handles: list[Any] = []
        #: (layer, field) pairs holding the final state of a run() that could not be recorded
        #: step by step (the neuron's class overrides run)
        self._final_only: set[tuple[str, str]] = set()
        for name, m in chosen:
            self._handles.append(m.register_forward_hook(_MonitorHook(self._forward_hook(name))))
            if isinstance(m, Neuron):
                per_step = tuple(k for k in record if k in m.State._fields)
                self._handles.append(register_run_hook(
                    m, _MonitorHook(self._run_hook(name)), fields=per_step))

    # -- hooks --------------------------------------------------------------------------------
    def _keep(self, x: Any) -> Any:
        if isinstance(x, Tensor):
            return x.detach() if self.detach else x
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return type(x)(*(self._keep(v) for v in x))
        return x

    def _store(self, name: str, m: nn.Module, inp: Any, out: Any, state: Any, seq: bool,
               recorded: dict[str, Tensor] | None = None) -> None:
        store = self.records[name]
        for kind in self.record:
            is_seq = seq and kind in ("input", "output")
            if kind == "input":
                value = inp
            elif kind == "output":
                value = out
            elif kind == "state":
                value = state
            elif recorded is not None and kind in recorded:
                value, is_seq = recorded[kind], True  # every step of a run()
            else:
                if state is None or kind not in getattr(state, "_fields", ()):
                    continue
                value = getattr(state, kind)
                if seq:  # the final state of a run() whose steps were not recorded
                    self._final_only.add((name, kind))
            if value is None:
                continue
            store[kind].append((self._keep(value), is_seq))

    def _forward_hook(self, name: str) -> Any:
        def hook(m: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            inp = args[0] if args else None
            if isinstance(m, Neuron):
                if isinstance(output, tuple):
                    out, state = output[0], output[1]
                else:
                    out, state = output, m.state
            else:
                out, state = output, None
            self._store(name, m, inp, out, state, seq=False)

        return hook

    def _run_hook(self, name: str) -> Callable[..., None]:
        def hook(m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any,
                 recorded: dict[str, Tensor] | None = None) -> None:
            inp = args[0] if args else kwargs.get("x_seq")
            if isinstance(output, tuple):
                out, state = output[0], output[1]
            else:
                out, state = output, getattr(m, "state", None)
            self._store(name, m, inp, out, state, seq=True, recorded=recorded)

        return hook

    # -- access -------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> dict[str, list[Any]]:
        """Raw records of one layer: ``{kind: [value per call]}``."""
        if name not in self.records:
            raise KeyError(f"Monitor: layer {name!r} is not monitored; monitored: "
                           f"{list(self.records)}")
        return {k: [v for v, _ in entries] for k, entries in self.records[name].items()}

    def stacked(self, kind: str = "output") -> dict[str, Tensor]:
        """Per layer name, every recorded ``kind`` joined along a leading time axis:
        single-step entries are stacked, ``run`` sequences concatenated. Layers with nothing
        recorded are left out. Returns ``{name: Tensor [T, ...]}``."""
        if kind not in self.record:
            raise ValueError(f"Monitor.stacked: {kind!r} was not recorded; recorded: "
                             f"{list(self.record)}")
        out: dict[str, Tensor] = {}
        for name, kinds in self.records.items():
            entries = kinds[kind]
            if not entries or not all(isinstance(v, Tensor) for v, _ in entries):
                continue
            parts = [v if seq else v.unsqueeze(0) for v, seq in entries]
            shapes = {tuple(p.shape[1:]) for p in parts}
            if len(shapes) > 1:
                raise ValueError(
                    f"Monitor.stacked: layer {name!r} recorded {kind} of different shapes "
                    f"{sorted(shapes)}; call clear() between runs with different inputs"
                )
            if (name, kind) in self._final_only:
                warnings.warn(
                    f"Monitor.stacked: layer {name!r} ({type(self.layers[name]).__name__}) "
                    f"recorded {kind!r} from run() calls whose steps cannot be recorded (its "
                    f"class overrides run()): each such entry is the final state of a run, not "
                    f"every step; call its step() per step (or neuron.trace) for every step",
                    UserWarning, stacklevel=2)
            out[name] = torch.cat(parts, 0)
        return out

    def clear(self) -> None:
        """Drop everything recorded so far (hooks stay)."""
        self._final_only.clear()
        for kinds in self.records.values():
            for entries in kinds.values():
                entries.clear()

    def remove(self) -> None:
        """Remove every hook from the model (records stay readable)."""
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"Monitor(layers={list(self.layers)}, record={self.record})"
