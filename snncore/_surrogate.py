"""Surrogate gradients: exact Heaviside forward, a smooth derivative in backward.

Every surrogate is a small object with its parameters and its derivative as a plain tensor
function ``derivative(x)`` of ``x = U - θ``. The autograd path (:func:`spike`), the fused
backends and the IPU path all use that one function.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor

from ._registry import active

__all__ = [
    "Surrogate",
    "spike",
    "heaviside",
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
    "BUILTIN_SURROGATES",
    "BUILTIN_BY_NAME",
]


def heaviside(x: Tensor) -> Tensor:
    """Strict step ``H(x) = 1 if x > 0 else 0`` in ``x``'s dtype (``H(0) = 0``)."""
    return (x > 0).to(x.dtype)


def _real(name: str, value: Any, owner: str, what: str) -> float:
    """A real number given as a Python or NumPy number or a one-element tensor; bools and
    anything else raise a TypeError naming ``name``."""
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_complex() \
            and value.dtype != torch.bool:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be {what} (a real number), got "
                        f"{type(value).__name__} {value!r}")
    return float(value)


def _positive(name: str, value: float, owner: str) -> float:
    v = _real(name, value, owner, "a finite number > 0")
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{owner}: {name} must be a finite number > 0, got {value!r}")
    return v


def _finite(name: str, value: float, owner: str) -> float:
    v = _real(name, value, owner, "a finite number")
    if not math.isfinite(v):
        raise ValueError(f"{owner}: {name} must be a finite number, got {value!r}")
    return v


class _SpikeFunction(torch.autograd.Function):
    """``H(x)`` forward; ``grad · surrogate.derivative(x)`` backward.

    Written in the ``setup_context`` style with a generated vmap rule, so that ``torch.func``
    transforms (``vmap``, ``grad``, ``jacrev``, ...) work through it; the backward is made of
    differentiable tensor operations, so double backward works too."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: Tensor, surrogate: Surrogate) -> Tensor:  # type: ignore[override]
        return heaviside(x)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        x, surrogate = inputs
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * ctx.surrogate.derivative(x), None


class Surrogate:
    """Base class: a Heaviside spike whose backward uses :meth:`derivative`.

    Subclasses set ``name`` and implement ``derivative(x)``. Calling the object on ``x = U - θ``
    returns binary spikes of ``x``'s dtype that carry the surrogate gradient.
    """

    name: ClassVar[str] = ""
    #: True when the derivative only uses elementwise, deterministic tensor ops of ``x`` (so a
    #: fused kernel may recompute it freely).
    deterministic: ClassVar[bool] = True

    def derivative(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def params(self) -> dict[str, float]:
        """The surrogate's parameters (for repr, plots and NIR export)."""
        return {}

    def __call__(self, x: Tensor) -> Tensor:
        return _SpikeFunction.apply(x, self)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.params() == other.params()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.params().items()))))


def spike(x: Tensor, surrogate: Surrogate | str = "atan") -> Tensor:
    """Binary spikes ``H(x)`` with ``surrogate``'s derivative in backward."""
    if isinstance(surrogate, str):
        builtin = BUILTIN_BY_NAME.get(surrogate)
        surrogate = builtin() if builtin is not None else active("surrogate").create(surrogate)
    return surrogate(x)


class ATan(Surrogate):
    r"""Arc-tangent surrogate: :math:`\frac{\alpha/2}{1 + (\pi \alpha x / 2)^2}`.

    Args:
        alpha: sharpness (> 0). Default: 2.0.
    """

    name = "atan"

    def __init__(self, alpha: float = 2.0) -> None:
        self.alpha = _positive("alpha", alpha, "atan")

    def derivative(self, x: Tensor) -> Tensor:
        a = self.alpha
        return (a / 2) / (1 + (math.pi / 2 * a * x).pow(2))

    def params(self) -> dict[str, float]:
        return {"alpha": self.alpha}


class FastSigmoid(Surrogate):
    r"""Fast sigmoid (SuperSpike-style) surrogate: :math:`1 / (k|x| + 1)^2`.

    Args:
        slope: ``k`` (> 0). Default: 25.
    """

    name = "fast_sigmoid"

    def __init__(self, slope: float = 25.0) -> None:
        self.slope = _positive("slope", slope, "fast_sigmoid")

    def derivative(self, x: Tensor) -> Tensor:
        return 1.0 / (self.slope * x.abs() + 1.0).pow(2)

    def params(self) -> dict[str, float]:
        return {"slope": self.slope}


