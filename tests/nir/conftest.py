"""Shared fixtures of the snn_nir tests.

The external NIR graphs live in ``shared/nir_fixtures`` beside the repository (CI lays a copy of
shared/ next to the clone); ``SNNCORE_NIR_FIXTURES`` may point elsewhere. Their absence is a test
failure, never a skip.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parents[2]


def fixtures_path() -> Path:
    env = os.environ.get("SNNCORE_NIR_FIXTURES")
    candidates = [Path(env)] if env else []
    candidates += [ROOT.parent / "shared" / "nir_fixtures", ROOT / "shared" / "nir_fixtures"]
    for c in candidates:
        if (c / "lif_norse.nir").is_file():
            return c
    pytest.fail("the NIR fixtures were not found (looked in "
                + ", ".join(str(c) for c in candidates)
                + "); lay shared/ beside the repository or set SNNCORE_NIR_FIXTURES")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return fixtures_path()
