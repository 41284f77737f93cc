"""Copies (copy.deepcopy, pickle) of neurons and models in any state, with or without monitors."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from torch import nn

import snncore as snn

COPIES = {"deepcopy": copy.deepcopy, "pickle": lambda m: pickle.loads(pickle.dumps(m))}


@pytest.mark.parametrize("how", sorted(COPIES))
def test_copy_with_monitor_runs_its_own_parameters_and_state(how: str) -> None:
    x = torch.rand(6, 2, 4) * 2
    lif = snn.Leaky(beta=0.9, stateful=True, learn_threshold=True)
    with snn.Monitor(lif) as mon:
        lif.run(x)
        twin = COPIES[how](lif)
        with torch.no_grad():
            twin.threshold.fill_(0.5)
        snn.reset(twin)
        own_state = lif.state
        out = twin.run(x)
        assert lif.state is own_state  # the original's state is untouched
        ref = snn.Leaky(beta=0.9, threshold=0.5, stateful=True)
        assert torch.equal(out, ref.run(x))
        assert torch.equal(twin.state.mem, ref.state.mem)
        out.sum().backward()
        assert twin.threshold.grad is not None and lif.threshold.grad is None
        assert len(mon["Leaky"]["output"]) == 1  # the copy is not monitored
    assert "run" not in vars(lif)  # the monitor's shim is gone with its last hook


@pytest.mark.parametrize("how", sorted(COPIES))
def test_copy_of_monitored_model_with_stateless_layers(how: str) -> None:
    net = nn.Sequential(nn.Linear(3, 4), snn.Leaky(beta=0.8))
    x = torch.rand(2, 3)
    with snn.Monitor(net, layers=None, record=("output",)) as mon:
        net(x)
        twin = COPIES[how](net)
        twin(x)
        assert len(mon["1"]["output"]) == 1
