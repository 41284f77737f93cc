"""One warning per deliberate difference from snnTorch, shown once per process."""

from __future__ import annotations

import warnings

__all__ = ["CompatDifferenceWarning", "warn_difference", "reset_warnings"]

_SHOWN: set[str] = set()


class CompatDifferenceWarning(UserWarning):
    """A compat name computes snncore's (documented) result where snnTorch 1.0.0 differs."""


def warn_difference(key: str, message: str, stacklevel: int = 3) -> None:
    """Warn once per ``key`` that this call differs from snnTorch 1.0.0 and how."""
    if key in _SHOWN:
        return
    _SHOWN.add(key)
    warnings.warn(f"{key}: differs from snnTorch 1.0.0: {message} (see docs/migration.md)",
                  CompatDifferenceWarning, stacklevel=stacklevel)


def reset_warnings() -> None:
    """Show every difference warning again (for tests and notebooks)."""
    _SHOWN.clear()
