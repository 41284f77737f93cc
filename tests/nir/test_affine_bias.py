"""Affine layers apply their bias (nirtorch 2.6's default Affine mapping does not)."""

from __future__ import annotations

import nir
import numpy as np
import torch

import snn_nir


def affine_graph() -> tuple[nir.NIRGraph, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 4)).astype(np.float32)
    b = np.array([5.0, -3.0, 2.0], dtype=np.float32)
    g = nir.NIRGraph.from_list(nir.Affine(weight=w, bias=b))
    return g, w, b


def test_affine_bias_is_applied(tmp_path):
    g, w, b = affine_graph()
    path = tmp_path / "affine.nir"
    nir.write(path, g)
    x = np.random.default_rng(1).normal(size=(6, 2, 4)).astype(np.float32)
    m = snn_nir.import_from_nir(path, dt=1e-3)
    with torch.no_grad():
        y, _ = m.run(torch.from_numpy(x))
    np.testing.assert_allclose(y.numpy(), x @ w.T + b, rtol=1e-5, atol=1e-5)


def test_the_same_check_fails_under_nirtorch_default_affine_mapping():
    """The check above is one that nirtorch's default mapping fails: it keeps the layer's random
    initial bias (it assigns the file's bias to ``module.weight.bias``)."""
    import nirtorch

    g, w, b = affine_graph()
    torch.manual_seed(0)
    module = nirtorch.nir_interpreter.DEFAULT_MAP[nir.Affine](g.nodes["affine"])
    x = np.random.default_rng(1).normal(size=(2, 4)).astype(np.float32)
    with torch.no_grad():
        y = module(torch.from_numpy(x)).numpy()
    assert not np.allclose(y, x @ w.T + b, atol=1e-3)
    np.testing.assert_allclose(y, x @ w.T + module.bias.detach().numpy(), rtol=1e-5, atol=1e-5)
