"""A stand-in for ``poptorch`` (Graphcore's SDK-only package) that runs on the CPU.

It mirrors the signatures snn_ipu uses (``trainingModel(model, options, optimizer)``,
``inferenceModel(model, options)``, ``Options.deviceIterations / replicationFactor /
Training.gradientAccumulation / useIpuModel``, ``identity_loss(x, reduction)``,
``ipuHardwareIsAvailable(num_ipus)``, ``isRunningOnIpu()``, ``optim.SGD/Adam/AdamW/RMSprop/LAMB``
with their extra arguments) and enforces the IPU's constraints while it "traces":

- calling a ``torch.autograd.Function`` while tracing is refused (PopART would differentiate the
  forward ops and drop the custom backward);
- host syncs (``.item()``, ``.tolist()``, ``.numpy()``, ``int()/float()/bool()`` of a tensor) are
  refused;
- a training model must return a loss marked with ``identity_loss`` ("Couldn't find a loss");
- only poptorch's optimizers (or torch's SGD/Adam/AdamW/RMSprop, non-amsgrad) are accepted;
- dim 0 of every input must be a multiple of deviceIterations x replicationFactor x
  gradientAccumulation and is split into that many micro-batches; a training call runs
  ``deviceIterations`` optimizer steps, each over ``replicationFactor x gradientAccumulation``
  micro-batches with the mean gradient, and returns the last micro-batch's outputs
  (OutputMode.Final); an inference call concatenates the outputs (OutputMode.All).

Public as :data:`snn_ipu.testing.poptorch_standin`; :func:`snn_ipu.testing.use_poptorch_standin`
installs it as ``poptorch`` for a block of code. It is a test double: it checks the constraints
listed here and runs everything on the CPU in plain PyTorch; it does not compile anything, does
not know PopART's list of supported ops, and says nothing about speed or memory on an IPU.
"""

from __future__ import annotations

import copy
import types
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

__version__ = "3.3.0+standin"

#: tests flip this to pretend an IPU is attached
HARDWARE = False
_ipu_context = False
#: ids of the tensors marked by identity_loss in the current trace
_marked: set[int] = set()
#: every micro-batch's positional input shapes seen by any executor (for the tests)
TRACE_LOG: list[tuple[tuple[int, ...], ...]] = []


def ipuHardwareIsAvailable(num_ipus: int = 1) -> bool:  # noqa: N802 - poptorch's name
    return HARDWARE


def isRunningOnIpu() -> bool:  # noqa: N802 - poptorch's name
    return _ipu_context


