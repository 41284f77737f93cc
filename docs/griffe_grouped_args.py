"""Griffe extension for the API reference: torch.nn-style docstrings rendered as Markdown.

snncore's docstrings (torch.nn style) may document several parameters in one entry,
``low, high: range the centres cover``, and may wrap a long list of names over lines ending in
a comma. Griffe's Google parser reads such an entry as one parameter named ``"low, high"``; this
extension rewrites the docstring first so that each name gets its own entry with the shared
description, and the parser's checks (unknown parameters, malformed entries) stay on.

They also use reStructuredText's math (``:math:`...``` and ``.. math::`` blocks) and
cross-reference roles (``:class:`~snncore.Leaky```); those become arithmatex math and code spans.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_SECTION = re.compile(r"^(\s*)(Args|Arguments|Parameters|Keyword Args|Other Parameters):\s*$")
_NAMES = re.compile(r"^\*{0,2}[A-Za-z_]\w*(\s*,\s*\*{0,2}[A-Za-z_]\w*)+$")
_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|obj|exc):`(~?)([^`]+)`")
_MATH = re.compile(r":math:`([^`]+)`")


def rst_to_markdown(text: str) -> str:
    """``:math:`` roles and ``.. math::`` blocks as arithmatex math, reference roles as code."""
    text = _MATH.sub(lambda m: f"\\({m.group(1)}\\)", text)
    text = _ROLE.sub(lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`",
                     text)
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped.startswith(".. math::"):
            out.append(line)
            i += 1
            continue
        pad = line[: len(line) - len(line.lstrip())]
        body = [stripped[len(".. math::"):].strip()]
        i += 1
        while i < len(lines) and (not lines[i].strip() or
                                  len(lines[i]) - len(lines[i].lstrip()) > len(pad)):
            body.append(lines[i].strip())
            i += 1
        body = [b for b in body if b]
        out += [f"{pad}\\[", *(f"{pad}{b}" for b in body), f"{pad}\\]", ""]
    return "\n".join(out)


def expand(text: str) -> str:
    """The docstring with grouped ``a, b: description`` entries split into one per name."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        m = _SECTION.match(line)
        if not m:
            continue
        entry_indent: int | None = None
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                out.append(line)
                i += 1
                continue
            indent = len(line) - len(line.lstrip())
            if indent <= len(m.group(1)):
                break  # the section ended
            if entry_indent is None:
                entry_indent = indent
            if indent > entry_indent:  # continuation of the previous entry
                out.append(line)
                i += 1
                continue
            head = line.strip()
            while head.endswith(",") and i + 1 < len(lines):  # names wrapped over lines
                i += 1
                head = head + " " + lines[i].strip()
            names, sep, desc = head.partition(":")
            i += 1
            body = []
            while i < len(lines) and (not lines[i].strip() or
                                      len(lines[i]) - len(lines[i].lstrip()) > entry_indent):
                body.append(lines[i])
                i += 1
            while body and not body[-1].strip():
                i -= 1
                body.pop()
            pad = " " * entry_indent
            if sep and _NAMES.match(names.strip()):
                for name in (n.strip() for n in names.split(",")):
                    out.append(f"{pad}{name}:{desc}")
                    out.extend(body)
            else:
                out.append(f"{pad}{head}")
                out.extend(body)
    return "\n".join(out)


class GroupedArgs(griffe.Extension):
    """Split grouped ``Args:`` entries before griffe parses the docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(expand(obj.docstring.value))
