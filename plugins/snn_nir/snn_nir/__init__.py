"""snn-nir: NIR (Neuromorphic Intermediate Representation) export and import for snncore.

Example::

    import snncore as snn
    import snn_nir
    from torch import nn

    net = snn.Sequential(nn.Linear(12, 38), snn.Leaky(beta=0.9, reset="zero"))
    graph = snn_nir.export_to_nir(net, (12,), dt=1e-4)     # a nir.NIRGraph
    snn_nir.write("net.nir", graph)
    m = snn_nir.import_from_nir("net.nir", dt=1e-4)         # a torch module
    y_seq, state = m.run(torch.rand(100, 8, 12))            # [T, B, ...]
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

from ._cli import inspect_nir, main
from ._convert import DISCRETIZATIONS, export_to_nir, import_from_nir, read, write
from ._errors import (
    NIRError,
    NIRExportWarning,
    NIRFormatError,
    NIRImportWarning,
    NIRMappingError,
)
from ._module import GraphState, NIRModule
from ._nodes import Delay, NeuronNode, NIRNeuron, NIRNeuronState, Scale, SumPool2d, Threshold
from ._registry import (
    FORMAT,
    HOOK_NAME,
    METADATA_KEY,
    ExportContext,
    ImportContext,
    MappingHookSpecs,
    MappingRegistry,
    mappings,
    register_mappings,
    unregister_mappings,
)

try:  # the one version number lives in the repository's VERSION file
    __version__ = _dist_version("snn-nir")
except PackageNotFoundError:  # pragma: no cover - a checkout that is not installed
    __version__ = "0+unknown"
del PackageNotFoundError, _dist_version

__all__ = [
    "__version__",
    "export_to_nir",
    "import_from_nir",
    "read",
    "write",
    "inspect_nir",
    "main",
    "DISCRETIZATIONS",
    "METADATA_KEY",
    "FORMAT",
    "NIRModule",
    "GraphState",
    "NeuronNode",
    "NIRNeuron",
    "NIRNeuronState",
    "SumPool2d",
    "Scale",
    "Threshold",
    "Delay",
    "HOOK_NAME",
    "MappingHookSpecs",
    "MappingRegistry",
    "ExportContext",
    "ImportContext",
    "mappings",
    "register_mappings",
    "unregister_mappings",
    "NIRError",
    "NIRFormatError",
    "NIRMappingError",
    "NIRExportWarning",
    "NIRImportWarning",
]
