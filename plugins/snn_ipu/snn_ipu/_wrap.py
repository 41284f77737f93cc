"""``training_model`` / ``inference_model``: poptorch wrappers for time-first spiking models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from snncore import extend

from ._optim import translate_optimizer
from ._path import batch_first, ipu_safe, time_first
from ._poptorch import load_poptorch

__all__ = ["training_model", "inference_model", "IPUModel", "batch_factor"]


def _output_tensor(out: Any, where: str) -> Tensor:
    """The model's output tensor: ``out`` itself, or ``out[0]`` of ``(output, state)``."""
    y = out[0] if isinstance(out, tuple) and out else out
    if not isinstance(y, Tensor):
        raise TypeError(
            f"{where}: the model must return a tensor or a tuple whose first item is the output "
            f"tensor (as snn.Sequential's (output, state)), got {type(y).__name__}"
        )
    return y


class _TrainingProgram(nn.Module):
    """The module poptorch traces for training: the loss is computed inside ``forward``."""

    def __init__(self, model: nn.Module, loss_fn: Callable[..., Tensor], time_first: bool,
                 targets_time_first: bool, identity_loss: Callable[..., Tensor]) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn
        self.time_first = time_first
        self.targets_time_first = targets_time_first
        self.identity_loss = identity_loss

    def forward(self, x: Tensor, target: Any) -> tuple[Tensor, Tensor]:
        if self.time_first:
            x = time_first(x)
        if self.targets_time_first and isinstance(target, Tensor):
            target = time_first(target)
        with ipu_safe(self.model):
            y = _output_tensor(self.model(x), "training_model")
        with extend.value_checks_disabled():  # the loss runs inside the IPU program too
            loss = self.loss_fn(y, target)
        if not isinstance(loss, Tensor) or loss.dim() != 0:
            raise ValueError(
                "training_model: loss_fn(output, target) must return a 0-d tensor (a reduced "
                f"loss), got {type(loss).__name__}"
                + (f" of shape {tuple(loss.shape)}" if isinstance(loss, Tensor) else "")
            )
        # poptorch recognises only its built-in losses: any other loss must be marked
        loss = self.identity_loss(loss, reduction="none")
        return (batch_first(y) if self.time_first else y), loss


class _InferenceProgram(nn.Module):
    def __init__(self, model: nn.Module, time_first: bool) -> None:
        super().__init__()
        self.model = model
        self.time_first = time_first

    def forward(self, x: Tensor) -> Tensor:
        with ipu_safe(self.model):
            y = _output_tensor(self.model(time_first(x) if self.time_first else x),
                               "inference_model")
        return batch_first(y) if self.time_first else y


def batch_factor(options: Any, training: bool) -> int:
    """How many parts poptorch splits dim 0 of every input into for one call:
    ``deviceIterations × replicationFactor / inputReplicaGrouping × gradientAccumulation``."""
    if options is None:
        return 1
    di = int(getattr(options, "device_iterations", 1))
    rf = int(getattr(options, "replication_factor", 1))
    group = int(getattr(options, "input_group_size", 1)) or 1
    ga = int(getattr(getattr(options, "Training", None), "gradient_accumulation", 1)) \
        if training else 1
    return di * (rf // group) * ga


class IPUModel:
    """A compiled poptorch model taking time-first data ``[T, B, ...]``.

    poptorch splits dim 0 of every input between device iterations, replicas and gradient
    accumulation steps, so the time-first input is handed to it batch-first ``[B, T, ...]``
    and turned back to ``[T, b, ...]`` inside the traced forward; outputs come back
    time-first. Targets keep their batch in dim 0 (``targets_time_first=True`` for ``[T, B]``
    targets).

    Attributes:
        executor: the underlying ``poptorch.PoplarExecutor`` (``compile``, ``destroy``,
            ``copyWeightsToHost``, ...).
        training: whether this is a training model.
        factor: the number every batch size must be a multiple of.
    """

    def __init__(self, executor: Any, *, training: bool, time_first: bool,
                 targets_time_first: bool, factor: int) -> None:
        self.executor = executor
        self.training = training
        self.time_first = time_first
        self.targets_time_first = targets_time_first
        self.factor = factor

    def _prepare(self, x: Any) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"IPUModel: input must be a tensor, got {type(x).__name__}")
        if not self.time_first:
            return x
        if x.dim() < 2:
            raise ValueError(
                f"IPUModel: input must be time-first [T, B, ...], got shape {tuple(x.shape)}"
            )
        b = x.shape[1]
        if b % self.factor:
            raise ValueError(
                f"IPUModel: the batch size B={b} (dim 1 of the time-first input "
                f"{tuple(x.shape)}) must be a multiple of {self.factor} = deviceIterations x "
                "replicationFactor x gradientAccumulation of the poptorch options; each "
                f"micro-batch then has B/{self.factor} samples"
            )
        return batch_first(x)

    def __call__(self, x: Tensor, target: Any = None) -> Any:
        xb = self._prepare(x)
        if self.training:
            if target is None:
                raise TypeError("IPUModel: a training model needs (x, target)")
            if self.targets_time_first and isinstance(target, Tensor):
                target = batch_first(target)
            out, loss = self.executor(xb, target)
            return (time_first(out) if self.time_first else out), loss
        if target is not None:
            raise TypeError("IPUModel: an inference model takes only x")
        out = self.executor(xb)
        return time_first(out) if self.time_first else out

    def set_optimizer(self, optimizer: Any) -> None:
        """Replace the optimizer (translated like in :func:`training_model`)."""
        self.executor.setOptimizer(translate_optimizer(optimizer))

    def destroy(self) -> None:
        """Free the IPU and unwrap the model (poptorch's ``destroy``)."""
        self.executor.destroy()


