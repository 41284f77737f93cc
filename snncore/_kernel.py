r"""The kernel description of a neuron: what the generic fused loops need to run it.

A neuron is described to the fused backends by the things it already defines, so the eager
reference and the fused kernel cannot drift apart:

- its **state fields** (the ``State`` NamedTuple; every field shaped like one step's input),
- its **parameters** (the tensors registered on the module: buffers, or ``nn.Parameter`` when
  learnable; scalar or per-neuron),
- its **elementwise update** (the :meth:`~snncore.Neuron.step` function, reset rule included),
  recorded once per configuration as a straight-line program of elementwise operations, together
  with the program of its vector-Jacobian product (the surrogate gradient included) obtained by
  differentiating that same step.

:func:`describe` records both programs with :func:`torch.fx.experimental.proxy_tensor.make_fx`
on fake tensors. A step that uses anything other than elementwise float operations (a reduction
such as winner-take-all inhibition, random numbers, a data-dependent Python branch, a state field
shaped unlike the input) cannot be described; :class:`NotFusable` then says which operation or
rule stopped it, and the neuron runs on the ``eager`` backend.

A neuron class can opt out explicitly with ``fusable = "reason"`` (a string), e.g. when its step
keeps Python-side state.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["KernelDescription", "Program", "NotFusable", "describe", "parameter_names",
           "plain_saved_tensors"]

aten = torch.ops.aten


class NotFusable(Exception):
    """Raised by :func:`describe` when a neuron's step cannot run in the generic fused loops."""


# opcodes: must match snncore/_kernel_vm.cpp
_OPS = ("COPY ADD SUB MUL DIV NEG EXP LOG SQRT RECIP ABS SIGMOID TANH ERF ATAN SIN COS FLOOR CEIL "
        "ROUND TRUNC SIGN RELU MIN MAX POW GT GE LT LE EQ NE AND OR XOR NOT WHERE SIGMOID_BWD "
        "TANH_BWD NE0 EXPM1 LOG1P RSQRT").split()
OP = {name: i for i, name in enumerate(_OPS)}
_UNARY_OPS = frozenset("COPY NEG EXP LOG SQRT RECIP ABS SIGMOID TANH ERF ATAN SIN COS FLOOR CEIL "
                       "ROUND TRUNC SIGN RELU NOT NE0 EXPM1 LOG1P RSQRT".split())
#: operands read by each opcode (the unused operand slots hold 0)
_ARITY = tuple(3 if name == "WHERE" else 1 if name in _UNARY_OPS else 2 for name in _OPS)
#: operations whose result may differ from PyTorch's in the last bit
INEXACT = frozenset({"EXP", "LOG", "SIGMOID", "TANH", "ERF", "ATAN", "SIN", "COS", "POW",
                     "EXPM1", "LOG1P", "RSQRT"})