class Sigmoid(Surrogate):
    r"""Logistic surrogate: :math:`k\,\sigma(kx)\,(1-\sigma(kx))`, finite for every ``x``.

    Computed as ``k·σ(kx)·σ(−kx)``, which never overflows (snnTorch's form gives NaN at large |x|).

    Args:
        slope: ``k`` (> 0). Default: 25.
    """

    name = "sigmoid"

    def __init__(self, slope: float = 25.0) -> None:
        self.slope = _positive("slope", slope, "sigmoid")

    def derivative(self, x: Tensor) -> Tensor:
        kx = self.slope * x
        return self.slope * torch.sigmoid(kx) * torch.sigmoid(-kx)

    def params(self) -> dict[str, float]:
        return {"slope": self.slope}


class SpikeRateEscape(Surrogate):
    r"""Spike-rate escape surrogate centred at the threshold: :math:`k\,e^{-\beta|x|}`.

    (snnTorch centres it at ``x = 1``; here it peaks at ``U = θ``.)

    Args:
        beta: decay (> 0). Default: 1.
        slope: ``k`` (> 0). Default: 25.
    """

    name = "spike_rate_escape"

    def __init__(self, beta: float = 1.0, slope: float = 25.0) -> None:
        self.beta = _positive("beta", beta, "spike_rate_escape")
        self.slope = _positive("slope", slope, "spike_rate_escape")

    def derivative(self, x: Tensor) -> Tensor:
        return self.slope * torch.exp(-self.beta * x.abs())

    def params(self) -> dict[str, float]:
        return {"beta": self.beta, "slope": self.slope}


class StraightThrough(Surrogate):
    """Straight-through estimator: derivative ``1``."""

    name = "straight_through"

    def derivative(self, x: Tensor) -> Tensor:
        return torch.ones_like(x)


class Triangular(Surrogate):
    r"""Triangle surrogate: :math:`\max(0, 1 - |x|/w) / w` (unit area).

    Args:
        width: half-width ``w`` (> 0). Default: 1.0.
    """

    name = "triangular"

    def __init__(self, width: float = 1.0) -> None:
        self.width = _positive("width", width, "triangular")

    def derivative(self, x: Tensor) -> Tensor:
        return torch.clamp(1.0 - x.abs() / self.width, min=0.0) / self.width

    def params(self) -> dict[str, float]:
        return {"width": self.width}


class Heaviside(Surrogate):
    """Gradient passes only where the neuron spiked: derivative ``H(x)``."""

    name = "heaviside"

    def derivative(self, x: Tensor) -> Tensor:
        return heaviside(x)


class StochasticSpikeOperator(Surrogate):
    r"""Stochastic spike operator: ``1`` where spiked, else :math:`(u - 0.5 + \mu)\,\sigma^2`.

    ``u ~ U[0, 1)`` is drawn anew at every backward call (from ``generator`` if given).

    Args:
        mean: ``μ``. Default: 0.
        variance: ``σ²`` (>= 0). Default: 0.2.
        generator: optional ``torch.Generator`` for reproducible draws.
    """

    name = "sso"
    deterministic = False

    def __init__(self, mean: float = 0.0, variance: float = 0.2,
                 generator: torch.Generator | None = None) -> None:
        self.mean = _finite("mean", mean, "sso")
        self.variance = _finite("variance", variance, "sso")
        if self.variance < 0:
            raise ValueError(f"sso: variance must be >= 0, got {variance!r}")
        self.generator = generator

    def derivative(self, x: Tensor) -> Tensor:
        u = torch.rand(x.shape, dtype=x.dtype, device=x.device, generator=self.generator)
        return torch.where(x > 0, torch.ones_like(x), (u - 0.5 + self.mean) * self.variance)

    def params(self) -> dict[str, float]:
        return {"mean": self.mean, "variance": self.variance}


class LeakySpikeOperator(Surrogate):
    """Leaky spike operator: derivative ``1`` where spiked, else ``slope``.

    Args:
        slope: gradient below threshold. Default: 0.1.
    """

    name = "lso"

    def __init__(self, slope: float = 0.1) -> None:
        self.slope = _finite("slope", slope, "lso")

    def derivative(self, x: Tensor) -> Tensor:
        return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, self.slope))

    def params(self) -> dict[str, float]:
        return {"slope": self.slope}


class SparseFastSigmoid(Surrogate):
    r"""Sparse fast sigmoid: :math:`1/(k|x|+1)^2` where ``x > B``, else ``0``.

    Args:
        slope: ``k`` (> 0). Default: 25.
        B: cut-off; gradient flows only where ``x > B``. Default: 1.
    """

    name = "sfs"

    def __init__(self, slope: float = 25.0, B: float = 1.0) -> None:
        self.slope = _positive("slope", slope, "sfs")
        self.B = _finite("B", B, "sfs")

    def derivative(self, x: Tensor) -> Tensor:
        d = 1.0 / (self.slope * x.abs() + 1.0).pow(2)
        return torch.where(x > self.B, d, torch.zeros_like(d))

    def params(self) -> dict[str, float]:
        return {"slope": self.slope, "B": self.B}


