"""snncore.data: data_subset and valid_split on torchvision-style datasets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import snncore as snn


class _DS:
    def __init__(self, n=20):
        self.data = torch.arange(n * 3).reshape(n, 3)
        self.targets = torch.arange(n) % 4

    def __len__(self):
        return len(self.data)


def test_data_subset_keeps_one_contiguous_part():
    ds = snn.data.data_subset(_DS(), 4, 2)
    assert torch.equal(ds.data, torch.arange(20 * 3).reshape(20, 3)[10:15])
    assert torch.equal(ds.targets, (torch.arange(20) % 4)[10:15])
    whole = snn.data.data_subset(_DS(), 1)
    assert len(whole.data) == 20


def test_valid_split_partitions_without_overlap():
    train, val = snn.data.valid_split(_DS(), _DS(), 0.25, seed=3)
    assert len(train.data) == 15 and len(val.data) == 5
    rows = {tuple(r.tolist()) for r in train.data} | {tuple(r.tolist()) for r in val.data}
    assert len(rows) == 20
    expect = np.random.default_rng(3).choice(20, size=15, replace=False)
    assert torch.equal(train.data[:, 0] // 3, torch.as_tensor(expect))
    assert torch.equal(val.data[:, 0] // 3, torch.as_tensor(sorted(set(range(20)) - set(expect))))
    again, _ = snn.data.valid_split(_DS(), _DS(), 0.25, seed=3)
    assert torch.equal(again.data, train.data)


@pytest.mark.parametrize("call,match", [
    (lambda: snn.data.data_subset([1, 2], 2), r"\.data and \.targets"),
    (lambda: snn.data.data_subset(_DS(), 0), "subset"),
    (lambda: snn.data.data_subset(_DS(), 3, 3), "idx"),
    (lambda: snn.data.valid_split(_DS(), _DS(), 1.0), "split"),
    (lambda: snn.data.valid_split(_DS(), None, 0.1), "ds_val"),
])
def test_errors(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()
