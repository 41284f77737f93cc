r"""Training helpers: backpropagation through time (BPTT), truncated BPTT, and a small ``fit`` loop.

Three ways a model can be driven over a time-first batch ``x_seq [T, B, ...]`` (``mode``):

- ``"stateful"``: ``out_t = model(x_t)``; the neurons keep their own state (``stateful=True``,
  the ``nn.Sequential`` style). The state is cleared with :func:`snncore.reset` before the
  sequence and cut with :func:`snncore.detach` between chunks.
- ``"step"``: ``out_t, state = model(x_t, state)``, with an explicit state (a neuron itself, or
  any module with that signature); the state is detached between chunks.
- ``"sequence"``: ``out, state = model(x_chunk, state)`` over a whole chunk of steps at once
  (a neuron's ``run``, or a network whose forward takes and returns its state); the state is
  detached between chunks.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple, TextIO

import torch
from torch import Tensor, nn

from ._checkpoint import load_checkpoint, save_checkpoint
from ._neuron import detach as detach_module
from ._neuron import detach_tree, neurons_of
from ._neuron import reset as reset_module

__all__ = ["BPTTResult", "MODES", "bptt", "truncated_bptt", "detach_state", "fit"]

#: the keys fit() writes into each epoch's record itself
_RECORD_KEYS = frozenset({"epoch", "loss", "seconds", "eval"})

logger = logging.getLogger("snncore.training")

MODES = ("stateful", "step", "sequence")

LossFn = Callable[[Any, Any], Tensor]


class BPTTResult(NamedTuple):
    """What :func:`bptt` and :func:`truncated_bptt` return.

    Attributes:
        loss: the loss over the whole sequence (0-d, detached): the length-weighted mean of
            the chunk losses (equal to the full-sequence loss for losses that average over
            time).
        outputs: the model's outputs over all steps, detached, time-first (a tuple of tensors
            if the model returns a tuple per step).
        state: the final (detached) state in modes ``"step"`` and ``"sequence"``, else None.
    """

    loss: Tensor
    outputs: Any
    state: Any


#: every tensor in a state tree (tensors, NamedTuples, tuples, lists, dicts) detached
detach_state = detach_tree


def _stack(outs: list[Any], concat: bool) -> Any:
    """Join per-step (stack) or per-chunk (concatenate) outputs along time, tuples elementwise."""
    first = outs[0]
    join = torch.cat if concat else torch.stack
    if isinstance(first, Tensor):
        return join(outs, 0)
    if isinstance(first, tuple):
        return tuple(_stack(list(parts), concat) for parts in zip(*outs, strict=True))
    raise TypeError(
        f"truncated_bptt: the model must return tensors or tuples of tensors per step, got "
        f"{type(first).__name__}"
    )


def _check_args(model: Any, x_seq: Any, k: Any, mode: Any) -> int:
    if not isinstance(model, nn.Module) and not callable(model):
        raise TypeError(f"model must be a torch.nn.Module or callable, got {type(model).__name__}")
    if not isinstance(x_seq, Tensor) or x_seq.dim() < 1 or x_seq.shape[0] < 1:
        raise ValueError("x_seq must be a time-first tensor [T, B, ...] with T >= 1")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    steps = x_seq.shape[0]
    if k is None:
        return steps
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1 (steps per truncation window), got {k!r}")
    return min(k, steps)


def truncated_bptt(
    model: Callable[..., Any],
    x_seq: Tensor,
    targets: Any,
    loss_fn: LossFn,
    k: int | None = None,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    mode: str = "stateful",
    state: Any = None,
) -> BPTTResult:
    r"""Truncated backpropagation through time over one time-first batch.

    The sequence is cut into windows of ``k`` steps. For each window: run the model over its
    steps, compute ``loss_fn(window_outputs, targets)`` on the time-first outputs
    ``[k, B, ...]``, call ``backward()``, then (with an ``optimizer``) take a step and zero
    the gradients, and detach the state so that no autograd graph spans more than ``k``
    steps. Memory therefore stays flat as ``T`` grows. Without an optimizer the gradients of
    all windows accumulate in ``.grad``. With ``k = T`` (or ``k=None``) this is full BPTT.

    Args:
        model: the network (see the module docstring for ``mode``).
        x_seq: time-first input ``[T, B, ...]``.
        targets: passed to ``loss_fn`` unchanged.
        loss_fn: ``loss_fn(outputs, targets) -> 0-d tensor``; ``outputs`` is the window's
            stacked output (a tuple of stacked tensors if the model returns tuples).
        k: window length (int >= 1); None means the whole sequence. Default: None.
        optimizer: stepped after every window. Default: None (gradients accumulate).
        mode: ``"stateful"``, ``"step"`` or ``"sequence"``. Default: "stateful".
        state: initial state for ``"step"``/``"sequence"`` (None: fresh). Default: None.

    Returns:
        :class:`BPTTResult` ``(loss, outputs, state)``.

    Example::

        >>> net = nn.Sequential(nn.Linear(100, 10), snn.Leaky(beta=0.9, stateful=True))
        >>> res = snn.truncated_bptt(net, x_seq, y, lambda out, y: loss(out, y), k=25,
        ...                          optimizer=opt)
    """
    k = _check_args(model, x_seq, k, mode)
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {loss_fn!r}")
    steps = x_seq.shape[0]
    if mode == "stateful":
        if not isinstance(model, nn.Module) or not any(
                n.stateful for n in neurons_of(model)):
            raise ValueError(
                "mode='stateful' needs a module holding neurons built with stateful=True; use "
                "mode='step' or mode='sequence' for models that pass their state explicitly"
            )
        reset_module(model)
    total = x_seq.new_zeros(())
    outputs: list[Any] = []
    for start in range(0, steps, k):
        window = x_seq[start:start + k]
        if mode == "sequence":
            out, state = model(window, state)
            outs = [out]
            joined = out
        else:
            outs = []
            for x in window.unbind(0):
                if mode == "step":
                    out, state = model(x, state)
                else:
                    out = model(x)
                outs.append(out)
            joined = _stack(outs, concat=False)
        loss = loss_fn(joined, targets)
        if not isinstance(loss, Tensor) or loss.dim() != 0:
            raise ValueError("loss_fn must return a 0-d tensor (use a 'mean' or 'sum' reduction)")
        if loss.requires_grad:
            loss.backward()
        if optimizer is not None:
            optimizer.step()
            optimizer.zero_grad()
        total = total + loss.detach() * (window.shape[0] / steps)
        outputs.append(detach_state(joined))
        if mode == "stateful":
            detach_module(model)  # type: ignore[arg-type]
        else:
            state = detach_state(state)
    return BPTTResult(total, _stack(outputs, concat=True), None if mode == "stateful" else state)


def bptt(
    model: Callable[..., Any],
    x_seq: Tensor,
    targets: Any,
    loss_fn: LossFn,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    mode: str = "stateful",
    state: Any = None,
) -> BPTTResult:
    """Full backpropagation through time over one batch: :func:`truncated_bptt` with
    ``k = T`` (one ``backward`` over the whole sequence, then an optimizer step if given)."""
    return truncated_bptt(model, x_seq, targets, loss_fn, None, optimizer=optimizer, mode=mode,
                          state=state)


# -- fit ------------------------------------------------------------------------------------------
_DATA_KINDS = (
    "a DataLoader or any re-iterable of (inputs, targets) batches (a list, a Dataset-like object "
    "whose __iter__ starts over), a zero-argument callable returning a fresh iterable per epoch, "
    "or a tuple (inputs, targets) of tensors"
)


def _check_data(data: Any, epochs: int) -> None:
    """Reject data that cannot give ``epochs`` passes (a one-shot iterator with epochs > 1)."""
    if isinstance(data, tuple) and len(data) == 2 and all(isinstance(t, Tensor) for t in data):
        return
    if callable(data) and not isinstance(data, Iterable):
        return
    if not isinstance(data, Iterable):
        raise TypeError(f"fit: data must be {_DATA_KINDS}; got {type(data).__name__}")
    if isinstance(data, Iterator) and epochs > 1:
        raise ValueError(
            f"fit: data is a one-shot iterator ({type(data).__name__}), which would be exhausted "
            f"after the first of {epochs} epochs; pass a re-iterable (a list or a DataLoader) or "
            "a factory such as `lambda: make_batches()` that fit calls once per epoch"
        )


def _batches(
    data: Any, batch_size: int, shuffle: bool, generator: torch.Generator | None
) -> tuple[Iterable[Any], int]:
    """Batches of ``(x, y)`` and their number, from a DataLoader-like iterable or tensors."""
    if isinstance(data, tuple) and len(data) == 2 and all(isinstance(t, Tensor) for t in data):
        x, y = data
        if x.shape[0] != y.shape[0]:
            raise ValueError(
                f"fit: data tensors disagree on the number of samples: {x.shape[0]} inputs, "
                f"{y.shape[0]} targets"
            )
        n = x.shape[0]
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)

        def gen() -> Iterable[Any]:
            for i in range(0, n, batch_size):
                idx = order[i:i + batch_size]
                yield x[idx], y[idx]

        return gen(), math.ceil(n / batch_size)
    if callable(data) and not isinstance(data, Iterable):
        made = data()
        if not isinstance(made, Iterable):
            raise TypeError(
                f"fit: the data factory must return an iterable of (inputs, targets) batches, "
                f"got {type(made).__name__}"
            )
        data = made
    if isinstance(data, Iterable):
        try:
            count = len(data)  # type: ignore[arg-type]
        except TypeError:
            count = -1
        return data, count
    raise TypeError(f"fit: data must be {_DATA_KINDS}; got {type(data).__name__}")


def _split_batch(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    if isinstance(batch, Mapping):
        raise TypeError(
            "fit: a batch is a mapping; fit needs (inputs, targets) pairs: wrap the data, e.g. "
            "`lambda: ((b['x'], b['y']) for b in loader)`"
        )
    raise TypeError(
        f"fit: every batch must be an (inputs, targets) pair, got {type(batch).__name__}"
    )


def _progress(iterable: Iterable[Any], total: int, desc: str, enabled: bool,
              file: TextIO | None) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        logger.info("tqdm is not installed; progress is reported through logging only")
        return None
    return tqdm(iterable, total=total if total >= 0 else None, desc=desc, file=file, leave=False)


def fit(
    model: nn.Module,
    data: Any,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    epochs: int = 1,
    *,
    transform: Callable[[Tensor], Tensor] | None = None,
    mode: str | None = None,
    k: int | None = None,
    batch_size: int = 64,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
    scheduler: Any = None,
    eval_fn: Callable[[nn.Module], Mapping[str, float] | float] | None = None,
    on_epoch_end: Callable[[dict[str, float]], None] | None = None,
    progress: bool = True,
    progress_file: TextIO | None = None,
    device: torch.device | str | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
) -> list[dict[str, float]]:
    r"""Train ``model`` for ``epochs`` passes over ``data``; returns the per-epoch history.

    Each batch ``(x, y)`` becomes ``x_seq = transform(x)`` (e.g. a rate encoder; default:
    ``x`` is already time-first). With ``mode=None`` the model maps the whole sequence to
    what ``loss_fn`` takes: ``loss = loss_fn(model(x_seq), y)``, one backward and one
    optimizer step per batch (stateful neurons are reset before every batch). With ``mode``
    = ``"stateful"``, ``"step"`` or ``"sequence"`` the batch goes through
    :func:`truncated_bptt` with window ``k`` (None: full BPTT).

    After every epoch the scheduler steps (if given), ``eval_fn(model)`` runs (if given; a
    number is stored as ``"eval"``, a mapping is merged into the record), the record
    ``{"epoch", "loss", "seconds", ...}`` is logged at INFO level on ``snncore.training``,
    passed to ``on_epoch_end`` and appended to the history. ``"loss"`` is the sample-weighted
    mean training loss of the epoch.

    Args:
        model: the network.
        data: a DataLoader or any re-iterable of ``(inputs, targets)`` batches, a
            zero-argument callable returning a fresh iterable each epoch (for generators), or a
            tuple of tensors ``(inputs, targets)``, batched here by ``batch_size``. A one-shot
            iterator (a generator object) is accepted only with ``epochs=1``.
        loss_fn: ``loss_fn(outputs, targets) -> 0-d tensor``.
        optimizer: any torch optimizer over the model's parameters.
        epochs: passes over the data (int >= 1). Default: 1.
        transform: turns a batch's inputs into time-first ``[T, B, ...]``. Default: None.
        mode: None, ``"stateful"``, ``"step"`` or ``"sequence"``. Default: None.
        k: truncation window for the BPTT modes. Default: None (full BPTT).
        batch_size: batch size for tensor data (int >= 1). Default: 64.
        shuffle: reshuffle tensor data every epoch. Default: True.
        generator: random generator for shuffling. Default: None.
        scheduler: learning-rate scheduler, stepped once per epoch. Default: None.
        eval_fn: per-epoch evaluation, e.g. test accuracy. Default: None.
        on_epoch_end: called with each epoch's record. Default: None.
        progress: show a tqdm bar per epoch when tqdm is installed (it is optional; without
            it only logging reports progress). Default: True.
        progress_file: stream for the bar. Default: None (stderr).
        device: move every batch's inputs and targets there first. Default: None (as they
            come).
        checkpoint: file written after every epoch. Default: None (no checkpoint).
        resume: continue from ``checkpoint`` if that file exists (else start fresh; logged).
            Default: False.

    Returns:
        ``list[dict]``, one record per epoch.

    Example::

        >>> history = snn.fit(net, (x_train, y_train), loss, opt, epochs=5,
        ...                   transform=lambda x: snn.encoders.rate(x, 25),
        ...                   eval_fn=lambda m: {"test_accuracy": evaluate(m)})
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"fit: model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be an int >= 1, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"fit: batch_size must be an int >= 1, got {batch_size!r}")
    if mode is not None and mode not in MODES:
        raise ValueError(f"fit: mode must be None or one of {MODES}, got {mode!r}")
    if mode is None and k is not None:
        raise ValueError("fit: k (truncation window) needs mode='stateful', 'step' or 'sequence'")
    if not callable(loss_fn):
        raise TypeError(f"fit: loss_fn must be callable, got {loss_fn!r}")
    if not isinstance(resume, bool):
        raise TypeError(f"fit: resume must be a bool, got {resume!r}")
    if resume and checkpoint is None:
        raise ValueError("fit: resume=True needs checkpoint= (the file to resume from)")
    _check_data(data, epochs)
    history: list[dict[str, float]] = []
    first = 1
    if resume and checkpoint is not None and os.path.exists(checkpoint):
        ckpt = load_checkpoint(checkpoint, model, optimizer, scheduler=scheduler,
                               generator=generator)
        history = list(ckpt["history"])
        first = int(ckpt["epoch"]) + 1
        logger.info("resumed from %s after epoch %d", checkpoint, first - 1)
    elif resume:
        logger.info("no checkpoint at %s yet: starting from epoch 1", checkpoint)
    for epoch in range(first, epochs + 1):
        start = time.perf_counter()
        model.train()
        batches, count = _batches(data, batch_size, shuffle, generator)
        bar = _progress(batches, count, f"epoch {epoch}/{epochs}", progress, progress_file)
        total, seen = 0.0, 0
        for batch in bar if bar is not None else batches:
            x, y = _split_batch(batch)
            if device is not None:
                x, y = x.to(device), y.to(device)
            x_seq = transform(x) if transform is not None else x
            if mode is None:
                reset_module(model)  # stateful neurons start every batch from a fresh state
                loss = loss_fn(model(x_seq), y)
                if not isinstance(loss, Tensor) or loss.dim() != 0:
                    raise ValueError(
                        "fit: loss_fn must return a 0-d tensor (use a 'mean' or 'sum' "
                        f"reduction), got {type(loss).__name__}"
                        + (f" of shape {tuple(loss.shape)}" if isinstance(loss, Tensor) else "")
                    )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                value = float(loss.detach())
            else:
                optimizer.zero_grad()
                res = truncated_bptt(model, x_seq, y, loss_fn, k, optimizer=optimizer, mode=mode)
                value = float(res.loss)
            n = y.shape[0] if isinstance(y, Tensor) and y.dim() > 0 else (
                len(y) if hasattr(y, "__len__") else 1)
            total += value * n
            seen += n
            if bar is not None:
                bar.set_postfix(loss=f"{value:.3f}")
        if bar is not None:
            bar.close()
        if seen == 0:
            raise ValueError(
                f"fit: data yielded no batches in epoch {epoch}"
                + (" (an iterator exhausted by an earlier epoch?)" if epoch > 1 else "")
                + f"; pass {_DATA_KINDS}"
            )
        if scheduler is not None:
            scheduler.step()
        record: dict[str, float] = {"epoch": epoch, "loss": total / seen}
        if eval_fn is not None:
            result = eval_fn(model)
            if isinstance(result, Mapping):
                clash = sorted(str(k_) for k_ in result if str(k_) in _RECORD_KEYS)
                if clash:
                    raise ValueError(
                        f"fit: eval_fn returned the keys {clash}, which name the training "
                        f"record's own values {sorted(_RECORD_KEYS)}; rename them (e.g. "
                        f"'val_{clash[0]}')")
                record.update({str(k_): float(v) for k_, v in result.items()})
            else:
                record["eval"] = float(result)
        record["seconds"] = time.perf_counter() - start
        logger.info("epoch %d/%d: %s", epoch, epochs,
                    ", ".join(f"{k_}={v:.4g}" for k_, v in record.items() if k_ != "epoch"))
        history.append(record)
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, optimizer, scheduler=scheduler, epoch=epoch,
                            history=history, generator=generator)
        if on_epoch_end is not None:
            on_epoch_end(record)
    return history