@dataclass(frozen=True)
class Program:
    """A straight-line elementwise program over registers of one tile of neurons.

    ``code`` holds 5 integers per instruction ``(op, dst, a, b, c)``, run at every step; ``pre``
    the instructions that depend only on constants and parameters, run once per tile; registers
    ``0 .. len(consts)-1`` hold the constants; ``inputs`` and ``outputs`` map the program's
    arguments and results to registers (-1: an output that is identically zero and not needed).
    """

    code: tuple[int, ...]
    pre: tuple[int, ...]
    nregs: int
    consts: tuple[float, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    ops: frozenset[str]

    @property
    def exact(self) -> bool:
        """True when every operation rounds as PyTorch's does (results are bit-identical)."""
        return not (self.ops & INEXACT)

    def __len__(self) -> int:
        return len(self.code) // 5

    def reads(self, register: int) -> bool:
        """True when the program uses ``register`` (an operand of an instruction, or an output
        that is that register itself)."""
        if register in self.outputs:
            return True
        for code in (self.pre, self.code):
            for i in range(0, len(code), 5):
                n = _ARITY[code[i]]
                if register in code[i + 2:i + 2 + n]:
                    return True
        return False


@dataclass(frozen=True)
class KernelDescription:
    """What the generic fused loops need to run a neuron (see the module docstring).

    Attributes:
        fields: the state fields, in ``State`` order.
        params: the parameter names, in the order the programs take them.
        forward: program ``(x, *state, *params) -> (output, *new_state)``.
        backward: dict from ``(need_x_grad, learned params)`` to the program
            ``(x, *state, *params, g_output, *g_new_state) -> (g_x, *g_state, *g_params)``
            (built on demand).
    """

    fields: tuple[str, ...]
    params: tuple[str, ...]
    forward: Program
    joint_graph: Any = field(repr=False)
    _backward: dict[tuple[bool, tuple[bool, ...]], Program] = field(
        default_factory=dict, repr=False, compare=False)

    def backward_reads(self, need_x: bool, learn: tuple[bool, ...]) -> tuple[bool, bool]:
        """Whether the gradient program for ``(need_x, learn)`` reads the input and whether it
        reads any state field. A backward that reads no state (a linear step such as
        ``U = βU + X`` with β fixed) needs no checkpoints and no recomputed forward states."""
        b = self.backward(need_x, learn)
        ns = len(self.fields)
        return b.reads(b.inputs[0]), any(b.reads(r) for r in b.inputs[1:1 + ns])

    def backward(self, need_x: bool, learn: tuple[bool, ...]) -> Program:
        """The vector-Jacobian program computing only the gradients that are needed."""
        key = (need_x, learn)
        prog = self._backward.get(key)
        if prog is None:
            ns, npar = len(self.fields), len(self.params)
            keep = [need_x] + [True] * ns + list(learn)
            assert len(keep) == 1 + ns + npar
            prog = _lower(self.joint_graph, range(1 + ns, 1 + ns + npar), keep)
            self._backward[key] = prog
        return prog


def parameter_names(neuron: nn.Module) -> tuple[str, ...]:
    """Floating-point parameters and buffers registered directly on ``neuron``."""
    names = [n for n, t in neuron.named_parameters(recurse=False) if t.is_floating_point()]
    names += [n for n, t in neuron.named_buffers(recurse=False)
              if t is not None and t.is_floating_point()]
    return tuple(names)


# -- recording the step -----------------------------------------------------------------------
class _Swap:
    """Temporarily replace registered tensors of a module (visible to ``getattr`` and to
    ``Neuron.param``, which still sees which names are learnable parameters)."""

    def __init__(self, module: nn.Module, names: tuple[str, ...], values: list[Tensor]) -> None:
        self.module, self.names, self.values = module, names, values
        self.saved: list[tuple[dict[str, Any], str, Any]] = []

    def __enter__(self) -> None:
        m = self.module
        for name, value in zip(self.names, self.values, strict=True):
            d = m._parameters if name in m._parameters else m._buffers
            self.saved.append((d, name, d[name]))
            d[name] = value

    def __exit__(self, *exc: Any) -> None:
        for d, name, value in reversed(self.saved):
            d[name] = value
        self.saved.clear()


_TRACE_N = 3  # neurons in the example tensors used to record the step


def _record(neuron: Any, names: tuple[str, ...]) -> tuple[Any, Any, int]:
    from torch.fx.experimental.proxy_tensor import make_fx

    n = _TRACE_N
    dtype = torch.float32
    fields = tuple(neuron.State._fields)
    ns, npar = len(fields), len(names)

    def step(x: Tensor, states: list[Tensor], params: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        with _Swap(neuron, names, params):
            out = neuron.step(x, neuron.State(*states))
        if not isinstance(out, tuple) or len(out) != 2:
            raise NotFusable("step() must return (output, state)")
        o, st = out
        st = list(st)
        if len(st) != ns:
            raise NotFusable("step() returned a state with a different number of fields")
        return o, st

    def fwd(x: Tensor, *rest: Tensor) -> list[Tensor]:
        with torch.no_grad():
            o, st = step(x, list(rest[:ns]), list(rest[ns:]))
        return [o, *st]

    def joint(x: Tensor, *rest: Tensor) -> list[Tensor]:
        s = [t.detach().requires_grad_() for t in rest[:ns]]
        p = [t.detach().requires_grad_() for t in rest[ns:ns + npar]]
        g = list(rest[ns + npar:])
        xg = x.detach().requires_grad_()
        with torch.enable_grad():
            o, st = step(xg, s, p)
            outs = [o, *st]
            pairs = [(t, gt) for t, gt in zip(outs, g, strict=True) if t.requires_grad]
            if not pairs:
                grads: tuple[Tensor | None, ...] = (None,) * (1 + ns + npar)
            else:
                grads = torch.autograd.grad([t for t, _ in pairs], [xg, *s, *p],
                                            [gt for _, gt in pairs], allow_unused=True)
        return [gr if gr is not None else torch.zeros_like(x) for gr in grads]

    gen = torch.Generator().manual_seed(0)  # the caller's random stream stays untouched
    x = torch.rand(n, dtype=dtype, generator=gen)
    states = [torch.rand(n, dtype=dtype, generator=gen) for _ in range(ns)]
    params = [torch.rand(n, dtype=dtype, generator=gen) + 0.5 for _ in range(npar)]
    gouts = [torch.rand(n, dtype=dtype, generator=gen) for _ in range(1 + ns)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gf = make_fx(fwd, tracing_mode="fake")(x, *states, *params)
        gj = make_fx(joint, tracing_mode="fake")(x, *states, *params, *gouts)
    return gf, gj, ns


# -- lowering an aten graph to a register program -----------------------------------------------
_IDENTITY = {aten.detach.default, aten.clone.default, aten.alias.default,
             aten.lift_fresh_copy.default, aten.contiguous.default, aten.expand.default,
             aten.view.default, aten._unsafe_view.default, aten.reshape.default,
             aten.squeeze.default, aten.squeeze.dim, aten.unsqueeze.default,
             aten.expand_copy.default, aten.view_copy.default, aten.positive.default}
_UNARY = {aten.neg.default: "NEG", aten.exp.default: "EXP", aten.log.default: "LOG",
          aten.sqrt.default: "SQRT", aten.reciprocal.default: "RECIP", aten.abs.default: "ABS",
          aten.sigmoid.default: "SIGMOID", aten.tanh.default: "TANH", aten.erf.default: "ERF",
          aten.atan.default: "ATAN", aten.sin.default: "SIN", aten.cos.default: "COS",
          aten.floor.default: "FLOOR", aten.ceil.default: "CEIL", aten.round.default: "ROUND",
          aten.trunc.default: "TRUNC", aten.sign.default: "SIGN", aten.sgn.default: "SIGN",
          aten.relu.default: "RELU",
          aten.logical_not.default: "NOT", aten.bitwise_not.default: "NOT",
          aten.expm1.default: "EXPM1", aten.log1p.default: "LOG1P", aten.rsqrt.default: "RSQRT"}
_BINARY = {"add": "ADD", "sub": "SUB", "mul": "MUL", "div": "DIV", "minimum": "MIN",
           "maximum": "MAX", "fmin": "MIN", "fmax": "MAX", "gt": "GT", "ge": "GE", "lt": "LT",
           "le": "LE", "eq": "EQ", "ne": "NE", "logical_and": "AND", "logical_or": "OR",
           "logical_xor": "XOR", "bitwise_and": "AND", "bitwise_or": "OR",
           "bitwise_xor": "XOR", "sigmoid_backward": "SIGMOID_BWD",
           "tanh_backward": "TANH_BWD"}
_CONST_MAKERS = {"zeros_like": 0.0, "ones_like": 1.0, "zeros": 0.0, "ones": 1.0,
                 "new_zeros": 0.0, "new_ones": 1.0}
_FILL_MAKERS = {"full_like": 1, "full": 1, "new_full": 2, "scalar_tensor": 0, "fill": 1}


class _Builder:
    def __init__(self) -> None:
        self.consts: list[float] = []
        self.const_reg: dict[Any, int] = {}
        self.ins: list[tuple[str, Any, Any, Any, Any]] = []  # (op, dst value, a, b, c)
        self.ops: set[str] = set()
        self.memo: dict[Any, Any] = {}

    def const(self, v: float) -> tuple[str, float]:
        return ("c", float(v))

    def emit(self, op: str, a: Any, b: Any = None, c: Any = None) -> Any:
        # exact algebraic identities (x*1, x/1, x+0, x-0 and a select on a constant)
        if op in ("MUL", "DIV") and b == ("c", 1.0):
            return a
        if op == "MUL" and a == ("c", 1.0):
            return b
        if op == "SUB" and b == ("c", 0.0):
            return a
        if op == "WHERE" and a is not None and a[0] == "c":
            return b if a[1] != 0.0 else c
        if op == "COPY":
            return a
        key = (op, a, b, c)
        hit = self.memo.get(key)  # common subexpressions
        if hit is not None:
            return hit
        if all(v is None or v[0] == "c" for v in (a, b, c)):
            folded = _fold(op, a, b, c)
            if folded is not None:
                return ("c", folded)
        val = ("v", len(self.ins))
        self.ins.append((op, val, a, b, c))
        self.ops.add(op)
        self.memo[key] = val
        return val


def _fold(op: str, a: Any, b: Any, c: Any) -> float | None:
    """Evaluate an instruction on constants in float32 (as the kernel would); None to keep it."""
    import numpy as np

    f = np.float32
    u = f(a[1]) if a is not None else None
    v = f(b[1]) if b is not None else None
    with np.errstate(all="ignore"):
        table = {"ADD": lambda: u + v, "SUB": lambda: u - v, "MUL": lambda: u * v,
                 "DIV": lambda: u / v, "NEG": lambda: -u, "RECIP": lambda: f(1) / u,
                 "GT": lambda: f(u > v), "GE": lambda: f(u >= v), "LT": lambda: f(u < v),
                 "LE": lambda: f(u <= v), "EQ": lambda: f(u == v), "NE": lambda: f(u != v),
                 "NE0": lambda: f(u != 0), "NOT": lambda: f(u == 0)}
        fn = table.get(op)
        return None if fn is None else float(f(fn()))


def _scalar(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    return None


def _lower(gm: Any, invariant: range, keep: list[bool] | None = None) -> Program:
    """Turn a recorded aten graph into a :class:`Program` (outputs not in ``keep`` dropped)."""
    bld = _Builder()
    env: dict[Any, Any] = {}
    inputs: list[Any] = []

    def val(a: Any) -> Any:
        s = _scalar(a)
        if s is not None:
            return bld.const(s)
        if isinstance(a, torch.fx.Node):
            if a not in env:
                raise NotFusable(f"value {a.name} is used before it is defined")
            return env[a]
        raise NotFusable(f"unsupported argument {a!r}")

    for node in gm.graph.nodes:
        if node.op == "placeholder":
            v = ("in", len(inputs))
            inputs.append(v)
            env[node] = v
            continue
        if node.op == "output":
            outs = node.args[0]
            break
        if node.op == "get_attr":
            t = getattr(gm, node.target)
            if not isinstance(t, Tensor) or t.numel() != 1:
                raise NotFusable(
                    "the step uses a tensor that is not an input, a state field or a "
                    f"registered parameter (shape {tuple(getattr(t, 'shape', ()))}); register "
                    "it with the neuron (Neuron.add_param) so the fused loops can read it")
            env[node] = bld.const(float(t.reshape(()).item()))
            continue
        if node.op != "call_function":
            raise NotFusable(f"unsupported graph node {node.op} {node.target}")
        tgt = node.target
        meta = node.meta.get("val")
        if isinstance(meta, Tensor) and meta.dtype not in (torch.float32, torch.bool):
            raise NotFusable(f"operation {tgt} gives {meta.dtype}: not an elementwise float32 "
                             "operation (the fused loops compute in float32 only)")
        args, kw = node.args, node.kwargs
        name = getattr(getattr(tgt, "overloadpacket", None), "__name__", str(tgt))
        base = name[:-1] if name.endswith("_") and name not in ("__and__",) else name
        inplace = name.endswith("_")
        if tgt in _IDENTITY:
            res = val(args[0])
        elif tgt in _UNARY:
            res = bld.emit(_UNARY[tgt], val(args[0]))
        elif base in ("add", "sub") and len(args) == 2:
            alpha = _scalar(kw.get("alpha", 1))
            b = val(args[1])
            if alpha is None:
                raise NotFusable(f"{name} with a tensor alpha")
            if alpha != 1:
                b = bld.emit("MUL", b, bld.const(alpha))
            res = bld.emit("ADD" if base == "add" else "SUB", val(args[0]), b)
        elif base == "rsub":
            alpha = _scalar(kw.get("alpha", 1))
            a = val(args[0])
            if alpha is None:
                raise NotFusable("rsub with a tensor alpha")
            if alpha != 1:
                a = bld.emit("MUL", a, bld.const(alpha))
            res = bld.emit("SUB", val(args[1]), a)
        elif base == "div" and kw.get("rounding_mode") is not None:
            q = bld.emit("DIV", val(args[0]), val(args[1]))
            mode = kw["rounding_mode"]
            if mode not in ("floor", "trunc"):
                raise NotFusable(f"div with rounding_mode={mode!r}")
            res = bld.emit("FLOOR" if mode == "floor" else "TRUNC", q)
            bld.ops.add("POW")  # not bit-exact with PyTorch's floor division
        elif base in _BINARY and len(args) == 2:
            res = bld.emit(_BINARY[base], val(args[0]), val(args[1]))
        elif base == "pow":
            e = _scalar(args[1])
            a = val(args[0])
            if e == 2.0:
                res = bld.emit("MUL", a, a)
            elif e == 1.0:
                res = a
            elif e == 3.0:
                res = bld.emit("MUL", bld.emit("MUL", a, a), a)
            elif e == 0.5:
                res = bld.emit("SQRT", a)
            elif e == -1.0:
                res = bld.emit("RECIP", a)
            else:
                res = bld.emit("POW", a, val(args[1]))
        elif base in ("clamp", "clip", "clamp_min", "clamp_max"):
            a = val(args[0])
            lo = args[1] if len(args) > 1 else kw.get("min")
            hi = args[2] if len(args) > 2 else kw.get("max")
            if base == "clamp_max":
                lo, hi = None, args[1]
            if lo is not None:
                a = bld.emit("MAX", a, val(lo))
            if hi is not None:
                a = bld.emit("MIN", a, val(hi))
            res = a
        elif base == "where":
            res = bld.emit("WHERE", val(args[0]), val(args[1]), val(args[2]))
        elif base == "masked_fill":
            res = bld.emit("WHERE", val(args[1]), val(args[2]), val(args[0]))
        elif base in ("threshold_backward",):
            # grad where x > threshold else 0
            cond = bld.emit("GT", val(args[1]), val(args[2]))
            res = bld.emit("WHERE", cond, val(args[0]), bld.const(0.0))
        elif base in _CONST_MAKERS:
            res = bld.const(_CONST_MAKERS[base])
        elif base in _FILL_MAKERS:
            v = _scalar(args[_FILL_MAKERS[base]])
            if v is None:
                raise NotFusable(f"{name} with a non-constant fill value")
            res = bld.const(v)
        elif base == "_to_copy" or base == "to":
            dt = kw.get("dtype")
            if dt in (None, torch.float32):
                res = val(args[0])
            elif dt == torch.bool:
                res = bld.emit("NE0", val(args[0]))
            else:
                raise NotFusable(f"conversion to {dt}; the fused loops compute in float32 only")
        elif base == "copy":
            res = val(args[1])
        else:
            raise NotFusable(
                f"operation {name} is not elementwise or not supported by the fused loops")
        env[node] = res
        if inplace and isinstance(args[0], torch.fx.Node):
            env[args[0]] = res
    else:  # pragma: no cover - every graph has an output node
        raise NotFusable("graph without output")

    out_vals = [val(o) if o is not None else bld.const(0.0) for o in outs]
    if keep is not None:
        out_vals = [v if k else None for v, k in zip(out_vals, keep, strict=True)]
    return _allocate(bld, inputs, out_vals, {inputs[i] for i in invariant})


def _allocate(bld: _Builder, inputs: list[Any], outs: list[Any], inv_in: set[Any]) -> Program:
    """Dead-code elimination and register allocation (constants, then inputs, then temps)."""
    live: set[Any] = {v for v in outs if v is not None and v[0] == "v"}
    needed: list[int] = []
    for i in range(len(bld.ins) - 1, -1, -1):
        op, dst, a, b, c = bld.ins[i]
        if dst in live:
            needed.append(i)
            live.update(x for x in (a, b, c) if x is not None and x[0] == "v")
    needed.reverse()
    # loop-invariant instructions (constants and parameters only) go to the per-tile prologue
    inv: set[Any] = set(inv_in)
    pre_ins, step_ins = [], []
    for i in needed:
        op, dst, a, b, c = bld.ins[i]
        if all(x is None or x[0] == "c" or x in inv for x in (a, b, c)):
            inv.add(dst)
            pre_ins.append(i)
        else:
            step_ins.append(i)
    consts: list[float] = []
    creg: dict[float, int] = {}

    def cidx(v: float) -> int:
        key = v if not math.isnan(v) else "nan"
        if key not in creg:
            creg[key] = len(consts)
            consts.append(v)
        return creg[key]

    for i in needed:
        for x in bld.ins[i][2:]:
            if x is not None and x[0] == "c":
                cidx(x[1])
    for v in outs:
        if v is not None and v[0] == "c":
            cidx(v[1])
    nc = len(consts)
    reg: dict[Any, int] = {}
    for k, v in enumerate(inputs):
        reg[v] = nc + k
    nxt = nc + len(inputs)
    pre_code: list[int] = []
    for i in pre_ins:
        op, dst, a, b, c = bld.ins[i]
        operands = [0 if x is None else (cidx(x[1]) if x[0] == "c" else reg[x]) for x in (a, b, c)]
        reg[dst] = nxt
        nxt += 1
        pre_code += [OP[op], reg[dst], *operands]
    needed = step_ins
    last_use: dict[Any, int] = {}
    for pos, i in enumerate(needed):
        for x in bld.ins[i][2:]:
            if x is not None and x[0] == "v":
                last_use[x] = pos
    out_set = {v for v in outs if v is not None}
    free: list[int] = []
    code: list[int] = []
    used_ops: set[str] = set()

    def ref(x: Any) -> int:
        if x is None:
            return 0
        if x[0] == "c":
            return cidx(x[1])
        return reg[x]

    for pos, i in enumerate(needed):
        op, dst, a, b, c = bld.ins[i]
        ra, rb, rc = ref(a), ref(b), ref(c)
        # operands whose last use is this instruction give their registers back first (an
        # elementwise instruction may write over its own operand)
        for x in (a, b, c):
            if x is not None and x[0] == "v" and last_use.get(x) == pos and x not in out_set \
                    and x in reg and x not in inv:
                r = reg.pop(x)
                if r not in free:
                    free.append(r)
        if free:
            rd = free.pop()
        else:
            rd = nxt
            nxt += 1
        reg[dst] = rd
        code += [OP[op], rd, ra, rb, rc]
        used_ops.add(op)
    out_regs = []
    for v in outs:
        if v is None:
            out_regs.append(-1)
        elif v[0] == "c":
            out_regs.append(cidx(v[1]))
        else:
            out_regs.append(reg[v])
    used_ops.update(bld.ins[i][0] for i in pre_ins)
    return Program(code=tuple(code), pre=tuple(pre_code), nregs=max(nxt, nc + len(inputs), 1),
                   consts=tuple(consts),
                   inputs=tuple(reg[v] for v in inputs), outputs=tuple(out_regs),
                   ops=frozenset(used_ops))


# -- the cache ------------------------------------------------------------------------------------
_MODULE_KEYS = frozenset(vars(nn.Module()).keys())
_cache: OrderedDict[Any, KernelDescription | NotFusable] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 256


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


_FREEZE_DEPTH = 4
_FREEZE_ITEMS = 256


def _frozen(v: Any, depth: int = 0) -> Any:
    """A hashable key for the value of attribute ``v`` as the recorded step may have read it:
    plain values as they are, containers (lists, dicts, sets, tuples) and the plain attributes
    of other objects by their contents (so that changing them in place is seen), tensors by
    shape, dtype and version counter (and value when they hold one element); anything else, or
    anything too deep or too large, by identity, held by the key so that the id cannot be
    reused by a new object."""
    if v is None or isinstance(v, (bool, int, float, complex, str, bytes)):
        return v
    if isinstance(v, Tensor):
        if v.numel() == 1 and v.device.type == "cpu" and not v.requires_grad:
            return ("tensor", tuple(v.shape), v.dtype, v.reshape(()).item())
        return ("tensor", tuple(v.shape), v.dtype, id(v), v._version, _Held(v))
    if depth < _FREEZE_DEPTH:
        if isinstance(v, (list, tuple)) and len(v) <= _FREEZE_ITEMS:
            return (type(v), tuple(_frozen(e, depth + 1) for e in v))
        if isinstance(v, (set, frozenset)) and len(v) <= _FREEZE_ITEMS and _hashable(tuple(v)):
            return (type(v), frozenset(v))
        if isinstance(v, dict) and len(v) <= _FREEZE_ITEMS:
            return (type(v), tuple((_frozen(a, depth + 1), _frozen(b, depth + 1))
                                   for a, b in v.items()))
        attrs = getattr(v, "__dict__", None)
        if isinstance(attrs, dict) and len(attrs) <= _FREEZE_ITEMS and not callable(v) \
                and not isinstance(v, torch.nn.Module):
            return (type(v), id(v), _Held(v),
                    tuple((a, _frozen(b, depth + 1)) for a, b in sorted(attrs.items())))
    return (type(v), id(v), _Held(v))


class _Held:
    """Keeps an object alive inside a cache key (so that its id is not reused) without
    taking part in the key's equality."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Held)

    def __hash__(self) -> int:
        return 0


def _fingerprint(neuron: Any, names: tuple[str, ...]) -> Any:
    parts: list[Any] = [type(neuron)]
    for k, v in sorted(vars(neuron).items()):
        if k in _MODULE_KEYS or k == "state":
            continue
        if hasattr(v, "params") and hasattr(v, "derivative"):  # a surrogate
            plain = (bool, int, float, str)
            parts.append((k, type(v), tuple(sorted(v.params().items())),
                          tuple(sorted((a, b) for a, b in vars(v).items()
                                       if isinstance(b, plain))),
                          # anything else by identity (e.g. Custom's function), held by the
                          # key so that its id cannot be reused by a new object
                          tuple(sorted(((a, b) for a, b in vars(v).items()
                                        if not isinstance(b, plain) and _hashable(b)),
                                       key=lambda ab: ab[0]))))
        else:
            parts.append((k, _frozen(v)))
    for name in names:
        parts.append((name, name in neuron._parameters))
    parts.append(neuron.training)
    return tuple(parts)


def describe(neuron: Any) -> KernelDescription:
    """The :class:`KernelDescription` of ``neuron`` (recorded once per configuration and cached).

    Raises:
        NotFusable: with the reason when the step cannot be expressed as elementwise programs.
    """
    why = getattr(type(neuron), "fusable", True)
    if isinstance(why, str):
        raise NotFusable(why)
    if why is False:
        raise NotFusable(f"{type(neuron).__name__} declares itself not fusable")
    names = parameter_names(neuron)
    try:
        key = _fingerprint(neuron, names)
        hash(key)
    except TypeError:
        key = None
    if key is not None:
        with _cache_lock:
            hit = _cache.get(key)
            if hit is not None:
                _cache.move_to_end(key)
        if isinstance(hit, NotFusable):
            raise hit
        if hit is not None:
            return hit
    try:
        desc = _build(neuron, names)
    except NotFusable as exc:
        if key is not None:
            with _cache_lock:
                _cache[key] = exc
        raise
    if key is not None:
        with _cache_lock:
            _cache[key] = desc
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return desc


def _as_is(t: Tensor) -> Tensor:
    return t


def plain_saved_tensors() -> Any:
    """A context in which autograd keeps saved tensors as they are, whatever
    ``saved_tensors_hooks`` the caller has set (e.g. a non-reentrant
    ``torch.utils.checkpoint``): for the short autograd runs a backend makes for itself
    (recording a step, finding its dependencies), which the caller's hooks must not count."""
    return torch.autograd.graph.saved_tensors_hooks(_as_is, _as_is)


def _build(neuron: Any, names: tuple[str, ...]) -> KernelDescription:
    fields = tuple(getattr(getattr(neuron, "State", None), "_fields", ()))
    if not fields:
        raise NotFusable("the neuron has no State NamedTuple")
    for child_name, child in neuron.named_children():
        if any(True for _ in child.parameters()):
            raise NotFusable(f"the step uses the sub-module {child_name!r} "
                             f"({type(child).__name__}), whose weights mix neurons")
    probe = torch.zeros(2, 3)
    shapes = neuron.state_shapes(probe)
    if any(tuple(s) != tuple(probe.shape) for s in shapes):
        raise NotFusable("a state field is not shaped like the input (the update mixes neurons)")
    try:
        # recorded in normal autograd mode whatever mode the caller is in: under
        # inference_mode, autograd records nothing, and the gradient program (cached for
        # every later call) would come out as zeros
        with plain_saved_tensors(), torch.inference_mode(False):
            gf, gj, _ = _record(neuron, names)
    except NotFusable:
        raise
    except Exception as exc:  # anything make_fx cannot record: say what it was
        msg = str(exc).strip().splitlines()
        raise NotFusable(f"the step could not be recorded as elementwise operations "
                         f"({type(exc).__name__}: {msg[0] if msg else ''})") from None
    ns, npar = len(fields), len(names)
    fwd = _lower(gf, range(1 + ns, 1 + ns + npar))
    _lower(gj, range(1 + ns, 1 + ns + npar))  # validate the gradient program (raises NotFusable)
    return KernelDescription(fields=fields, params=names, forward=fwd, joint_graph=gj)
