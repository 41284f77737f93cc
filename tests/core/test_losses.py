"""SNN losses: snnTorch parity (values and gradients), documented fixes, weights, bad input."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch.nn import functional as F

from snncore import losses as L

T, B, C = 10, 6, 4
TOL = dict(rtol=1e-6, atol=1e-6)


def _sf():
    pytest.importorskip("snntorch")
    import snntorch.functional as SF

    return SF


def _records(seed: int = 0, c: int = C) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    spk = (torch.rand(T, B, c, generator=g) < 0.3).float()
    mem = torch.randn(T, B, c, generator=g)
    y = torch.randint(0, C, (B,), generator=g)
    return spk, mem, y


def _value_and_grad(loss_fn: Callable, rec: torch.Tensor, y: torch.Tensor):
    r = rec.clone().requires_grad_(True)
    out = loss_fn(r, y.clone())
    out.sum().backward()
    return out.detach(), r.grad


PARITY = [
    # name, ours(reduction), snnTorch(reduction), record kind
    ("ce_rate", lambda r: L.ce_rate_loss(reduction=r),
     lambda SF, r: SF.ce_rate_loss(reduction=r), "spk"),
    ("ce_count", lambda r: L.ce_count_loss(reduction=r),
     lambda SF, r: SF.ce_count_loss(reduction=r), "spk"),
    ("ce_max_membrane", lambda r: L.ce_max_membrane_loss(reduction=r),
     lambda SF, r: SF.ce_max_membrane_loss(reduction=r), "mem"),
    ("mse_count", lambda r: L.mse_count_loss(reduction=r),
     lambda SF, r: SF.mse_count_loss(reduction=r), "spk"),
    ("mse_count_rates", lambda r: L.mse_count_loss(0.8, 0.1, reduction=r),
     lambda SF, r: SF.mse_count_loss(0.8, 0.1, reduction=r), "spk"),
    ("mse_membrane", lambda r: L.mse_membrane_loss(reduction=r),
     lambda SF, r: SF.mse_membrane_loss(reduction=r), "mem"),
    ("mse_membrane_targets", lambda r: L.mse_membrane_loss(on_target=1.5, off_target=0.2,
                                                           reduction=r),
     lambda SF, r: SF.mse_membrane_loss(on_target=1.5, off_target=0.2, reduction=r), "mem"),
    ("mse_temporal_labels", lambda r: L.mse_temporal_loss(on_target=0, off_target=T - 1,
                                                          reduction=r),
     lambda SF, r: SF.mse_temporal_loss(on_target=0, off_target=T - 1, reduction=r), "spk"),
    ("mse_temporal_labels2", lambda r: L.mse_temporal_loss(on_target=2, off_target=7,
                                                           tolerance=2, reduction=r),
     lambda SF, r: SF.mse_temporal_loss(on_target=2, off_target=7, tolerance=2, reduction=r),
     "spk"),
    ("ce_temporal", lambda r: L.ce_temporal_loss(reduction=r),
     lambda SF, r: SF.ce_temporal_loss(reduction=r), "spk"),
    ("ce_temporal_reciprocal", lambda r: L.ce_temporal_loss("reciprocal", reduction=r),
     lambda SF, r: SF.ce_temporal_loss("reciprocal", reduction=r), "spk"),
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", PARITY, ids=[p[0] for p in PARITY])
@pytest.mark.parametrize("seed", [0, 1])
def test_loss_value_and_gradient_match_snntorch(case, reduction: str, seed: int) -> None:
    SF = _sf()
    _, ours, theirs, kind = case
    spk, mem, y = _records(seed)
    rec = spk if kind == "spk" else mem
    out, grad = _value_and_grad(ours(reduction), rec, y)
    ref, ref_grad = _value_and_grad(theirs(SF, reduction), rec, y)
    if reduction != "none":
        assert out.dim() == 0  # documented fix: snnTorch returns shape (1,) for some
    torch.testing.assert_close(out, ref.reshape(out.shape), **TOL)
    torch.testing.assert_close(grad, ref_grad, **TOL)


def test_mse_temporal_target_times_match_snntorch() -> None:
    SF = _sf()
    spk, _, _ = _records(3)
    g = torch.Generator().manual_seed(5)
    times = torch.randint(-3, T, (B, C), generator=g).float()
    out, grad = _value_and_grad(L.mse_temporal_loss(target_is_time=True), spk, times)
    ref, ref_grad = _value_and_grad(SF.mse_temporal_loss(target_is_time=True), spk, times)
    torch.testing.assert_close(out, ref, **TOL)
    torch.testing.assert_close(grad, ref_grad, **TOL)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_population_code_matches_snntorch(reduction: str) -> None:
    SF = _sf()
    spk, _, y = _records(2, c=3 * C)
    for ours, theirs in (
        (L.ce_count_loss(True, C, reduction=reduction),
         SF.ce_count_loss(True, C, reduction=reduction)),
        (L.mse_count_loss(0.8, 0.2, True, C, reduction=reduction),
         SF.mse_count_loss(0.8, 0.2, True, C, reduction=reduction)),
    ):
        out, grad = _value_and_grad(ours, spk, y)
        ref, ref_grad = _value_and_grad(theirs, spk, y)
        torch.testing.assert_close(out, ref, **TOL)
        torch.testing.assert_close(grad, ref_grad, **TOL)


def test_ce_rate_population_code() -> None:
    # snnTorch's population code for ce_rate_loss needs weights and ignores the groups
    spk, _, y = _records(4, c=2 * C)
    out = L.ce_rate_loss(population_code=True, num_classes=C)(spk, y)
    grouped = spk.reshape(T, B, C, 2).sum(-1)
    ref = torch.stack([F.cross_entropy(grouped[t], y) for t in range(T)]).mean()
    torch.testing.assert_close(out, ref)


# -- documented fixes ---------------------------------------------------------------------------
def test_mse_temporal_default_targets_do_not_collapse() -> None:
    # correct class fires first (step 0), the others last (T - 1)
    y = torch.tensor([1, 0])
    spk = torch.zeros(T, 2, 3)
    spk[0, 0, 1] = 1  # sample 0: correct class at t=0, others silent -> count as T-1
    spk[0, 1, 0] = 1
    loss = L.mse_temporal_loss()(spk, y)
    assert loss.item() == 0.0
    wrong = torch.zeros(T, 2, 3)
    wrong[0, 0, 0] = 1
    assert L.mse_temporal_loss()(wrong, y).item() > 0


def test_first_spike_time_and_gradient() -> None:
    spk = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]).requires_grad_()
    t = L.first_spike_time(spk)
    assert t.tolist() == [1.0, 0.0, 2.0]
    t.sum().backward()
    expect = torch.zeros(3, 3)
    expect[1, 0] = expect[0, 1] = expect[2, 2] = -1
    assert torch.equal(spk.grad, expect)
    times = L.nth_spike_times(spk.detach(), 2)
    assert times.tolist() == [[1.0, 0.0, 2.0], [2.0, 1.0, 2.0]]


def test_mse_temporal_multi_spike() -> None:
    spk = torch.zeros(T, 1, 2)
    spk[[1, 4], 0, 0] = 1  # target class 0 fires at 1 and 4
    spk[[8], 0, 1] = 1
    loss = L.mse_temporal_loss(on_target=[1, 4], off_target=[8, -1], multi_spike=True)
    assert loss(spk, torch.tensor([0])).item() == 0.0
    per = L.mse_temporal_loss(on_target=[1, 4], off_target=[8, -1], multi_spike=True,
                              reduction="none")(spk, torch.tensor([1]))
    assert per.shape == (2, 1, 2)
    with pytest.raises(ValueError, match="same length"):
        L.mse_temporal_loss(on_target=[1, 2], off_target=[3], multi_spike=True)


WEIGHTED = [
    (lambda **k: L.ce_rate_loss(**k), "spk", "sample"),
    (lambda **k: L.ce_count_loss(**k), "spk", "sample"),
    (lambda **k: L.ce_max_membrane_loss(**k), "mem", "sample"),
    (lambda **k: L.ce_temporal_loss(**k), "spk", "sample"),
    (lambda **k: L.mse_count_loss(0.7, 0.1, **k), "spk", "element"),
    (lambda **k: L.mse_membrane_loss(**k), "mem", "element"),
    (lambda **k: L.mse_temporal_loss(**k), "spk", "element"),
]


@pytest.mark.parametrize("make, kind, level", WEIGHTED)
def test_class_weights_follow_torch_convention(make, kind: str, level: str) -> None:
    spk, mem, y = _records(6)
    rec = spk if kind == "spk" else mem
    w = torch.tensor([0.5, 2.0, 1.0, 3.0])
    plain = make(reduction="none")(rec, y)
    wy = w[y] if level == "sample" else w[y].unsqueeze(-1).expand_as(plain)
    weighted_none = make(reduction="none", weight=w)(rec, y)
    torch.testing.assert_close(weighted_none, plain * wy)
    torch.testing.assert_close(make(reduction="sum", weight=w)(rec, y), (plain * wy).sum())
    mean = make(reduction="mean", weight=w)(rec, y)
    assert mean.dim() == 0
    torch.testing.assert_close(mean, (plain * wy).sum() / wy.sum())
    # all-equal weights give the unweighted mean
    torch.testing.assert_close(make(weight=torch.full((4,), 3.0))(rec, y), make()(rec, y))


def test_weighted_cross_entropy_equals_torch() -> None:
    spk, _, y = _records(7)
    w = torch.tensor([1.0, 0.1, 4.0, 2.0])
    out = L.ce_count_loss(weight=w)(spk, y)
    torch.testing.assert_close(out, F.cross_entropy(spk.sum(0), y, weight=w))


def test_dtype_and_zero_dim() -> None:
    spk, mem, y = _records(8)
    for fn, rec in ((L.ce_rate_loss(), spk), (L.mse_membrane_loss(), mem),
                    (L.mse_count_loss(), spk)):
        out = fn(rec.double(), y)
        assert out.dim() == 0 and out.dtype == torch.float64


def test_mse_membrane_float_targets() -> None:
    _, mem, _ = _records(9)
    tv = torch.randn(T, B, C)
    torch.testing.assert_close(L.mse_membrane_loss()(mem, tv), ((mem - tv) ** 2).mean())
    static = torch.randn(B, C)
    torch.testing.assert_close(L.mse_membrane_loss()(mem, static), ((mem - static) ** 2).mean())


# -- bad input ----------------------------------------------------------------------------------
def test_bad_input_names_the_argument() -> None:
    spk, mem, y = _records(10)
    with pytest.raises(ValueError, match="targets must have shape \\[B\\]"):
        L.ce_rate_loss()(spk, y[:-1])
    with pytest.raises(ValueError, match="targets must be class indices in \\[0, 3\\]"):
        L.ce_count_loss()(spk, torch.full((B,), 4))
    with pytest.raises(TypeError, match="targets must be integer"):
        L.ce_count_loss()(spk, y.float())
    with pytest.raises(ValueError, match="spk_rec must be time-first \\[T, B, C\\]"):
        L.ce_rate_loss()(spk[0], y)
    with pytest.raises(ValueError, match="weight has 3 entries but there are 4 classes"):
        L.ce_rate_loss(weight=torch.ones(3))(spk, y)
    with pytest.raises(ValueError, match="reduction must be one of"):
        L.ce_rate_loss(reduction="avg")
    with pytest.raises(ValueError, match="split evenly into num_classes=3"):
        L.ce_count_loss(population_code=True, num_classes=3)(spk, y)
    with pytest.raises(ValueError, match="num_classes is required"):
        L.mse_count_loss(population_code=True)
    with pytest.raises(ValueError, match="correct_rate must be in \\[0, 1\\]"):
        L.mse_count_loss(correct_rate=1.5)
    with pytest.raises(ValueError, match="inverse"):
        L.ce_temporal_loss(inverse="log")
    with pytest.raises(ValueError, match="target times must have shape"):
        L.mse_temporal_loss(target_is_time=True)(spk, torch.zeros(B))
    with pytest.raises(ValueError, match="float targets must have shape"):
        L.mse_membrane_loss()(mem, torch.zeros(3, 3))


def test_mse_count_targets_are_exact_counts() -> None:
    # documented fix: T·rate is not truncated to an integer (snnTorch: int(10·0.85) = 8)
    spk = torch.zeros(T, 1, 2)
    spk[:8, 0, 0] = 1
    spk[:1, 0, 1] = 1
    out = L.mse_count_loss(0.85, 0.15, reduction="none")(spk, torch.tensor([0]))
    torch.testing.assert_close(out, torch.tensor([[0.5**2 / T, 0.5**2 / T]]))


@pytest.mark.parametrize("factory", [L.ce_rate_loss, L.ce_count_loss,
                                     L.ce_max_membrane_loss, L.mse_count_loss,
                                     L.mse_membrane_loss, L.mse_temporal_loss,
                                     L.ce_temporal_loss])
def test_a_record_given_to_the_loss_factory_says_how_to_call_it(factory):
    spk = torch.rand(5, 2, 3)
    with pytest.raises(TypeError, match=r"returns the loss; call the loss on the record: "
                                        r"\w+\(\)\(spk_rec, targets\).*shape \(5, 2, 3\)"):
        factory(spk, torch.tensor([0, 1]))
    assert isinstance(factory()(spk, torch.tensor([0, 1])), torch.Tensor)
