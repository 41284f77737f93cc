"""snn_nir's own mappings (registered through the same hook a third-party plugin uses)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import nir
import numpy as np
import torch
from torch import Tensor, nn

import snn_neurons_extra as extra
import snncore

from ._errors import NIRFormatError, NIRImportWarning, NIRMappingError
from ._nodes import Delay, NeuronNode, NIRNeuron, Scale, SumPool2d, Threshold
from ._registry import FORMAT, METADATA_KEY, ExportContext, ImportContext, MappingRegistry, mappings

__all__ = ["snn_nir_register_mappings"]

_TOL = 1e-12  # |gain - 1| below this counts as exactly 1 (float64 round-off of τ/dt·dt/τ)


@snncore.hookimpl
def snn_nir_register_mappings(registry: MappingRegistry) -> None:
    """Register the built-in export and import mappings."""
    for cls, fn in _EXPORTS.items():
        registry.register_export(cls, fn)
    for name, fn in _IMPORTS.items():
        registry.register_import(name, fn)


# =============================================================================================
# shared helpers
# =============================================================================================
def _np(t: Tensor) -> np.ndarray:
    t = t.detach().to("cpu")
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.to(torch.float32)
    return t.numpy().copy()


def _f64(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _decay(tau: np.ndarray, dt: float, disc: str, what: str, name: str) -> tuple[np.ndarray,
                                                                                  np.ndarray]:
    """``(a, b)``: the decay and the input weight of ``τ·dx/dt = −x + u`` over one step."""
    tau = _f64(tau)
    if not np.all(np.isfinite(tau)) or np.any(tau <= 0):
        raise NIRFormatError(f"node {name!r}: {what} must be finite and > 0, got "
                             f"{_show(tau)}")
    if disc == "euler":
        b = dt / tau
        return 1.0 - b, b
    a = np.exp(-dt / tau)
    return a, 1.0 - a


def _to_tau(decay: np.ndarray, dt: float, disc: str, what: str, owner: str) -> np.ndarray:
    """The time constant whose discretisation gives ``decay``."""
    decay = _f64(decay)
    if np.any(decay >= 1):
        raise NIRMappingError(f"{owner}: {what} = 1 (no decay) has no finite NIR time constant; "
                              "use IF (membrane) or a decay below 1")
    if disc == "euler":
        return dt / (1.0 - decay)
    if np.any(decay <= 0):
        raise NIRMappingError(f"{owner}: {what} = 0 has no time constant under the 'exact' "
                              "discretisation (τ = 0); export with discretization='euler'")
    return -dt / np.log(decay)


def _show(a: np.ndarray) -> str:
    a = np.asarray(a)
    if a.size <= 6:
        return str(a.tolist())
    return f"an array of shape {list(a.shape)} with min {a.min():g} and max {a.max():g}"


def _param(a: np.ndarray) -> float | Tensor:
    """A Python float when every entry is equal, else a float64 tensor."""
    a = _f64(a)
    if a.size > 0 and np.all(a == a.flat[0]):
        return float(a.flat[0])
    return torch.from_numpy(a.copy())


def _buf(a: np.ndarray | None, skip_if: float | None = None) -> Tensor | None:
    if a is None:
        return None
    a = _f64(a)
    if skip_if is not None and np.all(np.abs(a - skip_if) <= _TOL):
        return None
    return torch.from_numpy(a.copy())


def _in01(a: np.ndarray) -> bool:
    return bool(np.all((a >= 0) & (a <= 1)))


# =============================================================================================
# import: plain NIR semantics
# =============================================================================================
def _node_arrays(node: Any, *names: str) -> list[np.ndarray]:
    out = []
    for n in names:
        v = getattr(node, n, None)
        if v is None:
            raise NIRFormatError(f"{type(node).__name__} node lacks its {n!r} parameter")
        out.append(_f64(v))
    shapes = {a.shape for a in out}
    if len(shapes) > 1:
        raise NIRFormatError(f"{type(node).__name__} node: parameters {list(names)} have "
                             f"different shapes {[list(a.shape) for a in out]}")
    return out


def _init_v(v_leak: np.ndarray, ctx: ImportContext) -> np.ndarray | None:
    if ctx.initial_v == "v_leak" and np.any(v_leak != 0):
        return v_leak
    return None


def _import_lif(node: Any, ctx: ImportContext) -> nn.Module:
    restored = _restore(node, ctx)
    if restored is not None:
        return restored
    tau, r, v_leak, thr, v_reset = _node_arrays(node, "tau", "r", "v_leak", "v_threshold",
                                                "v_reset")
    a, b = _decay(tau, ctx.dt, ctx.discretization, "tau", ctx.name)
    return _membrane(a, b * r, b * v_leak, thr, v_reset, _init_v(v_leak, ctx), ctx)


def _membrane(a: np.ndarray, gain: np.ndarray, bias: np.ndarray, thr: np.ndarray,
              v_reset: np.ndarray, init_v: np.ndarray | None, ctx: ImportContext) -> nn.Module:
    """A first-order neuron: Leaky (fused) where it can express it, else NIRNeuron."""
    if _in01(a) and np.all(v_reset == 0) and np.all(thr > 0):
        neuron = snncore.Leaky(beta=_param(a), threshold=_param(thr), reset="zero",
                               reset_delay=False, surrogate=ctx.surrogate)
        return NeuronNode(neuron, gain=_buf(gain, 1.0), bias=_buf(bias, 0.0),
                          init_mem=_buf(init_v))
    return NIRNeuron(a_v=_buf(a), b_v=_buf(gain), c_v=_buf(bias), v_threshold=_buf(thr),
                     v_reset=_buf(v_reset), init_v=_buf(init_v), surrogate=ctx.surrogate)


def _import_if(node: Any, ctx: ImportContext) -> nn.Module:
    restored = _restore(node, ctx)
    if restored is not None:
        return restored
    r, thr, v_reset = _node_arrays(node, "r", "v_threshold", "v_reset")
    return _membrane(np.ones_like(r), r, np.zeros_like(r), thr, v_reset, None, ctx)


def _import_li(node: Any, ctx: ImportContext) -> nn.Module:
    restored = _restore(node, ctx)
    if restored is not None:
        return restored
    tau, r, v_leak = _node_arrays(node, "tau", "r", "v_leak")
    a, b = _decay(tau, ctx.dt, ctx.discretization, "tau", ctx.name)
    init_v = _init_v(v_leak, ctx)
    if _in01(a):
        return NeuronNode(extra.LI(beta=_param(a)), gain=_buf(b * r, 1.0),
                          bias=_buf(b * v_leak, 0.0), init_mem=_buf(init_v))
    return NIRNeuron(a_v=_buf(a), b_v=_buf(b * r), c_v=_buf(b * v_leak), init_v=_buf(init_v))


def _import_i(node: Any, ctx: ImportContext) -> nn.Module:
    (r,) = _node_arrays(node, "r")
    return NIRNeuron(a_v=_buf(np.ones_like(r)), b_v=_buf(r), c_v=_buf(np.zeros_like(r)))


def _import_cuba(node: Any, ctx: ImportContext, spiking: bool) -> nn.Module:
    restored = _restore(node, ctx) if spiking else None
    if restored is not None:
        return restored
    names = ["tau_syn", "tau_mem", "r", "v_leak", "w_in"]
    if spiking:
        names += ["v_threshold", "v_reset"]
    arrs = _node_arrays(node, *names)
    tau_syn, tau_mem, r, v_leak, w_in = arrs[:5]
    a_i, b_i = _decay(tau_syn, ctx.dt, ctx.discretization, "tau_syn", ctx.name)
    a_v, b_v = _decay(tau_mem, ctx.dt, ctx.discretization, "tau_mem", ctx.name)
    k = b_v * r  # the membrane's input weight
    init_v = _init_v(v_leak, ctx)
    if spiking:
        thr, v_reset = arrs[5], arrs[6]
        if (_in01(a_i) and _in01(a_v) and np.all(v_leak == 0) and np.all(v_reset == 0)
                and np.all(thr > 0) and np.all(k != 0)):
            neuron = extra.Synaptic(alpha=_param(a_i), beta=_param(a_v), threshold=_param(thr),
                                    reset="zero", reset_delay=False, surrogate=ctx.surrogate)
            return NeuronNode(neuron, gain=_buf(k * b_i * w_in, 1.0),
                              syn_scale=_buf(k, 1.0))
        return NIRNeuron(a_v=_buf(a_v), b_v=_buf(k), c_v=_buf(b_v * v_leak), a_i=_buf(a_i),
                         b_i=_buf(b_i * w_in), v_threshold=_buf(thr), v_reset=_buf(v_reset),
                         init_v=_buf(init_v), surrogate=ctx.surrogate)
    return NIRNeuron(a_v=_buf(a_v), b_v=_buf(k), c_v=_buf(b_v * v_leak), a_i=_buf(a_i),
                     b_i=_buf(b_i * w_in), init_v=_buf(init_v))


def _weight(node: Any, ctx: ImportContext, name: str = "weight") -> Tensor:
    w = getattr(node, name, None)
    if w is None:
        raise NIRFormatError(f"{type(node).__name__} node lacks its {name!r}")
    return torch.as_tensor(np.asarray(w), dtype=ctx.dtype)


def _import_affine(node: Any, ctx: ImportContext) -> nn.Module:
    w = _weight(node, ctx)
    has_bias = isinstance(node, nir.Affine)
    if w.dim() != 2:
        raise NIRFormatError(f"{type(node).__name__} node: weight must be 2-D [out, in], got "
                             f"shape {list(w.shape)}")
    lin = nn.Linear(w.shape[1], w.shape[0], bias=has_bias, dtype=ctx.dtype)
    with torch.no_grad():
        lin.weight.copy_(w)
        if has_bias:
            b = _weight(node, ctx, "bias").reshape(-1)
            if b.shape[0] != w.shape[0]:
                raise NIRFormatError(f"Affine node: bias has {b.shape[0]} entries but the weight "
                                     f"has {w.shape[0]} outputs")
            lin.bias.copy_(b)
    return lin


def _ints(v: Any, n: int, what: str) -> tuple[int, ...]:
    if isinstance(v, str):
        return v  # type: ignore[return-value]
    arr = np.asarray(v).reshape(-1)
    if arr.size == 1:
        arr = np.repeat(arr, n)
    if arr.size != n:
        raise NIRFormatError(f"{what} must have {n} entries, got {arr.tolist()}")
    return tuple(int(i) for i in arr)


def _import_conv(node: Any, ctx: ImportContext) -> nn.Module:
    w = _weight(node, ctx)
    nd = 1 if isinstance(node, nir.Conv1d) else 2
    if w.dim() != nd + 2:
        raise NIRFormatError(f"{type(node).__name__} node: weight must be {nd + 2}-D, got shape "
                             f"{list(w.shape)}")
    groups = int(np.asarray(node.groups).reshape(-1)[0])
    padding = node.padding
    padding = _s(padding) if isinstance(padding, (str, bytes)) else _ints(padding, nd, "padding")
    cls = nn.Conv1d if nd == 1 else nn.Conv2d
    conv = cls(w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]),
               stride=_ints(node.stride, nd, "stride"), padding=padding,
               dilation=_ints(node.dilation, nd, "dilation"), groups=groups, bias=True,
               dtype=ctx.dtype)
    with torch.no_grad():
        conv.weight.copy_(w)
        bias = getattr(node, "bias", None)
        b = torch.zeros(w.shape[0], dtype=ctx.dtype) if bias is None else \
            torch.as_tensor(np.asarray(bias), dtype=ctx.dtype).reshape(-1)
        if b.numel() == 1 and w.shape[0] != 1:
            b = b.expand(w.shape[0])
        conv.bias.copy_(b)
    return conv


def _s(x: Any) -> str:
    return x.decode("utf8") if isinstance(x, bytes) else str(x)


def _import_pool(node: Any, ctx: ImportContext) -> nn.Module:
    k = _ints(node.kernel_size, 2, "kernel_size")
    s = _ints(node.stride, 2, "stride")
    p = _ints(node.padding, 2, "padding")
    if isinstance(node, nir.SumPool2d):
        return SumPool2d(k, s, p)
    return nn.AvgPool2d(k, s, p)


def _import_flatten(node: Any, ctx: ImportContext) -> nn.Module:
    start = int(np.asarray(node.start_dim).reshape(-1)[0])
    end = int(np.asarray(node.end_dim).reshape(-1)[0])
    # NIR counts dimensions without the batch; torch modules see the batch as dim 0
    return nn.Flatten(start + 1 if start >= 0 else start, end + 1 if end >= 0 else end)


def _import_scale(node: Any, ctx: ImportContext) -> nn.Module:
    return Scale(torch.as_tensor(_f64(node.scale)))


def _import_threshold(node: Any, ctx: ImportContext) -> nn.Module:
    return Threshold(torch.as_tensor(_f64(node.threshold)), ctx.surrogate)


def _import_delay(node: Any, ctx: ImportContext) -> nn.Module:
    d = _f64(node.delay) / ctx.dt
    steps = np.rint(d)
    if np.any(np.abs(d - steps) > 1e-6 * np.maximum(1.0, np.abs(d))) or np.any(steps < 0):
        raise NIRFormatError(f"Delay node {ctx.name!r}: delays {_show(_f64(node.delay))} are not "
                             f"whole, non-negative multiples of dt={ctx.dt:g}")
    return Delay(torch.as_tensor(steps.astype(np.int64)))


def _import_graph(node: Any, ctx: ImportContext) -> nn.Module | None:
    """A subgraph with snncore metadata (a recurrent neuron) as one module; else None: the
    subgraph is flattened into its parent."""
    return _restore(node, ctx)


_IMPORTS: dict[str, Any] = {
    "LIF": _import_lif,
    "IF": _import_if,
    "LI": _import_li,
    "I": _import_i,
    "CubaLIF": lambda n, c: _import_cuba(n, c, True),
    "CubaLI": lambda n, c: _import_cuba(n, c, False),
    "Affine": _import_affine,
    "Linear": _import_affine,
    "Conv1d": _import_conv,
    "Conv2d": _import_conv,
    "SumPool2d": _import_pool,
    "AvgPool2d": _import_pool,
    "Flatten": _import_flatten,
    "Scale": _import_scale,
    "Threshold": _import_threshold,
    "Delay": _import_delay,
    "NIRGraph": _import_graph,
}


# =============================================================================================
# snncore metadata: exact restoration
# =============================================================================================
_NEURON_CLASSES: dict[str, type] = {
    "leaky": snncore.Leaky,
    "synaptic": extra.Synaptic,
    "lapicque": extra.Lapicque,
    "if": extra.IF,
    "li": extra.LI,
    "rleaky": extra.RLeaky,
    "rsynaptic": extra.RSynaptic,
}


def _restore(node: Any, ctx: ImportContext) -> nn.Module | None:
    meta = getattr(node, "metadata", None)
    if not ctx.use_metadata or not isinstance(meta, dict) or METADATA_KEY not in meta:
        return None
    m = meta[METADATA_KEY]
    kind = _s(m.get("module", "")) if isinstance(m, dict) else ""
    # a plugin's own module kind (ExportContext.metadata), rebuilt by its restore function
    restore = mappings().restore_mapping(kind) if kind not in _NEURON_CLASSES else None
    why = _metadata_mismatch(m, ctx, restore is not None)
    if why is None:
        try:
            if restore is not None:
                module = restore(node, m, ctx)
                if not isinstance(module, nn.Module):
                    raise TypeError(f"the restore function for {kind!r} returned "
                                    f"{type(module).__name__}, not a torch module")
                return module
            module = _build_from_metadata(node, m, ctx)
            why = _plain_mismatch(node, module, m, ctx)
            if why is None:
                return module
        except Exception as exc:  # metadata from another version or edited by hand
            why = f"its snncore metadata could not be used ({type(exc).__name__}: {exc})"
    warnings.warn(f"snn_nir: node {ctx.name!r}: {why}; importing it with plain NIR semantics",
                  NIRImportWarning, stacklevel=6)
    return None


def _metadata_mismatch(m: Any, ctx: ImportContext, restorable: bool) -> str | None:
    """Why metadata ``m`` cannot restore its module on this import (None when it can);
    ``restorable``: a plugin registered a restore function for its module kind."""
    if not isinstance(m, dict) or (_s(m.get("module", "")) not in _NEURON_CLASSES
                                   and not restorable):
        kind = m.get("module") if isinstance(m, dict) else None
        return (f"unknown snncore metadata {m!r}" if kind is None else
                f"its snncore metadata names the module kind {_s(kind)!r}, which no installed "
                "package restores (register_restore)")
    if int(m.get("format", -1)) != FORMAT:
        return f"snncore metadata format {m.get('format')!r} is not {FORMAT}"
    dt, disc = float(m.get("dt", math.nan)), _s(m.get("discretization", ""))
    if not math.isclose(dt, ctx.dt, rel_tol=1e-12) or disc != ctx.discretization:
        return (f"it was exported for dt={dt:g} ({disc}) but is imported with dt={ctx.dt:g} "
                f"({ctx.discretization})")
    return None


def _tensor(v: Any) -> Tensor:
    arr = np.asarray(v)
    return torch.from_numpy(arr.copy()) if arr.ndim else torch.tensor(arr.item(),
                                                                      dtype=_dtype(arr))


def _dtype(arr: np.ndarray) -> torch.dtype:
    return torch.from_numpy(np.zeros(1, dtype=arr.dtype)).dtype


def _build_from_metadata(node: Any, m: dict[str, Any], ctx: ImportContext) -> nn.Module:
    kind = _s(m["module"])
    cls = _NEURON_CLASSES[kind]
    params = {k: _tensor(v) for k, v in m.get("params", {}).items()}
    opts = {k: _opt(v) for k, v in m.get("options", {}).items()}
    learn = {k: bool(v) for k, v in m.get("learn", {}).items()}
    kwargs: dict[str, Any] = {}
    if "surrogate" in opts:
        sp = {k: _opt(v) for k, v in m.get("surrogate_params", {}).items()}
        kwargs["surrogate"] = snncore.surrogate(opts.pop("surrogate"), **sp)
    kwargs.update(opts)
    for p, v in params.items():
        kwargs[p] = v
    for p, flag in learn.items():
        kwargs[f"learn_{p}"] = flag
    if kind == "lapicque":  # the arguments it was built from (see _lapicque_construction)
        given = set(_s(m.get("construct", "R,C")).split(","))
        for p in ("beta", "R", "C"):
            if p not in given:
                kwargs.pop(p, None)
    if kind in ("rleaky", "rsynaptic"):
        module = cls(**kwargs)
        rec = node.nodes.get("w_rec")
        if module.recurrent is not None:
            src = _import_affine(rec, ctx) if isinstance(rec, (nir.Affine, nir.Linear)) \
                else _import_conv(rec, ctx)
            module.recurrent.to(ctx.dtype)  # the weights in the import's dtype, like the others
            with torch.no_grad():
                for name, p in module.recurrent.named_parameters():
                    p.copy_(getattr(src, name).to(p.dtype))
        return module
    return cls(**kwargs)


def _opt(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf8")
    if isinstance(v, np.ndarray) and v.ndim == 0:
        v = v.item()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, np.ndarray) and v.dtype.kind in "iu":
        v = tuple(int(i) for i in v.reshape(-1))
    return v


def _plain_mismatch(node: Any, module: nn.Module, m: dict[str, Any],
                    ctx: ImportContext) -> str | None:
    """Whether the node's plain NIR parameters still say what the metadata says."""
    shape = tuple(int(i) for i in np.asarray(m.get("shape", ())).reshape(-1))
    fresh = _export_neuron(module, ExportContext(ctx.dt, ctx.discretization, shape, ctx.name,
                                                 lambda _r: None, np.float64))
    given, expected = _plain_arrays(node), _plain_arrays(fresh)
    for key in sorted(set(given) | set(expected)):
        a, b = given.get(key), expected.get(key)
        if a is None or b is None or a.shape != b.shape or not np.allclose(
                a, b, rtol=1e-5, atol=0):
            return (f"its plain NIR parameter {key!r} no longer matches its snncore metadata "
                    "(was the file edited?)")
    return None


