"""Property-based checks (hypothesis) over the public API: neurons x parameters x dtypes x shapes
x backends x lifecycle operations.

Every example builds a neuron from the registry (core and snn-neurons-extra), runs it on a backend
after a random sequence of lifecycle operations (deepcopy, pickle, a ``state_dict`` round trip
through ``torch.load(weights_only=True)``, reset, detach, dtype moves, a Monitor attached) and
checks that it equals a freshly built neuron run on the ``eager`` reference: identical spikes,
states and gradients (None where the reference has None). Inputs and decay constants lie on a
dyadic grid, so the membrane arithmetic is exact in float32 and float64 alike and spikes can be
compared for equality across dtypes and backends. The bad-input properties check that every
invalid input gets a clear ``SnncoreError``/``TypeError``/``ValueError`` naming what is wrong.

CI runs a bounded, derandomized number of examples; ``-m slow`` runs the long profile.
"""

from __future__ import annotations

import copy
import io
import math
import pickle
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snncore as snn

pytest.importorskip("snn_neurons_extra")
#: a named backend that cannot run a drawn neuron warns once and runs eager: expected here
pytestmark = pytest.mark.filterwarnings("ignore::snncore.BackendFallbackWarning")

CI = settings(max_examples=400, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LONG = settings(CI, max_examples=5000)

CLEAR_ERRORS = (snn.SnncoreError, TypeError, ValueError)
DECAYS = (0.0, 0.25, 0.5, 0.75, 0.875, 1.0)
THRESHOLDS = (0.5, 1.0, 1.5, 2.0)
SURROGATES = ("atan", "fast_sigmoid", "sigmoid", "triangular", "straight_through", "erf")
BACKENDS = (None, "eager", "fused")
#: before the first run: moves and copies of a fresh neuron
PRE_OPS = ("to_float64", "to_float32", "deepcopy", "pickle", "state_dict")
#: between the two runs (the state may still hold the first run's graph)
MID_OPS = ("deepcopy", "pickle", "state_dict", "reset", "detach", "monitor")
#: what the loss reads: an output left out must give the parameters only it uses grad None
LOSS_ON = ("both", "spikes", "state")


def _common(d: st.DataObject, *, reset: bool = True, delay: bool = True,
            inhibition: bool = True, detach: bool = True) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "threshold": d.draw(st.sampled_from(THRESHOLDS)),
        "surrogate": d.draw(st.sampled_from(SURROGATES)),
        "learn_threshold": d.draw(st.booleans()),
        "graded_spikes_factor": d.draw(st.sampled_from((1.0, 0.5, 2.0))),
        "learn_graded_spikes_factor": d.draw(st.booleans()),
    }
    if reset:
        kw["reset"] = d.draw(st.sampled_from(("subtract", "zero", "none")))
    if delay:
        kw["reset_delay"] = d.draw(st.booleans())
    if inhibition:
        kw["inhibition"] = d.draw(st.booleans())
    if detach:
        kw["detach_reset"] = d.draw(st.booleans())
    return kw


def _decay(d: st.DataObject, name: str, kw: dict[str, Any]) -> None:
    kw[name] = d.draw(st.sampled_from(DECAYS))
    kw[f"learn_{name}"] = d.draw(st.booleans())


def _leaky(d, f):
    kw = _common(d)
    _decay(d, "beta", kw)
    return kw, f


def _synaptic(d, f):
    kw = _common(d)
    _decay(d, "alpha", kw)
    _decay(d, "beta", kw)
    return kw, f


def _alpha(d, f):
    kw = _common(d, delay=False)
    kw["alpha"] = d.draw(st.sampled_from((0.75, 0.875)))
    kw["beta"] = d.draw(st.sampled_from((0.25, 0.5)))
    return kw, f


def _lapicque(d, f):
    kw = _common(d)
    kw["beta"] = d.draw(st.sampled_from(DECAYS[1:-1]))  # an RC circuit needs 0 < beta < 1
    kw["learn_beta"] = d.draw(st.booleans())
    return kw, f


