"""snncore.neurobench: NeuroBench's metrics for an snncore network equal those NeuroBench reports
for the same network and weights built in snnTorch, on the same data."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import snncore as snn

pytest.importorskip("neurobench")
snntorch = pytest.importorskip("snntorch")

from neurobench.metrics.static import (  # noqa: E402
    ConnectionSparsity,
    Footprint,
    ParameterCount,
)
from neurobench.metrics.workload import (  # noqa: E402
    ActivationSparsity,
    MembraneUpdates,
    NeuronOperations,
    SynapticOperations,
)
from neurobench.metrics.workload import (  # noqa: E402
    ActivationSparsityByLayer as BuggyActivationSparsityByLayer,
)
from neurobench.models import SNNTorchModel  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from snncore.neurobench import (  # noqa: E402
    ActivationSparsityByLayer,
    MetricError,
    NeuronRecorder,
    SnncoreModel,
    run_benchmark,
)

STEPS, HIDDEN = 20, 48
WORKLOAD = [ActivationSparsity, ActivationSparsityByLayer, SynapticOperations, MembraneUpdates,
            NeuronOperations]
STATIC = [Footprint, ConnectionSparsity, ParameterCount]


def digits_loader(n: int = 96, batch: int = 32) -> DataLoader:
    """Rate-coded digits, batch-first [B, T, 64] (NeuroBench's layout), with labels."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    gen = torch.Generator().manual_seed(0)
    images = torch.tensor(x[:n] / 16.0, dtype=torch.float32)
    spikes = snn.encoders.rate(images, num_steps=STEPS, generator=gen)  # [T, B, 64]
    return DataLoader(TensorDataset(spikes.transpose(0, 1).contiguous(), torch.tensor(y[:n])),
                      batch_size=batch, shuffle=False)


def networks(reset: str = "subtract") -> tuple[nn.Module, nn.Module]:
    """The same 64-48-10 network (same weights) in snncore and in snnTorch."""
    torch.manual_seed(0)
    fc1, fc2 = nn.Linear(64, HIDDEN), nn.Linear(HIDDEN, 10)
    with torch.no_grad():
        fc1.weight.mul_(3.0)  # enough drive that every layer spikes
        fc2.weight.mul_(3.0)
    ours = snn.Sequential(fc1, snn.Leaky(beta=0.9, reset=reset),
                          fc2, snn.Leaky(beta=0.8, reset=reset))
    fc1b, fc2b = nn.Linear(64, HIDDEN), nn.Linear(HIDDEN, 10)
    fc1b.load_state_dict(fc1.state_dict())
    fc2b.load_state_dict(fc2.state_dict())
    theirs = nn.Sequential(
        fc1b, snntorch.Leaky(beta=0.9, init_hidden=True, reset_mechanism=reset),
        fc2b, snntorch.Leaky(beta=0.8, init_hidden=True, output=True, reset_mechanism=reset))
    return ours, theirs


def assert_same(ours: dict, theirs: dict) -> None:
    assert ours.keys() == theirs.keys()
    for key, expected in theirs.items():
        got = ours[key]
        if isinstance(expected, dict):
            assert got.keys() == expected.keys(), key
            for k in expected:
                assert math.isclose(got[k], expected[k], rel_tol=1e-6, abs_tol=1e-9), (key, k)
        else:
            assert math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-9), key


@pytest.fixture
def fused_calls(monkeypatch):
    fused = type(snn.backend("fused"))
    calls = []
    run = fused.run

    def spy(self, neuron, x_seq, state):
        calls.append(tuple(x_seq.shape))
        return run(self, neuron, x_seq, state)

    monkeypatch.setattr(fused, "run", spy)
    return calls


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_metrics_equal_snntorch(reset, fused_calls):
    ours, theirs = networks(reset)
    loader = digits_loader()
    expected = run_benchmark(SNNTorchModel(theirs), loader, STATIC, WORKLOAD)
    got = run_benchmark(SnncoreModel(ours, layout="batch_first"), loader, STATIC, WORKLOAD)
    # the footprint counts buffers too: snncore keeps scalar parameters (beta, threshold, ...)
    # as float64 buffers, snnTorch as float32 ones, so only that one differs
    footprint = sum(t.numel() * t.element_size() for t in [*ours.parameters(), *ours.buffers()])
    assert got.pop("Footprint") == footprint
    expected.pop("Footprint")
    assert_same(got, expected)
    # the metrics are not trivially zero, and the snncore network ran whole sequences fused
    assert 0.3 < got["ActivationSparsity"] < 0.99
    assert got["SynapticOperations"]["Effective_ACs"] > 0
    assert got["MembraneUpdates"] > 0 and got["NeuronOperations"]["Effective Neuron Ops"] > 0
    assert set(got["ActivationSparsityByLayer"]) == {"1", "3"}
    assert fused_calls and all(shape[0] == STEPS for shape in fused_calls)


