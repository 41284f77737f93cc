"""The shared neuron options are declared once (snncore.Neuron) and every neuron of this package
either forwards each of them or says in code why it does not take it."""

from __future__ import annotations

import inspect

import pytest
import torch

import snn_neurons_extra
from snncore.extend import NEURON_OPTIONS, Neuron

NEURONS = sorted((c for c in map(snn_neurons_extra.__dict__.get, snn_neurons_extra.__all__)
                  if isinstance(c, type) and issubclass(c, Neuron)), key=lambda c: c.__name__)
#: shared options that a model takes with its own meaning, declared in its own signature
OWN_MEANING = {"Izhikevich": {"threshold", "learn_threshold"},
               "AdEx": {"threshold", "learn_threshold"}}


def test_every_neuron_class_is_checked():
    assert len(NEURONS) >= 15


@pytest.mark.parametrize("cls", NEURONS, ids=lambda c: c.__name__)
def test_shared_options_are_not_redeclared(cls):
    params = inspect.signature(cls.__init__).parameters
    redeclared = (set(params) & set(NEURON_OPTIONS)) - OWN_MEANING.get(cls.__name__, set())
    assert not redeclared, f"{cls.__name__} re-declares {sorted(redeclared)}; forward **options"
    assert inspect.Parameter.VAR_KEYWORD in {p.kind for p in params.values()}


@pytest.mark.parametrize("cls", NEURONS, ids=lambda c: c.__name__)
def test_an_option_a_neuron_does_not_take_says_why(cls):
    for name, (_value, why) in cls.fixed_options.items():
        assert name in NEURON_OPTIONS and why
        with pytest.raises(TypeError, match=f"{cls.__name__} does not take {name}: "):
            cls._resolve_options({name: NEURON_OPTIONS[name]})
    with pytest.raises(TypeError, match="unexpected argument 'tresh"):
        cls._resolve_options({"treshold": 1.0})


def test_concrete_cases():
    with pytest.raises(TypeError, match="LI does not take threshold: LI does not spike"):
        snn_neurons_extra.LI(beta=0.9, threshold=2.0)
    with pytest.raises(TypeError, match="Alpha does not take reset_delay: the alpha kernel"):
        snn_neurons_extra.Alpha(alpha=0.9, beta=0.8, reset_delay=False)
    alpha = snn_neurons_extra.Alpha(alpha=0.9, beta=0.8)
    assert alpha.reset_mechanism == "zero" and alpha.reset_delay is True
    assert snn_neurons_extra.SLSTM(3, 4).reset_mechanism == "none"
    iz = snn_neurons_extra.Izhikevich(stateful=True)
    assert iz.reset_delay is False and iz.stateful and float(iz.threshold) == 30.0
    delta = snn_neurons_extra.DeltaLeaky(beta=0.9, delta_threshold=0.2, learn_threshold=True)
    assert delta.is_learnable("threshold") and torch.allclose(delta.delta_threshold,
                                                              torch.tensor(0.2))
    with pytest.raises(TypeError, match="does not take threshold: the firing threshold is "
                                        "delta_threshold"):
        snn_neurons_extra.DeltaLeaky(beta=0.9, threshold=0.2)
    with pytest.raises(TypeError, match=r"Synaptic: unexpected argument 'learn_alpah'; did you "
                                        r"mean 'learn_alpha'\?"):
        snn_neurons_extra.Synaptic(alpha=0.8, beta=0.9, learn_alpah=True)


def test_delta_threshold_is_assigned_with_the_threshold_checks():
    delta = snn_neurons_extra.DeltaLeaky(beta=0.9, delta_threshold=0.5)
    delta.delta_threshold = 0.25
    assert float(delta.threshold) == 0.25 and float(delta.delta_threshold) == 0.25
    x = torch.tensor([[0.3], [0.3], [0.0]])
    spk, _ = delta.run(x)
    # U = 0.3, 0.57, 0.513: changes 0.3 and 0.27 exceed 0.25 (not the 0.5 it was built with)
    assert spk.flatten().tolist() == [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="DeltaLeaky: delta_threshold must be > 0, got -1"):
        delta.delta_threshold = -1
    assert float(delta.delta_threshold) == 0.25  # refused: kept
    learn = snn_neurons_extra.DeltaLeaky(beta=0.9, delta_threshold=0.5, learn_threshold=True)
    p = learn.threshold
    learn.delta_threshold = 0.75
    assert learn.threshold is p and float(p) == 0.75  # the same nn.Parameter, updated


@pytest.mark.parametrize("make", [lambda: snn_neurons_extra.StateLeaky(beta=0.9),
                                  lambda: snn_neurons_extra.LeakyParallel(2, 3, beta=0.9),
                                  lambda: snn_neurons_extra.LinearLeaky(0.9, 2, 3)])
def test_whole_sequence_neurons_check_the_input_before_any_backend_sees_it(make, recwarn):
    with pytest.raises(TypeError, match="x_seq must be a tensor, got list"):
        make().run([[1.0, 2.0]])
    assert not [w for w in recwarn if "supports raised" in str(w.message)]
