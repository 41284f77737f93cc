"""Tutorial 4: second-order neurons, synaptic and alpha (snnTorch tutorial 4 on snncore).

A first-order neuron jumps on every input spike. Second-order neurons model the synaptic
current as a state of its own, so a spike's effect rises and decays smoothly:

- ``Synaptic`` (``snn_neurons_extra``): ``I_t = α I_{t-1} + X_t``, ``U_t = β U_{t-1} + I_t``,
  spike and reset as in ``Leaky``;
- ``Alpha``: two exponential currents of opposite sign whose difference is the alpha kernel,
  ``U_t = c (E_t + F_t)`` with ``E_t = α E_{t-1} + X_t``, ``F_t = β F_{t-1} - X_t``.

Run: ``python examples/tutorials/tutorial_4_second_order.py [--quick] [--plots DIR]``
"""

from __future__ import annotations

import torch
from _common import load_digits, parse_args, save_figure
from torch import nn

import snncore as snn
from snn_neurons_extra import Alpha, Synaptic


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], epochs=1, quick_epochs=1)
    gen = torch.Generator().manual_seed(args.seed)
    num_steps = 100 if args.quick else 200

    # -- one input spike: the synaptic current decays by alpha per step --------------------------
    alpha, beta = 0.9, 0.8
    syn_lif = Synaptic(alpha=alpha, beta=beta)
    pulse = torch.zeros(num_steps, 1)
    pulse[5] = 0.3
    _, st = syn_lif.trace(pulse)
    ratio = float(st.syn[7, 0] / st.syn[6, 0])
    peak = int(st.mem[:, 0].argmax())
    print(f"Synaptic(alpha={alpha}, beta={beta}), one input of 0.3 at step 5: current ratio "
          f"between steps {ratio:.3f} (= alpha), membrane peaks at step {peak} "
          f"({float(st.mem.max()):.3f}), after the input")

    # -- periodic input spikes: the current builds up and the neuron fires -----------------------
    spk_in = torch.zeros(num_steps, 1)
    spk_in[10::5] = 0.2
    spk_syn, st_syn = syn_lif.trace(spk_in)
    leaky_spk, _ = snn.Leaky(beta=beta).trace(spk_in)
    print(f"periodic inputs of 0.2: {int(spk_syn.sum())} spikes from Synaptic, "
          f"{int(leaky_spk.sum())} from a first-order Leaky with the same beta")

    # -- the alpha neuron ------------------------------------------------------------------------
    alpha_lif = Alpha(alpha=0.8, beta=0.7)
    _, st_a = alpha_lif.trace(pulse)
    kernel_peak = int(st_a.mem[:, 0].argmax())
    alpha_in = torch.zeros(num_steps, 1)
    alpha_in[10::3] = 1.0
    spk_alpha, _ = alpha_lif.trace(alpha_in)
    print(f"Alpha(alpha=0.8, beta=0.7): one input at step 5 gives a membrane that rises to its "
          f"peak at step {kernel_peak} and decays; inputs of 1.0 every 3 steps give "
          f"{int(spk_alpha.sum())} spikes")

    # -- second-order neurons in a network, run over the whole sequence --------------------------
    x_train, _, _, _ = load_digits(args.seed, flat=True)
    net = snn.Sequential(nn.Linear(64, 128), Synaptic(alpha=0.9, beta=0.8),
                         nn.Linear(128, 10), Synaptic(alpha=0.9, beta=0.8))
    x_seq = snn.encoders.rate(x_train[:16], num_steps=num_steps, generator=gen)
    with torch.no_grad():
        spk_out, (_, syn_state, _, out_state) = net(x_seq)
    print(f"64-128-10 network of Synaptic neurons on 16 rate-coded digits: {int(spk_out.sum())} "
          f"output spikes; final state fields {type(out_state).__name__}{out_state._fields}")

    print(f"result current_decay = {ratio:.4f}")
    print(f"result synaptic_peak_step = {peak}")
    print(f"result synaptic_spikes = {int(spk_syn.sum())}")
    print(f"result alpha_spikes = {int(spk_alpha.sum())}")
    print(f"result network_output_spikes = {int(spk_out.sum())}")

    if args.plots is not None:
        from snncore import viz

        save_figure(viz.neuron_traces(syn_lif, spk_in, title="Synaptic neuron"), args.plots,
                    "tutorial_4_synaptic")
        save_figure(viz.neuron_traces(alpha_lif, alpha_in, title="Alpha neuron"), args.plots,
                    "tutorial_4_alpha")
        print(f"figures saved in {args.plots}")


if __name__ == "__main__":
    main()