def _recurrent(alpha: bool):
    def build(d, f):
        kw = _common(d)
        if alpha:
            _decay(d, "alpha", kw)
        _decay(d, "beta", kw)
        if d.draw(st.booleans()):
            kw["all_to_all"] = True
            kw["linear_features"] = f
        else:
            kw["all_to_all"] = False
            kw["V"] = d.draw(st.sampled_from((0.5, 1.0, -0.25)))
        kw["learn_recurrent"] = d.draw(st.booleans())
        return kw, f
    return build


def _slstm(d, f):
    kw = _common(d, inhibition=False)
    h = d.draw(st.integers(1, 4))
    kw.update(input_size=f, hidden_size=h)
    return kw, h


def _sconv2dlstm(d, f):
    kw = _common(d, inhibition=False)
    size = d.draw(st.integers(2, 3))
    kw.update(in_channels=f, out_channels=d.draw(st.integers(1, 2)),
              kernel_size=d.draw(st.sampled_from((1, 3))))
    return kw, (f, size, size)


def _associative_leaky(d, f):
    kw = _common(d, reset=False, delay=False, inhibition=False, detach=False)
    kw.update(in_dim=f, d_value=d.draw(st.integers(1, 2)), d_key=d.draw(st.integers(1, 2)),
              use_q_projection=d.draw(st.booleans()))
    return kw, f


def _leaky_parallel(d, f):
    kw = _common(d, reset=False, delay=False, inhibition=False, detach=False)
    h = d.draw(st.integers(1, 4))
    kw.update(input_size=f, hidden_size=h, beta=d.draw(st.sampled_from((0.5, 0.75))),
              learn_beta=d.draw(st.booleans()))
    return kw, h


def _state_leaky(d, f):
    kw = _common(d, reset=False, delay=False, inhibition=False, detach=False)
    _decay(d, "beta", kw)
    return kw, f


def _linear_leaky(d, f):
    kw, _ = _state_leaky(d, f)
    h = d.draw(st.integers(1, 4))
    kw.update(in_features=f, out_features=h)
    return kw, h


def _delta_leaky(d, f):
    kw = _common(d, reset=False, delay=False, detach=False)
    kw.pop("threshold")
    kw["delta_threshold"] = d.draw(st.sampled_from(THRESHOLDS))
    _decay(d, "beta", kw)
    return kw, f


def _if(d, f):
    return _common(d), f


def _li(d, f):
    kw: dict[str, Any] = {}
    _decay(d, "beta", kw)
    return kw, f


def _alif(d, f):
    kw = _common(d)
    _decay(d, "beta", kw)
    _decay(d, "rho", kw)
    kw["adapt_scale"] = d.draw(st.sampled_from((0.0, 0.5, 1.0)))
    kw["learn_adapt_scale"] = d.draw(st.booleans())
    return kw, f


def _izhikevich(d, f):
    kw = _common(d, reset=False, delay=False)
    kw["threshold"] = 30.0
    return kw, f


def _adex(d, f):
    kw = _common(d, reset=False, delay=False)
    kw["threshold"] = 20.0
    return kw, f


#: registry name -> draw(data, features) -> (kwargs, input shape of one sample, or its
#: number of features)
RECIPES: dict[str, Callable[[st.DataObject, int], tuple[dict[str, Any], int]]] = {
    "leaky": _leaky, "synaptic": _synaptic, "alpha": _alpha, "lapicque": _lapicque,
    "rleaky": _recurrent(False), "rsynaptic": _recurrent(True), "slstm": _slstm,
    "sconv2dlstm": _sconv2dlstm, "associative_leaky": _associative_leaky,
    "leaky_parallel": _leaky_parallel, "state_leaky": _state_leaky,
    "linear_leaky": _linear_leaky, "delta_leaky": _delta_leaky, "if": _if, "li": _li,
    "alif": _alif, "izhikevich": _izhikevich, "adex": _adex,
}
#: input scale per neuron (currents the model's units need to reach the threshold)
SCALE = {"izhikevich": 16.0, "adex": 512.0}


def _tol(dtype: torch.dtype) -> dict[str, float]:
    return {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-9,
                                                                        "atol": 1e-11}


