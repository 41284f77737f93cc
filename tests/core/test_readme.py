"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import snncore as snn

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
RUNNABLE = [b for b in BLOCKS if "my_package" not in b]


def test_readme_has_examples():
    assert len(RUNNABLE) >= 2


@pytest.mark.parametrize("index", range(len(RUNNABLE)))
def test_readme_block_runs(index):
    try:
        exec(compile(RUNNABLE[index], f"README block {index}", "exec"), {"__name__": "readme"})
    finally:
        for reg in snn.registries().values():
            reg.remove_plugin("user")
