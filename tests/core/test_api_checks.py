"""Arguments of the encoders, losses, metrics, surrogates and fit that used to be taken
without a check: each now gives the documented value or an error naming it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import snncore as snn
from snncore import encoders as E
from snncore import losses as L
from snncore import metrics as M
from snncore import surrogates as S


def test_a_custom_derivative_must_keep_the_input_shape():
    x = torch.tensor([0.5, -0.2, 1.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"returned shape \(3, 1\) for an input of shape \(3,\)"):
        S.Custom(lambda u: torch.ones_like(u).unsqueeze(-1))(x).sum().backward()
    S.Custom(lambda u: torch.full_like(u, 2.0))(x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("value", [np.float32(2.0), torch.tensor(2.0), 2])
def test_surrogate_parameters_take_any_real_number(value):
    assert S.ATan(alpha=value).alpha == 2.0


def test_surrogate_parameters_of_another_type_are_a_type_error():
    with pytest.raises(TypeError, match="alpha must be a finite number > 0.*str"):
        S.ATan(alpha="2")
    with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
        S.ATan(alpha=np.float32(-1.0))


@pytest.mark.parametrize("mode", ["zeros", "circular", "reflect", "replicate"])
@pytest.mark.parametrize("padding", [1, "same"])
def test_conv_synops_follow_the_padding_mode(mode, padding):
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, padding=padding, padding_mode=mode, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    x = (torch.rand(2, 2, 5, 5) < 0.3).float()
    with M.OpCounter(conv) as ops:
        y = conv(x)
    # with unit weights and 0/1 inputs every output sums exactly the non-zero taps it reads
    assert ops.layers["Conv2d"].synops == int(y.sum().item())


@pytest.mark.parametrize("call,name", [
    (lambda: E.delta(torch.rand(3), off_spike="no"), "off_spike"),
    (lambda: E.delta(torch.rand(3), padding=1), "padding"),
    (lambda: E.latency(torch.rand(4), num_steps=5, clip="no"), "clip"),
    (lambda: E.latency(torch.rand(4), num_steps=5, normalize=1), "normalize"),
    (lambda: E.latency(torch.rand(4), num_steps=5, linear="yes"), "linear"),
    (lambda: E.latency(torch.rand(4), num_steps=5, interpolate=0), "interpolate"),
    (lambda: E.latency(torch.rand(4), num_steps=5, bypass="no"), "bypass"),
    (lambda: E.latency_code(torch.rand(4), normalize="no"), "normalize"),
    (lambda: E.targets_rate(torch.tensor([0, 1]), num_classes=2, num_steps=4,
                            interpolate="no"), "interpolate"),
    (lambda: L.mse_temporal_loss(target_is_time="no"), "target_is_time"),
    (lambda: L.mse_temporal_loss(multi_spike=1), "multi_spike"),
    (lambda: M.accuracy_rate(torch.rand(3, 2, 4), torch.tensor([0, 1]),
                             population_code=1, num_classes=2), "population_code"),
])
def test_flags_must_be_bools(call, name):
    with pytest.raises(TypeError, match=f"{name} must be a bool"):
        call()


@pytest.mark.parametrize("eps", [0.0, -1.0])
def test_latency_epsilon_is_checked(eps):
    with pytest.raises(ValueError, match="epsilon must be a finite number > 0"):
        E.latency(torch.tensor([0.005]), num_steps=20, epsilon=eps)
    with pytest.raises(ValueError, match="epsilon must be a finite number > 0"):
        E.latency_code(torch.tensor([0.005]), epsilon=eps)


def test_temporal_targets_must_lie_in_the_window():
    rec = torch.zeros(4, 1, 2)
    rec[0, 0, 0] = 1
    rec[3, 0, 1] = 1
    for kw in (dict(on_target=50), dict(off_target=-10)):
        with pytest.raises(ValueError, match=r"on_target/off_target.*\[-T, T-1\] = \[-4, 3\]"):
            L.mse_temporal_loss(**kw)(rec, torch.tensor([0]))
    with pytest.raises(ValueError, match=r"\(targets\) must lie in"):
        L.mse_temporal_loss(target_is_time=True)(rec, torch.tensor([[0.0, 7.0]]))
    # the whole window is accepted, negative times counting from the end
    assert L.mse_temporal_loss(on_target=-4, off_target=3)(rec, torch.tensor([0])) >= 0


def test_num_classes_without_a_population_code_must_match_the_outputs():
    spk = torch.zeros(2, 1, 4)
    spk[:, 0, 1] = 1.0
    with pytest.raises(ValueError, match="num_classes=2 but the record has 4 outputs"):
        M.accuracy_rate(spk, torch.tensor([0]), num_classes=2)
    with pytest.raises(ValueError, match="num_classes=2 but the record has 4 outputs"):
        L.ce_count_loss(num_classes=2)(spk, torch.tensor([0]))
    assert M.accuracy_rate(spk, torch.tensor([1]), num_classes=4) == 1
    assert M.accuracy_rate(spk, torch.tensor([0]), population_code=True, num_classes=2) == 1


def test_rate_interpolate_needs_whole_step_numbers():
    with pytest.raises(ValueError, match=r"whole step numbers, got \[1.8999"):
        E.rate_interpolate(torch.tensor([1.9, 3.9]), 5)
    torch.testing.assert_close(E.rate_interpolate(torch.tensor([2.0, 4.0]), 5),
                               E.rate_interpolate(torch.tensor([2, 4]), 5))


def test_fit_refuses_eval_keys_that_name_its_own_values():
    torch.manual_seed(0)
    net = snn.Sequential(nn.Linear(4, 2), snn.Leaky(beta=0.9))
    X, Y = torch.rand(8, 3, 4), torch.randint(0, 2, (8,))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)

    def loss_fn(out, y):
        return L.ce_count_loss()(out[0], y)

    with pytest.raises(ValueError, match=r"eval_fn returned the keys \['loss'\].*val_loss"):
        snn.fit(net, (X, Y), loss_fn, opt, transform=lambda x: x.transpose(0, 1),
                progress=False, eval_fn=lambda m: {"loss": 1.0})
    hist = snn.fit(net, (X, Y), loss_fn, opt, transform=lambda x: x.transpose(0, 1),
                   progress=False, eval_fn=lambda m: {"val_loss": 1.0})
    assert hist[-1]["val_loss"] == 1.0 and hist[-1]["epoch"] == 1


def test_firing_rate_names_a_bad_dim():
    with pytest.raises(ValueError, match=r"firing_rate: dim must be .*\[-2, 1\].*got 5"):
        M.firing_rate(torch.rand(2, 3), dim=5)
    torch.testing.assert_close(M.firing_rate(torch.ones(2, 3), dim=(0, 1)), torch.tensor(1.0))


def test_firing_rate_takes_lists_and_numpy_ints():
    x = torch.ones(2, 3)
    torch.testing.assert_close(M.firing_rate(x, dim=[0, 1]), torch.tensor(1.0))
    torch.testing.assert_close(M.firing_rate(x, dim=np.int64(0)), torch.ones(3))


# -- plugin-author paths: positional descriptions, function encoders, blocked names, repr --------

def test_a_description_may_be_given_positionally_and_is_checked():
    class Lab:
        @snn.hookimpl
        def snncore_register_neurons(self, registry):
            registry.register("lab_pos_lif", snn.Leaky, "a LIF described positionally")

    name = snn.register_plugin(Lab(), name="lab_pos")
    try:
        entry = snn.registries()["neuron"].get("lab_pos_lif")
        assert entry.description == "a LIF described positionally"
    finally:
        snn.unregister_plugin(name)

    class Bad:
        @snn.hookimpl
        def snncore_register_neurons(self, registry):
            registry.register("lab_bad_desc", snn.Leaky, 3)

    with pytest.raises(RuntimeError, match="description for 'lab_bad_desc' must be a str"):
        snn.register_plugin(Bad(), name="lab_bad")


def test_a_function_encoder_is_bound_to_its_arguments():
    def burst(data, num_steps, max_spikes=2):
        """Fire round(v * max_spikes) spikes in the first steps."""
        t = torch.arange(num_steps).view(-1, *([1] * data.dim()))
        return (t < torch.round(data * max_spikes)).to(data.dtype)

    snn.register_encoder("test_burst_fn", burst, plugin="test_burst")
    try:
        data = torch.tensor([0.0, 0.5, 1.0])
        assert snn.encoder("test_burst_fn") is burst
        enc = snn.encoder("test_burst_fn", num_steps=4, max_spikes=3)
        assert torch.equal(enc(data), burst(data, 4, max_spikes=3))
        assert torch.equal(snn.encoder("test_burst_fn", 4)(data), burst(data, 4))
        assert "test_burst_fn" in repr(enc) and "max_spikes=3" in repr(enc)
        # module classes are still built with the arguments
        assert isinstance(snn.encoder("rate", num_steps=3), nn.Module)
    finally:
        snn.registries()["encoder"].remove_plugin("test_burst")


def test_an_unknown_name_under_a_plugin_block_list_says_so(monkeypatch):
    monkeypatch.setenv("SNNCORE_BLOCK_PLUGINS", "some_plugin")
    with pytest.raises(snn.UnknownNameError, match="limited by SNNCORE_BLOCK_PLUGINS=some_plugin"):
        snn.create("no_such_neuron_anywhere")
    monkeypatch.delenv("SNNCORE_BLOCK_PLUGINS")
    with pytest.raises(snn.UnknownNameError) as exc:
        snn.create("no_such_neuron_anywhere")
    assert "limited by" not in str(exc.value) and exc.value.limits is None


def test_repr_shows_every_added_parameter_and_lists_accepted_options_once():
    class Adaptive(snn.Leaky):
        fused_kind = "leaky"

        def __init__(self, beta, rho=0.95, *, surrogate="fast_sigmoid", **options):
            super().__init__(beta, surrogate=surrogate, **options)
            self.add_param("rho", rho, False, low=0.0, high=1.0)

    text = repr(Adaptive(0.9, rho=0.97, graded_spikes_factor=2.0))
    assert "beta=0.9, rho=0.97, threshold=1, graded_spikes_factor=2" in text
    assert "graded_spikes_factor" not in repr(snn.Leaky(0.9))
    with pytest.raises(TypeError) as exc:
        Adaptive(0.9, rhoo=1)
    accepted = str(exc.value).split("accepted: ")[1]
    assert accepted.count("surrogate") == 1 and "rho" in accepted
