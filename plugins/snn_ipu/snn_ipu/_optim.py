"""``torch.optim`` optimizers translated to ``poptorch.optim`` with the same hyperparameters.

poptorch does not run an optimizer's Python ``step()``: it reads the hyperparameters and runs
its own built-in SGD, Adam, AdamW, RMSprop or LAMB on the IPU. A custom optimizer, a subclass
with its own ``step()``, or a hyperparameter that those built-ins do not implement would be
ignored silently there, so each of them is an error here.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import torch

from ._poptorch import load_poptorch

__all__ = ["translate_optimizer", "plan_translation", "SUPPORTED_OPTIMIZERS"]

log = logging.getLogger("snn_ipu")

#: torch.optim class -> (poptorch.optim class name, hyperparameters carried over per group)
_TRANSLATIONS: dict[type, tuple[str, tuple[str, ...]]] = {
    torch.optim.SGD: ("SGD", ("lr", "momentum", "dampening", "weight_decay", "nesterov")),
    torch.optim.Adam: ("Adam", ("lr", "betas", "eps", "weight_decay")),
    torch.optim.AdamW: ("AdamW", ("lr", "betas", "eps", "weight_decay")),
    torch.optim.RMSprop: ("RMSprop", ("lr", "alpha", "eps", "weight_decay", "momentum",
                                      "centered")),
}
SUPPORTED_OPTIMIZERS = tuple(f"torch.optim.{c.__name__}" for c in _TRANSLATIONS)

#: switches that choose an implementation, not the maths: the IPU has its own implementation
_IMPLEMENTATION_SWITCHES = {"foreach", "fused", "capturable", "differentiable"}
#: keys that learning-rate schedulers add to param groups
_SCHEDULER_KEYS = {"initial_lr"}
#: hyperparameters that must have this value, with the reason
_MUST_BE = {
    "maximize": (False, "poptorch's optimizers only minimise; negate the loss instead"),
    "amsgrad": (False, "poptorch supports only non-amsgrad Adam/AdamW"),
}


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def translate_optimizer(optimizer: Any) -> Any:
    """The ``poptorch.optim`` optimizer equivalent to ``optimizer``.

    Translates ``torch.optim.SGD``, ``Adam`` and ``AdamW`` (to poptorch's ``AdamW`` exactly when
    the weight decay is decoupled) and ``RMSprop`` with every parameter group and its
    hyperparameters; a ``poptorch.optim`` optimizer is returned unchanged.

    Args:
        optimizer: a ``torch.optim`` or ``poptorch.optim`` optimizer.

    Raises:
        TypeError: for any other optimizer class (including subclasses with their own ``step``).
        ValueError: for a hyperparameter poptorch does not implement (``maximize=True``,
            ``amsgrad=True``, an unknown non-default group option).
        snncore.BackendUnavailableError: when poptorch cannot be imported.
    """
    poptorch = load_poptorch()
    if isinstance(optimizer, poptorch.optim.Optimizer):
        return optimizer
    target, groups, defaults = plan_translation(optimizer)
    if any(optimizer.state.values()):
        warnings.warn(
            f"optimizer: the state of this {type(optimizer).__name__} (momentum / moment "
            "estimates) is not carried over to the IPU; the poptorch optimizer starts from zero "
            "state",
            stacklevel=2,
        )
    return getattr(poptorch.optim, target)(groups, **defaults)


def plan_translation(optimizer: Any) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """``(poptorch.optim class name, param groups, defaults)`` for ``optimizer``, without
    importing poptorch; raises like :func:`translate_optimizer`."""
    cls = type(optimizer)
    if cls not in _TRANSLATIONS:
        base = next((c for c in _TRANSLATIONS if isinstance(optimizer, c)), None)
        if base is not None:
            raise TypeError(
                f"optimizer: {cls.__module__}.{cls.__qualname__} subclasses torch.optim."
                f"{base.__name__}; poptorch runs its own {base.__name__} on the IPU and would "
                "ignore the subclass's step(), so it cannot be translated; use torch.optim."
                f"{base.__name__} itself or a poptorch.optim optimizer"
            )
        raise TypeError(
            f"optimizer: {cls.__module__}.{cls.__qualname__} has no IPU implementation; poptorch "
            f"supports {', '.join(SUPPORTED_OPTIMIZERS)} (translated here) and poptorch.optim."
            "SGD/Adam/AdamW/RMSprop/LAMB"
        )
    target, keys = _TRANSLATIONS[cls]
    groups = [_group(optimizer, g, keys, i) for i, g in enumerate(optimizer.param_groups)]
    decoupled = {g.pop("decoupled_weight_decay") for g in groups if "decoupled_weight_decay" in g}
    if len(decoupled) > 1:
        raise ValueError(
            f"optimizer: {cls.__name__} mixes param groups with and without "
            "decoupled_weight_decay; poptorch needs one Adam or one AdamW for all of them"
        )
    if decoupled and target in ("Adam", "AdamW"):
        target = "AdamW" if decoupled.pop() else "Adam"
    defaults = {k: _plain(optimizer.defaults[k]) for k in keys if k in optimizer.defaults}
    return target, groups, defaults


def _group(optimizer: Any, group: dict[str, Any], keys: tuple[str, ...], index: int
           ) -> dict[str, Any]:
    name = type(optimizer).__name__
    out: dict[str, Any] = {"params": list(group["params"])}
    for key, value in group.items():
        if key == "params":
            continue
        if key in keys:
            out[key] = _plain(value)
        elif key in _MUST_BE:
            want, why = _MUST_BE[key]
            if value != want:
                raise ValueError(
                    f"optimizer: {name} param group {index} has {key}={value!r}, which cannot be "
                    f"translated: {why}"
                )
        elif key == "decoupled_weight_decay" and name in ("Adam", "AdamW"):
            out[key] = bool(value)
        elif key in _IMPLEMENTATION_SWITCHES or key in _SCHEDULER_KEYS:
            log.debug("optimizer: dropping %s=%r (an implementation switch)", key, value)
        elif value in (None, False, 0):
            log.debug("optimizer: dropping unknown option %s=%r (off)", key, value)
        else:
            raise ValueError(
                f"optimizer: {name} param group {index} sets {key}={value!r}, which poptorch's "
                f"{name} does not implement; the IPU would silently ignore it. Remove it, or "
                f"build a poptorch.optim optimizer yourself"
            )
    return out