def test_time_first_layout_gives_the_same_numbers():
    ours, theirs = networks()
    loader = digits_loader()
    batch_first = run_benchmark(SnncoreModel(ours, layout="batch_first"), loader, [], WORKLOAD)
    to_time_first = [lambda data: (data[0].transpose(0, 1), data[1])]
    time_first = run_benchmark(SnncoreModel(ours, layout="time_first"), loader, [], WORKLOAD,
                               preprocessors=to_time_first)
    assert_same(time_first, batch_first)


def test_outputs_are_batch_first():
    ours, _ = networks()
    model = SnncoreModel(ours, layout="batch_first")
    x = torch.rand(4, STEPS, 64)
    spk = model(x)
    assert spk.shape == (4, STEPS, 10)
    expected, _ = ours(x.transpose(0, 1))
    assert torch.equal(spk, expected.transpose(0, 1))


def test_layout_is_required_and_checked():
    ours, _ = networks()
    with pytest.raises(TypeError):
        SnncoreModel(ours)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="layout must be one of"):
        SnncoreModel(ours, layout="BTC")  # type: ignore[arg-type]
    model = SnncoreModel(ours, layout="batch_first")
    with pytest.raises(ValueError, match="batch and a time dimension"):
        model(torch.rand(64))
    reduce = SnncoreModel(ours, layout="batch_first", output=lambda out: out[0].sum(0))
    with pytest.raises(ValueError, match="not time-first"):
        reduce(torch.rand(4, STEPS, 64))


def test_metric_errors_are_raised_not_zeroed():
    # NeuroBench has no operation count for reset="none": its own run reports 0
    ours, _ = networks("none")
    with pytest.raises(MetricError, match="NeuronOperations failed: KeyError"):
        run_benchmark(SnncoreModel(ours, layout="batch_first"), digits_loader(32), [],
                      [NeuronOperations])


def test_neurobench_per_layer_sparsity_is_replaced_by_the_fixed_one():
    ours, _ = networks()
    loader = digits_loader(32)
    with pytest.raises(AttributeError):  # NeuroBench 2.3.0's own class cannot be built
        BuggyActivationSparsityByLayer().requires_hooks  # noqa: B018
    res = run_benchmark(SnncoreModel(ours, layout="batch_first"), loader, [],
                        [BuggyActivationSparsityByLayer])
    assert set(res["ActivationSparsityByLayer"]) == {"1", "3"}


def test_recorder_sees_single_steps_and_trace_and_restores_the_neuron():
    torch.manual_seed(0)
    lif = snn.Leaky(beta=0.9)
    x = torch.rand(6, 3, 5) * 0.6
    rec = NeuronRecorder(lif, "lif")
    spk_run, _ = lif.run(x)
    assert len(rec.post_fire_mem_potential) == 6
    _, states = lif.trace(x)
    assert torch.equal(torch.stack(rec.post_fire_mem_potential[:6]), states.mem)
    assert torch.equal(torch.stack(rec.post_fire_mem_potential[6:]), states.mem)
    state = None
    for t in range(6):
        spk, state = lif(x[t], state)
    assert torch.equal(torch.stack(rec.post_fire_mem_potential[12:]), states.mem)
    assert torch.equal(torch.stack(rec.pre_fire_mem_potential[13:]), states.mem[:-1])
    assert len(rec.activation_outputs) == 2 + 6
    rec.close()
    assert not {"run", "trace", "record"} & set(lif.__dict__)
    lif.run(x)
    assert len(rec.post_fire_mem_potential) == 18


@pytest.mark.skipif(not hasattr(snn.Neuron, "record"), reason="needs Neuron.record")
def test_membranes_of_a_run_come_from_record_on_the_same_backend(monkeypatch):
    ours, _ = networks()
    fused = type(snn.backend("fused"))
    recorded, traced = [], []
    record = fused.record

    def spy(self, *args, **kwargs):
        recorded.append(1)
        return record(self, *args, **kwargs)

    monkeypatch.setattr(fused, "record", spy)
    monkeypatch.setattr(snn.Leaky, "trace", lambda *a, **k: traced.append(1))
    res = run_benchmark(SnncoreModel(ours, layout="batch_first"), digits_loader(32), [],
                        [MembraneUpdates])
    assert res["MembraneUpdates"] > 0
    assert len(recorded) == 2 and not traced  # one per neuron layer, no eager replay
