"""Layers used next to spiking neurons: BatchNorm through time and learnable graded spikes."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from snncore.extend import check_bool, check_int, check_number

__all__ = ["BatchNormTT", "GradedSpikes"]

_BN = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}


class BatchNormTT(nn.Module):
    r"""Batch normalisation through time: one batch norm per time step (registry name
    ``"batchnorm_tt"``; Kim & Panda 2021, BNTT).

    .. math::
        Y_t = \gamma_t \frac{X_t - \mu_t}{\sqrt{\sigma_t^2 + \epsilon}} \;(+\, \beta_t)

    where :math:`\mu_t, \sigma_t^2` are the batch statistics of step :math:`t` (running
    estimates in eval mode) and :math:`\gamma_t` is learned separately for every step. As in the
    paper the shift :math:`\beta_t` is off by default (``bias=False``).

    Args:
        num_features: features (``dims=1``) or channels (``dims=2, 3``).
        time_steps: number of steps T; step ``t`` uses norm ``t``.
        dims: 1 for ``(B, C)``/``(B, C, L)``, 2 for ``(B, C, H, W)``, 3 for ``(B, C, D, H, W)``.
            Default: 1.
        eps: :math:`\epsilon` (> 0). Default: 1e-5.
        momentum: running-statistics momentum. Default: 0.1.
        affine: learn :math:`\gamma_t`. Default: True.
        bias: also learn the shift :math:`\beta_t` (needs ``affine``). Default: False.

    Shape:
        - ``forward(x_seq)``: ``(T', B, C, ...)`` with ``T' <= time_steps`` -> same shape.
        - ``forward(x, t)``: one step ``(B, C, ...)`` normalised by norm ``t``.

    Example::

        >>> bn = snn.create("batchnorm_tt", num_features=100, time_steps=25)
        >>> y = bn(torch.rand(25, 8, 100))          # whole sequence
        >>> y0 = bn(torch.rand(8, 100), 0)          # or one step
    """

    def __init__(
        self,
        num_features: int,
        time_steps: int,
        dims: int = 1,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        bias: bool = False,
    ) -> None:
        super().__init__()
        owner = "BatchNormTT"
        self.num_features = check_int(num_features, "num_features", owner, low=1)
        self.time_steps = check_int(time_steps, "time_steps", owner, low=1)
        if dims not in _BN:
            raise ValueError(f"{owner}: dims must be 1, 2 or 3, got {dims!r}")
        self.dims = dims
        check_number(eps, "eps", owner, positive=True)
        check_number(momentum, "momentum", owner)
        check_bool(affine, "affine", owner)
        if check_bool(bias, "bias", owner) and not affine:
            raise ValueError(f"{owner}: bias=True needs affine=True")
        self.norms = nn.ModuleList(
            _BN[dims](num_features, eps=eps, momentum=momentum, affine=affine)
            for _ in range(time_steps)
        )
        if affine and not bias:
            for bn in self.norms:
                bn.register_parameter("bias", None)

    def __len__(self) -> int:
        return self.time_steps

    def __getitem__(self, t: int) -> nn.Module:
        return self.norms[t]

    def _check_step(self, x: Tensor, what: str) -> None:
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise TypeError(f"BatchNormTT: {what} must be a floating-point tensor")
        want = self.dims + 1
        if x.dim() not in (want, want + 1) or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNormTT: one step must be (B, {self.num_features}, ...) with "
                f"{self.dims} spatial dim(s) for dims={self.dims}, got {what} shape "
                f"{tuple(x.shape)}"
            )

    def forward(self, x: Tensor, t: int | None = None) -> Tensor:
        if t is not None:
            if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < self.time_steps:
                raise ValueError(f"BatchNormTT: t must be an int in [0, {self.time_steps}), "
                                 f"got {t!r}")
            self._check_step(x, "x")
            return self.norms[t](x)
        if not isinstance(x, Tensor) or x.dim() < 2:
            raise ValueError("BatchNormTT: a sequence must be time-first (T, B, C, ...)")
        if x.shape[0] > self.time_steps:
            raise ValueError(f"BatchNormTT: the sequence has {x.shape[0]} steps but this layer "
                             f"has norms for {self.time_steps}")
        self._check_step(x[0], "x_seq[0]")
        return torch.stack([self.norms[i](xt) for i, xt in enumerate(x.unbind(0))])

    def extra_repr(self) -> str:
        return f"{self.num_features}, time_steps={self.time_steps}, dims={self.dims}"


class GradedSpikes(nn.Module):
    r"""Learnable spike magnitude per feature (registry name ``"graded_spikes"``).

    .. math::
        Y = X \odot w

    with one learnable weight per feature along ``dim`` (the feature or channel dimension),
    initialised to ``constant_factor`` or, if it is None, uniformly in [0.5, 1.5).

    Args:
        size: number of features along ``dim``.
        constant_factor: initial value of every weight; None draws U(0.5, 1.5). Default: None.
        dim: the feature dimension of the input (negative counts from the end; -1 for
            ``(B, F)`` and ``(T, B, F)``, -3 for ``(B, C, H, W)``). Default: -1.

    Shape:
        - Input: any shape with ``size`` entries along ``dim``. Output: the same shape.

    Example::

        >>> g = snn.create("graded_spikes", size=100, constant_factor=1.0)
        >>> y = g(spikes)                      # spikes: (B, 100) or (T, B, 100)
    """

    def __init__(self, size: int, constant_factor: float | None = None, dim: int = -1) -> None:
        super().__init__()
        self.size = check_int(size, "size", "GradedSpikes", low=1)
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"GradedSpikes: dim must be an int, got {dim!r}")
        self.dim = dim
        if constant_factor is None:
            init = torch.rand(size) + 0.5
        else:
            factor = check_number(constant_factor, "constant_factor", "GradedSpikes")
            init = torch.full((size,), factor)
        self.weights = nn.Parameter(init)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"GradedSpikes: input must be a tensor, got {type(x).__name__}")
        if not -x.dim() <= self.dim < x.dim() or x.shape[self.dim] != self.size:
            raise ValueError(
                f"GradedSpikes: the input needs {self.size} entries along dim {self.dim}, got "
                f"shape {tuple(x.shape)}"
            )
        dim = self.dim % x.dim()
        shape = [1] * x.dim()
        shape[dim] = self.size
        return x * self.weights.to(x.dtype).reshape(shape)

    def extra_repr(self) -> str:
        return f"size={self.size}, dim={self.dim}"
