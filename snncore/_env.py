"""Every ``SNNCORE_*`` environment switch, parsed in one place.

========================================  ======================================================
``SNNCORE_DISABLE_PLUGIN_AUTOLOAD=1``     load no entry points (built-ins, in-process plugins
                                          still load)
``SNNCORE_PLUGINS=a,b``                   allow-list of entry points / distributions to load
``SNNCORE_BLOCK_PLUGINS=c,d``             block-list: plugins (built-in areas included, e.g.
                                          ``snncore.triton``) never loaded
``SNNCORE_BACKEND=name``                  default backend of :meth:`Neuron.run`
``SNNCORE_FUSED_NATIVE=0``                fused backend without its native loops
``SNNCORE_FUSED_CODEGEN=0``               generic fused loops interpret each neuron's programs
                                          instead of compiling them
``SNNCORE_CACHE_DIR=path``                build cache of the native loops
``SNNCORE_HUGEPAGES=1``                   advise transparent huge pages for large
                                          fused-loop buffers (off by default)
``SNNCORE_BUFFER_CACHE_MB=n``             most idle MiB the fused loops' buffer cache keeps
                                          (default 1024; 0 turns the cache off)
``SNNCORE_STREAM_STORES_MB=n``            native loops write outputs of at least n MiB with
                                          streaming stores (default 32; 0 turns them off)
========================================  ======================================================

Flags accept ``1/true/yes/on`` and ``0/false/no/off`` (any case); anything else is warned about
and the default is used. Lists are comma separated; blanks are ignored.
"""

from __future__ import annotations

import os
import warnings

__all__ = [
    "DISABLE_AUTOLOAD",
    "PLUGINS",
    "BLOCK_PLUGINS",
    "BACKEND",
    "FUSED_NATIVE",
    "FUSED_CODEGEN",
    "CACHE_DIR",
    "HUGEPAGES",
    "BUFFER_CACHE_MB",
    "STREAM_STORES_MB",
    "ALL",
    "flag",
    "names",
    "text",
]

DISABLE_AUTOLOAD = "SNNCORE_DISABLE_PLUGIN_AUTOLOAD"
PLUGINS = "SNNCORE_PLUGINS"
BLOCK_PLUGINS = "SNNCORE_BLOCK_PLUGINS"
BACKEND = "SNNCORE_BACKEND"
FUSED_NATIVE = "SNNCORE_FUSED_NATIVE"
FUSED_CODEGEN = "SNNCORE_FUSED_CODEGEN"
CACHE_DIR = "SNNCORE_CACHE_DIR"
HUGEPAGES = "SNNCORE_HUGEPAGES"
BUFFER_CACHE_MB = "SNNCORE_BUFFER_CACHE_MB"
STREAM_STORES_MB = "SNNCORE_STREAM_STORES_MB"
#: every switch snncore reads
ALL = (DISABLE_AUTOLOAD, PLUGINS, BLOCK_PLUGINS, BACKEND, FUSED_NATIVE, FUSED_CODEGEN,
       CACHE_DIR, HUGEPAGES, BUFFER_CACHE_MB, STREAM_STORES_MB)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def text(name: str) -> str | None:
    """The variable's value stripped of spaces, or None when unset or blank."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    return raw.strip()


def flag(name: str, default: bool) -> bool:
    """A boolean switch; an unrecognised value warns and gives ``default``."""
    raw = text(name)
    if raw is None:
        return default
    low = raw.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    warnings.warn(
        f"snncore: environment variable {name}={raw!r} is not a boolean (use 1/0, true/false, "
        f"yes/no, on/off); using the default ({'on' if default else 'off'})",
        RuntimeWarning,
        stacklevel=2,
    )
    return default


def mebibytes(name: str, default_mb: int, zero: str) -> int:
    """A size in MiB (a number >= 0), returned in bytes; an invalid value warns and gives
    ``default_mb``. ``zero`` says what 0 means, for the warning."""
    raw = text(name)
    if raw is None:
        return default_mb << 20
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if not mb >= 0 or mb == float("inf"):
        warnings.warn(f"snncore: environment variable {name}={raw!r} is not a number of MiB >= 0 "
                      f"(0 {zero}); using the default ({default_mb})", RuntimeWarning,
                      stacklevel=3)
        return default_mb << 20
    return int(mb * (1 << 20))


def names(name: str) -> set[str] | None:
    """A comma-separated list of names, or None when the variable is unset or blank."""
    raw = text(name)
    if raw is None:
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}
