"""Exceptions and warnings of snn_nir."""

from __future__ import annotations

import snncore

__all__ = ["NIRError", "NIRFormatError", "NIRMappingError", "NIRExportWarning",
           "NIRImportWarning"]


class NIRError(snncore.SnncoreError, ValueError):
    """Base class of snn_nir's errors (also a ``ValueError``)."""


class NIRFormatError(NIRError):
    """A NIR graph or file is malformed: a broken edge, mismatched shapes, unreadable file."""


class NIRMappingError(NIRError, TypeError):
    """A module or NIR node has no mapping (or two providers map one type)."""


class NIRExportWarning(UserWarning):
    """The plain-NIR reading of an export differs from the model's own behaviour."""


class NIRImportWarning(UserWarning):
    """An import could not follow a file's snncore metadata and used plain NIR semantics."""