class Case:
    """One drawn configuration: how to build the neuron and the input it runs on."""

    def __init__(self, d: st.DataObject) -> None:
        self.name = d.draw(st.sampled_from(sorted(RECIPES)), label="neuron")
        self.t = d.draw(st.integers(1, 5), label="T")
        self.b = d.draw(st.integers(1, 3), label="B")
        f = d.draw(st.integers(1, 4), label="F")
        self.kwargs, features = RECIPES[self.name](d, f)
        shape = features if isinstance(features, tuple) else (f,)
        self.kwargs["stateful"] = d.draw(st.booleans(), label="stateful")
        self.dtype = d.draw(st.sampled_from((torch.float32, torch.float64)), label="dtype")
        # False: the neuron keeps the dtypes it was built with and gets input of another dtype
        # (its outputs and states must still come in the input's dtype)
        self.move = d.draw(st.booleans(), label="move")
        self.backend = d.draw(st.sampled_from(BACKENDS), label="backend")
        self.pre_ops = d.draw(st.lists(st.sampled_from(PRE_OPS), max_size=2), label="pre_ops")
        self.mid_ops = d.draw(st.lists(st.sampled_from(MID_OPS), max_size=3), label="mid_ops")
        n = 2 * self.t * self.b * math.prod(shape)
        grid = d.draw(st.lists(st.integers(-4, 8), min_size=n, max_size=n), label="input")
        x = torch.tensor(grid, dtype=torch.float64).reshape(2, self.t, self.b, *shape) / 4
        self.x = x * SCALE.get(self.name, 1.0)
        self.seed = d.draw(st.integers(0, 2**16), label="seed")
        self.loss_on = d.draw(st.sampled_from(LOSS_ON), label="loss_on")
        # False: only learnable parameters (if any) make the outputs require grad, and only
        # the outputs that depend on them (as eager autograd tracks them)
        self.x_grad = d.draw(st.booleans(), label="x_grad")

    @property
    def final_dtype(self) -> torch.dtype:
        moves = [op for op in self.pre_ops if op.startswith("to_")]
        if not moves:
            return self.dtype
        return torch.float64 if moves[-1] == "to_float64" else torch.float32

    def build(self, seed: int | None = None) -> snn.Neuron:
        torch.manual_seed(self.seed if seed is None else seed)
        return snn.create(self.name, **self.kwargs)

    def __repr__(self) -> str:
        return (f"Case({self.name}, {self.kwargs}, T={self.t}, B={self.b}, {self.dtype}, "
                f"backend={self.backend}, move={self.move}, pre={self.pre_ops}, "
                f"mid={self.mid_ops}, loss_on={self.loss_on}, x_grad={self.x_grad})")


def _run(neuron: snn.Neuron, x: torch.Tensor, state: Any, backend: str | None) -> tuple[Any, Any]:
    out = neuron.run(x, state, backend=backend)
    if neuron.stateful:
        return out, neuron.state
    return out


def _loss(case: Case, spk: torch.Tensor, state: Any) -> torch.Tensor | None:
    total = None
    if case.loss_on != "state":
        w = torch.linspace(0.5, 1.5, spk.numel(), dtype=spk.dtype).reshape(spk.shape)
        total = (spk * w).sum()
    if case.loss_on != "spikes":
        for field in state:
            part = 0.25 * field.sum()
            total = part if total is None else total + part
    return total


def _backward(loss: torch.Tensor | None) -> None:
    if loss is not None and loss.requires_grad:
        loss.backward()


def _copy(case: Case, op: str, neuron: snn.Neuron, moved: torch.dtype | None) -> snn.Neuron:
    if op == "deepcopy":
        return copy.deepcopy(neuron)
    if op == "pickle":
        return pickle.loads(pickle.dumps(neuron))
    buf = io.BytesIO()
    torch.save(neuron.state_dict(), buf)
    buf.seek(0)
    fresh = case.build(seed=case.seed + 1)
    if moved is not None:
        fresh = fresh.to(moved)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    if neuron.stateful:
        fresh.state = neuron.state  # the state is not in the state_dict, by design; carry it
    return fresh