def identity_loss(x: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "sum":
        out = x.sum()
    elif reduction == "mean":
        out = x.mean()
    elif reduction == "none":
        out = x * 1
    else:
        raise ValueError("reduction must be sum, mean or none")
    _marked.add(id(out))
    return out


class _TrainingOptions:
    def __init__(self) -> None:
        self.gradient_accumulation = 1

    def gradientAccumulation(self, gradient_accumulation: int) -> _TrainingOptions:  # noqa: N802
        self.gradient_accumulation = int(gradient_accumulation)
        return self


class Options:
    def __init__(self) -> None:
        self.device_iterations = 1
        self.replication_factor = 1
        self.input_group_size = 1
        self.Training = _TrainingOptions()
        self.use_model = False
        self.random_seed: int | None = None

    def deviceIterations(self, device_iterations: int) -> Options:  # noqa: N802
        self.device_iterations = int(device_iterations)
        return self

    def replicationFactor(self, replication_factor: int) -> Options:  # noqa: N802
        self.replication_factor = int(replication_factor)
        self.input_group_size = 1
        return self

    def useIpuModel(self, use_model: bool) -> Options:  # noqa: N802
        self.use_model = bool(use_model)
        return self

    def randomSeed(self, random_seed: int) -> Options:  # noqa: N802
        self.random_seed = int(random_seed)
        return self


# -- optim -----------------------------------------------------------------------------------
def _parent(locals_: dict[str, Any], child_only: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in locals_.items()
            if k not in child_only and k not in ("self", "__class__") and v is not None}


class _Optimizer:
    """Base of the poptorch optimizers (poptorch.optim.Optimizer)."""


class SGD(_Optimizer, torch.optim.SGD):
    _child_only = ("loss_scaling", "velocity_scaling", "use_combined_accum", "accum_type",
                   "velocity_accum_type", "max_grad_norm")

    def __init__(self, params: Any, lr: float, momentum: float | None = None,
                 dampening: float | None = None, weight_decay: float | None = None,
                 nesterov: bool | None = None, maximize: bool | None = None,
                 foreach: bool | None = None, differentiable: bool | None = None,
                 loss_scaling: float | None = None, velocity_scaling: float | None = None,
                 use_combined_accum: bool | None = None, accum_type: torch.dtype | None = None,
                 velocity_accum_type: torch.dtype | None = None,
                 max_grad_norm: float | None = None) -> None:
        torch.optim.SGD.__init__(self, **_parent(locals(), self._child_only))
        self.loss_scaling = 1.0 if loss_scaling is None else loss_scaling


class Adam(_Optimizer, torch.optim.Adam):
    _child_only = ("loss_scaling", "accum_type", "first_order_momentum_accum_type",
                   "second_order_momentum_accum_type", "max_grad_norm")

    def __init__(self, params: Any, lr: float | None = None, betas: Any = None,
                 eps: float | None = None, weight_decay: float | None = None,
                 amsgrad: bool | None = None, foreach: bool | None = None,
                 maximize: bool | None = None, capturable: bool | None = None,
                 differentiable: bool | None = None, fused: bool | None = None,
                 loss_scaling: float | None = None, accum_type: torch.dtype | None = None,
                 first_order_momentum_accum_type: torch.dtype | None = None,
                 second_order_momentum_accum_type: torch.dtype | None = None,
                 max_grad_norm: float | None = None) -> None:
        torch.optim.Adam.__init__(self, **_parent(locals(), self._child_only))
        self.loss_scaling = 1.0 if loss_scaling is None else loss_scaling


class AdamW(_Optimizer, torch.optim.AdamW):
    _child_only = ("loss_scaling", "bias_correction", "accum_type",
                   "first_order_momentum_accum_type", "second_order_momentum_accum_type",
                   "max_grad_norm")

    def __init__(self, params: Any, lr: float | None = None, betas: Any = None,
                 eps: float | None = None, weight_decay: float | None = None,
                 amsgrad: bool | None = None, maximize: bool | None = None,
                 foreach: bool | None = None, capturable: bool | None = None,
                 differentiable: bool | None = None, fused: bool | None = None,
                 loss_scaling: float | None = None, bias_correction: bool | None = None,
                 accum_type: torch.dtype | None = None,
                 first_order_momentum_accum_type: torch.dtype | None = None,
                 second_order_momentum_accum_type: torch.dtype | None = None,
                 max_grad_norm: float | None = None) -> None:
        torch.optim.AdamW.__init__(self, **_parent(locals(), self._child_only))
        self.loss_scaling = 1.0 if loss_scaling is None else loss_scaling


class RMSprop(_Optimizer, torch.optim.RMSprop):
    _child_only = ("loss_scaling", "accum_type", "first_order_momentum_accum_type",
                   "second_order_momentum_accum_type", "use_tf_variant")

    def __init__(self, params: Any, lr: float | None = None, alpha: float | None = None,
                 eps: float | None = None, weight_decay: float | None = None,
                 momentum: float | None = None, centered: bool | None = None,
                 foreach: bool | None = None, maximize: bool | None = None,
                 differentiable: bool | None = None, loss_scaling: float | None = None,
                 accum_type: torch.dtype | None = None,
                 first_order_momentum_accum_type: torch.dtype | None = None,
                 second_order_momentum_accum_type: torch.dtype | None = None,
                 use_tf_variant: bool | None = None) -> None:
        torch.optim.RMSprop.__init__(self, **_parent(locals(), self._child_only))
        self.loss_scaling = 1.0 if loss_scaling is None else loss_scaling


class LAMB(_Optimizer, torch.optim.Optimizer):
    def __init__(self, params: Any, lr: float | None = None, betas: Any = None,
                 eps: float | None = None, weight_decay: float | None = None,
                 bias_correction: bool | None = None, loss_scaling: float | None = None,
                 max_weight_norm: float | None = None, accum_type: torch.dtype | None = None,
                 first_order_momentum_accum_type: torch.dtype | None = None,
                 second_order_momentum_accum_type: torch.dtype | None = None) -> None:
        defaults = dict(lr=1e-3 if lr is None else lr, betas=betas or (0.9, 0.999),
                        eps=1e-8 if eps is None else eps,
                        weight_decay=1e-2 if weight_decay is None else weight_decay,
                        max_weight_norm=65500.0 if max_weight_norm is None else max_weight_norm)
        torch.optim.Optimizer.__init__(self, params, defaults)

    def step(self, closure: Any = None) -> None:
        raise NotImplementedError("the poptorch stand-in does not run LAMB")


optim = types.ModuleType("poptorch.optim")
optim.Optimizer = _Optimizer  # type: ignore[attr-defined]
for _cls in (SGD, Adam, AdamW, RMSprop, LAMB):
    setattr(optim, _cls.__name__, _cls)
del SGD, Adam, AdamW, RMSprop, LAMB

_TORCH_SUPPORTED = (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, torch.optim.RMSprop)


def _check_optimizer(optimizer: Any) -> None:
    ok = isinstance(optimizer, _Optimizer) or type(optimizer) in _TORCH_SUPPORTED
    if not ok:
        raise AssertionError("Unsupported optimizer type. Types supported SGD, Adam, AdamW, "
                             "RMSprop, LAMB")
    for g in optimizer.param_groups:
        if g.get("amsgrad"):
            raise ValueError("Only non-amsgrad Adam/AdamW optimizers are supported.")


# -- tracing constraints ----------------------------------------------------------------------
_T = torch.Tensor
_REFUSED = {_T.item, _T.tolist, _T.numpy, _T.__bool__, _T.__int__, _T.__float__, _T.__index__}


class _Constraints(TorchFunctionMode):
    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None
                           ) -> Any:
        if func in _REFUSED:
            raise RuntimeError(
                f"poptorch stand-in: {func.__name__} reads a tensor value on the host while "
                "tracing; this is not possible on the IPU"
            )
        return func(*args, **(kwargs or {}))


