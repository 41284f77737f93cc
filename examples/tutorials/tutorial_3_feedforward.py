"""Tutorial 3: a feedforward spiking network (snnTorch tutorial 3 on snncore).

A Leaky neuron driven by input spikes, then a 64-128-10 network of Linear layers and Leaky
neurons (random weights, no training) fed a rate-coded digit. ``snn.Sequential`` runs the whole
network over the sequence layer by layer (each Linear once over all ``T·B`` rows, each neuron
layer as one fused loop); its ``step`` method runs it one time step at a time, as snnTorch's
tutorial loop does, and gives the same spikes.

Run: ``python examples/tutorials/tutorial_3_feedforward.py [--quick] [--plots DIR]``
"""

from __future__ import annotations

import torch
from _common import load_digits, parse_args, save_figure
from torch import nn

import snncore as snn


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], epochs=1, quick_epochs=1)
    gen = torch.Generator().manual_seed(args.seed)
    num_steps = 100 if args.quick else 200

    # -- one neuron, input spikes every 2 steps, weighted by 0.4 ---------------------------------
    lif = snn.Leaky(beta=0.8)
    spk_in = torch.zeros(num_steps, 1)
    spk_in[10::2] = 1.0
    spk, states = lif.trace(0.4 * spk_in)
    print(f"single neuron: {int(spk_in.sum())} input spikes x 0.4 -> {int(spk.sum())} output "
          f"spikes (peak membrane {float(states.mem.max()):.2f})")

    # -- a feedforward network on a rate-coded digit ---------------------------------------------
    x_train, _, y_train, _ = load_digits(args.seed, flat=True)
    net = snn.Sequential(
        nn.Linear(64, 128), snn.Leaky(beta=0.95),
        nn.Linear(128, 10), snn.Leaky(beta=0.95),
    )
    x_seq = snn.encoders.rate(x_train[:8], num_steps=num_steps, generator=gen)   # [T, 8, 64]
    with torch.no_grad(), snn.Monitor(net, layers=snn.Leaky) as mon:
        spk_out, _ = net(x_seq)                                                   # [T, 8, 10]
        hidden = mon.stacked()["1"]                                               # [T, 8, 128]
        state, steps = None, []
        for x_t in x_seq:                                    # the same network step by step
            s_t, state = net.step(x_t, state)
            steps.append(s_t)
    same = bool(torch.equal(torch.stack(steps), spk_out))
    print(f"network 64-128-10 on {x_seq.shape[1]} digits (label of the first "
          f"{int(y_train[0])}): {int(x_seq.sum())} input spikes, {int(hidden.sum())} hidden "
          f"spikes, {int(spk_out.sum())} output spikes over {num_steps} steps")
    print(f"output spike counts of the first sample: {spk_out[:, 0].sum(0).int().tolist()}")
    print(f"whole-sequence run equals the step-by-step loop: {same}")

    print(f"result single_neuron_spikes = {int(spk.sum())}")
    print(f"result hidden_spikes = {int(hidden.sum())}")
    print(f"result output_spikes = {int(spk_out.sum())}")
    print(f"result sequence_equals_steps = {int(same)}")

    if args.plots is not None:
        from snncore import viz

        save_figure(viz.cur_mem_spk(0.4 * spk_in, states.mem, spk, threshold=1.0,
                                    title="Leaky neuron driven by input spikes"),
                    args.plots, "tutorial_3_single_neuron")
        save_figure(viz.raster(hidden, sample=0, title="Hidden layer"), args.plots,
                    "tutorial_3_hidden_raster")
        save_figure(viz.raster(spk_out, sample=0, title="Output layer"), args.plots,
                    "tutorial_3_output_raster")
        print(f"figures saved in {args.plots}")


if __name__ == "__main__":
    main()
