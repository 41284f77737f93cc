"""The public names of the installed snnTorch 1.0.0, by introspection.

A public name is an attribute of one of snnTorch's public modules (below) whose name does not
start with ``_``, that is not a module, and that snnTorch itself defines (``__module__`` starts
with ``snntorch``). Names re-exported by ``snntorch.functional`` from its submodules ``loss``,
``acc``, ``reg`` and ``probe`` are counted once, under ``snntorch.functional``.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from typing import Any

MODULES = (
    "snntorch", "snntorch.surrogate", "snntorch.spikegen", "snntorch.functional",
    "snntorch.functional.quant", "snntorch.functional.stdp_learner", "snntorch.utils",
    "snntorch.backprop", "snntorch.spikeplot",
)


def public_names() -> dict[str, Any]:
    """``{"snntorch.Leaky": Leaky, "snntorch.surrogate.atan": atan, ...}``."""
    names: dict[str, Any] = {}
    seen: set[int] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for modname in MODULES:
            mod = importlib.import_module(modname)
            for n in sorted(dir(mod)):
                obj = getattr(mod, n)
                if n.startswith("_") or inspect.ismodule(obj):
                    continue
                if not str(getattr(obj, "__module__", "")).startswith("snntorch"):
                    continue
                if modname.startswith("snntorch.functional") and id(obj) in seen:
                    continue
                seen.add(id(obj))
                names[f"{modname}.{n}"] = obj
    return names


def compat_target(qualname: str) -> str:
    """``snntorch.surrogate.atan`` -> ``snn_compat.snntorch.surrogate.atan``."""
    return "snn_compat." + qualname


def resolve(dotted: str) -> Any:
    """The object named ``dotted`` (module path then attribute), or raise AttributeError."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for p in parts[i:]:
            obj = getattr(obj, p)
        return obj
    raise AttributeError(dotted)


def class_arguments(cls: type) -> list[str]:
    """Constructor arguments of ``cls`` (or a factory function's arguments)."""
    fn = cls.__init__ if inspect.isclass(cls) else cls
    return [p for p in inspect.signature(fn).parameters if p not in ("self", "args", "kwargs")]


def class_methods(cls: type) -> list[str]:
    """Public methods and properties defined by ``cls`` itself."""
    return sorted(k for k, v in vars(cls).items() if not k.startswith("_")
                  and (callable(v) or isinstance(v, (classmethod, staticmethod, property))))
