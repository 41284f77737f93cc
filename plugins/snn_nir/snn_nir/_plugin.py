"""The snncore plugin of snn-nir (entry point ``nir`` in group ``snncore``).

snn-nir registers no neurons, surrogates, encoders or backends; it appears in
``snncore plugins`` and adds the ``snncore nir`` command.
"""

from __future__ import annotations

__all__: list[str] = []
