"""snnTorch's state-dict keys, read by the compat layers' ``load_state_dict``.

Where a compat layer keeps its parameters under other names or shapes than snnTorch's, the
layer translates a snnTorch state dict as it loads it (the way PyTorch's own layers read the
keys of their older versions): ``model.load_state_dict(snntorch_model.state_dict())`` then
works with ``strict=True``. Saving writes the compat layer's own keys, which it also loads.
A snnTorch key whose value the compat layer cannot represent raises a ``ValueError`` naming
the key, the value and the remedy; nothing is dropped silently.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["SnntorchKeys"]


class SnntorchKeys:
    """Mixin of a compat layer: :meth:`_snntorch_keys` rewrites snnTorch's keys in the state
    dict being loaded, before the layer's own ``_load_from_state_dict`` reads (and checks)
    it."""

    def _snntorch_keys(self, sd: dict[str, Any], prefix: str) -> None:
        """Rewrite, in ``sd``, this layer's snnTorch keys (under ``prefix``) as its own."""

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any,
                              **kwargs: Any) -> None:
        self._snntorch_keys(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)  # type: ignore[misc]


def _owner(layer: Any) -> str:
    return type(layer).__name__


def own_shapes(layer: Any, sd: dict[str, Any], prefix: str, names: tuple[str, ...]) -> None:
    """A one-element snnTorch tensor (often shaped ``(1,)``) loads into a 0-d one here."""
    for name in names:
        key, own = prefix + name, getattr(layer, name, None)
        value = sd.get(key)
        if isinstance(value, Tensor) and isinstance(own, Tensor) and own.dim() == 0 \
                and value.dim() > 0 and value.numel() == 1:
            sd[key] = value.reshape(())


def drop_unused(layer: Any, sd: dict[str, Any], prefix: str, names: tuple[str, ...]) -> None:
    """Drop snnTorch buffers that neither the layer nor snnTorch's own forward uses (e.g.
    ``reset_mechanism_val`` of layers that never reset)."""
    own = {n for n, _ in layer.named_buffers(recurse=False)}
    own.update(n for n, _ in layer.named_parameters(recurse=False))
    for name in names:
        if name not in own:
            sd.pop(prefix + name, None)


def same_step(layer: Any, sd: dict[str, Any], prefix: str) -> None:
    """snnTorch's ``time_step`` buffer against the layer's ``time_step`` (a plain float here)."""
    value = sd.pop(prefix + "time_step", None)
    if value is None:
        return
    got = float(torch.as_tensor(value).reshape(-1)[0])
    if abs(got - layer.time_step) > 1e-6 * max(abs(got), abs(layer.time_step)):
        raise ValueError(
            f"{_owner(layer)}: load_state_dict: the checkpoint's {prefix}time_step={got:g} "
            f"differs from this layer's time_step={layer.time_step:g}; build the layer with "
            f"time_step={got:g} to load it")


def one_to_one_weight(layer: Any, sd: dict[str, Any], prefix: str) -> None:
    """snnTorch's element-wise recurrence keeps ``V`` twice (``V`` and ``recurrent.V``, the same
    tensor); here it is ``V`` only."""
    if layer.recurrent is not None:
        return
    value = sd.pop(prefix + "recurrent.V", None)
    if value is None:
        return
    key = prefix + "V"
    if key not in sd:
        sd[key] = value
    elif not torch.equal(torch.as_tensor(sd[key]), torch.as_tensor(value)):
        raise ValueError(
            f"{_owner(layer)}: load_state_dict: {key} and {prefix}recurrent.V differ in the "
            f"checkpoint (snnTorch stores one tensor under both keys); it is not a state dict "
            f"of snnTorch's element-wise {_owner(layer)}")


def beta_from_tau(layer: Any, sd: dict[str, Any], prefix: str) -> None:
    """snnTorch's ``StateLeaky``/``LinearLeaky`` learn ``tau`` (their ``beta`` property is
    ``(tau - 1) / tau``; the ``beta`` buffer keeps the initial value). Here ``beta`` is the
    parameter: it takes snnTorch's ``beta`` property. An untrained ``tau`` (the one snnTorch
    derives from the ``beta`` buffer) keeps the buffer's exact value."""
    tau = sd.pop(prefix + "tau", None)
    if tau is None:
        return
    tau = torch.as_tensor(tau)
    key = prefix + "beta"
    beta = sd.get(key)
    if beta is not None:
        beta = torch.as_tensor(beta)
        derived = 1 / (1 - beta + 1e-12)
        if derived.shape == tau.shape and torch.allclose(derived, tau, rtol=1e-6, atol=0.0):
            return
    sd[key] = (tau - 1) / tau


