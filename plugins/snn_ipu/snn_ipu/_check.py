"""``check_model``: a CPU lint that traces a model and reports what an IPU cannot run."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from snncore import extend

from ._optim import plan_translation
from ._path import ipu_safe

__all__ = ["check_model", "Finding", "CheckReport"]

_T = torch.Tensor
#: reading a tensor's value on the host: impossible inside an IPU program
_HOST_SYNCS = {
    _T.item: "Tensor.item()", _T.tolist: "Tensor.tolist()", _T.numpy: "Tensor.numpy()",
    _T.__int__: "int(tensor)", _T.__float__: "float(tensor)", _T.__index__: "tensor as index",
    _T.__complex__: "complex(tensor)", _T.__array__: "numpy.asarray(tensor)",
}
#: Python control flow on a tensor's value: frozen at the path taken while tracing
_BRANCHES = {_T.__bool__: "bool(tensor) (if/while/and/or on a tensor)",
             torch.is_nonzero: "torch.is_nonzero"}
#: ops whose output shape depends on the data
_DYNAMIC = {
    torch.nonzero: "torch.nonzero", _T.nonzero: "Tensor.nonzero", torch.argwhere: "torch.argwhere",
    _T.argwhere: "Tensor.argwhere", torch.masked_select: "torch.masked_select",
    _T.masked_select: "Tensor.masked_select", torch.unique: "torch.unique",
    _T.unique: "Tensor.unique", torch.unique_consecutive: "torch.unique_consecutive",
    _T.unique_consecutive: "Tensor.unique_consecutive", torch.bincount: "torch.bincount",
    _T.bincount: "Tensor.bincount",
}
_NO_FLOAT64 = (torch.float64, torch.complex128)


@dataclass(frozen=True)
class Finding:
    """One thing the IPU cannot run.

    Attributes:
        kind: ``"host-sync"``, ``"data-dependent-branch"``, ``"autograd-function"``,
            ``"dynamic-shape"``, ``"compile"``, ``"optimizer"``, ``"float64"``,
            ``"python-state"``, ``"buffer-reassigned"`` or ``"loss"``.
        module: qualified name of the module whose forward did it (``"<model>"`` for the root).
        op: the op or attribute concerned.
        message: what goes wrong on the IPU and what to do instead.
    """

    kind: str
    module: str
    op: str
    message: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.module}: {self.op}: {self.message}"


@dataclass
class CheckReport:
    """The result of :func:`check_model`: ``ok`` when nothing was found."""

    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def kinds(self) -> set[str]:
        return {f.kind for f in self.findings}

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def __str__(self) -> str:
        if self.ok:
            return "check_model: no IPU problems found"
        lines = [f"check_model: {len(self.findings)} IPU problem(s):"]
        lines += [f"  {f}" for f in self.findings]
        return "\n".join(lines)

    def raise_if_failed(self) -> None:
        """Raise :class:`snncore.SnncoreError` listing every finding, if there is any."""
        if not self.ok:
            raise extend.SnncoreError(str(self))


class _Lint(TorchFunctionMode):
    def __init__(self, report: _Collector) -> None:
        super().__init__()
        self.report = report

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None
                           ) -> Any:
        kwargs = kwargs or {}
        r = self.report
        if func in _HOST_SYNCS:
            r.add("host-sync", _HOST_SYNCS[func],
                  "reads a tensor value on the host; an IPU program cannot return to Python "
                  "mid-graph (keep the value a tensor)")
        elif func in _BRANCHES:
            r.add("data-dependent-branch", _BRANCHES[func],
                  "Python control flow on a tensor value is frozen at the path taken while "
                  "tracing; use torch.where or arithmetic masks")
        elif func in _DYNAMIC:
            r.add("dynamic-shape", _DYNAMIC[func],
                  "the output shape depends on the data; IPU shapes are fixed at trace time "
                  "(use masks of fixed shape)")
        elif func is torch.where and len(args) + len(kwargs) == 1:
            r.add("dynamic-shape", "torch.where(condition)",
                  "the one-argument form returns indices whose number depends on the data; use "
                  "the three-argument torch.where(condition, x, y)")
        elif func is _T.__getitem__ and len(args) > 1 and _has_bool_index(args[1]):
            r.add("dynamic-shape", "boolean-mask indexing tensor[mask]",
                  "the output shape depends on the data; use torch.where(mask, x, 0)")
        out = func(*args, **kwargs)
        if isinstance(out, Tensor) and out.dtype in _NO_FLOAT64:
            r.add("float64", getattr(func, "__name__", str(func)),
                  f"produces {out.dtype}; the IPU has no 64-bit floats, poptorch computes it in "
                  "32 bits (results differ from the CPU); use float32 or float16")
        return out


def _has_bool_index(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, Tensor) and i.dtype == torch.bool and i.dim() > 0 for i in items)


class _Collector:
    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.stack: list[str] = []
        self._seen: set[tuple[str, str, str]] = set()

    def add(self, kind: str, op: str, message: str, module: str | None = None) -> None:
        where = module if module is not None else (self.stack[-1] if self.stack else "<model>")
        key = (kind, where, op)
        if key not in self._seen:
            self._seen.add(key)
            self.findings.append(Finding(kind, where, op, message))


def _custom_function_nodes(out: Any, seen: set[int]) -> list[str]:
    """Names of ``autograd.Function`` nodes in the graph behind ``out`` not in ``seen``."""
    roots = [t.grad_fn for t in _tensors(out) if t.grad_fn is not None]
    names, stack = [], list(roots)
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, torch.autograd.function.BackwardCFunction):
            names.append(type(node).__name__.removesuffix("Backward"))
        stack.extend(n for n, _ in node.next_functions)
    return names


def _tensors(obj: Any) -> Iterator[Tensor]:
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)


def _is_compiled(module: nn.Module) -> bool:
    return hasattr(module, "_orig_mod") and type(module).__name__ == "OptimizedModule"


def check_model(model: nn.Module, example_input: Any, optimizer: Any = None, *,
                loss_fn: Any = None, target: Any = None) -> CheckReport:
    """Trace ``model`` on the CPU as it would run on the IPU and report what the IPU cannot run.

    ``model`` is copied and run once on ``example_input`` on the IPU-safe path
    (:func:`ipu_safe`: snncore neurons fire through traceable spikes), while every torch op is
    watched. Each finding names the module (qualified name in ``model``) and the op:

    - host syncs: ``.item()``, ``.tolist()``, ``.numpy()``, ``int()``/``float()`` of a tensor;
    - data-dependent branches: ``if``/``while`` on a tensor value (``bool(tensor)``);
    - ``torch.autograd.Function`` (PopART derives the backward from the forward ops: a custom
      backward is lost);
    - dynamic shapes: ``nonzero``, ``masked_select``, ``unique``, ``bincount``, ``x[mask]``,
      one-argument ``torch.where``;
    - ``torch.compile``'d submodules;
    - float64 tensors (the IPU has no 64-bit floats);
    - state kept in Python attributes (``stateful=True`` neurons and runners), and buffers
      reassigned instead of updated in place: neither persists between IPU calls;
    - with ``optimizer``: one that cannot be translated to ``poptorch.optim``;
    - with ``loss_fn`` and ``target``: the same checks on ``loss_fn(output, target)``, which
      :func:`training_model` computes inside the traced forward (module ``"<loss>"``).

    poptorch is not needed. The lint sees the path the example input takes; code behind a branch
    not taken is not traced.

    Args:
        model: the network.
        example_input: one input (a tensor, or a tuple of positional arguments).
        optimizer: optionally the optimizer to be used.
        loss_fn: optionally the loss, called as ``loss_fn(output, target)`` on the model's
            output tensor (or the first item of ``(output, state)``).
        target: the example target for ``loss_fn``.

    Returns:
        A :class:`CheckReport` (``report.ok``, ``print(report)``, ``report.raise_if_failed()``).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"check_model: model must be a torch.nn.Module, got {type(model).__name__}")
    args = example_input if isinstance(example_input, tuple) else (example_input,)
    if not args or not all(isinstance(a, Tensor) for a in _tensors(args)) \
            or not list(_tensors(args)):
        raise TypeError("check_model: example_input must be a tensor or a tuple of tensors, got "
                        f"{type(example_input).__name__}")
    report = _Collector()
    for name, module in model.named_modules():
        where = name or "<model>"
        if _is_compiled(module):
            report.add("compile", "torch.compile",
                       "a torch.compile'd module cannot be traced by poptorch; pass the "
                       "uncompiled module", module=where)
        if getattr(module, "stateful", False) is True:
            report.add("python-state", f"{type(module).__name__}(stateful=True)",
                       "keeps its state in a Python attribute, which does not persist between "
                       "IPU calls; use stateful=False and feed the whole sequence per call",
                       module=where)
    if optimizer is not None:
        _check_optimizer(optimizer, report)
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"check_model: loss_fn must be callable or None, got {loss_fn!r}")
    _trace(model, args, report, loss_fn, target)
    return CheckReport(report.findings)


