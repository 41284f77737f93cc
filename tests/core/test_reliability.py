"""Nothing silently wrong: parameters validated on every path, states checked by type, copies of
models in any state, one gradient contract for every backend, torch.func, explained fallbacks."""

from __future__ import annotations

import copy
import pickle
import warnings
from typing import NamedTuple

import pytest
import torch
from torch import nn

import snncore as snn


# -- parameters -----------------------------------------------------------------------------------
def test_load_state_dict_rejects_out_of_range_values_and_changes_nothing() -> None:
    lif = snn.Leaky(beta=0.9, threshold=1.0)
    with pytest.raises(ValueError, match=r"Leaky: load_state_dict: .*beta must be in \[0, 1\], "
                       r"got 5"):
        lif.load_state_dict({"beta": torch.tensor(5.0), "threshold": torch.tensor(-2.0)},
                            strict=False)
    with pytest.raises(ValueError, match=r"threshold must be > 0, got -2"):
        lif.load_state_dict({"beta": torch.tensor(0.5), "threshold": torch.tensor(-2.0)},
                            strict=False)
    assert float(lif.beta) == pytest.approx(0.9) and float(lif.threshold) == 1.0
    with pytest.raises(ValueError, match="beta must be finite"):
        lif.load_state_dict({"beta": torch.tensor(float("nan"))}, strict=False)
    lif.load_state_dict({"beta": torch.tensor(0.5), "threshold": torch.tensor(2.0)},
                        strict=False)
    assert float(lif.beta) == 0.5 and float(lif.threshold) == 2.0


def test_learnable_parameters_are_checked_on_load_too() -> None:
    lif = snn.Leaky(beta=0.9, learn_beta=True, learn_threshold=True)
    sd = lif.state_dict()
    sd["threshold"] = torch.tensor(0.0)
    with pytest.raises(ValueError, match="threshold must be > 0"):
        lif.load_state_dict(sd)


def test_assignment_is_validated_and_keeps_the_kind() -> None:
    lif = snn.Leaky(beta=0.9, learn_threshold=True)
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\], got 5"):
        lif.beta = 5.0
    with pytest.raises(ValueError, match=r"threshold must be > 0"):
        lif.threshold = torch.tensor(-1.0)
    with pytest.raises(TypeError, match="beta must be a float or a tensor"):
        lif.beta = "0.5"
    lif.beta = 0.5
    lif.threshold = 2.0
    assert "beta" in dict(lif.named_buffers()) and float(lif.beta) == 0.5
    assert isinstance(lif.threshold, nn.Parameter) and float(lif.threshold) == 2.0
    x = torch.full((3, 1), 1.5)
    spk, _ = lif.run(x)
    assert spk.flatten().tolist() == [0.0, 1.0, 0.0]  # 1.5, 2.25 -> spike, reset by 2


@pytest.mark.parametrize("name, value, error, match", [
    ("reset_mechanism", "substract", ValueError,
     r"reset_mechanism must be one of \('subtract', 'zero', 'none'\), got 'substract'"),
    ("reset_delay", "yes", TypeError, "reset_delay must be a bool, got 'yes'"),
    ("inhibition", 1, TypeError, "inhibition must be a bool, got 1"),
    ("stateful", None, TypeError, "stateful must be a bool, got None"),
    ("detach_reset", "no", TypeError, "detach_reset must be a bool"),
    ("state_quant", 4, TypeError, "state_quant must be callable or None, got 4"),
    ("surrogate", 3, TypeError, "Leaky: surrogate must be a registered surrogate name"),
    ("surrogate", "no_such_surrogate", snn.UnknownNameError, "no_such_surrogate"),
    ("backend", 0, TypeError, "backend must be a backend name or None, got 0"),
])
def test_options_assigned_after_construction_are_checked(name, value, error, match) -> None:
    lif = snn.Leaky(beta=0.9)
    before = getattr(lif, name)
    with pytest.raises(error, match=match):
        setattr(lif, name, value)
    assert getattr(lif, name) is before  # refused: the neuron keeps its option


