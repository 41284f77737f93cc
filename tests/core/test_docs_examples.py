"""The extension examples in docs/extend.md and docs/core.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import snncore as snn

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _blocks(page: str, section: str | None = None) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    if section is not None:
        start = text.index(f"## {section}")
        end = text.find("\n## ", start + 1)
        text = text[start:end if end != -1 else None]
    return [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)
            if "my_package" not in b]


EXAMPLES = [("extend.md", b) for b in _blocks("extend.md")] + [
    ("core.md", b) for b in _blocks("core.md", "Writing a neuron")]


def test_the_pages_have_examples():
    assert {page for page, _ in EXAMPLES} == {"extend.md", "core.md"}


@pytest.mark.parametrize("page,block", EXAMPLES, ids=[p for p, _ in EXAMPLES])
def test_example_runs_with_the_public_api_only(page, block):
    assert "snncore._" not in block and "._" not in re.sub(r"__\w+__", "", block)
    try:
        exec(compile(block, page, "exec"), {"__name__": "docs_example"})
    finally:
        for reg in snn.registries().values():
            reg.remove_plugin("user")
