"""The snncore plugin of snn-nir (entry point ``nir`` in group ``snncore``).

snn-nir registers no neurons, surrogates, encoders or backends. Importing this module adds the
``snn_nir_register_mappings`` hook specification to snncore's plugin manager (so other plugins
can contribute NIR mappings) and this hook adds the ``snncore nir`` command.
"""

from __future__ import annotations

import argparse
from typing import Any

import snncore

from . import _registry  # noqa: F401  (adds the mapping hook's specification)
from ._cli import add_arguments, run

__all__ = ["snncore_add_commands"]


@snncore.hookimpl
def snncore_add_commands(subparsers: Any) -> None:
    """``snncore nir inspect FILE``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "nir", help="NIR graphs: inspect a .nir file (snn-nir)",
        description="NIR tools of snn-nir")
    add_arguments(parser)
    parser.set_defaults(func=run)
