"""Every shipped neuron family and surrogate, built from the registries (so a new one is
picked up, and one without a case here fails ``test_every_registered_neuron_has_a_case``)."""

from __future__ import annotations

from typing import Any

import torch

import snncore as snn

B, N = 3, 4
#: registry name -> (constructor kwargs, one step's input shape, input scale, input offset)
NEURON_CASES: dict[str, tuple[dict[str, Any], tuple[int, ...], float, float]] = {
    "leaky": ({"beta": 0.9, "learn_beta": True, "learn_threshold": True}, (B, N), 1.5, 0.0),
    "synaptic": ({"alpha": 0.8, "beta": 0.9, "learn_alpha": True}, (B, N), 1.0, 0.0),
    "alpha": ({"alpha": 0.9, "beta": 0.8}, (B, N), 1.5, 0.0),
    "lapicque": ({"beta": 0.9, "learn_beta": True}, (B, N), 10.0, 0.0),
    "rleaky": ({"beta": 0.9, "all_to_all": True, "linear_features": N}, (B, N), 1.5, 0.0),
    "rsynaptic": ({"alpha": 0.8, "beta": 0.9, "all_to_all": False, "V": 0.3,
                   "learn_recurrent": True}, (B, N), 1.0, 0.0),
    "slstm": ({"input_size": N, "hidden_size": 5, "threshold": 0.1}, (B, N), 2.0, 0.0),
    "sconv2dlstm": ({"in_channels": 2, "out_channels": 3, "kernel_size": 3, "threshold": 0.1},
                    (B, 2, 4, 4), 2.0, 0.0),
    "leaky_parallel": ({"input_size": N, "hidden_size": 5, "beta": 0.9, "threshold": 0.3},
                       (B, N), 1.5, 0.0),
    "state_leaky": ({"beta": 0.9, "learn_beta": True}, (B, N), 1.0, 0.0),
    "linear_leaky": ({"beta": 0.9, "in_features": N, "out_features": 5, "threshold": 0.3},
                     (B, N), 1.5, 0.0),
    "delta_leaky": ({"beta": 0.9, "delta_threshold": 0.3}, (B, N), 1.5, 0.0),
    "if": ({"threshold": 1.0, "learn_threshold": True}, (B, N), 1.0, 0.0),
    "li": ({"beta": 0.9, "learn_beta": True}, (B, N), 1.5, 0.0),
    "alif": ({"beta": 0.9, "learn_beta": True}, (B, N), 1.5, 0.0),
    "izhikevich": ({}, (B, N), 20.0, 0.0),
    "associative_leaky": ({"in_dim": N, "d_value": 3, "d_key": 2, "threshold": 0.05},
                          (B, N), 3.0, 0.0),
    "adex": ({}, (B, N), 30000.0, 0.0),
}
#: registry entries that are layers used next to neurons, not spiking neurons
LAYERS = {"batchnorm_tt", "graded_spikes"}


def registered_neurons() -> list[str]:
    """Names of every registered spiking neuron (snncore.Neuron subclasses)."""
    reg = snn.registries()["neuron"]
    return sorted(e.name for e in reg.entries() if isinstance(e.factory, type)
                  and issubclass(e.factory, snn.Neuron))


def registered_surrogates() -> list[str]:
    return sorted(e.name for e in snn.registries()["surrogate"].entries())


def make_surrogate(name: str) -> snn.Surrogate:
    if name == "custom":
        return snn.surrogate("custom", derivative=lambda x: 1.0 / (1.0 + (3.0 * x) ** 2))
    if name == "sso":
        # its derivative is random; variance 0 leaves the deterministic part for exact checks
        return snn.surrogate("sso", mean=0.3, variance=0.0)
    return snn.surrogate(name)


def make_neuron(name: str, surrogate: snn.Surrogate | str = "atan") -> tuple[snn.Neuron, Any]:
    kwargs, shape, scale, offset = NEURON_CASES[name]
    kwargs = dict(kwargs)
    if name != "li":  # LI has no threshold and no spikes of its own
        kwargs["surrogate"] = surrogate
    neuron = snn.create(name, **kwargs)
    return neuron, (shape, scale, offset)


def make_input(spec: Any, T: int = 8, dtype: torch.dtype = torch.float64,
               seed: int = 0) -> torch.Tensor:
    shape, scale, offset = spec
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((T, *shape), generator=g, dtype=dtype) * scale + offset)


def small_net(features: int, hidden: int, classes: int) -> snn.Sequential:
    """Linear -> leaky -> Linear -> leaky, with seeded weights."""
    torch.manual_seed(1)
    return snn.Sequential(torch.nn.Linear(features, hidden), snn.create("leaky", beta=0.9),
                          torch.nn.Linear(hidden, classes), snn.create("leaky", beta=0.8))


def rate_ce_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the spike counts ``out.sum(0)`` against class targets."""
    return torch.nn.functional.cross_entropy(out.sum(0), target)
