"""Training checkpoints: model, optimizer, scheduler, epoch, history and random-number state.

A checkpoint is a plain dictionary of tensors, numbers, strings, lists and dicts, so that
``torch.load(path, weights_only=True)`` reads it. A neuron's transient state (``neuron.state`` of
a stateful neuron, ``Sequential.state``) is never part of a ``state_dict``: it is a plain
attribute, cleared by :func:`snncore.reset`, and a resumed run starts every batch from a fresh
state exactly as an uninterrupted one does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["save_checkpoint", "load_checkpoint", "CHECKPOINT_FORMAT"]

#: value of the ``"format"`` key of every checkpoint written here
CHECKPOINT_FORMAT = "snncore-checkpoint-1"


def _check_path(path: Any, where: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: path must be a str or os.PathLike, got {type(path).__name__}")
    return Path(path)


def _rng_state(generator: torch.Generator | None) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def _set_rng_state(state: dict[str, Any], generator: torch.Generator | None) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None:
        if "generator" not in state:
            raise ValueError(
                "load_checkpoint: a generator was passed but the checkpoint holds no generator "
                "state (it was saved without one); pass generator=None or save with it"
            )
        generator.set_state(state["generator"])


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    scheduler: Any = None,
    epoch: int = 0,
    history: list[dict[str, float]] | None = None,
    generator: torch.Generator | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically (a temporary file, then a rename) and return its path.

    Args:
        path: file to write (its folder must exist).
        model: the module whose ``state_dict`` is saved (unwrap ``DistributedDataParallel``
            with ``.module`` to get keys without the ``module.`` prefix).
        optimizer: saved with its ``state_dict`` if given. Default: None.
        scheduler: a learning-rate scheduler (anything with ``state_dict``). Default: None.
        epoch: number of completed epochs (int >= 0). Default: 0.
        history: the per-epoch records so far. Default: None (empty).
        generator: a ``torch.Generator`` (e.g. the shuffling one) whose state is saved with the
            global CPU (and, when in use, CUDA) random state. Default: None.
        extra: more plain data (tensors, numbers, strings, lists, dicts) to store. Default: None.
    """
    target = _check_path(path, "save_checkpoint")
    if not isinstance(model, nn.Module):
        raise TypeError(f"save_checkpoint: model must be a torch.nn.Module, got "
                        f"{type(model).__name__}")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"save_checkpoint: epoch must be an int >= 0, got {epoch!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"save_checkpoint: generator must be a torch.Generator or None, got "
                        f"{type(generator).__name__}")
    ckpt: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "epoch": epoch,
        "model": model.state_dict(),
        "history": [dict(r) for r in (history or [])],
        "rng": _rng_state(generator),
    }
    if optimizer is not None:
        ckpt["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        ckpt["scheduler"] = scheduler.state_dict()
    if extra is not None:
        ckpt["extra"] = extra
    tmp = target.with_name(target.name + ".tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, target)
    return target


def load_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    scheduler: Any = None,
    generator: torch.Generator | None = None,
    restore_rng: bool = True,
    map_location: Any = None,
) -> dict[str, Any]:
    """Restore a checkpoint written by :func:`save_checkpoint` (read with ``weights_only=True``).

    Loads the model (strictly), the optimizer and scheduler when given (a checkpoint without
    their state is an error, not a silent fresh start), and with ``restore_rng`` the random
    state. Returns the whole checkpoint dictionary (``"epoch"``, ``"history"``, ``"extra"``, ...).
    """
    source = _check_path(path, "load_checkpoint")
    if not source.is_file():
        raise FileNotFoundError(f"load_checkpoint: no checkpoint file at {str(source)!r}")
    ckpt = torch.load(source, map_location=map_location, weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"load_checkpoint: {str(source)!r} is not an snncore checkpoint (format "
            f"{CHECKPOINT_FORMAT!r}); load a plain state_dict with model.load_state_dict"
        )
    model.load_state_dict(ckpt["model"])
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is None:
            continue
        if name not in ckpt:
            raise ValueError(f"load_checkpoint: a {name} was passed but the checkpoint holds no "
                             f"{name} state")
        obj.load_state_dict(ckpt[name])
    if restore_rng:
        _set_rng_state(ckpt["rng"], generator)
    return ckpt
