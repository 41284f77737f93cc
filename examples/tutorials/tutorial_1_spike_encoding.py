"""Tutorial 1: spike encoding (snnTorch tutorial 1 on snncore, with the 8x8 digits).

Three ways to turn data into spikes, all time-first ``[T, ...]``:

- rate coding: each pixel fires with probability equal to its intensity at every step, so the
  firing rate over many steps approaches the intensity (``snn.encoders.rate``);
- latency coding: each pixel fires once, brighter pixels earlier (``snn.encoders.latency``);
- delta modulation: a spike where a signal rises (or, with ``off_spike``, falls) by more than a
  threshold between steps (``snn.encoders.delta``).

Run: ``python examples/tutorials/tutorial_1_spike_encoding.py [--quick] [--plots DIR]``
"""

from __future__ import annotations

import torch
from _common import load_digits, parse_args, save_figure

import snncore as snn


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], epochs=1, quick_epochs=1)
    gen = torch.Generator().manual_seed(args.seed)
    x_train, _, y_train, _ = load_digits(args.seed)
    digit = x_train[0, 0]                                  # one 8x8 image in [0, 1]
    num_steps = 100 if args.quick else 500
    print(f"digit label {int(y_train[0])}, {num_steps} time steps")

    # -- rate coding: the spike probability per step is the pixel intensity ----------------------
    spk_rate = snn.encoders.rate(digit, num_steps=num_steps, generator=gen)    # [T, 8, 8]
    rate = spk_rate.mean(0)
    err = float((rate - digit).abs().max())
    print(f"rate code: {int(spk_rate.sum())} spikes; mean rate {float(rate.mean()):.3f} vs mean "
          f"intensity {float(digit.mean()):.3f}; largest per-pixel difference {err:.3f}")
    # a whole batch of images at once: [T, B, 1, 8, 8]; gain scales the probability
    batch = snn.encoders.rate(x_train[:32], num_steps=num_steps, gain=0.25, generator=gen)
    ratio = float(batch.mean() / x_train[:32].mean())
    print(f"rate code with gain 0.25: spike rate / intensity = {ratio:.3f}")

    # -- latency coding: one spike per pixel, brighter = earlier ---------------------------------
    spk_lat = snn.encoders.latency(digit, num_steps=num_steps, tau=5, threshold=0.01,
                                   normalize=True, linear=True, clip=True)
    counts = spk_lat.sum(0)
    t_first = snn.losses.first_spike_time(spk_lat.flatten(1).unsqueeze(1))[0]   # [64]
    bright, dim = digit.flatten() > 0.75, (digit.flatten() > 0.01) & (digit.flatten() < 0.25)
    print(f"latency code: {int(counts.sum())} spikes, at most {int(counts.max())} per pixel; "
          f"mean first-spike step of bright pixels {float(t_first[bright].float().mean()):.1f}, "
          f"of dim pixels {float(t_first[dim].float().mean()):.1f}")

    # -- delta modulation on a time-varying signal -----------------------------------------------
    t = torch.linspace(0, 4 * torch.pi, num_steps)
    signal = torch.sin(t) + 0.3 * torch.sin(5 * t)
    spk_delta = snn.encoders.delta(signal, threshold=0.05, off_spike=True)
    print(f"delta code: {int((spk_delta > 0).sum())} on-spikes, {int((spk_delta < 0).sum())} "
          f"off-spikes over {num_steps} steps")

    print(f"result rate_error = {err:.4f}")
    order = float(t_first[dim].float().mean() - t_first[bright].float().mean())
    print(f"result latency_order = {order:.2f}")
    print(f"result delta_spikes = {int(spk_delta.abs().sum())}")

    if args.plots is not None:
        from snncore import viz

        save_figure(viz.raster(spk_rate.flatten(1), title="Rate-coded digit"), args.plots,
                    "tutorial_1_rate_raster")
        save_figure(viz.raster(spk_lat.flatten(1), title="Latency-coded digit"), args.plots,
                    "tutorial_1_latency_raster")
        save_figure(viz.raster(spk_delta.unsqueeze(1), title="Delta-modulated signal"),
                    args.plots, "tutorial_1_delta_raster")
        print(f"figures saved in {args.plots}")


if __name__ == "__main__":
    main()
