"""AssociativeLeaky against a NumPy reference integrator and the neuron contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from neurons_extra_checks import assert_grads_flow, assert_run_matches_steps

import snncore as snn
from snn_neurons_extra import AssociativeLeaky


def _np_reference(n: AssociativeLeaky, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """M_t = M_{t-1} diag(alpha_t) + v_t k_t^T; Z_t = H(M_t - theta); Y_t = Z_t Q_t."""
    w = {k: v.detach().double().numpy() for k, v in n.state_dict().items()}
    steps, batch, _ = x.shape
    mem = np.zeros((batch, n.d_value, n.d_key))
    out = []
    for t in range(steps):
        v = x[t] @ w["to_v.weight"].T + w["to_v.bias"]
        k = x[t] @ w["to_k.weight"].T + w["to_k.bias"]
        a = 1 / (1 + np.exp(-(x[t] @ w["to_alpha.weight"].T + w["to_alpha.bias"])))
        mem = mem * a[:, None, :] + v[:, :, None] * k[:, None, :]
        z = (mem > float(n.threshold)).astype(float)
        if n.use_q_projection:
            q = (x[t] @ w["to_q.weight"].T + w["to_q.bias"]).reshape(batch, n.d_key, n.d_value)
            out.append((z @ q).reshape(batch, -1))
        else:
            out.append(z.reshape(batch, -1))
    return np.stack(out), mem


@pytest.mark.parametrize("use_q", [True, False])
def test_matches_numpy_reference(use_q):
    n = AssociativeLeaky(5, 3, 2, use_q_projection=use_q, threshold=0.3)
    x = torch.rand(12, 4, 5, dtype=torch.float64) * 2 - 0.5
    n = n.double()
    y, state = n.run(x)
    ref_y, ref_mem = _np_reference(n, x.numpy())
    np.testing.assert_allclose(y.detach().numpy(), ref_y, atol=1e-10)
    np.testing.assert_allclose(state.mem.detach().numpy(), ref_mem, atol=1e-10)
    assert y.shape == (12, 4, n.out_features)


def test_contract_run_steps_grads_registry():
    n = AssociativeLeaky(5, 2, 2, threshold=0.2)
    x = torch.rand(8, 3, 5)
    assert_run_matches_steps(n, x)
    assert_grads_flow(n, x, names={"to_v.weight", "to_k.weight", "to_q.weight"})
    made = snn.create("associative_leaky", in_dim=5, d_value=2, d_key=2)
    assert isinstance(made, AssociativeLeaky)
    stateful = AssociativeLeaky(5, 2, 2, stateful=True)
    stateful(x[0])
    assert stateful.state.mem.shape == (3, 2, 2)
    snn.reset(stateful)
    assert stateful.state is None


def test_argument_errors():
    with pytest.raises(ValueError, match="d_value \\* d_key"):
        AssociativeLeaky(4, 2, 3, num_spiking_neurons=5)
    with pytest.raises(ValueError, match="in_dim"):
        AssociativeLeaky(4, 2, 2)(torch.rand(3, 5))
    with pytest.raises(ValueError, match="scalar"):
        AssociativeLeaky(4, 2, 2, threshold=torch.ones(2, 2))
    with pytest.raises(ValueError, match="perfect square"):
        AssociativeLeaky.from_num_spiking_neurons(4, 10)
    sq = AssociativeLeaky.from_num_spiking_neurons(4, 16, threshold=0.5)
    assert (sq.d_value, sq.d_key, float(sq.threshold)) == (4, 4, 0.5)
