"""snncore's built-ins: one small hook module per area, registered like any third-party plugin.

Each area is a plugin of its own, named ``snncore.<area>`` (``snncore.neurons``,
``snncore.surrogates``, ``snncore.encoders``, ``snncore.eager``, ``snncore.fused``,
``snncore.generic``, ``snncore.triton``), so ``SNNCORE_BLOCK_PLUGINS=snncore.triton`` blocks
one of them alone. What they register is provided by ``"snncore"`` (``snncore:leaky``,
``snncore:fused``).
"""

from __future__ import annotations

__all__ = ["AREAS", "PREFIX"]

#: the built-in areas, in loading order (module ``snncore._builtins.<area>`` each)
AREAS = ("neurons", "surrogates", "encoders", "eager", "fused", "generic", "triton")
#: plugin name of an area: ``PREFIX + area``
PREFIX = "snncore."
