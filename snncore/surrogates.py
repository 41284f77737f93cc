"""Surrogate-gradient classes (also reachable by name: ``snn.surrogate("atan", alpha=2)``)."""

from ._surrogate import (
    ATan,
    Custom,
    Erf,
    FastSigmoid,
    Gaussian,
    Heaviside,
    LeakySpikeOperator,
    PiecewiseExp,
    PiecewiseQuadratic,
    Sigmoid,
    SparseFastSigmoid,
    SpikeRateEscape,
    StochasticSpikeOperator,
    StraightThrough,
    Surrogate,
    Triangular,
)

__all__ = [
    "Surrogate",
    "ATan",
    "FastSigmoid",
    "Sigmoid",
    "SpikeRateEscape",
    "StraightThrough",
    "Triangular",
    "Heaviside",
    "StochasticSpikeOperator",
    "LeakySpikeOperator",
    "SparseFastSigmoid",
    "Custom",
    "Gaussian",
    "Erf",
    "PiecewiseQuadratic",
    "PiecewiseExp",
]