def _plain_arrays(node: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """Every numeric parameter of ``node`` (of each node of a subgraph, as ``"name.attr"``):
    what a reader of the plain file uses, so all of it must agree with the metadata."""
    if isinstance(node, nir.NIRGraph):
        out: dict[str, np.ndarray] = {}
        for name, sub in node.nodes.items():
            out.update(_plain_arrays(sub, f"{prefix}{name}."))
        return out
    skip = {"metadata", "input_type", "output_type"}  # and shapes: type information
    return {f"{prefix}{k}": _f64(v) for k, v in vars(node).items()
            if k not in skip and "shape" not in k and isinstance(v, np.ndarray)
            and v.dtype.kind in "fiu"}


# =============================================================================================
# export
# =============================================================================================
def _bshape(t: Tensor, shape: tuple[int, ...], owner: str, what: str) -> np.ndarray:
    a = _f64(_np(t))
    try:
        return np.broadcast_to(a, shape).copy()
    except ValueError:
        raise NIRMappingError(f"{owner}: {what} of shape {list(a.shape)} does not broadcast to "
                              f"the layer shape {list(shape)}") from None


def _clamped(module: nn.Module, name: str) -> Tensor:
    t = getattr(module, name).detach()
    return t.clamp(0.0, 1.0) if module.is_learnable(name) else t


def _common_meta(module: Any, kind: str, ctx: ExportContext, params: list[str],
                 learnable: list[str]) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if kind != "li":
        opts.update(reset=module.reset_mechanism, reset_delay=bool(module.reset_delay),
                    detach_reset=bool(module.detach_reset), inhibition=bool(module.inhibition))
    opts["surrogate"] = module.surrogate.name or "atan"
    meta: dict[str, Any] = ctx.metadata(
        kind, shape=np.asarray(ctx.input_shape, dtype=np.int64), options=opts,
        surrogate_params={k: float(v) for k, v in module.surrogate.params().items()},
        params={p: _meta_array(getattr(module, p)) for p in params},
        learn={p: module.is_learnable(p) for p in learnable})[METADATA_KEY]
    if kind == "li":
        meta.pop("surrogate_params")
        opts.pop("surrogate")
    return meta


def _meta_array(t: Tensor) -> Any:
    """A tensor for metadata: an array, or a numpy scalar (HDF5 cannot compress 0-d arrays)."""
    a = _np(t)
    return a[()] if a.ndim == 0 else a


def _warn_semantics(module: Any, ctx: ExportContext, spiking: bool = True) -> None:
    if getattr(module, "state_quant", None) is not None:
        ctx.warn("state_quant cannot be stored and is dropped")
    if not spiking:
        return
    reset = module.reset_mechanism
    if reset == "subtract":
        ctx.warn("resets by subtracting the threshold; plain NIR resets to v_reset = 0")
    elif reset == "none":
        ctx.warn("has no reset; plain NIR resets to v_reset = 0 after each spike")
    if reset != "none" and module.reset_delay:
        ctx.warn("resets one step after the spike (reset_delay=True); plain NIR resets in the "
                 "step that fires")
    g = module.graded_spikes_factor.detach()
    if bool((g != 1).any()):
        ctx.warn("emits graded spikes (graded_spikes_factor != 1); plain NIR spikes are 1")
    if module.inhibition:
        ctx.warn("uses winner-take-all inhibition, which NIR cannot express")


def _lif_node(beta: np.ndarray, gain: np.ndarray, thr: np.ndarray, ctx: ExportContext,
              owner: str, meta: dict[str, Any] | None) -> nir.NIRNode:
    dtype = ctx.dtype
    md = {METADATA_KEY: meta} if meta is not None else {}
    if np.all(beta == 1):
        return nir.IF(r=gain.astype(dtype), v_threshold=thr.astype(dtype),
                      v_reset=np.zeros_like(thr, dtype=dtype), metadata=md)
    tau = _to_tau(beta, ctx.dt, ctx.discretization, "beta", owner)
    r = gain * (tau / ctx.dt if ctx.discretization == "euler" else 1.0 / (1.0 - beta))
    return nir.LIF(tau=tau.astype(dtype), r=r.astype(dtype),
                   v_leak=np.zeros_like(thr, dtype=dtype), v_threshold=thr.astype(dtype),
                   v_reset=np.zeros_like(thr, dtype=dtype), metadata=md)


def _cuba_node(alpha: np.ndarray, beta: np.ndarray, thr: np.ndarray, ctx: ExportContext,
               owner: str, meta: dict[str, Any] | None) -> nir.NIRNode:
    dtype = ctx.dtype
    tau_syn = _to_tau(alpha, ctx.dt, ctx.discretization, "alpha", owner)
    tau_mem = _to_tau(beta, ctx.dt, ctx.discretization, "beta", owner)
    if ctx.discretization == "euler":
        w_in, r = tau_syn / ctx.dt, tau_mem / ctx.dt
    else:
        w_in, r = 1.0 / (1.0 - alpha), 1.0 / (1.0 - beta)
    md = {METADATA_KEY: meta} if meta is not None else {}
    return nir.CubaLIF(tau_syn=tau_syn.astype(dtype), tau_mem=tau_mem.astype(dtype),
                       r=r.astype(dtype), v_leak=np.zeros_like(thr, dtype=dtype),
                       v_threshold=thr.astype(dtype), v_reset=np.zeros_like(thr, dtype=dtype),
                       w_in=w_in.astype(dtype), metadata=md)


def _export_neuron(module: Any, ctx: ExportContext) -> nir.NIRNode:
    owner = f"{type(module).__name__} {ctx.name!r}"
    shape = tuple(ctx.input_shape)
    if isinstance(module, extra.LI):
        beta = _bshape(_clamped(module, "beta"), shape, owner, "beta")
        _warn_semantics(module, ctx, spiking=False)
        meta = _common_meta(module, "li", ctx, ["beta"], ["beta"])
        tau = _to_tau(beta, ctx.dt, ctx.discretization, "beta", owner)
        r = tau / ctx.dt if ctx.discretization == "euler" else 1.0 / (1.0 - beta)
        dt_ = ctx.dtype
        return nir.LI(tau=tau.astype(dt_), r=r.astype(dt_), v_leak=np.zeros(shape, dtype=dt_),
                      metadata={METADATA_KEY: meta})
    thr = _bshape(module.threshold, shape, owner, "threshold")
    _warn_semantics(module, ctx)
    common = ["threshold", "graded_spikes_factor"]
    if isinstance(module, (extra.RLeaky, extra.RSynaptic)):
        return _export_recurrent(module, ctx, thr, owner)
    if isinstance(module, snncore.Leaky):
        beta = _bshape(_clamped(module, "beta"), shape, owner, "beta")
        meta = _common_meta(module, "leaky", ctx, ["beta", *common], ["beta", *common])
        return _lif_node(beta, np.ones(shape), thr, ctx, owner, meta)
    if isinstance(module, extra.Synaptic):
        alpha = _bshape(_clamped(module, "alpha"), shape, owner, "alpha")
        beta = _bshape(_clamped(module, "beta"), shape, owner, "beta")
        meta = _common_meta(module, "synaptic", ctx, ["alpha", "beta", *common],
                            ["alpha", "beta", *common])
        return _cuba_node(alpha, beta, thr, ctx, owner, meta)
    if isinstance(module, extra.Lapicque):
        probe = torch.zeros(shape, dtype=torch.float64, device=module.threshold.device)
        decay, gain = module.coefficients(probe)
        meta = _common_meta(module, "lapicque", ctx, ["beta", "R", "C", *common],
                            ["beta", *common])
        meta["options"]["time_step"] = float(module.time_step)
        meta["construct"] = _lapicque_construction(module, probe)
        return _lif_node(_bshape(decay, shape, owner, "decay"),
                         _bshape(gain, shape, owner, "gain"), thr, ctx, owner, meta)
    if isinstance(module, extra.IF):
        meta = _common_meta(module, "if", ctx, common, common)
        return _lif_node(np.ones(shape), np.ones(shape), thr, ctx, owner, meta)
    raise NIRMappingError(f"{owner}: no export mapping")  # pragma: no cover - dispatch above


def _lapicque_construction(module: Any, probe: Tensor) -> str:
    """Which of Lapicque's argument sets rebuilds ``module`` with bit-identical coefficients."""
    want = module.coefficients(probe)
    kw = dict(time_step=module.time_step, threshold=module.threshold.detach())
    learn = module.is_learnable("beta")
    for given in (("beta",), ("beta", "R"), ("beta", "C"), ("R", "C")):
        if learn and "beta" not in given:
            continue
        try:
            args = {p: getattr(module, p).detach() for p in given}
            twin = extra.Lapicque(**args, **kw)
        except (ValueError, TypeError):
            continue
        got = twin.coefficients(probe)
        if all(torch.equal(a, b) for a, b in zip(want, got, strict=True)):
            return ",".join(given)
    return "R,C"


def _export_recurrent(module: Any, ctx: ExportContext, thr: np.ndarray,
                      owner: str) -> nir.NIRGraph:
    shape = tuple(ctx.input_shape)
    syn = isinstance(module, extra.RSynaptic)
    kind = "rsynaptic" if syn else "rleaky"
    names = (["alpha"] if syn else []) + ["beta", "threshold", "graded_spikes_factor"]
    params = names + ([] if module.all_to_all else ["V"])
    meta = _common_meta(module, kind, ctx, params, names)
    meta["options"].update(all_to_all=bool(module.all_to_all))
    for opt in ("linear_features", "conv2d_channels"):
        if getattr(module, opt) is not None:
            meta["options"][opt] = int(getattr(module, opt))
    if module.kernel_size is not None:
        meta["options"]["kernel_size"] = _pairs(module.kernel_size)
    rec_params = list(module.recurrent.parameters()) if module.recurrent is not None else \
        [module.V] if isinstance(module.V, nn.Parameter) else []
    meta["options"]["learn_recurrent"] = bool(rec_params) and all(
        p.requires_grad for p in rec_params)
    beta = _bshape(_clamped(module, "beta"), shape, owner, "beta")
    if syn:
        alpha = _bshape(_clamped(module, "alpha"), shape, owner, "alpha")
        inner = _cuba_node(alpha, beta, thr, ctx, owner, None)
    else:
        inner = _lif_node(beta, np.ones(shape), thr, ctx, owner, None)
    sub = ExportContext(ctx.dt, ctx.discretization, shape, f"{ctx.name}.w_rec", ctx.warn,
                        ctx.dtype)
    if module.recurrent is None:
        w_rec: nir.NIRNode = nir.Scale(scale=_bshape(module.V, shape, owner, "V").astype(
            ctx.dtype))
    elif isinstance(module.recurrent, nn.Linear):
        w_rec = _export_linear(module.recurrent, sub)
    else:
        w_rec = _export_conv(module.recurrent, sub)
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array(shape)), "lif": inner, "w_rec": w_rec,
               "output": nir.Output(output_type=np.array(shape))},
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
        metadata={METADATA_KEY: meta}, type_check=False)


