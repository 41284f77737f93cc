"""Recurrent spiking neurons: RLeaky and RSynaptic (linear, conv2d or element-wise feedback)."""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor, nn

from snncore import Neuron
from snncore.extend import check_bool, check_int

from ._common import call_in_dtype, kernel_pair

__all__ = ["RLeaky", "RLeakyState", "RSynaptic", "RSynapticState"]


class _Recurrence:
    """Builds and applies the feedback ``V(S_{t-1})`` of a recurrent neuron (mixin)."""

    V: Tensor
    recurrent: nn.Module | None

    def _init_recurrence(
        self: Any,
        V: float | Tensor,
        all_to_all: bool,
        linear_features: int | None,
        conv2d_channels: int | None,
        kernel_size: int | tuple[int, int] | None,
        learn_recurrent: bool,
        elementwise_kind: str,
        feedback_kind: str,
    ) -> None:
        owner = type(self).__name__
        check_bool(all_to_all, "all_to_all", owner)
        check_bool(learn_recurrent, "learn_recurrent", owner)
        self.all_to_all = all_to_all
        self.linear_features = linear_features
        self.conv2d_channels = conv2d_channels
        self.kernel_size = kernel_size
        self.recurrent = None
        if all_to_all:
            if linear_features is not None:
                if conv2d_channels is not None or kernel_size is not None:
                    raise ValueError(
                        f"{owner}: give either linear_features or (conv2d_channels and "
                        "kernel_size), not both"
                    )
                n = check_int(linear_features, "linear_features", owner, low=1)
                self.recurrent = nn.Linear(n, n)
            elif conv2d_channels is not None and kernel_size is not None:
                ch = check_int(conv2d_channels, "conv2d_channels", owner, low=1)
                k = kernel_pair(owner, kernel_size)
                self.recurrent = nn.Conv2d(ch, ch, k, padding=(k[0] // 2, k[1] // 2))
            else:
                raise ValueError(
                    f"{owner}: all_to_all=True needs linear_features, or both conv2d_channels "
                    "and kernel_size (matching the shape of this layer's spikes); use "
                    "all_to_all=False for element-wise feedback V"
                )
            if not learn_recurrent:
                for p in self.recurrent.parameters():
                    p.requires_grad_(False)
            self.fused_kind: str = feedback_kind
        else:
            if linear_features is not None or conv2d_channels is not None \
                    or kernel_size is not None:
                raise ValueError(
                    f"{owner}: with all_to_all=False the element-wise weight V is used; do not "
                    "give linear_features, conv2d_channels or kernel_size"
                )
            self.add_param("V", V, learn_recurrent)
            self.fused_kind = elementwise_kind

    @property
    def fused_feedback(self) -> nn.Module | None:
        """The all-to-all feedback layer the fused backend runs between steps (None with
        element-wise feedback)."""
        return self.recurrent

    def prepare(self: Any, x: Tensor, state: Any) -> Any:
        """The base checks, plus the input's fit to the recurrent layer."""
        self.check_input(x)
        self._check_recurrent_input(x)
        return super().prepare(x, state)  # type: ignore[misc]

    def _check_recurrent_input(self: Any, x: Tensor) -> None:
        owner = type(self).__name__
        if isinstance(self.recurrent, nn.Linear):
            if x.dim() < 1 or x.shape[-1] != self.linear_features:
                raise ValueError(
                    f"{owner}: the input's last dimension must equal linear_features="
                    f"{self.linear_features}, got input shape {tuple(x.shape)}"
                )
        elif isinstance(self.recurrent, nn.Conv2d):
            if x.dim() not in (3, 4) or x.shape[-3] != self.conv2d_channels:
                raise ValueError(
                    f"{owner}: conv2d recurrence needs input [B, C, H, W] (or [C, H, W]) with "
                    f"C = conv2d_channels={self.conv2d_channels}, got {tuple(x.shape)}"
                )

    def _feedback(self: Any, spk: Tensor, x: Tensor) -> Tensor:
        if self.recurrent is not None:
            return call_in_dtype(self.recurrent, spk.dtype, spk)
        return self.param("V", x) * spk


class RLeakyState(NamedTuple):
    """State of :class:`RLeaky`: last emitted spikes ``spk`` and membrane ``mem``."""

    spk: Tensor
    mem: Tensor


class RLeaky(_Recurrence, Neuron):
    r"""Leaky integrate-and-fire neuron with recurrent feedback of its own spikes (registry name
    ``"rleaky"``).

    .. math::
        U_t = \beta U_{t-1} + X_t + V(S_{t-1}) - R_t\theta, \qquad S_t = H(U_t-\theta)\cdot g

    where :math:`S_{t-1}` is the spike emitted in the previous step (``g`` included) and
    :math:`V` is an all-to-all ``nn.Linear(F, F)``, an all-to-all
    ``nn.Conv2d(C, C, k, padding=k//2)`` or the element-wise product :math:`V\cdot S`.
    Reset rules as in :class:`~snncore.Leaky` (``"zero"`` zeroes the carried membrane only).

    Args:
        beta: membrane decay :math:`\beta` in [0, 1], float or per-neuron tensor.
        V: element-wise recurrent weight (``all_to_all=False``), float or per-neuron tensor.
            Default: 1.0.
        all_to_all: all-to-all feedback through ``nn.Linear`` or ``nn.Conv2d`` (True) or
            element-wise ``V·S`` (False). Default: True.
        linear_features: features F of an all-to-all ``nn.Linear(F, F)`` feedback. Default: None.
        conv2d_channels: channels C of an all-to-all ``nn.Conv2d(C, C, k, padding=k//2)``
            feedback. Default: None.
        kernel_size: odd kernel size k of the conv feedback (even k is an error). Default: None.
        learn_recurrent: learnable feedback weights. Default: True.
        learn_beta: learnable :math:`\beta` (clamped to [0, 1]). Default: False.
        **options: the shared neuron options (keyword-only), see :class:`~snncore.Neuron`.

    Shape:
        - Input: ``(B, F)`` (linear), ``(B, C, H, W)`` (conv) or any shape (element-wise).
        - Output: spikes of the input's shape and dtype.

    State:
        :class:`RLeakyState` ``(spk, mem)``, each shaped like the input.

    Attributes:
        fused_kind: ``"rleaky_elementwise"`` with element-wise feedback, else
            ``"rleaky_feedback"``: both run on the ``fused`` backend (all-to-all as one fused
            operation over T with the feedback layer applied between steps and its weight
            gradient as one GEMM over all steps; see docs/backends.md).
        fused_feedback: the all-to-all feedback layer (``recurrent``), else None.

    Example::

        >>> n = snn.create("rleaky", beta=0.9, linear_features=100)
        >>> spk, state = n.run(torch.rand(25, 8, 100))
    """

    State = RLeakyState
    #: the kernel kind of this class's step, set per instance in ``__init__`` (element-wise or
    #: all-to-all feedback)
    fused_kind: str | None = None

    def __init__(self, beta: float | Tensor, V: float | Tensor = 1.0, all_to_all: bool = True,
                 linear_features: int | None = None, conv2d_channels: int | None = None,
                 kernel_size: int | tuple[int, int] | None = None, *, learn_beta: bool = False,
                 learn_recurrent: bool = True, **options: Any) -> None:
        Neuron.__init__(self, **options)
        self.add_param("beta", beta, learn_beta, low=0.0, high=1.0)
        self._init_recurrence(V, all_to_all, linear_features, conv2d_channels, kernel_size,
                              learn_recurrent, "rleaky_elementwise", "rleaky_feedback")

    def step(self, x: Tensor, state: RLeakyState) -> tuple[Tensor, RLeakyState]:
        beta = self.param("beta", x, clamp01=True)
        thr = self.param("threshold", x)
        mem = self.integrate(beta, state.mem, x + self._feedback(state.spk, x), thr)
        spk, mem = self.fire_and_reset(mem, thr)
        return spk, RLeakyState(spk, mem)


class RSynapticState(NamedTuple):
    """State of :class:`RSynaptic`: last spikes ``spk``, current ``syn`` and membrane ``mem``."""

    spk: Tensor
    syn: Tensor
    mem: Tensor


class RSynaptic(_Recurrence, Neuron):
    r"""Current-based neuron with recurrent feedback into the synaptic current (registry name
    ``"rsynaptic"``).

    .. math::
        I_t = \alpha I_{t-1} + X_t + V(S_{t-1}), \qquad
        U_t = \beta U_{t-1} + I_t - R_t\theta, \qquad S_t = H(U_t-\theta)\cdot g

    with :math:`V` as in :class:`RLeaky`. Reset rules as in :class:`~snncore.Leaky`
    (``"zero"`` zeroes the carried membrane only); ``reset_delay=False`` fires and resets in the
    same step.

    Args:
        alpha: synaptic decay :math:`\alpha` in [0, 1], float or per-neuron tensor.
        beta: membrane decay :math:`\beta` in [0, 1], float or per-neuron tensor.
        V, all_to_all, linear_features, conv2d_channels, kernel_size, learn_recurrent: the
            recurrent feedback, as in :class:`RLeaky`.
        learn_alpha: learnable :math:`\alpha` (clamped to [0, 1]). Default: False.
        learn_beta: learnable :math:`\beta` (clamped to [0, 1]). Default: False.
        **options: the shared neuron options (keyword-only), see :class:`~snncore.Neuron`.

    Shape:
        - Input: ``(B, F)`` (linear), ``(B, C, H, W)`` (conv) or any shape (element-wise).
        - Output: spikes of the input's shape and dtype.

    State:
        :class:`RSynapticState` ``(spk, syn, mem)``, each shaped like the input.

    Attributes:
        fused_kind: ``"rsynaptic_elementwise"`` with element-wise feedback, else
            ``"rsynaptic_feedback"`` (all-to-all); both run on the ``fused`` backend, as in
            :class:`RLeaky`.
        fused_feedback: the all-to-all feedback layer (``recurrent``), else None.

    Example::

        >>> n = snn.create("rsynaptic", alpha=0.8, beta=0.9, all_to_all=False, V=0.5)
        >>> spk, state = n.run(torch.rand(25, 8, 100))
    """

    State = RSynapticState
    #: the kernel kind of this class's step, set per instance in ``__init__`` (element-wise or
    #: all-to-all feedback)
    fused_kind: str | None = None

    def __init__(self, alpha: float | Tensor, beta: float | Tensor, V: float | Tensor = 1.0,
                 all_to_all: bool = True, linear_features: int | None = None,
                 conv2d_channels: int | None = None, kernel_size: int | tuple[int,
                 int] | None = None, *, learn_alpha: bool = False, learn_beta: bool = False,
                 learn_recurrent: bool = True, **options: Any) -> None:
        Neuron.__init__(self, **options)
        self.add_param("alpha", alpha, learn_alpha, low=0.0, high=1.0)
        self.add_param("beta", beta, learn_beta, low=0.0, high=1.0)
        self._init_recurrence(V, all_to_all, linear_features, conv2d_channels, kernel_size,
                              learn_recurrent, "rsynaptic_elementwise",
                              "rsynaptic_feedback")

    def step(self, x: Tensor, state: RSynapticState) -> tuple[Tensor, RSynapticState]:
        alpha = self.param("alpha", x, clamp01=True)
        beta = self.param("beta", x, clamp01=True)
        thr = self.param("threshold", x)
        syn = alpha * state.syn + x + self._feedback(state.spk, x)
        mem = self.integrate(beta, state.mem, syn, thr)
        spk, mem = self.fire_and_reset(mem, thr)
        # state_quant after the update, as in Synaptic
        return spk, RSynapticState(spk, self.quantize(syn), mem)
