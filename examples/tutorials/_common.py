"""Shared pieces of the tutorial scripts: command line, the digits data, batching, plots.

The tutorials use scikit-learn's 8x8 handwritten digits (1797 images shipped with scikit-learn,
so nothing is downloaded) where snnTorch's tutorials use MNIST. Pixel values 0..16 are scaled
to [0, 1]; a stratified 75/25 split gives 1347 training and 450 test images.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

__all__ = ["Args", "parse_args", "load_digits", "batches", "save_figure", "train_program",
           "QUICK_ENV"]

#: environment variable that selects the short setting, like ``--quick``
QUICK_ENV = "SNNCORE_TUTORIAL_QUICK"


class Args(argparse.Namespace):
    """Parsed command line: ``quick``, ``epochs``, ``seed``, ``plots`` (a folder or None)."""

    quick: bool
    epochs: int
    seed: int
    plots: Path | None


def parse_args(description: str, epochs: int, quick_epochs: int,
               argv: list[str] | None = None) -> Args:
    """The tutorials' common options.

    ``--quick`` (or the environment variable ``SNNCORE_TUTORIAL_QUICK=1``) selects a short run
    of ``quick_epochs`` epochs that finishes in seconds; ``--epochs N`` overrides both;
    ``--plots DIR`` saves the tutorial's figures as PNG files into ``DIR``.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help=f"short run ({quick_epochs} epochs; also ${QUICK_ENV}=1)")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"training epochs (default {epochs}, {quick_epochs} with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--plots", type=Path, default=None, metavar="DIR",
                        help="save the figures as PNG files into DIR (needs snn-viz)")
    args = parser.parse_args(argv, namespace=Args())
    args.quick = args.quick or os.environ.get(QUICK_ENV, "") not in ("", "0")
    if args.epochs is None:
        args.epochs = quick_epochs if args.quick else epochs
    if args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    torch.manual_seed(args.seed)
    return args


def load_digits(seed: int = 0, flat: bool = False) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """scikit-learn's digits in [0, 1], split 75/25 stratified: ``x_train, x_test, y_train,
    y_test``. Images are ``[N, 1, 8, 8]`` (``flat=True``: ``[N, 64]``), labels int64 ``[N]``."""
    from sklearn.datasets import load_digits as _sk_load_digits
    from sklearn.model_selection import train_test_split

    x, y = _sk_load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x / 16.0, y, test_size=0.25, stratify=y,
                                          random_state=seed)
    shape = (-1, 64) if flat else (-1, 1, 8, 8)

    def images(a: Any) -> Tensor:
        return torch.tensor(a, dtype=torch.float32).reshape(shape)

    return images(xtr), images(xte), torch.tensor(ytr), torch.tensor(yte)


def batches(x: Tensor, y: Tensor, batch_size: int, generator: torch.Generator | None = None,
            drop_last: bool = False) -> Iterator[tuple[Tensor, Tensor]]:
    """Mini-batches of ``(x, y)`` along dimension 0; shuffled when a generator is given."""
    n = x.shape[0]
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    stop = n - n % batch_size if drop_last else n
    for i in range(0, stop, batch_size):
        idx = order[i:i + batch_size]
        yield x[idx], y[idx]


def train_program(build: Callable[[], tuple[Any, Any]], train_batch: Callable[..., float],
                  accuracy: Callable[[Any, Tensor, Tensor], float], epochs: int, flat: bool,
                  batch_size: int, seed: int = 0) -> float:
    """Train a program written as ``build()``, ``train_batch(net, optimizer, x, y)`` and
    ``accuracy(net, x, y)`` on the digits; prints each epoch and returns the test accuracy."""
    gen = torch.Generator().manual_seed(seed)
    x_train, x_test, y_train, y_test = load_digits(seed, flat=flat)
    net, optimizer = build()
    acc = 0.0
    for epoch in range(epochs):
        for data, targets in batches(x_train, y_train, batch_size, gen, drop_last=True):
            loss = train_batch(net, optimizer, data, targets)
        acc = float(accuracy(net, x_test, y_test))
        print(f"epoch {epoch + 1}: loss {loss:.3f}, test accuracy {acc * 100:.2f}%")
    return acc


def save_figure(fig: Any, folder: Path | None, name: str, suffix: str = ".png") -> Path | None:
    """Save a figure (or, with ``suffix=".gif"``, an animation) returned by ``snncore.viz`` as
    ``folder/name.png`` (nothing without a folder); closes it and returns the path."""
    if folder is None:
        return None
    import matplotlib.pyplot as plt

    from snncore import viz

    folder.mkdir(parents=True, exist_ok=True)
    path = viz.save(fig, folder / f"{name}{suffix}")
    plt.close("all")
    return Path(path)
