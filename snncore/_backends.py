"""Backends run a neuron over a whole time-first sequence; selection rules live here.

Which backend :meth:`Neuron.run` uses, first match wins:

1. the ``backend=`` argument of the call;
2. the neuron's ``backend`` attribute;
3. the innermost :func:`use_backend` context;
4. the environment variable ``SNNCORE_BACKEND``;
5. ``"auto"``: the available backend with the highest ``priority`` that supports the neuron,
   its options and the input's device.

A named backend that is not available on this machine raises
:class:`~snncore.BackendUnavailableError`; one that is available but does not support this neuron,
option set or device falls back to ``eager`` with one :class:`~snncore.BackendFallbackWarning`
per backend, neuron type and reason. Under ``torch.func`` transforms only backends with
``supports_torch_func`` are selected (an explicit other one is a
:class:`~snncore.BackendError`). Backends are plugin code: a probe (``available``,
``supports``, the constructor) that raises counts as "no", is warned about once
(:class:`~snncore.PluginWarning`) and listed by ``snncore plugins``. While ``torch.compile``
traces a model, ``eager`` is used: the compiler then sees (and fuses) the step functions.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Protocol

import torch
from torch import Tensor

from . import _env
from ._errors import BackendError, BackendFallbackWarning, BackendUnavailableError, PluginWarning
from ._registry import active
from ._validate import value_checks_enabled


class Neuron(Protocol):
    """What a backend sees of a neuron (:class:`snncore.Neuron`, one layer up, fulfils it)."""

    backend: str | None

    def step(self, x: Tensor, state: Any) -> tuple[Tensor, Any]: ...

__all__ = [
    "Backend",
    "ENV_BACKEND",
    "use_backend",
    "select_backend",
    "get_backend",
    "backend_availability",
    "probe_errors",
    "func_transforms_active",
    "tracing",
    "graph_tracing",
    "once_differentiable",
    "without_grad",
    "wrapped_tensor",
    "donate_input",
    "input_donated",
    "HeldInput",
    "saved_tensor_hooks_active",
    "module_hooked",
]

log = logging.getLogger("snncore.backends")
ENV_BACKEND = _env.BACKEND
_context: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "snncore_backend", default=None
)
_instances: dict[type, Backend] = {}


class Backend:
    """Base class of backends.

    Subclasses set ``name`` and ``priority`` (higher wins in ``"auto"``) and implement
    :meth:`run`; :meth:`available` and :meth:`supports` say when they can be used.
    """

    name: ClassVar[str] = ""
    priority: ClassVar[int] = 0
    #: whether :meth:`run` works under ``torch.func`` transforms (``vmap``, ``grad``, ...):
    #: True for backends built from differentiable, vmappable torch operations only
    supports_torch_func: ClassVar[bool] = False

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Whether this backend can run on this machine at all, and if not, why."""
        return True, ""

    def supports(self, neuron: Neuron, x_seq: Tensor) -> tuple[bool, str]:
        """Whether this backend can run ``neuron`` with its options on ``x_seq``, and why not."""
        return True, ""

    @classmethod
    def graph_tracing(cls) -> bool:
        """Whether a graph compiler of this backend is tracing the code that runs now (e.g.
        poptorch for the IPU backend): the runner then uses plain differentiable torch ops
        only, no ``torch.autograd.Function`` of its own, since such a compiler derives the
        backward from the forward ops. It must be cheap and must not import anything.
        Default: False."""
        return False

    @classmethod
    def status(cls) -> str:
        """More about the backend's state for ``snncore plugins`` (e.g. whether its native code
        is built); it must not build or load anything. Default: nothing to add."""
        return ""

    def run(self, neuron: Neuron, x_seq: Tensor, state: Any) -> tuple[Tensor, Any]:
        """Spikes ``[T, ...]`` and the final state; ``state`` has been checked already."""
        raise NotImplementedError  # pragma: no cover - abstract

    def record(self, neuron: Neuron, x_seq: Tensor, state: Any, fields: tuple[str, ...]
               ) -> tuple[Tensor, Any, dict[str, Tensor]]:
        """Like :meth:`run`, plus ``{field: [T, ...]}`` for the state fields in ``fields``
        (their values after each step). The default steps through :meth:`Neuron.step`."""
        spikes = []
        kept: dict[str, list[Tensor]] = {f: [] for f in fields}
        for x in x_seq.unbind(0):
            spk, state = neuron.step(x, state)
            spikes.append(spk)
            for f in fields:
                kept[f].append(getattr(state, f))
        return torch.stack(spikes), state, {f: torch.stack(v) for f, v in kept.items()}

    def run_linear(self, linear: Any, neuron: Neuron, x_seq: Tensor, state: Any
                   ) -> tuple[Tensor, Any] | None:
        """Optionally run ``neuron.run(linear(x_seq))`` as one operation, where ``linear`` is
        a stateless layer applied to every step of ``x_seq`` ``[T, B, ...]`` (called by
        :class:`~snncore.Sequential` for a layer followed by a neuron; ``state`` has been
        checked already). Returns ``(spikes, final state)``, or None (the default) when this
        backend has no such combined path for these arguments, and the caller then runs the
        two one after the other. A combined path must give the same results."""
        return None

    def run_stateless(self, layer: Any, z: Tensor) -> Tensor | None:
        """Optionally apply the stateless ``layer`` to ``z`` (its input with time folded into
        the batch, ``[T*B, ...]``) with an implementation of this backend's own. Called by
        :class:`~snncore.Sequential` for a layer without module hooks whose output goes
        straight into a neuron that this backend runs (outside any tracer, see
        :func:`graph_tracing`). Returns the output, or None (the default) to let the caller
        apply the layer itself; an implementation must give the layer's values and
        gradients (e.g. the ``fused`` backend's native ``MaxPool2d`` on channels-last CPU
        input in a training forward)."""
        return None


