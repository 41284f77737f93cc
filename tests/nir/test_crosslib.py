"""Graphs exported by snnTorch 1.0.0 run the same in snncore; snncore's exports run the same in
Norse 1.1.0. Both are test-only dependencies (installed with ``--no-deps``); their absence fails
these tests instead of skipping them."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

import snn_neurons_extra as extra
import snn_nir
import snncore as snn

T = 80


def _import(name: str):
    try:
        return __import__(name)
    except ImportError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"test-only dependency {name!r} is missing ({exc}); install it with "
                    f"pip install --no-deps (see docs/nir.md)")


def snntorch_net(kind: str):
    snt = _import("snntorch")
    torch.manual_seed(0)

    def p(n, low, high):
        return torch.rand(n) * (high - low) + low

    # snnTorch semantics that plain NIR expresses: reset to zero in the step that fires
    opts = dict(reset_mechanism="zero", reset_delay=False, init_hidden=True)
    if kind == "leaky":
        neuron = snt.Leaky(beta=p(8, 0.5, 0.9), threshold=p(8, 0.5, 1.0), output=True, **opts)
    elif kind == "synaptic":
        neuron = snt.Synaptic(alpha=p(8, 0.4, 0.8), beta=p(8, 0.5, 0.9),
                              threshold=p(8, 0.5, 1.0), output=True, **opts)
    else:
        neuron = snt.RLeaky(beta=p(8, 0.5, 0.9), threshold=p(8, 0.5, 1.0), linear_features=8,
                            output=True, **opts)
    hidden = snt.Leaky(beta=p(10, 0.5, 0.9), threshold=p(10, 0.4, 0.8), **opts)
    return nn.Sequential(nn.Linear(5, 10), hidden, nn.Linear(10, 8), neuron)


@pytest.mark.parametrize("kind", ["leaky", "synaptic", "rleaky"])
def test_snntorch_export_imports_and_matches_snntorch(kind):
    _import("snntorch")
    from snntorch.export_nir import export_to_nir as snntorch_export

    net = snntorch_net(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = snntorch_export(net, torch.zeros(1, 5), ignore_dims=[0])
    m = snn_nir.import_from_nir(graph, dt=1e-4)  # snnTorch's export hard-codes dt = 1e-4
    x = torch.rand(T, 3, 5) * 2
    from snntorch import utils as snt_utils

    snt_utils.reset(net)
    with torch.no_grad():
        ref_spk, ref_mem = [], []
        for t in range(T):
            out = net(x[t])
            ref_spk.append(out[0])
            ref_mem.append(out[-1])
        y, _ = m.run(x)
        st, mems = None, []
        for t in range(T):
            _, st = m(x[t], st)
            node = "3" if kind != "rleaky" else "3.lif"
            mems.append(m.nir_states(st)[node]["v"])
    ref = torch.stack(ref_spk)
    assert ref.sum() > 0
    assert torch.equal(y, ref)
    torch.testing.assert_close(torch.stack(mems), torch.stack(ref_mem), rtol=1e-5, atol=1e-5)


def test_snncore_export_runs_the_same_in_norse():
    _import("norse")
    from norse.torch.utils.import_nir import from_nir

    torch.manual_seed(1)
    net = snn.Sequential(
        nn.Linear(5, 8),
        extra.Synaptic(alpha=torch.rand(8) * 0.4 + 0.4, beta=torch.rand(8) * 0.4 + 0.5,
                       threshold=0.5, reset="zero", reset_delay=False),
        nn.Linear(8, 6), extra.IF(threshold=1.0, reset="zero", reset_delay=False),
        nn.Linear(6, 4), extra.Synaptic(alpha=0.6, beta=0.8, threshold=0.3, reset="zero",
                                        reset_delay=False))
    graph = snn_nir.export_to_nir(net, (5,), dt=1e-3)
    norse_net = from_nir(graph, dt=1e-3)
    x = torch.rand(T, 2, 5) * 2
    with torch.no_grad():
        y, _ = net(x)
        st, ys = None, []
        for t in range(T):
            yt, st = norse_net(x[t], st)
            ys.append(yt)
    assert y.sum() > 0
    assert torch.equal(torch.stack(ys), y)


def test_norse_reads_lif_without_its_r():
    """Norse 1.1.0 drops LIF's R (it warns and uses 1): a snncore Leaky export, whose R is
    τ/dt, runs in Norse as the same graph with R = 1 does in snncore."""
    _import("norse")
    from norse.torch.utils.import_nir import from_nir

    torch.manual_seed(2)
    net = snn.Sequential(nn.Linear(4, 6), snn.Leaky(beta=0.9, threshold=0.05, reset="zero",
                                                    reset_delay=False))
    graph = snn_nir.export_to_nir(net, (4,), dt=1e-3)
    assert not np.allclose(graph.nodes["1"].r, 1)
    import logging

    logging.disable(logging.WARNING)
    try:
        norse_net = from_nir(graph, dt=1e-3)
    finally:
        logging.disable(logging.NOTSET)
    graph.nodes["1"].r = np.ones_like(graph.nodes["1"].r)
    graph.nodes["1"].metadata = {}
    as_norse = snn_nir.import_from_nir(graph, dt=1e-3)
    x = torch.rand(T, 2, 4) * 3
    with torch.no_grad():
        st, ys = None, []
        for t in range(T):
            yt, st = norse_net(x[t], st)
            ys.append(yt)
        y_norse = torch.stack(ys)
        y_r1, _ = as_norse.run(x)
        y_ours, _ = net(x)
    assert y_norse.sum() > 0
    assert torch.equal(y_norse, y_r1)
    assert not torch.equal(y_norse, y_ours)
