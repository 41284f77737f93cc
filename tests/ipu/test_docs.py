"""The quick start of docs/ipu.md runs as written (on the poptorch stand-in)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "ipu.md"


def test_quick_start_runs(ipu, capsys):
    first = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)[0]
    scope: dict = {"__name__": "docs_example"}
    exec(compile(first, str(DOC), "exec"), scope)
    assert "check_model: no IPU problems found" in capsys.readouterr().out
    assert scope["out"].shape == (25, 32, 10) and scope["loss"].dim() == 0
