"""Dataset helpers (public namespace): ``snncore.data.data_subset``, ``valid_split``."""

from __future__ import annotations

from ._data import data_subset, valid_split

__all__ = ["data_subset", "valid_split"]
