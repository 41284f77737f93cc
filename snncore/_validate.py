"""Argument checks shared by every part of snncore (and public for plugin authors).

Each check returns the validated value or raises a ``TypeError``/``ValueError`` whose message
names the function or class (``fn``), the argument (``name``), what was given and what is
accepted. They are re-exported by :mod:`snncore.extend`.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "check_tensor",
    "as_float",
    "check_bool",
    "check_int",
    "check_number",
    "check_choice",
    "check_unit",
    "value_checks_enabled",
    "value_checks_disabled",
]

_value_checks: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "snncore_value_checks", default=True
)


def value_checks_enabled() -> bool:
    """Whether checks that read tensor values on the host (``bool(tensor)``: ranges of learned
    parameters, label and data ranges) run. False inside :func:`value_checks_disabled` and while
    ``torch.jit`` traces."""
    return _value_checks.get() and not torch.jit.is_tracing()


@contextlib.contextmanager
def value_checks_disabled() -> Iterator[None]:
    """Skip the checks that read tensor values on the host within this block.

    For tracers that cannot return to Python in the middle of a graph (poptorch for Graphcore
    IPUs, ``torch.jit.trace``): a host read there either fails or is frozen at trace time.
    Shape, dtype and type checks still run. Values are then not validated: check the data on
    the CPU first (e.g. with one eager batch).
    """
    token = _value_checks.set(False)
    try:
        yield
    finally:
        _value_checks.reset(token)


def check_tensor(x: Any, name: str, fn: str) -> Tensor:
    """``x`` if it is a tensor, else a ``TypeError`` naming ``name``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: {name} must be a torch.Tensor, got {type(x).__name__}")
    return x


def as_float(x: Tensor) -> Tensor:
    """``x`` itself if floating point, else converted to the default float dtype."""
    return x if x.is_floating_point() else x.to(torch.get_default_dtype())


def check_bool(value: Any, name: str, fn: str) -> bool:
    """``value`` if it is a bool (not merely truthy), else a ``TypeError``."""
    if not isinstance(value, bool):
        raise TypeError(f"{fn}: {name} must be a bool, got {value!r}")
    return value


def check_int(
    value: Any, name: str, fn: str, *, low: int = 0, optional: bool = False
) -> int | None:
    """``value`` if it is an int ``>= low`` (or None when ``optional``); bools are rejected."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        accepted = "an int" + (" or None" if optional else "")
        raise TypeError(f"{fn}: {name} must be {accepted}, got {value!r}")
    if value < low:
        raise ValueError(f"{fn}: {name} must be an int >= {low}, got {value}")
    return value


def check_number(value: Any, name: str, fn: str, *, positive: bool = False) -> float:
    """``value`` as a finite float (``> 0`` when ``positive``); bools are rejected."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{fn}: {name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{fn}: {name} must be finite, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{fn}: {name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_choice(value: Any, name: str, fn: str, choices: Iterable[str]) -> str:
    """``value`` if it is one of the strings ``choices``, else a ``ValueError`` listing them."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{fn}: {name} must be one of {options}, got {value!r}")
    return value


def check_unit(x: Tensor, name: str, fn: str) -> None:
    """``x`` must lie in [0, 1] (no NaN); skipped when :func:`value_checks_enabled` is False."""
    if x.numel() == 0 or not value_checks_enabled():
        return
    lo, hi = x.min(), x.max()
    if bool(torch.isnan(x).any()) or bool(lo < 0) or bool(hi > 1):
        raise ValueError(
            f"{fn}: {name} must lie in [0, 1], got values in [{float(lo):g}, {float(hi):g}]"
            + ("" if not bool(torch.isnan(x).any()) else " (contains NaN)")
        )