@contextlib.contextmanager
def use_backend(name: str | None) -> Iterator[None]:
    """Within this block, :meth:`Neuron.run` uses backend ``name`` (``"auto"`` or None: select)."""
    if name is not None:
        _validate_name(name, "use_backend")
    token = _context.set(name)
    try:
        yield
    finally:
        _context.reset(token)


def _validate_name(name: Any, where: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{where}: backend must be a backend name (str), got {name!r}")
    if name != "auto":
        active("backend").get(name)  # raises a clear UnknownNameError
    return name


def get_backend(name: str) -> Backend:
    """The (cached) instance of backend ``name``."""
    cls = active("backend").get(name).factory
    inst = _instances.get(cls)
    if inst is None:
        inst = _instances[cls] = cls()
    return inst


#: (backend, probe) -> what went wrong, for every backend probe that raised in this process
probe_errors: dict[tuple[str, str], str] = {}


def _probe(name: str, probe: str, fn: Callable[[], Any]) -> tuple[bool, str]:
    """Call a backend's ``available``/``supports``/constructor, isolating what it raises.

    A raising probe counts as "no", is recorded in :data:`probe_errors` (listed by
    ``snncore plugins``) and is warned about once per backend and probe.
    """
    try:
        result = fn()
        ok, why = (True, "") if probe == "instance" else result
    except Exception as exc:  # third-party code: isolate, record, skip
        why = f"{probe} raised {type(exc).__name__}: {exc}"
        if (name, probe) not in probe_errors:
            probe_errors[(name, probe)] = why
            warnings.warn(f"snncore: backend {name!r}: {why}; the backend is skipped",
                          PluginWarning, stacklevel=4)
        return False, why
    return bool(ok), str(why)


def func_transforms_active() -> bool:
    """Whether a ``torch.func`` transform (``vmap``, ``grad``, ``jacrev``, ...) is running."""
    probe = getattr(torch._C, "_are_functorch_transforms_active", None)
    return bool(probe()) if probe is not None else False


def tracing() -> bool:
    """Whether ``torch.compile``, ``torch.jit`` or a ``torch.func`` transform is tracing the
    current code, or value checks are switched off (:func:`~snncore.extend.value_checks_disabled`):
    data-dependent checks such as ``bool(tensor)`` must be skipped then."""
    return (torch.compiler.is_compiling() or func_transforms_active()
            or not value_checks_enabled())


def graph_tracing() -> bool:
    """Whether the code that runs now is being traced into a graph by anything: ``tracing()``
    (``torch.compile``, ``torch.func``, value checks switched off), ``torch.jit`` tracing, or a
    registered backend's :meth:`Backend.graph_tracing` (a backend whose check fails counts as
    tracing). :class:`snncore.Sequential` then runs its layers with plain torch ops only."""
    if tracing() or torch.jit.is_tracing():
        return True
    for entry in active("backend").entries():
        probe = getattr(entry.factory, "graph_tracing", None)
        if probe is None:
            continue
        try:
            if probe():
                return True
        except Exception as exc:  # a plugin's check that fails: assume the worst
            log.debug("backend %r: graph_tracing() failed: %r", entry.name, exc)
            return True
    return False


#: (backend, neuron type, reason) of every fallback warned about in this process
fallbacks_warned: set[tuple[str, str, str]] = set()


def select_backend(neuron: Neuron, x_seq: Tensor, requested: str | None = None) -> Backend:
    """Pick the backend for ``neuron.run(x_seq)`` following the module docstring's rules."""
    if torch.compiler.is_compiling():
        # torch.compile traces the step functions themselves (fused kernels are opaque to it)
        return get_backend("eager")
    name = requested or neuron.backend or _context.get() or _env.text(ENV_BACKEND) or "auto"
    transforms = func_transforms_active()
    if name == "auto":
        return _auto(neuron, x_seq, transforms)
    _validate_name(name, "run")
    cls = active("backend").get(name).factory
    ok, why = _probe(name, "available", cls.available)
    if ok:
        ok, why = _probe(name, "instance", lambda: get_backend(name))
    if not ok:
        raise BackendUnavailableError(f"backend {name!r} is not available here: {why}")
    backend = get_backend(name)
    if transforms and not backend.supports_torch_func:
        raise BackendError(
            f"backend {name!r} cannot run {type(neuron).__name__} under torch.func transforms "
            "(vmap, grad, jacrev, ...): its kernels are opaque to them; use backend='eager' for "
            "this neuron (neuron.run(x, backend='eager'), neuron.backend = 'eager', or "
            "snncore.use_backend('eager')), or leave the backend unset: automatic selection "
            "picks eager under torch.func"
        )
    ok, why = _probe(name, "supports", lambda: backend.supports(neuron, x_seq))
    if not ok:
        key = (name, type(neuron).__name__, why)
        if key not in fallbacks_warned:
            fallbacks_warned.add(key)
            warnings.warn(
                f"snncore: backend {name!r} was requested but cannot run "
                f"{type(neuron).__name__} here ({why}); running it on 'eager' instead (same "
                "results, slower). Remove the request (automatic selection) or change the "
                "option to silence this warning",
                BackendFallbackWarning, stacklevel=4)
        log.debug("backend %r cannot run %s (%s); falling back to 'eager'",
                  name, type(neuron).__name__, why)
        return get_backend("eager")
    return backend


def _auto(neuron: Neuron, x_seq: Tensor, transforms: bool = False) -> Backend:
    entries = active("backend").entries()
    ranked = sorted(entries, key=lambda e: -getattr(e.factory, "priority", 0))
    for entry in ranked:
        name = entry.qualified_name
        if transforms and not getattr(entry.factory, "supports_torch_func", False):
            continue
        if not _probe(name, "available", entry.factory.available)[0]:
            continue
        if not _probe(name, "instance", lambda n=name: get_backend(n))[0]:
            continue
        backend = get_backend(name)
        ok, why = _probe(name, "supports", lambda b=backend: b.supports(neuron, x_seq))
        if ok:
            return backend
        log.debug("auto: backend %r skipped for %s: %s", entry.name, type(neuron).__name__, why)
    return get_backend("eager")


def backend_availability() -> dict[str, dict[str, Any]]:
    """``{name: {"available": bool, "reason": str, "priority": int, "plugin": str}}``, plus
    ``"status"`` for a backend whose :meth:`Backend.status` has something to say."""
    out: dict[str, dict[str, Any]] = {}
    for entry in active("backend").entries():
        ok, why = _probe(entry.qualified_name, "available", entry.factory.available)
        status_fn = getattr(entry.factory, "status", None)
        has_status, status = _probe(entry.qualified_name, "status",
                                    lambda f=status_fn: (True, f() if f is not None else ""))
        info: dict[str, Any] = {
            "available": bool(ok),
            "reason": why,
            "priority": getattr(entry.factory, "priority", 0),
            "plugin": entry.plugin,
        }
        if has_status and status:
            info["status"] = status
        out[entry.qualified_name if entry.name in out else entry.name] = info
    return out


class _DoubleBackwardError(torch.autograd.Function):
    """Identity on gradients whose own backward raises :class:`BackendError`."""

    @staticmethod
    def forward(ctx: Any, message: str, *grads: Tensor) -> tuple[Tensor, ...]:  # type: ignore[override]
        ctx.message = message
        return tuple(g.view_as(g) for g in grads)

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> Any:  # type: ignore[override]
        raise BackendError(ctx.message)


def wrapped_tensor(t: Tensor) -> bool:
    """Whether ``t`` is a batched or functorch-wrapped tensor (``vmap``, ``torch.func``
    transforms, ``is_grads_batched=True``): it has no storage that native code could read."""
    wrapped = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", None)
    if wrapped is not None and wrapped(t):
        return True
    return "Batched" in repr(torch._C._dispatch_keys(t))


def once_differentiable(backend: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator for the ``backward`` of a backend's ``torch.autograd.Function`` that is
    differentiable once (a hand-written reverse loop): like
    ``torch.autograd.function.once_differentiable``, but differentiating its result (double
    backward: ``create_graph=True`` then backward again) raises a :class:`BackendError` that
    names ``backend`` and the remedy ``backend="eager"``, whether or not the incoming
    gradients require grad."""

    message = (
        f"double backward (a gradient of a gradient, e.g. torch.autograd.grad(..., "
        f"create_graph=True) then backward) through backend {backend!r}: its backward is a "
        "hand-written reverse loop that can be differentiated only once; run the neurons "
        "involved with backend='eager' (neuron.run(x, backend='eager'), neuron.backend = "
        "'eager', snncore.Sequential(..., backend='eager') or snncore.use_backend('eager'))"
    )

    batched = (
        f"a batched backward (torch.autograd.grad(..., is_grads_batched=True), "
        f"torch.autograd.functional.jacobian(..., vectorize=True), or torch.func over the "
        f"backward) through backend {backend!r}: its reverse loop runs on plain tensors; run "
        "the neurons involved with backend='eager' (neuron.run(x, backend='eager') or "
        "snncore.use_backend('eager'))"
    )

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(ctx: Any, *grads: Any) -> Any:
            if any(isinstance(g, Tensor) and wrapped_tensor(g) for g in grads):
                raise BackendError(batched)
            with torch.no_grad():
                outputs = fn(ctx, *grads)
            if not torch.is_grad_enabled():
                return outputs
            single = not isinstance(outputs, tuple)
            outs = (outputs,) if single else outputs
            idx = [i for i, o in enumerate(outs) if isinstance(o, Tensor)]
            leaves = [outs[i].detach().requires_grad_(True) for i in idx]
            guarded = _DoubleBackwardError.apply(message, *leaves) if leaves else ()
            result = list(outs)
            for i, g in zip(idx, guarded, strict=True):
                result[i] = g
            return result[0] if single else tuple(result)

        return wrapper

    return decorate


# -- input donation: a runner lends a temporary input buffer to a backend ------------------------
_donated: contextvars.ContextVar[tuple[int, tuple[int, ...], tuple[int, ...]] | None] = (
    contextvars.ContextVar("snncore_donated_input", default=None))


def _key(x: Tensor) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    return x.data_ptr(), tuple(x.shape), tuple(x.stride())


@contextlib.contextmanager
def donate_input(x: Tensor) -> Iterator[None]:
    """Within this context a backend may overwrite ``x`` (e.g. keep what its backward needs in
    ``x``'s memory instead of a new buffer). Only for a temporary that nothing else reads
    afterwards and that autograd has not saved: :class:`snncore.Sequential` lends the output of
    a stateless layer (``Linear``, convolution, pooling) that feeds a neuron."""
    token = _donated.set(_key(x))
    try:
        yield
    finally:
        _donated.reset(token)


def input_donated(x: Tensor) -> bool:
    """Whether ``x`` was lent with :func:`donate_input` (same memory, shape and strides)."""
    key = _donated.get()
    return key is not None and key == _key(x)


def module_hooks(module: torch.nn.Module) -> tuple[dict[Any, Any], ...]:
    """The forward and backward hook dicts (``module``'s own and the global ones) that would
    run around a call of ``module``."""
    from torch.nn.modules import module as _module

    return (module._forward_hooks, module._forward_pre_hooks, module._backward_hooks,
            module._backward_pre_hooks, _module._global_forward_hooks,
            _module._global_forward_pre_hooks, _module._global_backward_hooks,
            _module._global_backward_pre_hooks)


def module_hooked(module: torch.nn.Module) -> bool:
    """Whether forward or backward hooks (of ``module`` or global ones) would run around a call
    of ``module``: a runner that replaces the call with an equivalent computation must not then
    (the hooks would be skipped)."""
    return any(module_hooks(module))


def without_grad(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``args`` with every tensor detached when grad mode is off (``no_grad``) or inference
    mode is on (also with ``enable_grad`` inside it: autograd records nothing there), else
    unchanged: an ``autograd.Function`` sees ``needs_input_grad`` from ``requires_grad``
    alone, so without this a backend's forward would keep what its backward needs (and touch
    version counters, which inference tensors lack) although no backward can run."""
    if torch.is_grad_enabled() and (torch.compiler.is_compiling()
                                    or not torch.is_inference_mode_enabled()):
        return args
    return tuple(a.detach() if isinstance(a, Tensor) else a for a in args)


def saved_tensor_hooks_active() -> bool:
    """Whether ``torch.autograd.graph.saved_tensors_hooks`` are in effect (e.g.
    ``save_on_cpu``, non-reentrant checkpointing): they manage every saved tensor, so a
    :class:`HeldInput` must not bypass them. True when PyTorch cannot tell."""
    probe = getattr(torch._C._autograd, "_top_saved_tensors_default_hooks", None)
    if probe is None:
        return True
    try:
        return probe(False) is not None
    except (RuntimeError, TypeError):
        return True


class HeldInput:
    """An input that a backward needs once, held by reference instead of with
    ``ctx.save_for_backward`` so that the backward can let go of it as soon as it has used it
    (e.g. a layer's input, released before the input gradient of the same size is allocated);
    only where :func:`saved_tensor_hooks_active` is False. As for a saved tensor, modifying it
    in place between the forward and the backward makes :meth:`take` raise."""

    __slots__ = ("tensor", "version")

    def __init__(self, tensor: Tensor) -> None:
        self.tensor: Tensor | None = tensor
        self.version = tensor._version

    def take(self, what: str) -> Tensor:
        """The tensor (released from here); ``what`` names it in the errors."""
        t, self.tensor = self.tensor, None
        if t is None:
            raise RuntimeError(
                f"{what} was already released by an earlier backward through this graph "
                "(retain_graph=True); run the backward once per forward"
            )
        if t._version != self.version:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: {what} is at version {t._version}; expected version "
                f"{self.version} instead. Modify a copy (x.clone()), or modify it before the "
                "forward"
            )
        return t
