"""``snntorch.backprop``: ``BPTT``, ``TBPTT`` and ``RTRL`` training epochs on
:func:`snncore.truncated_bptt`.

The network is driven one step at a time in snnTorch's style (neurons built with
``init_hidden=True``, the last one with ``output=True`` returning ``(spk, ..., mem)``); each
batch is reset first, cut into windows of ``K`` steps, and each window's loss is back-propagated
and followed by an optimizer step. Any callable ``criterion(record, targets)`` works (snnTorch
accepts only its own losses); membrane losses (``mse_membrane_loss``, ``ce_max_membrane_loss``)
get the membrane record, every other criterion the spike record.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

import snncore
from snncore import losses as _l

from .._warn import warn_difference

__all__ = ["BPTT", "TBPTT", "RTRL"]

_MEMBRANE_LOSSES = (_l.MSEMembraneLoss, _l.CEMaxMembraneLoss)


def _records(out: Any) -> tuple[Tensor, Tensor]:
    if isinstance(out, Tensor):
        return out, out
    if isinstance(out, tuple) and out and all(isinstance(o, Tensor) for o in out):
        return out[0], out[-1]
    raise TypeError("backprop: the network must return spikes or a tuple (spk, ..., mem) per "
                    f"step, got {type(out).__name__}")


def TBPTT(net: nn.Module, dataloader: Any, optimizer: torch.optim.Optimizer, criterion: Any,
          num_steps: Any = False, time_var: bool = True, time_first: bool = True,
          regularization: Any = False, device: Any = "cpu", K: Any = 1) -> Tensor:
    """One epoch of truncated BPTT over ``dataloader``; returns the mean loss per batch.

    Args:
        net: a module of compat neurons with ``init_hidden=True``.
        dataloader: yields ``(data, targets)``.
        optimizer: stepped after every window of ``K`` steps.
        criterion: ``criterion(record [K, B, C], targets)``.
        num_steps: steps for time-static data (``time_var=False``); with time-varying data the
            time dimension of each batch is used.
        time_var: data is time-varying. Default: True.
        time_first: time-varying data is ``[T, B, ...]`` (else ``[B, T, ...]``). Default: True.
        regularization: optional ``reg(spk_rec)`` added to every window's loss.
        device: where net and data go. Default: "cpu".
        K: window length; ``False`` means the whole sequence. Default: 1.
    """
    if num_steps and time_var:
        raise ValueError("TBPTT: num_steps must not be given when time_var=True (the time "
                         "dimension of each batch is used)")
    if num_steps is False and time_var is False:
        raise ValueError("TBPTT: num_steps must be given when time_var=False")
    if num_steps and K and K > num_steps:
        raise ValueError(f"TBPTT: K ({K}) must be <= num_steps ({num_steps})")
    if callable(regularization) is False and regularization is not False:
        raise TypeError(f"TBPTT: regularization must be False or callable, got "
                        f"{regularization!r}")
    membrane = isinstance(criterion, _MEMBRANE_LOSSES)
    time_var_targets = bool(getattr(criterion, "time_var_targets", False))
    net = net.to(device)
    total, batches = None, 0
    for data, targets in dataloader:
        net.train()
        data, targets = data.to(device), targets.to(device)
        if time_var:
            x_seq = data if time_first else data.transpose(1, 0)
        else:
            x_seq = data.unsqueeze(0).expand(int(num_steps), *data.shape)
        steps = x_seq.shape[0]
        k = steps if K is False else min(int(K), steps)
        if k != steps and steps % k:
            warn_difference("backprop.TBPTT(T % K != 0)",
                            "the last, shorter window's loss is weighted by its length / T "
                            "like the others; snnTorch divides it by T % K", stacklevel=3)
        start = [0]

        def loss_fn(out: Any, y: Tensor, start: list[int] = start) -> Tensor:
            spk, mem = _records(out)
            if time_var_targets:
                y = y[start[0]:start[0] + spk.shape[0]]
            start[0] += spk.shape[0]
            loss = criterion(mem if membrane else spk, y)
            if regularization is not False:
                loss = loss + regularization(spk)
            return loss.reshape(())

        optimizer.zero_grad()
        result = snncore.truncated_bptt(net, x_seq, targets, loss_fn, k, optimizer=optimizer,
                                        mode="stateful")
        total = result.loss if total is None else total + result.loss
        batches += 1
    if batches == 0:
        raise ValueError("TBPTT: the dataloader yielded no batches")
    return total / batches


def BPTT(net: nn.Module, dataloader: Any, optimizer: torch.optim.Optimizer, criterion: Any,
         num_steps: Any = False, time_var: bool = True, time_first: bool = True,
         regularization: Any = False, device: Any = "cpu") -> Tensor:
    """One epoch of full backpropagation through time (:func:`TBPTT` with ``K`` = all steps)."""
    return TBPTT(net, dataloader, optimizer, criterion, num_steps, time_var, time_first,
                 regularization, device, K=num_steps)


def RTRL(net: nn.Module, dataloader: Any, optimizer: torch.optim.Optimizer, criterion: Any,
         num_steps: Any = False, time_var: bool = True, time_first: bool = True,
         regularization: Any = False, device: Any = "cpu") -> Tensor:
    """snnTorch's ``RTRL``: :func:`TBPTT` with ``K=1`` (an update after every step)."""
    return TBPTT(net, dataloader, optimizer, criterion, num_steps, time_var, time_first,
                 regularization, device, K=1)
