"""fit on iterables of batches (no silent empty epochs) and checkpoint / resume through fit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import snncore as snn


def _toy(n: int = 48):
    g = torch.Generator().manual_seed(3)
    x = torch.rand(n, 6, generator=g)
    y = (x[:, 0] > x[:, 1]).long() + (x[:, 2] > 0.5).long()
    return x, y


class Net(nn.Module):
    """Rate-encoded input (global RNG), dropout (global RNG), a stateful and a stateless neuron."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 16)
        self.drop = nn.Dropout(0.2)
        self.lif1 = snn.Leaky(beta=0.8, learn_beta=True, stateful=True)
        self.fc2 = nn.Linear(16, 3)
        self.lif2 = snn.Leaky(beta=0.9, learn_threshold=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_seq = snn.encoders.rate(x, 6)
        outs = [self.lif1(self.drop(self.fc1(xt))) for xt in x_seq]
        spk, _ = self.lif2.run(self.fc2(torch.stack(outs)))
        return spk


def _loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(out.mean(0), y)


def _batches(x, y, size=16):
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)]


def _fit(net, data, epochs=3, **kw):
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    return snn.fit(net, data, _loss, opt, epochs=epochs, progress=False, **kw), opt


def test_generator_with_several_epochs_is_a_clear_error() -> None:
    x, y = _toy()
    gen = (b for b in _batches(x, y))
    with pytest.raises(ValueError, match="one-shot iterator.*lambda"):
        _fit(Net(), gen, epochs=2)


def test_generator_factory_and_list_train_every_epoch() -> None:
    x, y = _toy()
    torch.manual_seed(0)
    a = Net()
    b = Net()
    b.load_state_dict(a.state_dict())
    torch.manual_seed(1)
    hist_list, _ = _fit(a, _batches(x, y))
    torch.manual_seed(1)
    hist_fac, _ = _fit(b, lambda: (bt for bt in _batches(x, y)))
    assert [h["loss"] for h in hist_list] == [h["loss"] for h in hist_fac]
    assert all(h["loss"] > 0 for h in hist_fac)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_one_shot_generator_with_one_epoch_trains() -> None:
    x, y = _toy()
    net = Net()
    before = [p.detach().clone() for p in net.parameters()]
    hist, _ = _fit(net, (b for b in _batches(x, y)), epochs=1)
    assert hist[0]["loss"] > 0
    assert any(not torch.equal(p, q) for p, q in zip(before, net.parameters(), strict=True))


def test_an_epoch_without_batches_is_an_error_not_loss_zero() -> None:
    x, y = _toy()
    it = iter(_batches(x, y))
    list(it)  # exhausted already
    with pytest.raises(ValueError, match="no batches in epoch 1"):
        _fit(Net(), it, epochs=1)

    class Once:
        """Re-iterable in name only: yields its batches the first time only."""

        def __init__(self) -> None:
            self.done = False

        def __iter__(self):
            if not self.done:
                self.done = True
                yield from _batches(x, y)

    with pytest.raises(ValueError, match="no batches in epoch 2"):
        _fit(Net(), Once(), epochs=2)


def test_bad_batches_and_factories() -> None:
    x, y = _toy()
    with pytest.raises(TypeError, match=r"\(inputs, targets\) pair"):
        _fit(Net(), [x], epochs=1)
    with pytest.raises(TypeError, match="factory must return an iterable"):
        _fit(Net(), lambda: 3, epochs=1)
    with pytest.raises(ValueError, match="resume=True needs checkpoint"):
        _fit(Net(), _batches(x, y), resume=True)


def _run(tmp_path, epochs, *, resume=False, crash_after=None, seed_model=0):
    x, y = _toy()
    torch.manual_seed(seed_model)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    gen = torch.Generator().manual_seed(5)

    def stop(record):
        if crash_after is not None and record["epoch"] == crash_after:
            raise KeyboardInterrupt

    hist = snn.fit(net, (x, y), _loss, opt, epochs=epochs, batch_size=16, generator=gen,
                   scheduler=sched, progress=False, checkpoint=tmp_path / "ckpt.pt",
                   resume=resume, on_epoch_end=stop)
    return net, opt, hist


def test_resumed_training_equals_uninterrupted(tmp_path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    torch.manual_seed(123)
    ref, ref_opt, ref_hist = _run(tmp_path / "a", 4)
    torch.manual_seed(123)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "b", 4, crash_after=2)
    torch.manual_seed(999)  # the resumed process starts with another RNG and another init
    net, opt, hist = _run(tmp_path / "b", 4, resume=True, seed_model=7)
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4]
    assert [h["loss"] for h in hist] == [h["loss"] for h in ref_hist]
    for (name, p), q in zip(ref.named_parameters(), net.parameters(), strict=True):
        assert torch.equal(p, q), name
    assert opt.state_dict()["param_groups"][0]["lr"] == ref_opt.state_dict()[
        "param_groups"][0]["lr"]


def test_checkpoint_loads_with_weights_only_and_holds_no_neuron_state(tmp_path) -> None:
    net, _, _ = _run(tmp_path, 1)
    x, _ = _toy()
    snn.reset(net)
    net(x[:4])  # a stateful neuron now holds a state with a graph
    assert net.lif1.state is not None
    ckpt = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    assert ckpt["format"] == "snncore-checkpoint-1"
    assert ckpt["epoch"] == 1 and set(ckpt) >= {"model", "optimizer", "scheduler", "rng"}
    keys = set(net.state_dict())
    assert not any(k.endswith(".state") or ".state." in k for k in keys), keys
    assert keys == set(ckpt["model"])


def test_checkpoint_functions_validate(tmp_path) -> None:
    net = Net()
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        snn.load_checkpoint(tmp_path / "missing.pt", net)
    torch.save({"a": torch.ones(1)}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="not an snncore checkpoint"):
        snn.load_checkpoint(tmp_path / "plain.pt", net)
    snn.save_checkpoint(tmp_path / "m.pt", net)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="holds no optimizer state"):
        snn.load_checkpoint(tmp_path / "m.pt", net, opt)
    with pytest.raises(ValueError, match="epoch must be an int >= 0"):
        snn.save_checkpoint(tmp_path / "m.pt", net, epoch=-1)
    with pytest.raises(TypeError, match="path must be a str"):
        snn.save_checkpoint(3, net)