def _grads(neuron: snn.Neuron, x: torch.Tensor) -> dict[str, torch.Tensor | None]:
    out = {name: (None if p.grad is None else p.grad.clone())
           for name, p in neuron.named_parameters()}
    out["<input>"] = None if x.grad is None else x.grad.clone()
    for p in neuron.parameters():
        p.grad = None
    return out


def _execute(case: Case, reference: bool) -> tuple[list[Any], list[dict[str, Any]]]:
    """Two runs; the reference uses eager and no copies, the subject the drawn backend and ops.

    The first run's loss is back-propagated before the operations between the runs; the
    state is detached before the second run, so each run's gradients are its own."""
    neuron = case.build()
    backend = "eager" if reference else case.backend
    moved = None
    if case.move:
        neuron = neuron.to(case.dtype)
        moved = case.dtype
    for op in case.pre_ops:  # the reference makes the same moves (the same rounding), no copies
        if op.startswith("to_"):
            moved = torch.float64 if op == "to_float64" else torch.float32
            neuron = neuron.to(moved)
        elif not reference:
            neuron = _copy(case, op, neuron, moved)
    dtype = case.final_dtype
    x1 = case.x[0].to(dtype).requires_grad_(case.x_grad)
    spk1, st1 = _run(neuron, x1, None, backend)
    _backward(_loss(case, spk1, st1))
    grads = [_grads(neuron, x1)]
    state = None if neuron.stateful else st1
    monitors: list[snn.Monitor] = []
    for op in case.mid_ops:
        if op == "reset":
            snn.reset(neuron)
        elif reference:
            continue
        elif op == "monitor":
            monitors.append(snn.Monitor(neuron))
        elif op == "detach":
            snn.detach(neuron)
        else:
            neuron = _copy(case, op, neuron, moved)
    snn.detach(neuron)
    if state is not None:
        state = type(state)(*(s.detach() for s in state))
    x2 = case.x[1].to(dtype).requires_grad_(case.x_grad)
    spk2, st2 = _run(neuron, x2, state, backend)
    _backward(_loss(case, spk2, st2))
    grads.append(_grads(neuron, x2))
    for m in monitors:
        m.remove()
    return [spk1, st1, spk2, st2], grads


def _check_equal(what: str, got: Any, ref: Any, dtype: torch.dtype, exact: bool = False) -> None:
    if ref is None or got is None:
        assert got is None and ref is None, f"{what}: got {got!r}, the eager reference {ref!r}"
        return
    assert got.dtype == dtype, f"{what}: dtype {got.dtype}, expected {dtype}"
    assert got.shape == ref.shape, f"{what}: shape {tuple(got.shape)} vs {tuple(ref.shape)}"
    g, r = got.detach().double(), ref.detach().double()
    if exact:
        assert torch.equal(g, r), f"{what} differ from the eager reference:\n{g}\n{r}"
    else:
        torch.testing.assert_close(g, r, **_tol(dtype), msg=lambda m: f"{what}: {m}")


def _check_case(case: Case) -> None:
    try:
        ref, ref_grads = _execute(case, reference=True)
    except CLEAR_ERRORS:
        ref = None
    try:
        got, grads = _execute(case, reference=False)
    except CLEAR_ERRORS as exc:
        assert ref is None, f"{case}: the eager reference runs but this raised {exc!r}"
        return
    assert ref is not None, f"{case}: this ran but the eager reference raised"
    dtype = case.final_dtype
    for i, (g, r) in enumerate(zip(got, ref, strict=True)):
        run = i // 2 + 1
        if i % 2 == 0:
            _check_equal(f"{case}: spikes of run {run}", g, r, dtype, exact=True)
            assert g.requires_grad == r.requires_grad, f"{case}: spikes of run {run} tracked"
            continue
        assert type(g) is type(r), f"{case}: state type {type(g)} vs {type(r)}"
        for field, gf, rf in zip(r._fields, g, r, strict=True):
            _check_equal(f"{case}: state.{field} of run {run}", gf, rf, dtype)
            assert gf.requires_grad == rf.requires_grad, \
                f"{case}: state.{field} of run {run}: requires_grad {gf.requires_grad}, " \
                f"eager {rf.requires_grad}"
    for run, (g, r) in enumerate(zip(grads, ref_grads, strict=True), 1):
        assert set(g) == set(r), f"{case}: parameters {sorted(g)} vs {sorted(r)}"
        for name in r:
            p_dtype = dtype if r[name] is None else r[name].dtype
            _check_equal(f"{case}: run {run}: grad of {name}", g[name], r[name], p_dtype)


