"""The main job: train a spiking network on scikit-learn's 8x8 digits and report test accuracy.

Recipe: pixel intensities in [0, 1] are rate-coded into ``T`` Bernoulli spike steps, fed to a
64-256-10 network (Linear -> Leaky -> Linear -> non-spiking Leaky readout), trained with
cross-entropy on the readout membrane averaged over time (Adam, with :func:`snncore.fit`).
25% of the data, stratified, is held out for testing. Training uses ``T = 25`` steps; testing
presents each digit for ``EVAL_STEPS = 100`` steps, a longer window that averages out more of the
rate code's sampling noise (the class is the argmax of the time-averaged readout membrane).
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import torch
from torch import Tensor, nn

from ._encoders import rate
from ._leaky import Leaky
from ._training import fit

__all__ = ["DigitsSNN", "load_digits_split", "run_demo"]

NUM_STEPS = 25
EVAL_STEPS = 100
HIDDEN = 256
EPOCHS = 15
BATCH = 64
LR = 2e-3


class DigitsSNN(nn.Module):
    """64 -> hidden spiking -> 10 readout; input and output are time-first ``[T, B, ...]``."""

    def __init__(self, hidden: int = HIDDEN, beta: float = 0.9) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, hidden)
        self.lif1 = Leaky(beta=beta)
        self.fc2 = nn.Linear(hidden, 10)
        self.readout = Leaky(beta=beta, reset="none")

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Returns ``(hidden spikes [T, B, H], readout membrane [T, B, 10])``."""
        spk, _ = self.lif1.run(self.fc1(x))
        _, _, rec = self.readout.record(self.fc2(spk), "mem")  # fused, membrane kept per step
        return spk, rec["mem"]


def load_digits_split(seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """scikit-learn's digits scaled to [0, 1], split 75/25 stratified: ``Xtr, Xte, ytr, yte``."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'the demo needs scikit-learn and tqdm: pip install "snncore[demo]"'
        ) from exc
    x, y = load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(
        x / 16.0, y, test_size=0.25, stratify=y, random_state=seed
    )
    f = torch.float32
    return (torch.tensor(xtr, dtype=f), torch.tensor(xte, dtype=f),
            torch.tensor(ytr), torch.tensor(yte))


def _rate(x: Tensor, steps: int, generator: torch.Generator) -> Tensor:
    return rate(x, steps, generator=generator)


def run_demo(
    epochs: int | None = None,
    seed: int = 0,
    save_plots: str | None = None,
    progress: bool = True,
    out: TextIO | None = None,
) -> dict[str, Any]:
    """Train and evaluate; returns ``{"test_accuracy", "train_loss", "history", "seconds"}``."""
    out = out or sys.stdout
    epochs = EPOCHS if epochs is None else epochs
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
    if save_plots is not None:
        import importlib.util

        if not str(save_plots).strip():
            raise ValueError("save_plots must be a directory path, got an empty string")
        if importlib.util.find_spec("snn_viz") is None:  # said before training, not after
            raise ImportError(
                'saving plots needs the visualization plugin: pip install "snncore[viz]"')
    start = time.perf_counter()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    xtr, xte, ytr, yte = load_digits_split(seed)
    out.write(f"snncore demo: digits 8x8, {len(xtr)} train / {len(xte)} test samples, "
              f"rate-coded over {NUM_STEPS} steps ({EVAL_STEPS} at test), 64-{HIDDEN}-10 "
              "spiking network\n")
    _prepare_fused(out)
    model = DigitsSNN()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)

    def loss_fn(outputs: tuple[Tensor, Tensor], targets: Tensor) -> Tensor:
        return nn.functional.cross_entropy(outputs[1].mean(0), targets)

    def report(record: dict[str, float]) -> None:
        out.write(f"epoch {int(record['epoch']):2d}/{epochs}  loss {record['loss']:.4f}  "
                  f"test accuracy {record['test_accuracy'] * 100:.2f}%\n")

    history = fit(
        model, (xtr, ytr), loss_fn, opt, epochs,
        transform=lambda x: _rate(x, NUM_STEPS, gen), batch_size=BATCH, generator=gen,
        scheduler=sched, eval_fn=lambda m: {"test_accuracy": evaluate(m, xte, yte, gen)},
        on_epoch_end=report, progress=progress, progress_file=out,
    )
    seconds = time.perf_counter() - start
    acc = history[-1]["test_accuracy"]
    out.write(f"test accuracy: {acc * 100:.2f}% on {len(xte)} held-out digits "
              f"({seconds:.1f} s)\n")
    result = {"test_accuracy": acc, "train_loss": history[-1]["loss"], "history": history,
              "seconds": seconds}
    if save_plots:
        _save_plots(model, xte, gen, history, save_plots, out)
    return result


def _prepare_fused(out: TextIO) -> None:
    """Get the fused backend's native loops ready before training starts, and say so when they
    are built now (the first fused call on a machine compiles them, which takes a while) or
    when they cannot be used."""
    import logging

    from .backends._native import native_status

    logger = logging.getLogger("snncore.backends.fused")
    said: list[str] = []

    class Echo(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            msg = record.getMessage().removeprefix("fused: ")
            said.append(msg)
            out.write(f"first use of the fused backend (it runs this network's neurons) on "
                      f"this machine: {msg}\n")
            out.flush()

    handler = Echo(logging.INFO)
    level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    start = time.perf_counter()
    try:
        status = native_status()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    if not status.startswith("native"):
        out.write(f"fused backend: native loops not used ({status}); the PyTorch loop runs "
                  "instead\n")
    elif said:
        out.write(f"fused: native time loops built in {time.perf_counter() - start:.0f} s\n")


@torch.no_grad()
def evaluate(model: DigitsSNN, x: Tensor, y: Tensor, gen: torch.Generator) -> float:
    """Test accuracy: argmax of the time-averaged readout membrane."""
    model.eval()
    _, mem = model(_rate(x, EVAL_STEPS, gen))
    return float((mem.mean(0).argmax(1) == y).float().mean())


def _save_plots(model: DigitsSNN, x: Tensor, gen: torch.Generator,
                history: list[dict[str, float]], folder: str, out: TextIO) -> None:
    try:
        import snn_viz
    except ImportError as exc:
        raise ImportError(
            'saving plots needs the visualization plugin: pip install "snncore[viz]"'
        ) from exc
    from pathlib import Path

    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        spk, _ = model(_rate(x[:1], NUM_STEPS, gen))
    files = snn_viz.save_demo_plots(spk[:, 0], history, path)
    for f in files:
        out.write(f"saved {f}\n")
