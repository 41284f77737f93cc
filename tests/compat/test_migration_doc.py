"""docs/migration.md covers every public name, argument and method of the installed snnTorch
1.0.0, and the compat package provides what the page says it does."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from compat_names import class_arguments, class_methods, compat_target, public_names, resolve

DOC = Path(__file__).resolve().parents[2] / "docs" / "migration.md"


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def _name_rows() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in _section("Name map").splitlines():
        m = re.match(r"\| `(snntorch\.[\w.]+)` \| (.*?) \| (.*?) \|$", line)
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} listed twice"
            rows[m.group(1)] = (m.group(2), m.group(3))
    return rows


def test_name_map_is_exactly_snntorchs_public_names():
    rows, names = _name_rows(), public_names()
    assert set(rows) == set(names), {"missing": sorted(set(names) - set(rows)),
                                     "extra": sorted(set(rows) - set(names))}


def test_every_row_has_a_status_and_the_compat_name_exists_iff_provided():
    for name, (_, status) in _name_rows().items():
        assert status.startswith(("same", "differs:", "not provided")), (name, status)
        provided = not status.startswith("not provided")
        try:
            resolve(compat_target(name))
            exists = True
        except AttributeError:
            exists = False
        assert exists == provided, (name, status)


def test_counts_sentence_matches_the_table():
    rows = _name_rows()
    provided = [n for n, (_, s) in rows.items() if not s.startswith("not provided")]
    same = [n for n in provided if rows[n][1].startswith("same")]
    text = " ".join(_section("Name map").split())
    assert (f"{len(rows)} public names; {len(provided)} provided, of which {len(same)} compute "
            f"the same numbers in every case and {len(provided) - len(same)} have a documented "
            f"difference in some case; {len(rows) - len(provided)} not provided") in text


def test_snncore_targets_exist():
    for target, _ in _name_rows().values():
        for ref in re.findall(r"`((?:snncore|snn_neurons_extra|snn_viz)\.[\w.]+)", target):
            pytest.importorskip(ref.split(".")[0])
            resolve(ref.split("(")[0])


def test_arguments_documented_and_accepted():
    table = _section("Arguments")
    documented = set(re.findall(r"`(\w+)(?:=[^`]*)?`", table))
    for name, obj in public_names().items():
        if not (inspect.isclass(obj) or inspect.isfunction(obj)) or name.count(".") != 1:
            continue
        try:
            compat = resolve(compat_target(name))
        except AttributeError:
            continue
        for arg in class_arguments(obj):
            assert arg in documented, f"{name}: argument {arg!r} missing from the Arguments table"
        assert class_arguments(obj) == class_arguments(compat), name


def test_methods_documented_and_present():
    table = _section("Methods")
    documented = set(re.findall(r"(\w+)\(", table)) | set(re.findall(r"`[\w.]*?(\w+)`", table))
    for name, obj in public_names().items():
        if not inspect.isclass(obj):
            continue
        try:
            compat = resolve(compat_target(name))
        except AttributeError:
            continue
        for meth in class_methods(obj):
            if meth in ("forward", "backward", "create_hook") and not hasattr(compat, meth):
                continue
            # a property of snnTorch's class may be a buffer or parameter of each compat instance
            if not isinstance(vars(obj)[meth], property):
                assert hasattr(compat, meth), f"{name}.{meth} missing in compat"
            if meth not in ("forward", "backward"):
                assert meth in documented, f"{name}.{meth} missing from the Methods table"
