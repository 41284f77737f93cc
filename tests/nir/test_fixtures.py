"""The NIR paper's graphs: load, run, and match an independent float64 integrator."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch
from nir_reference import simulate

import snn_nir

DT = 1e-4

PAPER_PATTERN = """
0 0 0 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 0 0 0 0 1 0 0 0 1 1 0 0 1 0 1 0 0
1 1 0 1 1 1 1 1 1 1 1 1 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 0
0 0 0 0 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0
"""


def paper_input() -> np.ndarray:
    """The NIR paper's single-neuron input: each of the 100 entries followed by nine zeros."""
    pattern = np.array(PAPER_PATTERN.split(), dtype=np.float64)
    x = np.zeros(1000)
    x[::10] = pattern
    return x.reshape(1000, 1, 1)


def fixture_input(name: str, rng: np.random.Generator) -> np.ndarray:
    if name == "lif_norse":
        return paper_input()
    if name == "cnn_sinabs":
        return (rng.random((25, 2, 2, 34, 34)) < 0.3).astype(np.float64)
    if name == "two_lif_neurons":
        return rng.random((300, 2, 1)) * 60.0
    return (rng.random((150, 3, 12)) < 0.3).astype(np.float64)


CASES = {
    # name: (input sample shape, output sample shape)
    "lif_norse": ((1,), (1,)),
    "two_lif_neurons": ((1,), (1,)),
    "cnn_sinabs": ((2, 34, 34), (10,)),
    "braille_noDelay_bias_zero": ((12,), (7,)),
    "braille_noDelay_noBias_subtract": ((12,), (7,)),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fixture_matches_reference_integrator(fixtures_dir, name, dtype):
    path = fixtures_dir / f"{name}.nir"
    x = fixture_input(name, np.random.default_rng(1))
    ref_out, ref_states = simulate(nir.read(path), x, DT)
    m = snn_nir.import_from_nir(path, dt=DT, dtype=dtype)
    xt = torch.tensor(x, dtype=dtype)
    in_shape, out_shape = CASES[name]
    assert tuple(xt.shape[2:]) == in_shape
    with torch.no_grad():
        y, state = m.run(xt)
        assert tuple(y.shape) == (x.shape[0], x.shape[1], *out_shape)
        assert y.dtype == dtype
        # spikes identical to the float64 forward-Euler integration of NIR's equations
        np.testing.assert_array_equal(y.double().numpy(), ref_out)
        # states after every step (stepwise run) within 1e-5 (float32: also relative 1e-5, as
        # its membranes reach |v| ~ 100), and stepwise == sequence
        rtol = 1e-5 if dtype == torch.float32 else 0.0
        st = None
        for t in range(x.shape[0]):
            yt, st = m(xt[t], st)
            assert torch.equal(yt, y[t])
            for node, variables in m.nir_states(st).items():
                for var, value in variables.items():
                    np.testing.assert_allclose(value.double().numpy(), ref_states[node][var][t],
                                               rtol=rtol, atol=1e-5, err_msg=f"{node}.{var} t={t}")
    assert set(m.nir_states(state)) == set(ref_states)


def test_fixtures_are_exercised(fixtures_dir):
    """The inputs above make the graphs spike (otherwise the comparison would prove little)."""
    rng = np.random.default_rng(1)
    for name in CASES:
        x = fixture_input(name, rng)
        out, states = simulate(nir.read(fixtures_dir / f"{name}.nir"), x, DT)
        assert any(np.ptp(v["v"]) > 0 for v in states.values()), name
        if name != "two_lif_neurons":  # its second neuron (threshold 20) never fires by design
            assert out.sum() > 0, name
    _, states = simulate(nir.read(fixtures_dir / "two_lif_neurons.nir"), fixture_input(
        "two_lif_neurons", rng), DT)
    assert (np.diff(states["lif1"]["v"][:, 0, 0]) < -0.5).any()  # lif1 fires and resets


def test_lif_norse_paper_spike_times(fixtures_dir):
    m = snn_nir.import_from_nir(fixtures_dir / "lif_norse.nir", dt=DT)
    with torch.no_grad():
        y, _ = m.run(torch.tensor(paper_input(), dtype=torch.float32))
    assert torch.nonzero(y[:, 0, 0]).flatten().tolist() == [460, 510, 710, 760]


def test_cnn_shapes_and_fused_neurons(fixtures_dir):
    m = snn_nir.import_from_nir(fixtures_dir / "cnn_sinabs.nir", dt=DT)
    with torch.no_grad():
        y, _ = m.run(torch.zeros(3, 4, 2, 34, 34))
    assert y.shape == (3, 4, 10)
    report = snn_nir.inspect_nir(fixtures_dir / "cnn_sinabs.nir")
    assert report["importable"]
    assert report["modules"]["1"] == "Leaky with NIR input scaling (fused)"


def test_initial_v_leak_option(fixtures_dir):
    path = fixtures_dir / "two_lif_neurons.nir"
    x = fixture_input("two_lif_neurons", np.random.default_rng(3))[:50]
    _, ref = simulate(nir.read(path), x, DT, v0_leak=True)
    _, ref0 = simulate(nir.read(path), x, DT)
    assert not np.allclose(ref["lif1"]["v"], ref0["lif1"]["v"])
    m = snn_nir.import_from_nir(path, dt=DT, dtype=torch.float64, initial_v="v_leak")
    st = None
    with torch.no_grad():
        for t in range(x.shape[0]):
            _, st = m(torch.tensor(x[t]), st)
            np.testing.assert_allclose(m.nir_states(st)["lif1"]["v"].numpy(),
                                       ref["lif1"]["v"][t], atol=1e-12)


def test_malformed_fixture_fails_clearly(fixtures_dir):
    path = fixtures_dir / "braille_noDelay_bias_zero_subgraph.nir"
    with pytest.raises(snn_nir.NIRFormatError) as err:
        snn_nir.import_from_nir(path, dt=DT)
    msg = str(err.value)
    assert "subgraph 'lif1'" in msg and "'lif'" in msg and "does not exist" in msg
    assert str(path) in msg
    report = snn_nir.inspect_nir(path)
    assert not report["readable"] and not report["importable"]