def _check_options(poptorch: Any, options: Any) -> Any:
    if options is None:
        return poptorch.Options()
    if not isinstance(options, poptorch.Options):
        raise TypeError(f"options must be a poptorch.Options or None, got {type(options).__name__}")
    return options


def training_model(model: nn.Module, loss_fn: Callable[..., Tensor], optimizer: Any,
                   options: Any = None, *, time_first: bool = True,
                   targets_time_first: bool = False) -> IPUModel:
    """Wrap ``model`` for training on the IPU with ``poptorch.trainingModel``.

    The traced forward runs ``model`` on the IPU-safe path (:func:`ipu_safe`), computes
    ``loss_fn(output, target)`` inside the forward and marks it with ``poptorch.identity_loss``.
    One call ``ipu_model(x, target)`` runs forward, backward and the optimizer step on the device
    and returns ``(output, loss)``.

    Args:
        model: the network; returns an output tensor or ``(output, state)`` (snn.Sequential).
        loss_fn: ``loss_fn(output, target) -> 0-d tensor``, e.g. ``snn.losses.ce_rate_loss()``.
        optimizer: a ``torch.optim`` optimizer over ``model``'s parameters, translated with
            :func:`translate_optimizer`, or a ``poptorch.optim`` optimizer.
        options: ``poptorch.Options`` (device iterations, replication, gradient accumulation,
            ``useIpuModel``); None: defaults.
        time_first: the model takes ``[T, B, ...]`` (snncore's convention). Default: True.
        targets_time_first: targets are ``[T, B, ...]`` too. Default: False (batch in dim 0).

    Returns:
        An :class:`IPUModel`.

    Raises:
        snncore.BackendUnavailableError: poptorch cannot be imported (the reason says why).
        TypeError, ValueError: invalid arguments or an optimizer poptorch cannot run.

    Example::

        >>> ipu_net = snn_ipu.training_model(net, snn.losses.ce_rate_loss(),
        ...                                  torch.optim.Adam(net.parameters(), lr=1e-3))
        >>> out, loss = ipu_net(x, y)            # x: [T, B, ...], y: [B]
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"training_model: model must be a torch.nn.Module, got "
                        f"{type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"training_model: loss_fn must be callable, got {loss_fn!r}")
    for name, flag in (("time_first", time_first), ("targets_time_first", targets_time_first)):
        if not isinstance(flag, bool):
            raise TypeError(f"training_model: {name} must be a bool, got {flag!r}")
    poptorch = load_poptorch()
    options = _check_options(poptorch, options)
    own = {id(p) for p in model.parameters()}
    for i, group in enumerate(getattr(optimizer, "param_groups", [])):
        stray = [p for p in group["params"] if id(p) not in own]
        if stray:
            raise ValueError(
                f"training_model: optimizer param group {i} holds {len(stray)} tensor(s) that "
                "are not parameters of model; build the optimizer from model.parameters()"
            )
    ipu_optimizer = translate_optimizer(optimizer)
    model.train()
    program = _TrainingProgram(model, loss_fn, time_first, targets_time_first,
                               poptorch.identity_loss)
    executor = poptorch.trainingModel(program, options=options, optimizer=ipu_optimizer)
    return IPUModel(executor, training=True, time_first=time_first,
                    targets_time_first=targets_time_first,
                    factor=batch_factor(options, training=True))


def inference_model(model: nn.Module, options: Any = None, *, time_first: bool = True
                    ) -> IPUModel:
    """Wrap ``model`` for inference on the IPU with ``poptorch.inferenceModel``.

    Puts ``model`` in eval mode (poptorch copies the mode at wrapping time). ``ipu_model(x)``
    returns the output time-first; with ``deviceIterations(n)`` the ``n`` micro-batches' outputs
    are concatenated along the batch.

    Args:
        model: the network; returns an output tensor or ``(output, state)``.
        options: ``poptorch.Options`` or None.
        time_first: the model takes ``[T, B, ...]``. Default: True.

    Example::

        >>> ipu_net = snn_ipu.inference_model(net)
        >>> spk = ipu_net(x)                     # x: [T, B, ...]
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"inference_model: model must be a torch.nn.Module, got "
                        f"{type(model).__name__}")
    if not isinstance(time_first, bool):
        raise TypeError(f"inference_model: time_first must be a bool, got {time_first!r}")
    poptorch = load_poptorch()
    options = _check_options(poptorch, options)
    model.eval()
    executor = poptorch.inferenceModel(_InferenceProgram(model, time_first), options=options)
    return IPUModel(executor, training=False, time_first=time_first, targets_time_first=False,
                    factor=batch_factor(options, training=False))

