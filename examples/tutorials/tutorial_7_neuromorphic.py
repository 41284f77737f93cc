"""Tutorial 7: neuromorphic data with Tonic (snnTorch tutorial 7 on snncore, with synthetic
events instead of N-MNIST).

An event camera reports brightness changes as events ``(x, y, t, p)``: pixel, time in
microseconds, polarity (ON = brighter, OFF = darker). This tutorial generates such recordings:
a 3x3 bright square that moves across a 16x16 sensor in one of four directions (the class),
plus uniform background noise (``tonic.transforms.UniformNoise``). Tonic then denoises the
events (``Denoise``) and bins them into frames (``ToFrame``), and a convolutional spiking
network is trained on the frame sequence, as snnTorch's tutorial 7 does on N-MNIST:
Conv2d(2, 12, 5) - MaxPool - Leaky - Conv2d(12, 32, 5) - MaxPool - Leaky - Linear(512, 4) -
Leaky, β = 0.5, arctan surrogate, ``mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)``,
Adam (lr 2e-2). Nothing is downloaded.

Run: ``python examples/tutorials/tutorial_7_neuromorphic.py [--quick] [--epochs N]
[--plots DIR]`` (needs ``tonic``)
"""

from __future__ import annotations

import numpy as np
import tonic
import tonic.transforms as transforms
import torch
from _common import parse_args, save_figure
from torch import nn
from torch.utils.data import DataLoader, Dataset

import snncore as snn

SENSOR = (16, 16, 2)                 # tonic's (x, y, polarity) sensor size
DIRECTIONS = ("right", "left", "down", "up")
MOVES, MOVE_US = 8, 2000             # the square moves 8 pixels, one every 2 ms
TIME_BINS = 10                       # frames per recording


class MovingSquareEvents(Dataset):
    """Synthetic event recordings of a moving square; item ``i``: (structured event array with
    fields x, y, t, p as tonic expects, direction class)."""

    def __init__(self, num_samples: int, seed: int, transform: transforms.Compose) -> None:
        rng = np.random.default_rng(seed)
        self.labels = rng.integers(0, len(DIRECTIONS), num_samples)
        self.starts = rng.integers(0, SENSOR[0] - 3 - MOVES, size=(num_samples, 2))
        self.seeds = rng.integers(0, 2**31, num_samples)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        rng = np.random.default_rng(self.seeds[i])
        step = {0: (1, 0), 1: (-1, 0), 2: (0, 1), 3: (0, -1)}[int(self.labels[i])]
        x0, y0 = self.starts[i] if step[0] + step[1] > 0 else self.starts[i] + MOVES
        events = []
        covered = np.zeros(SENSOR[:2], dtype=bool)
        for k in range(MOVES + 1):
            now = np.zeros_like(covered)
            xs, ys = x0 + k * step[0], y0 + k * step[1]
            now[xs:xs + 3, ys:ys + 3] = True
            for polarity, mask in ((True, now & ~covered), (False, covered & ~now)):
                px, py = np.nonzero(mask)
                t = k * MOVE_US + rng.integers(0, MOVE_US // 2, len(px))
                events.append(tonic.io.make_structured_array(px, py, t, polarity))
            covered = now
        ev = np.concatenate(events)
        ev = ev[np.argsort(ev["t"], kind="stable")]
        np.random.seed(int(self.seeds[i]) % 2**32)           # UniformNoise draws from numpy
        return self.transform(ev), int(self.labels[i])


def make_net() -> snn.Sequential:
    grad = snn.surrogate("atan", alpha=2.0)
    return snn.Sequential(
        nn.Conv2d(2, 12, 5, padding=2), nn.MaxPool2d(2), snn.Leaky(beta=0.5, surrogate=grad),
        nn.Conv2d(12, 32, 5, padding=2), nn.MaxPool2d(2), snn.Leaky(beta=0.5, surrogate=grad),
        nn.Flatten(), nn.Linear(32 * 4 * 4, len(DIRECTIONS)), snn.Leaky(beta=0.5, surrogate=grad),
    )


@torch.no_grad()
def accuracy(net: snn.Sequential, loader: DataLoader) -> float:
    net.eval()
    correct = total = 0
    for frames, targets in loader:
        spk, _ = net(frames)
        correct += float(snn.metrics.accuracy_rate(spk, targets)) * len(targets)
        total += len(targets)
    return correct / total


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], epochs=10, quick_epochs=2)
    transform = transforms.Compose([
        transforms.UniformNoise(sensor_size=SENSOR, n=40),
        transforms.Denoise(filter_time=MOVE_US),
        transforms.ToFrame(sensor_size=SENSOR, n_time_bins=TIME_BINS),
        lambda frames: torch.from_numpy(frames.astype(np.float32)),   # [T, 2, 16, 16] counts
    ])
    train_set = tonic.MemoryCachedDataset(MovingSquareEvents(192, args.seed, transform))
    test_set = tonic.MemoryCachedDataset(MovingSquareEvents(128, args.seed + 1, transform))
    collate = tonic.collation.PadTensors(batch_first=False)                # time-first batches
    gen = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True, collate_fn=collate,
                              generator=gen)
    test_loader = DataLoader(test_set, batch_size=64, collate_fn=collate)

    raw = MovingSquareEvents(1, args.seed, transforms.Compose([]))[0][0]
    frames, _ = next(iter(test_loader))
    print(f"one recording: {len(raw)} events before noise; batches of frames "
          f"{tuple(frames.shape)} [T, B, polarity, H, W], {int(frames.sum())} events in the "
          "first test batch after denoising")

    net = make_net()
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-2, betas=(0.9, 0.999))
    loss_fn = snn.losses.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)
    for epoch in range(args.epochs):
        net.train()
        losses = []
        for x, y in train_loader:
            spk, _ = net(x)
            loss = loss_fn(spk, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        print(f"epoch {epoch + 1}: mean train loss {sum(losses) / len(losses):.3f}, "
              f"test accuracy {accuracy(net, test_loader) * 100:.2f}%")
    test_acc = accuracy(net, test_loader)
    print(f"result test_accuracy = {test_acc:.4f}")
    print(f"result final_loss = {losses[-1]:.4f}")

    if args.plots is not None:
        from snncore import viz

        save_figure(viz.animate_frames(frames, sample=0), args.plots, "tutorial_7_frames",
                    suffix=".gif")
        with torch.no_grad():
            spk, _ = net(frames)
        save_figure(viz.raster(spk, sample=0, title="Output spikes"), args.plots,
                    "tutorial_7_output_raster")
        print(f"figures saved in {args.plots}")


if __name__ == "__main__":
    main()
