"""Tutorial 2: the leaky integrate-and-fire neuron (snnTorch tutorial 2 on snncore).

Lapicque's RC-circuit neuron (``snn_neurons_extra.Lapicque``, forward Euler with time step
``dt``: ``U_t = (1 - dt/(RC)) U_{t-1} + (dt/C) X_t - S_{t-1} θ``), then the same neuron in its
decay-rate form, ``snn.Leaky`` (``U_t = β U_{t-1} + X_t - S_{t-1} θ``), and its reset rules.

Run: ``python examples/tutorials/tutorial_2_lif_neuron.py [--quick] [--plots DIR]``
"""

from __future__ import annotations

import torch
from _common import parse_args, save_figure

import snncore as snn
from snn_neurons_extra import Lapicque


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], epochs=1, quick_epochs=1)
    num_steps = 100 if args.quick else 200
    R, C, dt = 5.0, 1e-3, 1e-3                  # 5 ohm, 1 mF, 1 ms: tau = RC = 5 ms
    lif = Lapicque(R=R, C=C, time_step=dt)

    # -- no input: the membrane decays from 0.9 by (1 - dt/RC) per step --------------------------
    _, states = lif.trace(torch.zeros(num_steps, 1), state=torch.full((1,), 0.9))
    expected = 0.9 * (1 - dt / (R * C)) ** torch.arange(1, num_steps + 1)
    decay_err = float((states.mem[:, 0] - expected).abs().max())
    print(f"Lapicque, no input: U falls from 0.9 to {float(states.mem[-1, 0]):.2e} in "
          f"{num_steps} steps; largest difference from 0.9(1 - dt/RC)^t: {decay_err:.1e}")

    # -- a step current switched on at step 10 ---------------------------------------------------
    cur_in = torch.cat([torch.zeros(10, 1), torch.full((num_steps - 10, 1), 0.3)])
    spk, states = lif.trace(cur_in)
    print(f"Lapicque, step input 0.3 from step 10: {int(spk.sum())} spikes, first at step "
          f"{int(spk[:, 0].nonzero()[0])}; steady state R*I = {R * 0.3:.2f} > threshold 1")

    # -- the same neuron written with a decay rate beta ------------------------------------------
    beta = 0.8
    leaky = snn.Leaky(beta=beta)
    cur = torch.cat([torch.zeros(10, 1), torch.full((num_steps - 10, 1), 0.25)])
    spk_sub, st_sub = leaky.trace(cur)
    spk_zero, st_zero = snn.Leaky(beta=beta, reset="zero").trace(cur)
    spk_none, st_none = snn.Leaky(beta=beta, reset="none").trace(cur)
    print(f"Leaky beta={beta}, input 0.25: {int(spk_sub.sum())} spikes with reset by "
          f"subtraction, {int(spk_zero.sum())} with reset to zero, {int(spk_none.sum())} without "
          f"reset (membrane settles at {float(st_none.mem[-1, 0]):.2f} = 0.25/(1-beta))")

    # whole sequence at once: run() equals the step loop
    spk_run, _ = leaky.run(cur)
    print(f"run() over the whole sequence gives the same spikes as the step loop: "
          f"{bool(torch.equal(spk_run, spk_sub))}")

    print(f"result decay_error = {decay_err:.2e}")
    print(f"result lapicque_spikes = {int(spk.sum())}")
    print(f"result spikes_subtract = {int(spk_sub.sum())}")
    print(f"result spikes_zero = {int(spk_zero.sum())}")
    print(f"result spikes_none = {int(spk_none.sum())}")

    if args.plots is not None:
        from snncore import viz

        save_figure(viz.cur_mem_spk(cur_in, states.mem, spk, threshold=1.0,
                                    title="Lapicque neuron, step input"),
                    args.plots, "tutorial_2_lapicque")
        save_figure(viz.cur_mem_spk(cur, st_sub.mem, spk_sub, threshold=1.0,
                                    title="Leaky neuron, reset by subtraction"),
                    args.plots, "tutorial_2_leaky_subtract")
        save_figure(viz.cur_mem_spk(cur, st_zero.mem, spk_zero, threshold=1.0,
                                    title="Leaky neuron, reset to zero"),
                    args.plots, "tutorial_2_leaky_zero")
        print(f"figures saved in {args.plots}")


if __name__ == "__main__":
    main()
