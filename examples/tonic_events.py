"""Event-camera data with Tonic: events -> frames -> time-first tensors -> training.

Two classes of synthetic event streams on a 16x16 sensor: a vertical bar sweeping left to right
or right to left (ON events at the leading edge, OFF events at the trailing edge, plus uniform
noise). Tonic's transforms clean and bin them: ``Denoise`` drops isolated noise events,
``Downsample`` halves the resolution, ``ToFrame`` bins the stream into ``T`` frames of
``[polarity, height, width]`` counts. Tonic's collation pads and stacks batch-first
``[B, T, 2, 8, 8]``; one transpose gives snncore's time-first ``[T, B, 2, 8, 8]``.

Needs: pip install tonic==1.7.0
"""

from __future__ import annotations

import numpy as np
import tonic
import tonic.transforms as transforms
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import snncore as snn

SENSOR = (16, 16, 2)  # tonic's (width, height, polarities)
STEPS = 12
DURATION_US = 120_000


def sweep(direction: int, rng: np.random.Generator) -> np.ndarray:
    """Events of a bar crossing the sensor (+1: left to right, -1: right to left)."""
    w, h, _ = SENSOR
    events = []
    columns = range(w) if direction > 0 else range(w - 1, -1, -1)
    for i, col in enumerate(columns):
        t0 = i * DURATION_US // w
        for row in range(h):
            for polarity, c in ((1, col), (0, col - direction)):  # leading ON, trailing OFF
                if 0 <= c < w and rng.random() < 0.8:
                    events.append((c, row, t0 + int(rng.integers(0, 2000)), polarity))
    for _ in range(60):  # sensor noise
        events.append((int(rng.integers(0, w)), int(rng.integers(0, h)),
                       int(rng.integers(0, DURATION_US)), int(rng.integers(0, 2))))
    arr = np.array(events, dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
    return np.sort(arr, order="t")


class Sweeps(Dataset):
    """``n`` event streams, half of each direction, with Tonic's transforms applied."""

    def __init__(self, n: int, seed: int, transform: transforms.Compose) -> None:
        rng = np.random.default_rng(seed)
        self.labels = [i % 2 for i in range(n)]
        self.events = [sweep(1 if label == 0 else -1, rng) for label in self.labels]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        return self.transform(self.events[i]), self.labels[i]


def main() -> None:
    torch.manual_seed(0)
    frames = transforms.Compose([
        transforms.Denoise(filter_time=10_000),
        transforms.Downsample(spatial_factor=0.5),
        transforms.ToFrame(sensor_size=(8, 8, 2), n_time_bins=STEPS),
    ])
    collate = tonic.collation.PadTensors(batch_first=True)
    train = DataLoader(Sweeps(64, seed=0, transform=frames), batch_size=16, shuffle=True,
                       collate_fn=collate, generator=torch.Generator().manual_seed(0))
    test = DataLoader(Sweeps(32, seed=1, transform=frames), batch_size=32, collate_fn=collate)

    net = snn.Sequential(nn.Flatten(), nn.Linear(2 * 8 * 8, 32), snn.Leaky(beta=0.9),
                         nn.Linear(32, 2), snn.Leaky(beta=0.9))
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    loss_fn = snn.losses.CERateLoss()

    def time_first(x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1:] == (STEPS, 2, 8, 8), x.shape   # batch-first from the collation
        return (x.transpose(0, 1) > 0).float()            # [T, B, 2, 8, 8] binary frames

    for epoch in range(8):
        for x, y in train:
            spk, _ = net(time_first(x))
            loss = loss_fn(spk, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}")

    with torch.no_grad():
        x, y = next(iter(test))
        spk, _ = net(time_first(x))
        acc = snn.metrics.accuracy_rate(spk, y)
    print(f"test accuracy on {len(y)} held-out event streams: {acc * 100:.1f}%")
    assert acc >= 0.9, acc


if __name__ == "__main__":
    main()