def _export_linear(module: nn.Linear, ctx: ExportContext) -> nir.NIRNode:
    if module.bias is None:
        return nir.Linear(weight=_np(module.weight))
    return nir.Affine(weight=_np(module.weight), bias=_np(module.bias))


def _export_conv(module: Any, ctx: ExportContext) -> nir.NIRNode:
    owner = f"{type(module).__name__} {ctx.name!r}"
    if module.padding_mode != "zeros":
        raise NIRMappingError(f"{owner}: padding_mode={module.padding_mode!r} has no NIR form "
                              "(NIR convolutions pad with zeros)")
    bias = _np(module.bias) if module.bias is not None else np.zeros(
        module.out_channels, dtype=_np(module.weight).dtype)
    padding = module.padding if isinstance(module.padding, str) else np.asarray(module.padding)
    spatial = tuple(ctx.input_shape[1:])
    if isinstance(module, nn.Conv1d):
        return _fix_groups(nir.Conv1d(
            input_shape=int(spatial[0]) if spatial else None, weight=_np(module.weight),
            stride=int(module.stride[0]),
            padding=padding if isinstance(padding, str) else int(padding[0]),
            dilation=int(module.dilation[0]), groups=int(module.groups), bias=bias), ctx)
    node = nir.Conv2d(input_shape=spatial if spatial else None, weight=_np(module.weight),
                      stride=np.asarray(module.stride), padding=padding,
                      dilation=np.asarray(module.dilation), groups=int(module.groups),
                      bias=bias)
    return _fix_groups(node, ctx)