def test_options_assigned_after_construction_take_effect() -> None:
    x = torch.rand(20, 3, 4) * 2
    lif = snn.Leaky(beta=0.9)
    lif.reset_mechanism = "zero"
    lif.surrogate = "fast_sigmoid"
    lif.reset_delay = False
    assert isinstance(lif.surrogate, snn.surrogates.FastSigmoid)
    ref = snn.Leaky(beta=0.9, reset="zero", surrogate="fast_sigmoid", reset_delay=False)
    for backend in ("eager", "fused"):
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        a, _ = lif.run(xa, backend=backend)
        b, _ = ref.run(xb, backend=backend)
        assert torch.equal(a, b)
        a.sum().backward()
        b.sum().backward()
        assert torch.equal(xa.grad, xb.grad)


def test_a_learned_threshold_that_drifts_out_of_range_is_reported() -> None:
    lif = snn.Leaky(beta=0.9, learn_threshold=True)
    with torch.no_grad():
        lif.threshold.fill_(-0.25)  # e.g. an optimizer step too large
    with pytest.raises(ValueError, match=r"learned threshold must be > 0, got -0.25"):
        lif.run(torch.rand(4, 2))
    with pytest.raises(ValueError, match=r"learned threshold"):
        lif(torch.rand(2))


def test_learned_decays_are_clamped_as_documented() -> None:
    lif = snn.Leaky(beta=0.5, learn_beta=True, reset="none")
    with torch.no_grad():
        lif.beta.fill_(1.5)
    _, st = lif.run(torch.ones(3, 1) * 0.25, backend="eager")
    assert float(st.mem) == pytest.approx(0.75)  # beta used as 1.0


def test_a_parameter_tensor_that_requires_grad_is_not_silently_detached() -> None:
    beta = torch.tensor(0.9, requires_grad=True)
    with pytest.raises(ValueError, match="beta.*requires grad.*learn_beta=True"):
        snn.Leaky(beta=beta)
    lif = snn.Leaky(beta=beta, learn_beta=True)
    assert isinstance(lif.beta, nn.Parameter) and lif.beta is not beta
    with pytest.raises(ValueError, match="threshold.*requires grad.*learn_threshold=True"):
        snn.Leaky(beta=0.9, threshold=torch.ones(3, requires_grad=True))


# -- states ---------------------------------------------------------------------------------------
class OtherState(NamedTuple):
    mem: torch.Tensor


def test_a_state_of_another_type_is_rejected() -> None:
    lif = snn.Leaky(beta=0.9)
    x = torch.rand(4, 3)
    with pytest.raises(TypeError, match="LeakyState.*OtherState"):
        lif.run(x, OtherState(torch.zeros(3)))
    with pytest.raises(TypeError, match="LeakyState.*OtherState"):
        lif(x[0], OtherState(torch.zeros(3)))
    spk, st = lif.run(x, (torch.zeros(3),))  # a plain tuple is read field by field
    assert isinstance(st, snn.LeakyState)


# -- copies ---------------------------------------------------------------------------------------
COPIES = {"deepcopy": copy.deepcopy, "pickle": lambda m: pickle.loads(pickle.dumps(m))}


@pytest.mark.parametrize("how", sorted(COPIES))
def test_copy_of_a_stateful_model_after_a_training_forward(how: str) -> None:
    net = nn.Sequential(nn.Linear(3, 4), snn.Leaky(beta=0.9, stateful=True))
    x = torch.rand(5, 2, 3)
    for xt in x:
        net(xt)
    assert net[1].state.mem.grad_fn is not None
    twin = COPIES[how](net)
    assert torch.equal(twin[1].state.mem, net[1].state.mem)
    assert twin[1].state.mem.grad_fn is None  # the copy has the values, not the history
    assert net[1].state.mem.grad_fn is not None  # the original is untouched
    out = twin(x[0])
    out.sum().backward()
    assert twin[0].weight.grad is not None and net[0].weight.grad is None


