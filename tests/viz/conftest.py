"""Shared fixtures for the snn-viz tests: Agg backend, closed figures, no plt.show()."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures(monkeypatch: pytest.MonkeyPatch):
    def no_show(*args, **kwargs):
        raise AssertionError("snn_viz must never call plt.show()")

    monkeypatch.setattr(plt, "show", no_show)
    torch.manual_seed(0)
    yield
    plt.close("all")


@pytest.fixture
def spikes() -> torch.Tensor:
    """A seeded [T=30, B=3, N=12] binary record with a known number of spikes."""
    g = torch.Generator().manual_seed(1)
    return (torch.rand(30, 3, 12, generator=g) < 0.2).float()