def _fix_groups(node: Any, ctx: ExportContext) -> Any:
    """nir 1.0.8 takes ``weight.shape[1]`` (channels per group) as the input channels."""
    if int(node.groups) > 1 and node.input_type.get("input") is not None:
        node.input_type = {"input": np.asarray(ctx.input_shape)}
    return node


def _pairs(v: Any) -> np.ndarray:
    return np.asarray((v, v) if isinstance(v, int) else tuple(v), dtype=np.int64)


def _export_avgpool(module: nn.AvgPool2d, ctx: ExportContext) -> nir.NIRNode:
    owner = f"AvgPool2d {ctx.name!r}"
    if module.ceil_mode or not module.count_include_pad or module.divisor_override is not None:
        raise NIRMappingError(f"{owner}: NIR's AvgPool2d needs ceil_mode=False, "
                              "count_include_pad=True and divisor_override=None")
    stride = module.stride if module.stride is not None else module.kernel_size
    return nir.AvgPool2d(kernel_size=_pairs(module.kernel_size), stride=_pairs(stride),
                         padding=_pairs(module.padding))


def _export_sumpool(module: SumPool2d, ctx: ExportContext) -> nir.NIRNode:
    return nir.SumPool2d(kernel_size=_pairs(module.kernel_size), stride=_pairs(module.stride),
                         padding=_pairs(module.padding))