def time_parallel_leaky(layer: Any, sd: dict[str, Any], prefix: str) -> None:
    """snnTorch's ``StateLeaky``/``LinearLeaky``: the reset buffer that neither uses is
    dropped, ``beta`` comes from ``tau`` (:func:`beta_from_tau`) and is 0-d when one value."""
    drop_unused(layer, sd, prefix, ("reset_mechanism_val",))
    beta_from_tau(layer, sd, prefix)
    own_shapes(layer, sd, prefix, ("beta",))


def per_step_norms(layer: Any, sd: dict[str, Any], prefix: str) -> None:
    """snnTorch's ``BatchNormTT1d``/``2d`` are ``nn.ModuleList``s (keys ``0.weight``, ...);
    here the per-step norms are the ``norms`` attribute (``norms.0.weight``, ...)."""
    for t in range(len(layer)):
        head = f"{prefix}{t}."
        for key in [k for k in sd if k.startswith(head)]:
            new = f"{prefix}norms.{t}.{key[len(head):]}"
            if new not in sd:
                sd[new] = sd.pop(key)


def column_weights(layer: Any, sd: dict[str, Any], prefix: str) -> None:
    """snnTorch's ``GradedSpikes`` weight is a ``(size, 1)`` column; here ``(size,)``."""
    key = prefix + "weights"
    value = sd.get(key)
    own = getattr(layer, "weights", None)
    if isinstance(value, Tensor) and isinstance(own, Tensor) and value.dim() == 2 \
            and value.shape[1] == 1 and tuple(value.shape[:1]) == tuple(own.shape):
        sd[key] = value.reshape(own.shape)


def rnn_weights(layer: Any, sd: dict[str, Any], prefix: str) -> None:
    """snnTorch's ``LeakyParallel`` is a one-layer ReLU ``nn.RNN``:
    ``U_t = ReLU(W_ih X_t + b_ih + W_hh U_{t-1} + b_hh)`` with ``W_hh`` diagonal (its decay)
    unless ``weight_hh_enable``; here ``linear`` (``W_ih``, ``b_ih + b_hh``) and ``beta`` (the
    diagonal) or ``recurrent`` (a dense ``W_hh``, ``beta`` then its initial value). The
    ``beta`` buffer snnTorch keeps is unused after construction (it says so): the decays are
    the diagonal of ``W_hh``."""
    rnn = prefix + "rnn."
    if not any(k.startswith(rnn) for k in sd):
        return
    owner = _owner(layer)
    initial_beta = sd.pop(prefix + "beta", None)
    for name, new in (("weight_ih_l0", "linear.weight"),):
        if rnn + name in sd:
            sd[prefix + new] = sd.pop(rnn + name)
    b_ih, b_hh = sd.pop(rnn + "bias_ih_l0", None), sd.pop(rnn + "bias_hh_l0", None)
    if b_ih is not None or b_hh is not None:
        if layer.linear.bias is None:
            raise ValueError(f"{owner}: load_state_dict: the checkpoint has the biases "
                             f"{rnn}bias_ih_l0/bias_hh_l0 but this layer was built with "
                             f"bias=False; build it with bias=True")
        zero = torch.zeros(())
        sd[prefix + "linear.bias"] = (b_ih if b_ih is not None else zero) + \
            (b_hh if b_hh is not None else zero)
    w_hh = sd.pop(rnn + "weight_hh_l0", None)
    if w_hh is None:
        return
    if layer.weight_hh is not None:  # the dense matrix decays; beta is its initial value
        sd[prefix + "recurrent.weight"] = w_hh
        if initial_beta is not None:
            sd[prefix + "beta"] = initial_beta
            own_shapes(layer, sd, prefix, ("beta",))
        return
    diag = torch.diagonal(w_hh)
    if not torch.equal(w_hh, torch.diag_embed(diag)):
        raise ValueError(f"{owner}: load_state_dict: {rnn}weight_hh_l0 is not diagonal (a "
                         f"snnTorch layer built with weight_hh_enable=True); build this layer "
                         f"with weight_hh_enable=True to load it")
    if layer.beta.dim() == 0:
        if not bool((diag == diag[0]).all()):
            raise ValueError(
                f"{owner}: load_state_dict: the checkpoint's decays ({rnn}weight_hh_l0's "
                f"diagonal) differ per neuron (min {float(diag.min()):g}, max "
                f"{float(diag.max()):g}) but this layer has one beta; build it with a "
                f"per-neuron beta, e.g. beta=torch.full(({diag.numel()},), 0.9)")
        diag = diag[0]
    sd[prefix + "beta"] = diag