class Custom(Surrogate):
    """A user-supplied derivative ``fn(x) -> Tensor`` (same shape as ``x``).

    Args:
        derivative: the function used in backward.
        name: label shown in reprs. Default: ``"custom"``.
    """

    name = "custom"

    def __init__(self, derivative: Callable[[Tensor], Tensor], name: str = "custom") -> None:
        if not callable(derivative):
            raise TypeError(f"custom: derivative must be callable, got {derivative!r}")
        self._fn = derivative
        self.label = name

    def derivative(self, x: Tensor) -> Tensor:
        d = self._fn(x)
        if isinstance(d, Tensor) and d.dim() > 0 and d.shape != x.shape:
            # a broadcast derivative would be summed back to x's shape by autograd: wrong values
            raise ValueError(
                f"custom surrogate: derivative({getattr(self._fn, '__name__', 'fn')}) returned "
                f"shape {tuple(d.shape)} for an input of shape {tuple(x.shape)}; it must return "
                "a tensor of the input's shape (or a scalar)")
        return d

    def params(self) -> dict[str, Any]:  # type: ignore[override]
        return {"derivative": getattr(self._fn, "__name__", repr(self._fn))}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Custom) and other._fn is self._fn

    def __hash__(self) -> int:
        return hash(("custom", id(self._fn)))


class Gaussian(Surrogate):
    r"""Gaussian surrogate: :math:`\exp(-x^2 / 2\sigma^2) / (\sigma\sqrt{2\pi})` (unit area).

    Args:
        sigma: width (> 0). Default: 0.5.
    """

    name = "gaussian"

    def __init__(self, sigma: float = 0.5) -> None:
        self.sigma = _positive("sigma", sigma, "gaussian")

    def derivative(self, x: Tensor) -> Tensor:
        s = self.sigma
        return torch.exp(-0.5 * (x / s).pow(2)) / (s * math.sqrt(2 * math.pi))

    def params(self) -> dict[str, float]:
        return {"sigma": self.sigma}


class Erf(Surrogate):
    r"""Error-function surrogate, derivative of :math:`\tfrac12\operatorname{erfc}(-\alpha x)`:
    :math:`\frac{\alpha}{\sqrt\pi} e^{-\alpha^2 x^2}`.

    Args:
        alpha: sharpness (> 0). Default: 2.0.
    """

    name = "erf"

    def __init__(self, alpha: float = 2.0) -> None:
        self.alpha = _positive("alpha", alpha, "erf")

    def derivative(self, x: Tensor) -> Tensor:
        a = self.alpha
        return (a / math.sqrt(math.pi)) * torch.exp(-(a * x).pow(2))

    def params(self) -> dict[str, float]:
        return {"alpha": self.alpha}


class PiecewiseQuadratic(Surrogate):
    r"""Piecewise quadratic surrogate: :math:`\max(0, \alpha - \alpha^2 |x|)` (unit area).

    Args:
        alpha: sharpness (> 0); support is ``|x| < 1/α``. Default: 1.0.
    """

    name = "piecewise_quadratic"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = _positive("alpha", alpha, "piecewise_quadratic")

    def derivative(self, x: Tensor) -> Tensor:
        a = self.alpha
        return torch.clamp(a - a * a * x.abs(), min=0.0)

    def params(self) -> dict[str, float]:
        return {"alpha": self.alpha}


class PiecewiseExp(Surrogate):
    r"""Piecewise exponential surrogate: :math:`\frac{\alpha}{2} e^{-\alpha|x|}` (unit area).

    Args:
        alpha: sharpness (> 0). Default: 1.0.
    """

    name = "piecewise_exp"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = _positive("alpha", alpha, "piecewise_exp")

    def derivative(self, x: Tensor) -> Tensor:
        a = self.alpha
        return (a / 2) * torch.exp(-a * x.abs())

    def params(self) -> dict[str, float]:
        return {"alpha": self.alpha}


BUILTIN_SURROGATES: tuple[type[Surrogate], ...] = (
    ATan, FastSigmoid, Sigmoid, SpikeRateEscape, StraightThrough, Triangular, Heaviside,
    StochasticSpikeOperator, LeakySpikeOperator, SparseFastSigmoid, Custom, Gaussian,
    Erf, PiecewiseQuadratic, PiecewiseExp,
)

#: built-in surrogate name -> class (what core neurons use for a bare built-in name)
BUILTIN_BY_NAME: dict[str, type[Surrogate]] = {cls.name: cls for cls in BUILTIN_SURROGATES}