def _check_optimizer(optimizer: Any, report: _Collector) -> None:
    if type(optimizer).__module__.split(".")[0] == "poptorch":
        return  # already a poptorch optimizer
    try:
        plan_translation(optimizer)
    except (TypeError, ValueError) as exc:
        report.add("optimizer", type(optimizer).__name__, str(exc), module="<optimizer>")


def _uncompiled(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` with every ``torch.compile`` wrapper replaced by its module (so
    that the lint traces what is inside instead of compiling it)."""
    model = copy.deepcopy(model)
    while _is_compiled(model):
        model = model._orig_mod
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            inner = child
            while _is_compiled(inner):
                inner = inner._orig_mod
            if inner is not child:
                setattr(parent, child_name, inner)
    return model


def _trace(model: nn.Module, args: tuple[Any, ...], report: _Collector, loss_fn: Any,
           target: Any) -> None:
    model = _uncompiled(model)
    names = {id(m): (n or "<model>") for n, m in model.named_modules()}
    graph_seen: set[int] = set()
    buffers = {n: b for n, b in model.named_buffers()}

    def pre(module: nn.Module, _inputs: Any) -> None:
        if id(module) in names:
            report.stack.append(names[id(module)])

    def functions(output: Any) -> None:
        for fn in _custom_function_nodes(output, graph_seen):
            report.add("autograd-function", f"torch.autograd.Function {fn}",
                       "PopART builds the backward pass from the traced forward ops, so a "
                       "custom backward() is not used on the IPU; write the gradient with "
                       "detach (see snn_ipu.TraceableSurrogate)")

    def post(module: nn.Module, _inputs: Any, output: Any) -> None:
        if id(module) in names:
            functions(output)
            report.stack.pop()

    inputs = tuple(a.detach().clone().requires_grad_(a.is_floating_point())
                   if isinstance(a, Tensor) else a for a in args)
    handles = [nn.modules.module.register_module_forward_pre_hook(pre),
               nn.modules.module.register_module_forward_hook(post)]
    try:
        with ipu_safe(model), _Lint(report), torch.enable_grad():
            out = model(*inputs)
            if loss_fn is not None:
                report.stack.append("<loss>")
                y = out[0] if isinstance(out, tuple) and out else out
                loss = loss_fn(y, target)
                functions(loss)
                if not isinstance(loss, Tensor) or loss.dim() != 0:
                    report.add("loss", "loss_fn(output, target)",
                               "must return a 0-d tensor (training_model marks it with "
                               "poptorch.identity_loss)")
    finally:
        for h in handles:
            h.remove()
        report.stack.clear()
    for name, b in model.named_buffers():
        if name in buffers and buffers[name] is not b:
            owner, _, attr = name.rpartition(".")
            report.add("buffer-reassigned", attr,
                       "the buffer was replaced by a new tensor in forward; on the IPU only "
                       "in-place updates (buf.copy_(...), buf.add_(...)) persist between calls",
                       module=owner or "<model>")