def _flat(obj: Any) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _flat(o)]
    return []


def _refusing_apply(cls: type, *args: Any, **kwargs: Any) -> Any:
    raise RuntimeError(
        f"poptorch stand-in: the traced model calls the torch.autograd.Function "
        f"{cls.__name__}; PopART builds the backward from the forward ops, so its custom "
        "backward would be lost"
    )


class PoplarExecutor:
    def __init__(self, model: torch.nn.Module, options: Options | None, training: bool,
                 optimizer: Any = None) -> None:
        if options is not None and not isinstance(options, Options):
            raise AssertionError("options must be a poptorch.Options")
        self._user_model = model
        self.model = copy.copy(model)
        self.options = options or Options()
        self.training = training
        self._compiled = False
        if training:
            if optimizer is None:
                raise AssertionError("poptorch stand-in: pass an optimizer to trainingModel")
            _check_optimizer(optimizer)
        self.optimizer = optimizer

    def setOptimizer(self, optimizer: Any) -> None:  # noqa: N802
        _check_optimizer(optimizer)
        self.optimizer = optimizer

    def isCompiled(self) -> bool:  # noqa: N802
        return self._compiled

    def destroy(self) -> None:
        self._compiled = False

    def _factor(self) -> int:
        o = self.options
        ga = o.Training.gradient_accumulation if self.training else 1
        return o.device_iterations * (o.replication_factor // o.input_group_size) * ga

    def _split(self, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        n = self._factor()
        for a in args:
            if isinstance(a, torch.Tensor):
                b = 1 if a.dim() == 0 else a.shape[0]
                assert b % n == 0, (
                    f"Invalid batch dimension: In the input {tuple(a.shape)}, the batch "
                    f"dimension ({b}) must be a multiple of Options.deviceIterations * "
                    f"Options.replicationFactor * Options.Training.gradientAccumulation = {n}"
                )
        chunks = [a.chunk(n, 0) if isinstance(a, torch.Tensor) and a.dim() else [a] * n
                  for a in args]
        return [tuple(c[i] for c in chunks) for i in range(n)]

    def _run(self, args: tuple[Any, ...]) -> Any:
        global _ipu_context
        TRACE_LOG.append(tuple(tuple(a.shape) for a in args if isinstance(a, torch.Tensor)))
        _marked.clear()
        _ipu_context = True
        function_apply = torch.autograd.Function.__dict__["apply"]
        torch.autograd.Function.apply = classmethod(_refusing_apply)  # type: ignore[assignment]
        try:
            with _Constraints():
                out = self.model(*args)
        finally:
            _ipu_context = False
            torch.autograd.Function.apply = function_apply  # type: ignore[assignment]
        self._compiled = True
        return out

    def __call__(self, *args: Any) -> Any:
        micro = self._split(args)
        if not self.training:
            with torch.no_grad():
                outs = [self._run(m) for m in micro]
            if isinstance(outs[0], torch.Tensor):
                return torch.cat(outs)
            return tuple(torch.cat(parts) for parts in zip(*outs, strict=True))
        o = self.options
        per_step = (o.replication_factor // o.input_group_size) * o.Training.gradient_accumulation
        out: Any = None
        for step in range(o.device_iterations):
            self.optimizer.zero_grad()
            for m in micro[step * per_step:(step + 1) * per_step]:
                out = self._run(m)
                losses = [t for t in _flat(out) if id(t) in _marked]
                if not losses:
                    raise RuntimeError("Couldn't find a loss in graph! (the training model must "
                                       "return a loss marked by poptorch.identity_loss or a "
                                       "torch loss)")
                (losses[-1] / per_step).backward()
            self.optimizer.step()
        return tuple(t.detach() for t in out) if isinstance(out, tuple) else out.detach()


def trainingModel(model: torch.nn.Module, options: Options | None = None,  # noqa: N802
                  optimizer: Any = None) -> PoplarExecutor:
    return PoplarExecutor(model, options, training=True, optimizer=optimizer)


def inferenceModel(model: torch.nn.Module, options: Options | None = None  # noqa: N802
                   ) -> PoplarExecutor:
    return PoplarExecutor(model, options, training=False)
