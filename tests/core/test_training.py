"""BPTT / truncated BPTT (gradients, retained memory) and the fit loop."""

from __future__ import annotations

import io
import logging
import sys

import pytest
import torch
from torch import nn

import snncore as snn
from snncore import losses
from snncore._training import detach_state


class StatefulNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.lif1 = snn.Leaky(beta=0.85, stateful=True)
        self.fc2 = nn.Linear(8, 3)
        self.lif2 = snn.Leaky(beta=0.9, reset="none", stateful=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.lif2(self.fc2(self.lif1(self.fc1(x))))
        return self.lif2.state.mem


class ExplicitNet(nn.Module):
    """``out, state = net(x, state)`` with a tuple of neuron states."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.lif1 = snn.Leaky(beta=0.85)
        self.fc2 = nn.Linear(8, 3)
        self.lif2 = snn.Leaky(beta=0.9, reset="none")

    def forward(self, x, state=None):
        s1, s2 = state if state is not None else (None, None)
        spk, s1 = self.lif1(self.fc1(x), s1)
        _, s2 = self.lif2(self.fc2(spk), s2)
        return s2.mem, (s1, s2)


class SequenceNet(ExplicitNet):
    """Whole chunk at once through ``run``: ``out, state = net(x_chunk, state)``."""

    def forward(self, x_seq, state=None):
        s1, s2 = state if state is not None else (None, None)
        spk, s1 = self.lif1.run(self.fc1(x_seq), s1)
        _, states = self.lif2.trace(self.fc2(spk), s2)
        return states.mem, (s1, type(states)(*(f[-1] for f in states)))


def _data(t: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(t, 5, 6, generator=g) * 1.5, torch.randint(0, 3, (5,), generator=g)


def _loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(out.mean(0), y)


def _grads(model: nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in model.parameters()]


def _copy(cls) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    a = cls()
    b = cls()
    b.load_state_dict(a.state_dict())
    return a, b


@pytest.mark.parametrize("mode, cls", [("stateful", StatefulNet), ("step", ExplicitNet),
                                       ("sequence", SequenceNet)])
def test_k_equal_T_matches_full_bptt(mode: str, cls) -> None:
    x, y = _data()
    a, b = _copy(cls)
    # reference: plain full BPTT written out
    if mode == "stateful":
        snn.reset(a)
        out = torch.stack([a(x[t]) for t in range(len(x))])
    elif mode == "step":
        state, outs = None, []
        for t in range(len(x)):
            o, state = a(x[t], state)
            outs.append(o)
        out = torch.stack(outs)
    else:
        out, _ = a(x)
    ref_loss = _loss(out, y)
    ref_loss.backward()
    res = snn.truncated_bptt(b, x, y, _loss, k=len(x), mode=mode)
    torch.testing.assert_close(res.loss, ref_loss.detach())
    torch.testing.assert_close(res.outputs, out.detach())
    for ga, gb in zip(_grads(a), _grads(b), strict=True):
        torch.testing.assert_close(ga, gb, rtol=1e-6, atol=1e-7)
    # bptt() is the same thing
    for p in b.parameters():
        p.grad = None
    snn.bptt(b, x, y, _loss, mode=mode)
    for ga, gb in zip(_grads(a), _grads(b), strict=True):
        torch.testing.assert_close(ga, gb, rtol=1e-6, atol=1e-7)


def test_truncated_matches_hand_written_truncation() -> None:
    x, y = _data(t=12)
    a, b = _copy(ExplicitNet)
    k = 5
    state = None
    for start in range(0, 12, k):
        outs = []
        for t in range(start, min(start + k, 12)):
            o, state = a(x[t], state)
            outs.append(o)
        _loss(torch.stack(outs), y).backward()
        state = detach_state(state)
    res = snn.truncated_bptt(b, x, y, _loss, k=k, mode="step")
    for ga, gb in zip(_grads(a), _grads(b), strict=True):
        torch.testing.assert_close(ga, gb, rtol=1e-6, atol=1e-7)
    assert res.outputs.shape == (12, 5, 3)
    # and it differs from full BPTT
    c, _ = _copy(ExplicitNet)
    snn.bptt(c, x, y, _loss, mode="step")
    assert not all(torch.allclose(g1, g2) for g1, g2 in zip(_grads(b), _grads(c), strict=True))


class _SavedTracker:
    """Peak number of tensors the autograd graph holds for backward at any moment."""

    def __init__(self) -> None:
        self.live = 0
        self.peak = 0

    def __enter__(self):
        tracker = self

        class Holder:
            def __init__(self, t: torch.Tensor) -> None:
                self.t = t
                tracker.live += 1
                tracker.peak = max(tracker.peak, tracker.live)

            def __del__(self) -> None:
                tracker.live -= 1

        self._ctx = torch.autograd.graph.saved_tensors_hooks(Holder, lambda h: h.t)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._ctx.__exit__(*exc)


@pytest.mark.parametrize("mode, cls", [("stateful", StatefulNet), ("step", ExplicitNet),
                                       ("sequence", SequenceNet)])
def test_retained_graph_is_flat_in_T_with_truncation(mode: str, cls) -> None:
    peaks = {}
    for t in (10, 40, 80):
        x, y = _data(t=t)
        torch.manual_seed(0)
        model = cls()
        with _SavedTracker() as tr:
            snn.truncated_bptt(model, x, y, _loss, k=5, mode=mode)
        assert tr.live == 0  # everything released after the last window
        with _SavedTracker() as full:
            snn.bptt(model, x, y, _loss, mode=mode)
        peaks[t] = (tr.peak, full.peak)
    assert peaks[10][0] == peaks[40][0] == peaks[80][0]
    assert peaks[80][1] > 3 * peaks[10][1]  # full BPTT grows with T
    assert peaks[80][1] > peaks[80][0] * 8


def test_optimizer_steps_every_window() -> None:
    x, y = _data(t=12)
    torch.manual_seed(0)
    net = StatefulNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    calls = []
    orig = opt.step

    def step(*a, **kw):
        calls.append(1)
        return orig(*a, **kw)

    opt.step = step
    snn.truncated_bptt(net, x, y, _loss, k=5, optimizer=opt)
    assert len(calls) == 3


def test_bad_arguments() -> None:
    x, y = _data()
    net = StatefulNet()
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        snn.truncated_bptt(net, x, y, _loss, k=0)
    with pytest.raises(ValueError, match="mode must be one of"):
        snn.truncated_bptt(net, x, y, _loss, mode="loop")
    with pytest.raises(ValueError, match="x_seq must be a time-first tensor"):
        snn.truncated_bptt(net, torch.tensor(1.0), y, _loss)
    with pytest.raises(ValueError, match="0-d tensor"):
        snn.truncated_bptt(net, x, y, lambda o, t: o.sum(-1), k=4)
    with pytest.raises(ValueError, match="stateful=True"):
        snn.truncated_bptt(ExplicitNet(), x, y, _loss, mode="stateful")


def test_fit_resets_stateful_neurons_between_batches() -> None:
    x, y = _toy(40)
    torch.manual_seed(0)
    lif = snn.Leaky(beta=0.9, stateful=True)
    net = nn.Sequential(nn.Linear(6, 3), lif)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    # batches of different sizes would clash with a leftover state (and its graph)
    hist = snn.fit(net, (x, y), lambda out, t: nn.functional.cross_entropy(out, t), opt,
                   epochs=2, transform=lambda b: b, batch_size=16, progress=False)
    assert len(hist) == 2


# -- fit ------------------------------------------------------------------------------------------
def _toy(n: int = 200):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, 6, generator=g)
    y = (x[:, 0] > x[:, 1]).long() + (x[:, 2] > 0.5).long()
    return x, y


class SeqNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 32)
        self.lif = snn.Leaky(beta=0.9)
        self.fc2 = nn.Linear(32, 3)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        spk, _ = self.lif.run(self.fc1(x_seq))
        return self.fc2(spk)


def test_fit_tensor_data_history_and_callbacks() -> None:
    x, y = _toy()
    torch.manual_seed(0)
    net = SeqNet()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    seen = []

    def evaluate(m):
        with torch.no_grad():
            out = m(x.unsqueeze(0).expand(8, -1, -1))
        return {"accuracy": float((out.mean(0).argmax(1) == y).float().mean())}

    hist = snn.fit(net, (x, y), losses.ce_rate_loss(), opt, epochs=8,
                   transform=lambda b: b.unsqueeze(0).expand(8, -1, -1),
                   generator=gen, batch_size=32, eval_fn=evaluate, on_epoch_end=seen.append,
                   progress=True, progress_file=io.StringIO())
    assert len(hist) == 8 and seen == hist
    assert [h["epoch"] for h in hist] == list(range(1, 9))
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert hist[-1]["accuracy"] > 0.6
    assert {"loss", "accuracy", "seconds"} <= set(hist[0])


def test_fit_dataloader_truncated_and_without_tqdm(monkeypatch, caplog) -> None:
    x, y = _toy(64)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    torch.manual_seed(0)
    net = StatefulNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails -> logging only
    with caplog.at_level(logging.INFO, logger="snncore.training"):
        hist = snn.fit(net, loader, _loss, opt, epochs=2, mode="stateful", k=4,
                       transform=lambda b: b.unsqueeze(0).expand(10, -1, -1),
                       eval_fn=lambda m: 0.5, device="cpu")
    assert len(hist) == 2 and hist[0]["eval"] == 0.5
    assert "tqdm is not installed" in caplog.text
    assert "epoch 2/2" in caplog.text


def test_fit_bad_arguments() -> None:
    x, y = _toy(10)
    net = SeqNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        snn.fit(net, (x, y), _loss, opt, epochs=0)
    with pytest.raises(ValueError, match="disagree on the number of samples"):
        snn.fit(net, (x, y[:5]), _loss, opt, progress=False)
    with pytest.raises(ValueError, match="k \\(truncation window\\) needs mode"):
        snn.fit(net, (x, y), _loss, opt, k=3)
    with pytest.raises(TypeError, match="data must be a DataLoader"):
        snn.fit(net, 5, _loss, opt)