@pytest.mark.parametrize("how", sorted(COPIES))
def test_copy_of_a_stateful_sequential_after_a_training_forward(how: str) -> None:
    net = snn.Sequential(nn.Linear(3, 4), snn.Leaky(beta=0.9), stateful=True)
    net(torch.rand(5, 2, 3))
    twin = COPIES[how](net)
    assert torch.equal(twin.state[1].mem, net.state[1].mem)
    twin(torch.rand(2, 2, 3)).sum().backward()


# -- one gradient contract ------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["eager", "fused"])
def test_an_unused_learnable_parameter_gets_none_on_every_backend(backend: str) -> None:
    lif = snn.Leaky(beta=0.9, learn_graded_spikes_factor=True, learn_beta=True)
    x = torch.rand(6, 2, 3) * 2
    _, st = lif.run(x, backend=backend)
    st.mem.sum().backward()  # the spikes (the only user of the factor) are not in the loss
    assert lif.graded_spikes_factor.grad is None
    assert lif.beta.grad is not None


def test_double_backward_through_auto_selected_fused_names_the_backend() -> None:
    lif = snn.Leaky(beta=0.9)
    x = (torch.rand(5, 2, 3) * 2).requires_grad_(True)
    spk, _ = lif.run(x)
    (g,) = torch.autograd.grad(spk.sum(), x, create_graph=True)
    with pytest.raises(snn.SnncoreError, match=r"'fused'.*backend='eager'"):
        g.sum().backward()
    spk, _ = lif.run(x, backend="eager")  # the remedy works
    (g,) = torch.autograd.grad(spk.sum(), x, create_graph=True)
    g.sum().backward()


# -- torch.func -----------------------------------------------------------------------------------
def test_vmap_over_a_neuron_equals_a_loop() -> None:
    lif = snn.Leaky(beta=0.9)
    xs = torch.rand(4, 6, 3) * 2  # 4 independent sequences [T=6, 3]
    out = torch.func.vmap(lambda x: lif.run(x)[0])(xs)
    ref = torch.stack([lif.run(x, backend="eager")[0] for x in xs])
    assert torch.equal(out, ref)


def test_func_grad_over_a_neuron_equals_autograd() -> None:
    lif = snn.Leaky(beta=0.9, reset="zero")
    x = torch.rand(6, 3) * 2

    def loss(inp: torch.Tensor) -> torch.Tensor:
        spk, st = lif.run(inp)
        return spk.sum() + st.mem.sum()

    g = torch.func.grad(loss)(x)
    xr = x.clone().requires_grad_(True)
    spk, st = lif.run(xr, backend="eager")
    (spk.sum() + st.mem.sum()).backward()
    torch.testing.assert_close(g, xr.grad)
    per_sample = torch.func.vmap(torch.func.grad(loss))(torch.stack([x, x * 0.5]))
    torch.testing.assert_close(per_sample[0], xr.grad)


def test_explicit_fused_under_vmap_is_a_clear_error() -> None:
    lif = snn.Leaky(beta=0.9, backend="fused")
    with pytest.raises(snn.SnncoreError, match=r"'fused'.*torch.func.*backend='eager'"):
        torch.func.vmap(lambda x: lif.run(x)[0])(torch.rand(2, 4, 3))


# -- explicit requests that cannot be honoured -----------------------------------------------
def test_explicit_backend_that_cannot_run_an_option_warns_once(monkeypatch) -> None:
    from snncore import _backends

    monkeypatch.setattr(_backends, "fallbacks_warned", set())
    lif = snn.Leaky(beta=0.9, inhibition=True, backend="fused")
    x = torch.rand(4, 2, 3)
    with pytest.warns(snn.BackendFallbackWarning, match=r"'fused'.*inhibition.*'eager'"):
        lif.run(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lif.run(x)  # once
        snn.Leaky(beta=0.9).run(x)  # auto selection falls back silently, by design