@CI
@given(st.data())
def test_lifecycle_and_backends_match_eager_reference(data: st.DataObject) -> None:
    _check_case(Case(data))


@pytest.mark.slow
@LONG
@given(st.data())
def test_lifecycle_and_backends_match_eager_reference_long(data: st.DataObject) -> None:
    _check_case(Case(data))


# -- bad inputs ------------------------------------------------------------------------------------
def _other_state(neuron: snn.Neuron, x: torch.Tensor) -> Any:
    """A state NamedTuple of another neuron type with the same arity."""
    arity = len(neuron.State._fields)
    candidates = {1: ("leaky", {"beta": 0.5}), 2: ("synaptic", {"alpha": 0.5, "beta": 0.5})}
    if arity not in candidates:
        return None
    name, kw = candidates[arity]
    other = snn.create(name, **kw)
    if type(other).State is neuron.State:
        name, kw = ("if", {}) if arity == 1 else ("rsynaptic", {"alpha": 0.5, "beta": 0.5,
                                                              "all_to_all": False})
        other = snn.create(name, **kw)
        if type(other).State is neuron.State:
            return None
    return other.init_state(x)


#: models whose threshold is a voltage peak in mV (any sign is valid)
VOLTAGE_MODELS = ("izhikevich", "adex")
BAD_KINDS = ("int_input", "state_other_type", "state_wrong_shape", "state_wrong_dtype",
             "load_state_dict_out_of_range", "constructor_out_of_range", "not_a_tensor")


def _check_bad(case: Case, kind: str) -> None:
    neuron = case.build().to(case.dtype)
    x = case.x[0].to(case.dtype)
    with pytest.raises(CLEAR_ERRORS) as info:
        if kind == "int_input":
            neuron.run(x.round().long(), backend=case.backend)
        elif kind == "not_a_tensor":
            neuron.run(x.tolist(), backend=case.backend)
        elif kind == "state_other_type":
            other = _other_state(neuron, x[0])
            if other is None:
                raise ValueError("no other state type of this arity")
            neuron.run(x, other, backend=case.backend)
        elif kind == "state_wrong_shape":
            st0 = neuron.init_state(x[0])
            neuron.run(x, type(st0)(*(s[..., :0] for s in st0)), backend=case.backend)
        elif kind == "state_wrong_dtype":
            st0 = neuron.init_state(x[0])
            other = torch.float64 if case.dtype == torch.float32 else torch.float32
            neuron.run(x, type(st0)(*(s.to(other) for s in st0)), backend=case.backend)
        elif kind == "load_state_dict_out_of_range":
            sd = neuron.state_dict()
            names = [k for k in ("beta", "alpha", "threshold", "rho") if k in sd
                     and not (k == "threshold" and case.name in VOLTAGE_MODELS)]
            if not names:
                raise ValueError("no range-checked parameter")
            for k in names:
                sd[k] = torch.full_like(sd[k], -2.0)
            neuron.load_state_dict(sd)
            neuron.run(x, backend=case.backend)
        elif kind == "constructor_out_of_range":
            kw = dict(case.kwargs)
            names = [k for k in ("beta", "alpha", "threshold", "rho") if k in kw
                     and not (k == "threshold" and case.name in VOLTAGE_MODELS)]
            if not names:
                raise ValueError("no range-checked parameter")
            kw[names[0]] = -2.0
            snn.create(case.name, **kw)
    msg = str(info.value)
    assert len(msg) > 15, f"{case} / {kind}: an unhelpful message {msg!r}"


@CI
@given(st.data())
def test_bad_inputs_get_clear_errors(data: st.DataObject) -> None:
    case = Case(data)
    _check_bad(case, data.draw(st.sampled_from(BAD_KINDS), label="bad"))