def _export_flatten(module: nn.Flatten, ctx: ExportContext) -> nir.NIRNode:
    nd = len(ctx.input_shape) + 1  # with the batch

    def shift(d: int) -> int:
        d = d if d >= 0 else d + nd
        if d < 1:
            raise NIRMappingError(f"Flatten {ctx.name!r}: flattening the batch dimension has no "
                                  "NIR form (NIR shapes exclude the batch)")
        return d - 1

    return nir.Flatten(input_type={"input": np.asarray(ctx.input_shape)},
                       start_dim=shift(module.start_dim), end_dim=shift(module.end_dim))


def _export_scale(module: Scale, ctx: ExportContext) -> nir.NIRNode:
    return nir.Scale(scale=np.broadcast_to(_np(module.scale), ctx.input_shape).copy())


def _export_threshold(module: Threshold, ctx: ExportContext) -> nir.NIRNode:
    return nir.Threshold(threshold=np.broadcast_to(_np(module.threshold),
                                                   ctx.input_shape).copy())


def _export_delay(module: Delay, ctx: ExportContext) -> nir.NIRNode:
    steps = np.broadcast_to(module.steps.cpu().numpy(), ctx.input_shape)
    return nir.Delay(delay=steps.astype(np.float64) * ctx.dt)


def _skip(module: nn.Module, ctx: ExportContext) -> None:
    return None


_EXPORTS: dict[type, Any] = {
    snncore.Leaky: _export_neuron,
    extra.Synaptic: _export_neuron,
    extra.Lapicque: _export_neuron,
    extra.IF: _export_neuron,
    extra.LI: _export_neuron,
    extra.RLeaky: _export_neuron,
    extra.RSynaptic: _export_neuron,
    nn.Linear: _export_linear,
    nn.Conv1d: _export_conv,
    nn.Conv2d: _export_conv,
    nn.AvgPool2d: _export_avgpool,
    SumPool2d: _export_sumpool,
    nn.Flatten: _export_flatten,
    Scale: _export_scale,
    Threshold: _export_threshold,
    Delay: _export_delay,
    nn.Identity: _skip,
    nn.Dropout: _skip,
}
